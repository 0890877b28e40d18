"""Full-text search in PostgreSQL: the steps and ranking of :mod:`bot.store.search`, over the
article row's two ``tsvector`` columns (written by :mod:`bot.store.index`): ``search_exact``
(English as translated, Arabic folded; titles weighted A, leads B, texts C) and
``search_stems`` (stems; titles A, texts C), each with a GIN index.

A query word matches its exact form or any of its stems (:func:`bot.terms.query_stems`);
quoted words and phrases match exact forms only, in order. Every token reaches PostgreSQL as
a bound parameter of ``phraseto_tsquery('simple', …)`` (for one token the same as
``plainto_tsquery``), combined in SQL (``&&``, ``||``), so nothing a reader types is read as
SQL or as tsquery syntax.

Matching reads the GIN indexes, never the vectors: a row's vectors are kilobytes out of
line, and the planner, which costs ``@@`` as cheap, would test rows one by one (reading
every vector it passes, ten times the cost of the indexes). So matches are sets of ids, each
from one ``@@`` on one column (``INTERSECT``, ``UNION``, ``EXCEPT``), in a transaction
without sequential or plain index scans (``_planned``). A word is matched by its stems alone:
the index stems every word the analysis sees (function words aside, which have no stems and
are matched by their exact form), so its exact form is never found where its stem is not.
Only phrases need the rows' vectors (positions): the newest articles with the phrase's words
are read one by one until the window is full. Ranking reads the window's vectors.

Ranking is SQLite's: the newest ``SEARCH_WINDOW`` matches (by id, i.e. fetch order) are
found first. Fewer than that: all of them are ranked by relevance (``ts_rank`` of the exact
forms, plus a smaller share of the stems' rank, so an exact form ranks above another form
of the word) times a boost for recent articles. A full window (a common word, also when
filters or exclusions leave fewer, see ``_common``): by the recency boost alone, doubled
when a title matches, and the pages end there. One result per story, its best article.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, TypeVar

from bot.analysis import STOPWORDS
from bot.errors import StoreError
from bot.query import Query
from bot.store import search as sqlite_search
from bot.store.base import ReadConnection, placeholders, to_db_time
from bot.store.connection import database_errors
from bot.store.records import StoredArticle
from bot.store.search import Match, SearchScope, outlets, read_articles, source_ids
from bot.terms import query_stems

# ts_rank's weights for D, C, B, A: texts 0.15, leads 0.5, titles 1.0, in the ratios of
# SQLite's bm25 weights (1.5, 5, 10). D is unused.
WEIGHTS = "'{0.1, 0.15, 0.5, 1.0}'"
# The stems' rank counts this much of the exact forms' (SQLite: title stems 4 against exact
# titles 10), so a match of the very form searched for ranks above a match of another form.
STEM_SHARE = 0.4

T = TypeVar("T")


class PostgresSearchReader:
    """The search steps on the store's read-only PostgreSQL connection (``Store.reader``)."""

    def __init__(self, connection: ReadConnection) -> None:
        self._connection = connection

    def search_sources(self, names: Sequence[str]) -> tuple[int, ...]:
        """Ids of the sources whose name or address contains any of ``names``."""
        # PostgreSQL text cannot hold NUL, so no source name contains one: nothing to ask.
        names = [name for name in names if "\x00" not in name]
        with self._connection.use() as db:
            return _guarded(lambda: source_ids(db, names))

    def search_exists(self, query: Query, scope: SearchScope, *, any_term: bool = False) -> bool:
        """Whether anything matches."""
        if scope.feed_ids == ():
            return False
        terms = _Terms()
        sql = f"SELECT 1 FROM ({terms.window(query, scope, any_term=any_term)}) AS e"
        with self._connection.use() as db, _planned(db):
            row = _guarded(lambda: db.execute(sql, {**terms.params, "window": 1}).fetchone())
        return row is not None

    def search_ranked(self, query: Query, scope: SearchScope, *, limit: int, offset: int = 0,
                      now: datetime, any_term: bool = False) -> list[Match]:
        """One page of stories, best first (lower scores): ids and scores; the page's
        articles are read afterwards (``search_articles``)."""
        window = sqlite_search.SEARCH_WINDOW   # read per call: tests change it
        if offset >= window or scope.feed_ids == ():
            return []
        terms = _Terms()
        sql = _ranked_sql(terms, query, scope, any_term)
        terms.params.update({"window": window, "limit": limit, "offset": offset,
                             "now": to_db_time(now)})
        with self._connection.use() as db, _planned(db):
            rows = _guarded(lambda: db.execute(sql, terms.params).fetchall())
        return [Match(int(row["id"]), int(row["story_id"]), float(row["score"])) for row in rows]

    def search_articles(self, ids: Sequence[int]) -> dict[int, StoredArticle]:
        """The articles of a page of results, by id."""
        with self._connection.use() as db:
            return _guarded(lambda: read_articles(db, ids))

    def story_outlets(self, story_ids: Sequence[int]) -> dict[int, int]:
        """How many sources carry each story."""
        with self._connection.use() as db:
            return _guarded(lambda: outlets(db, story_ids))


class _Terms:
    """The SQL of one query; every token and stem is a parameter in :attr:`params` (the
    same text bound once)."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self._names: dict[str, str] = {}

    def tsquery(self, tokens: Sequence[str], *, ordered: bool = True) -> str:
        """These forms in this order (a phrase: the GIN index finds the articles with its
        words, only the row's vector can confirm the order) or, unless ``ordered``, all of
        them anywhere."""
        text = " ".join(tokens).replace("\x00", "")   # PostgreSQL text cannot hold NUL
        name = self._names.setdefault(text, f"t{len(self._names)}")
        self.params[name] = text
        return f"{'phraseto' if ordered else 'plainto'}_tsquery('simple', :{name})"

    def stems(self, token: str) -> str:
        """Any stem of a query word, as one tsquery (``||``)."""
        return "(" + " || ".join(self.tsquery((stem,)) for stem in query_stems(token)) + ")"

    def ids(self, words: Sequence[str], exact: Sequence[Sequence[str]], join: str) -> list[str]:
        """SELECTs of the ids of the articles with these words (by their stems; function
        words by their exact form) and exact forms (phrases: their words anywhere), all of
        them (``join`` ``&&``) or any (``||``): one GIN condition each."""
        exact = [*((word,) for word in words if word in STOPWORDS), *exact]
        stemmed = [self.stems(word) for word in words if word not in STOPWORDS]
        found = []
        if stemmed:
            found.append(f"SELECT id FROM articles WHERE search_stems @@ ({join.join(stemmed)})")
        if exact:
            forms = join.join(self.tsquery(form, ordered=False) for form in exact)
            found.append(f"SELECT id FROM articles WHERE search_exact @@ ({forms})")
        return found

    def wanted(self, query: Query, *, any_term: bool) -> str:
        """Ids with every term (or, with ``any_term``, at least one), phrases as their
        words anywhere."""
        found = self.ids(query.words, [*((w,) for w in query.exact_words), *query.phrases],
                         " || " if any_term else " && ")
        return "(" + (" UNION " if any_term else " INTERSECT ").join(found) + ")"

    def unwanted(self, query: Query) -> str:
        """``EXCEPT`` the ids with an excluded word (excluded phrases: ``unwanted_phrases``)."""
        found = self.ids([term[0] for term in query.excluded if len(term) == 1],
                         [(token,) for token in query.excluded_exact], " || ")
        return "".join(f" EXCEPT {select}" for select in found)

    def unwanted_phrases(self, query: Query) -> list[str]:
        # IS NOT TRUE: a row without vectors is no match, so it is not excluded either.
        return [f"({self.exact(tokens)}) IS NOT TRUE"
                for tokens in query.excluded if len(tokens) > 1]

    def exact(self, tokens: Sequence[str]) -> str:
        return f"a.search_exact @@ {self.tsquery(tokens)}"

    def ordered(self, query: Query, *, any_term: bool) -> str:
        """What only the row's vector tells (phrases in order), for the articles with the
        words; with ``any_term`` every term again, as the words of a phrase are not it."""
        if not any_term:
            return " AND ".join(["TRUE", *map(self.exact, query.phrases)])
        words = [f"a.search_stems @@ {self.stems(word)}" for word in query.words]
        return "(" + " OR ".join(words + [self.exact((token,)) for token in query.exact_words]
                                 + [self.exact(phrase) for phrase in query.phrases]) + ")"

    def window(self, query: Query, scope: SearchScope, *, any_term: bool,
               filtered: bool = True) -> str:
        """The ids of the newest ``:window`` matches (``filtered``: with the exclusions and
        the scope), newest first. With phrases the rows of the articles with their words
        are read, newest first, only until the window is full."""
        found = self.wanted(query, any_term=any_term)
        checks = [self.ordered(query, any_term=any_term)] if query.phrases else []
        if filtered:
            found += self.unwanted(query)
            checks += self.unwanted_phrases(query)
        narrow = self.scope(scope) if filtered else ""
        ids = (f"SELECT a.id FROM articles a WHERE a.id IN ({found}){narrow}" if narrow
               else f"SELECT f.id FROM ({found}) AS f")
        if not checks:
            return f"{ids} ORDER BY 1 DESC LIMIT :window"
        return (f"SELECT c.id FROM ({ids} ORDER BY 1 DESC) AS c WHERE (SELECT "
                f"{' AND '.join(checks)} FROM articles a WHERE a.id = c.id) "
                f"ORDER BY c.id DESC LIMIT :window")

    def scope(self, scope: SearchScope) -> str:
        """Sources and dates; times are ISO text, compared as text as in SQLite."""
        clauses: list[str] = []
        if scope.feed_ids is not None:
            marks, feeds = placeholders("f", list(scope.feed_ids))
            self.params.update(feeds)
            clauses.append(f"a.feed_id IN ({marks})")
        if scope.since is not None:
            clauses.append("a.published >= :since")
            self.params["since"] = to_db_time(scope.since)
        if scope.until is not None:
            clauses.append("a.published < :until")
            self.params["until"] = to_db_time(scope.until)
        return "".join(f" AND {clause}" for clause in clauses)

    def all_stems(self, query: Query) -> str | None:
        """Every stem of every word, as one tsquery; None without words."""
        if not query.words:
            return None
        return "(" + " || ".join(self.stems(token) for token in query.words) + ")"


def _common(terms: _Terms, query: Query, scope: SearchScope, any_term: bool) -> str:
    """Whether the words alone, without filters and exclusions, have ``:window`` matches
    (SQL, asked only when the window itself is not full).

    Such words are ranked as a common word is even when filters or exclusions leave fewer
    matches, as in SQLite (where bm25 would cost more than the walk): a ranking that
    depends on the words, not on the filters.
    """
    if scope == SearchScope() and not (query.excluded or query.excluded_exact):
        return "FALSE"   # the window's own count is that of the words alone
    window = terms.window(query, scope, any_term=any_term, filtered=False)
    return f"(SELECT COUNT(*) FROM ({window}) AS w) >= :window"


def _relevance(terms: _Terms, query: Query) -> str:
    """The exact forms' rank, plus a share of the stems' rank.

    ts_rank weighs each word of a phrase wherever it is (a text full of "on" would rank
    high for "Sanaa on"): phrases are ranked by ts_rank_cd, which counts the phrase itself
    (normalization 32: rank / (rank + 1), so repeats count less and less, as in bm25).
    ts_rank averages over the tsquery's lexemes, and an Arabic word asks for a dozen stem
    variants of which an article holds one: ``:stem_scale`` (variants per word) undoes
    that dilution, so the stems' share does not depend on the script.
    """
    parts = []
    if singles := (*query.words, *query.exact_words):
        forms = " || ".join(terms.tsquery((token,)) for token in singles)
        parts.append(f"ts_rank({WEIGHTS}, a.search_exact, {forms})")
    if query.phrases:
        phrases = " || ".join(terms.tsquery(phrase) for phrase in query.phrases)
        parts.append(f"ts_rank_cd({WEIGHTS}, a.search_exact, {phrases}, 32)")
    if (stems := terms.all_stems(query)) is not None:
        variants = {stem for token in query.words for stem in query_stems(token)}
        terms.params["stem_scale"] = STEM_SHARE * len(variants) / len(query.words)
        parts.append(f":stem_scale * ts_rank({WEIGHTS}, a.search_stems, {stems})")
    return "(" + " + ".join(parts) + ")"


def _titled(terms: _Terms, query: Query) -> str:
    """Whether a title (weight A) holds any positive term.

    The index stems titles as queries are stemmed, so a word's exact form in a title puts
    its stem in the title's stems: words are looked up in the stems vector alone (reading
    a row's vectors is most of the cost of ranking a window). Exact forms are looked up for
    quoted words, phrases (in order: ``ts_filter`` keeps positions) and function words,
    which have no stems.
    """
    checks = []
    if (stems := terms.all_stems(query)) is not None:
        # A rank counting titles only (A) is above 0 when a title has one of the stems.
        checks.append(f"ts_rank('{{0, 0, 0, 1}}', a.search_stems, {stems}) > 0")
    forms: list[tuple[str, ...]] = [(token,) for token in query.words if token in STOPWORDS]
    forms += [(token,) for token in query.exact_words] + list(query.phrases)
    if forms:
        # ts_filter copies the vector: only when a title has one of the words at all.
        tokens = " || ".join(terms.tsquery((token,)) for form in forms for token in form)
        exact = " || ".join(terms.tsquery(form) for form in forms)
        checks.append(f"CASE WHEN ts_rank('{{0, 0, 0, 1}}', a.search_exact, {tokens}) > 0 "
                      f"THEN ts_filter(a.search_exact, '{{a}}') @@ ({exact}) ELSE FALSE END")
    return "(" + " OR ".join(checks) + ")"


def _ranked_sql(terms: _Terms, query: Query, scope: SearchScope, any_term: bool) -> str:
    return _RANKED.format(window=terms.window(query, scope, any_term=any_term),
                          common=_common(terms, query, scope, any_term),
                          titled=_titled(terms, query), relevance=_relevance(terms, query))


@contextmanager
def _planned(db: Any) -> Iterator[None]:
    """A read transaction whose plans find matches through the GIN indexes (bitmap scans):
    the planner would otherwise test a common word's rows one by one, sequentially or
    walking the primary key newest first, as it costs ``@@`` as cheap (see the module's
    docstring). The window's rows, and rows by id, are still read through bitmap scans.
    """
    _guarded(lambda: db.execute("BEGIN"))
    try:
        _guarded(lambda: db.execute("SELECT set_config('enable_seqscan', 'off', true), "
                                    "set_config('enable_indexscan', 'off', true)"))
        yield
    except BaseException:
        with suppress(*database_errors()):   # the connection may be gone: the error says so
            db.execute("ROLLBACK")
        raise
    _guarded(lambda: db.execute("COMMIT"))


def _guarded(call: Callable[[], T]) -> T:
    """``call()``, with database errors as :class:`StoreError` (as SQLite's search does)."""
    try:
        return call()
    except database_errors() as exc:
        raise StoreError(f"search failed: {exc}") from exc


# From 2 (published now) towards 1 (weeks old), as in SQLite; published is ISO UTC text.
_RECENCY = """(1.0 + 1.0 / (1.0 + GREATEST(CAST(EXTRACT(EPOCH FROM
    CAST(:now AS timestamp) - CAST(a.published AS timestamp)) AS double precision)
    / 86400.0, 0.0) / 3.0))"""

# The newest window of matches; whether the words are common (a full window, else the
# words alone, an initplan run only when asked): recency, doubled for titles; else relevance
# times recency (CASE evaluates only the one needed, on at most a window of rows); one
# result per story; the page.
_RANKED = """
WITH m AS MATERIALIZED ({window}),
kind AS (SELECT COUNT(*) >= :window OR {common} AS common FROM m),
scored AS (
    SELECT a.id, COALESCE(a.story_id, a.id) AS story_id,
           CAST(-(CASE WHEN (SELECT common FROM kind)
                       THEN CASE WHEN {titled} THEN 2.0 ELSE 1.0 END
                       ELSE {relevance} END) * """ + _RECENCY + """ AS double precision)
               AS score
    FROM articles a WHERE a.id = ANY (ARRAY(SELECT id FROM m))),
best AS (
    SELECT id, story_id, score,
           ROW_NUMBER() OVER (PARTITION BY story_id ORDER BY score, id DESC) AS nth
    FROM scored)
SELECT id, story_id, score FROM best WHERE nth = 1
ORDER BY score, id DESC
LIMIT :limit OFFSET :offset
"""
