"""The story index: signature terms of recent articles, and each article's story."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from bot.store.base import Database, chunks, from_db_time, placeholders, to_db_time

# Pairs of parameters in one candidates query; signatures are capped well below this.
MAX_QUERY_TERMS = 400


class StoryCandidate(NamedTuple):
    """A recent article sharing terms with the one being assigned."""

    article_id: int
    story_id: int
    feed_id: int
    published: datetime
    score: float          # summed weights of the shared terms


class StoryAssignment(NamedTuple):
    """An article, the story it belongs to (its own id when alone), its signature terms."""

    article_id: int
    story_id: int
    terms: Sequence[str]


class StoryQueries(Database):
    """``story_terms`` holds only articles inside the stories window (pruned each refresh),
    so every query here is bounded by the window, not by the archive."""

    def story_window_size(self, since: datetime) -> int:
        """How many articles were published since ``since`` (the N of the IDF weights)."""
        row = self._db.execute("SELECT COUNT(*) FROM articles WHERE published >= :since",
                               {"since": to_db_time(since)}).fetchone()
        return int(row[0])

    def story_term_counts(self, terms: Iterable[str]) -> dict[str, int]:
        """In how many indexed articles each term occurs (absent terms are left out)."""
        counts: dict[str, int] = {}
        for chunk in chunks(list(dict.fromkeys(terms))):
            marks, params = placeholders("t", chunk)
            rows = self._db.execute(
                "SELECT term, COUNT(*) AS n FROM story_terms "
                f"WHERE term IN ({marks}) GROUP BY term", params)
            counts.update((row["term"], int(row["n"])) for row in rows)
        return counts

    def story_candidates(self, weights: Mapping[str, float], *, exclude_feed: int,
                         since: datetime, until: datetime,
                         limit: int) -> list[StoryCandidate]:
        """Indexed articles of other feeds published in [since, until], by summed weight of
        the terms they share with ``weights``, best first."""
        terms = sorted(weights, key=lambda term: -weights[term])[:MAX_QUERY_TERMS]
        if not terms:
            return []
        params: dict[str, Any] = {"feed": exclude_feed, "since": to_db_time(since),
                                  "until": to_db_time(until), "limit": limit}
        rows_sql = []
        for i, term in enumerate(terms):
            rows_sql.append(f"(:t{i}, :w{i})")
            params[f"t{i}"], params[f"w{i}"] = term, weights[term]
        sql = (f"WITH query (term, weight) AS (VALUES {', '.join(rows_sql)}) "
               + _CANDIDATES)
        return [StoryCandidate(row["article_id"], row["story_id"], row["feed_id"],
                               from_db_time(row["published"]), float(row["score"]))
                for row in self._db.execute(sql, params)]

    def story_texts(self, article_ids: Sequence[int],
                    chars: int) -> dict[int, tuple[str, str]]:
        """Original title and the first ``chars`` characters of the text of these articles."""
        found: dict[int, tuple[str, str]] = {}
        for chunk in chunks(list(dict.fromkeys(article_ids))):
            marks, params = placeholders("a", chunk)
            params["chars"] = chars
            rows = self._db.execute(
                "SELECT id, title_original, substr(text_original, 1, :chars) AS lead "
                f"FROM articles WHERE id IN ({marks})", params)
            found.update((row["id"], (row["title_original"], row["lead"])) for row in rows)
        return found

    def story_feeds(self, story_ids: Iterable[int]) -> dict[int, set[int]]:
        """The feeds that already have an article in each of these stories."""
        found: dict[int, set[int]] = {}
        for chunk in chunks(list(dict.fromkeys(story_ids))):
            marks, params = placeholders("s", chunk)
            rows = self._db.execute(
                f"SELECT story_id, feed_id FROM articles WHERE story_id IN ({marks})", params)
            for row in rows:
                found.setdefault(row["story_id"], set()).add(row["feed_id"])
        return found

    def save_stories(self, assignments: Sequence[StoryAssignment]) -> None:
        """Index the articles' terms and put each in its story, in one transaction."""
        with self._transaction() as db:
            for article_id, story_id, terms in assignments:
                db.executemany(
                    "INSERT INTO story_terms (term, article_id) VALUES (:term, :id) "
                    "ON CONFLICT DO NOTHING",
                    [{"term": term, "id": article_id} for term in dict.fromkeys(terms)])
                # Only when it changes: an UPDATE rewrites the whole (large) article row.
                db.execute("UPDATE articles SET story_id = :story "
                           "WHERE id = :id AND story_id IS DISTINCT FROM :story",
                           {"story": story_id, "id": article_id})

    def prune_story_terms(self, before: datetime) -> int:
        """Forget the terms of articles published before ``before``; returns rows removed."""
        return self._execute_write(_PRUNE, {"before": to_db_time(before)})

    def count_story_terms(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM story_terms").fetchone()[0])


_CANDIDATES = """
SELECT st.article_id, a.story_id, a.feed_id, a.published, SUM(q.weight) AS score
FROM query q
JOIN story_terms st ON st.term = q.term
JOIN articles a ON a.id = st.article_id
WHERE a.feed_id != :feed AND a.published BETWEEN :since AND :until
GROUP BY st.article_id, a.story_id, a.feed_id, a.published
ORDER BY score DESC, st.article_id
LIMIT :limit
"""

# Ids only grow, so articles older than the oldest indexed one need not be looked at: the
# scan covers the window, not the archive.
_PRUNE = """
DELETE FROM story_terms WHERE article_id IN (
    SELECT a.id FROM articles a
    WHERE a.id >= (SELECT MIN(article_id) FROM story_terms) AND a.published < :before)
"""
