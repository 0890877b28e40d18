"""The search query language: what a reader types after /search, parsed into a :class:`Query`.

Shared by /search, inline mode and ``nashra search``. Pure: no database and no FTS syntax here;
the store builds its SQL from the :class:`Query`. Terms are separated by spaces::

    central bank              البنك المركزي           every word must match
    "interest rates"          "أسعار الفائدة"         an exact phrase, words in order
    “interest rates”          «أسعار الفائدة»         typographic quotes and guillemets too
    "elections"               "الانتخابات"            a quoted single word: that form only
    -football -"transfer news"  -كرة                 leave out a word or a phrase
    source:bbc  source:"BBC Arabic"  مصدر:bbc        sources whose name or host contains it
    since:24h  since:7d  since:2w    منذ:7d           newer than an age (hours, days, weeks)
    since:2026-11-01  since:2026-11-01T14:00          from that day 00:00 UTC (or that time)
    until:2026-11-20          حتى:2026-11-20          up to the end of that day, UTC

For example ``البنك المركزي "أسعار الفائدة" -كرة source:bbc since:7d``.

Only a ``-`` at the start of a term excludes (al-Assad and COVID-19 are searched as written).
An unclosed quote takes the rest of the text. Operator names are case-insensitive; several
``source:`` terms mean any of them, several ``since:``/``until:`` all apply (the narrowest
wins). ``a:b`` with any other name (https://x, 10:30) is ordinary text. A bad operator value
becomes an :class:`Issue` in :attr:`Query.issues` (a sentence, in English or translated with
the reader's gettext) and the rest of the query still counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.analysis import fold, words
from bot.i18n import N_, Gettext

MAX_QUERY_CHARS = 200
MAX_TERMS = 12

# Each opening mark and the marks that close it. Phones mix straight and curly quotes, and
# right-to-left text often puts ” where “ was meant, so the double quotes close one another.
_DOUBLE = '"“”'
_QUOTES = {'"': _DOUBLE, "“": _DOUBLE, "”": _DOUBLE, "«": "»"}
_OPERATOR = re.compile(r"([^\W\d_]+):")
_NAMES = {fold(name): operator for operator, aliases in (
    ("source", "source مصدر"), ("since", "since منذ"), ("until", "until حتى"),
) for name in aliases.split()}
_AGE = re.compile(r"(\d{1,5})([hdw])", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:T(\d{1,2}):(\d{2}))?", re.IGNORECASE)
# Arabic keyboards type ٢٠٢٦-١١-٠١ and ٧d.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Issue:
    """Something in the query not searched as typed: a message template and its values."""

    template: str  # an N_ msgid with %(name)s placeholders
    values: tuple[tuple[str, str | int], ...] = ()

    @classmethod
    def of(cls, template: str, values: Mapping[str, str | int] | None = None) -> Issue:
        return cls(template, tuple((values or {}).items()))

    def text(self, _: Gettext = N_) -> str:
        """The sentence, in English or through ``_`` (a chat's gettext)."""
        return _(self.template) % dict(self.values)


@dataclass(frozen=True)
class Query:
    """A parsed search: what must match, what must not, and where and when to look.

    Words and phrases are tuples of folded tokens (see :func:`bot.analysis.words`).
    """

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    exact_words: tuple[str, ...] = ()
    excluded: tuple[tuple[str, ...], ...] = ()
    excluded_exact: tuple[str, ...] = ()  # -"word": that form only, not its other forms
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    issues: tuple[Issue, ...] = ()

    @property
    def problems(self) -> tuple[str, ...]:
        """The issues as English sentences (the terminal's)."""
        return tuple(issue.text() for issue in self.issues)

    @property
    def empty(self) -> bool:
        """Nothing positive to search for: filters and exclusions alone are not a search."""
        return not (self.words or self.phrases or self.exact_words)

    def describe(self, _: Gettext = N_) -> str:
        """A short echo for a reply header: words, phrases, exclusions, then filters (its
        words in English, or through ``_``)."""
        parts = [" ".join(self.words)] if self.words else []
        parts += [f'"{word}"' for word in self.exact_words]
        parts += [_shown(phrase) for phrase in self.phrases]
        parts += [_("not %(term)s") % {"term": _shown(term)} for term in self.excluded]
        parts += [_("not %(term)s") % {"term": f'"{word}"'} for word in self.excluded_exact]
        if self.sources:
            either = _("or")
            parts.append(_("source: %(names)s") % {
                "names": f" {either} ".join(self.sources)})
        if self.since is not None:
            parts.append(_("since %(moment)s") % {"moment": _moment(self.since)})
        if self.until is not None:
            # A midnight bound reads as the last day it includes.
            midnight = self.until.hour == self.until.minute == 0
            parts.append(_("until %(moment)s") % {"moment": _moment(self.until - _DAY)}
                         if midnight else _("before %(moment)s") % {
                             "moment": _moment(self.until)})
        return " · ".join(parts)


def parse_query(text: str, now: datetime) -> Query:
    """What ``text`` asks for; relative ages count back from ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("parse_query needs a timezone-aware now")
    parts = _Parts(now.astimezone(UTC))
    if len(text) > MAX_QUERY_CHARS:
        parts.problems.append(Issue.of(N_("Only the first %(count)d characters were searched."),
                                       {"count": MAX_QUERY_CHARS}))
        text = text[:MAX_QUERY_CHARS]
    for term in _scan(text):
        parts.add(term)
    return parts.build()


def query_help(_: Gettext = N_) -> str:
    """Plain text explaining the syntax, for /search sent alone (``_``: the chat's gettext)."""
    return _(_HELP)


_HELP = N_("""Search the archive: /search and what you are looking for.
central bank: every word must match (else the best partial matches are shown, labelled so).
Words are stemmed: "election" also finds "elections", حكومة also finds والحكومة and للحكومات.
"interest rates": an exact phrase («أسعار الفائدة» too); "elections" finds that form only.
-football or -"transfer news": leave out stories with that word or phrase.
source:bbc: only sources whose name or address contains bbc (or source:"BBC Arabic").
since:7d: the last 7 days (also 24h, 2w); since:2026-11-01: from that day on.
until:2026-11-20: up to the end of that day. Dates are UTC.
Arabic words search the Arabic originals, English words the English translations.
In Arabic the operators are مصدر: منذ: حتى:
Examples:
/search central bank
/search "interest rates" -football
/search الانتخابات source:bbc since:7d""")


# --- reading terms ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    """One term of the input before its words are folded."""

    raw: str  # as typed, for problem messages
    body: str  # the text or the operator's value, without quotes
    negated: bool
    quoted: bool
    operator: str | None  # "source", "since", "until", or None for text


def _scan(text: str) -> Iterator[_Term]:
    """The terms of ``text``, left to right."""
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        start = i
        negated = text[i] == "-"
        if negated:
            i += 1
        match = _OPERATOR.match(text, i)
        operator = _NAMES.get(fold(match.group(1))) if match else None
        if match and operator:
            i = match.end()
        body, quoted, i = _read(text, i)
        yield _Term(text[start:i], body, negated, quoted, operator)


def _read(text: str, i: int) -> tuple[str, bool, int]:
    """(body, quoted, end) of the body starting at ``i``: up to the closing mark when quoted
    (the end of the text when unclosed), else up to a space or an opening mark."""
    if i < len(text) and text[i] in _QUOTES:
        closers = _QUOTES[text[i]]
        end = next((j for j in range(i + 1, len(text)) if text[j] in closers), len(text))
        return text[i + 1:end], True, min(end + 1, len(text))
    end = i
    while end < len(text) and not text[end].isspace() and text[end] not in _QUOTES:
        end += 1
    return text[i:end], False, end


class _Parts:
    """What the terms add up to, gathered left to right."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        # Ordered sets: duplicates dropped, first occurrence kept in place.
        self.terms: dict[tuple[str, tuple[str, ...]], None] = {}
        self.sources: dict[str, None] = {}
        self.since: datetime | None = None
        self.until: datetime | None = None
        self.problems: list[Issue] = []

    def add(self, term: _Term) -> None:
        if term.operator is None:
            self._add_text(term)
        elif term.negated:
            self.problems.append(Issue.of(
                N_('"%(term)s": only words and phrases can be excluded.'), {"term": term.raw}))
        elif term.operator == "source":
            self._add_source(term)
        else:
            self._add_time(term)

    def _add_text(self, term: _Term) -> None:
        tokens = tuple(words(term.body))
        if not tokens:
            return  # punctuation only
        if term.negated:
            kind = "excluded_exact" if term.quoted and len(tokens) == 1 else "excluded"
        elif len(tokens) > 1:
            kind = "phrase"  # "a phrase", and al-Assad or 10:30 as written
        else:
            kind = "exact" if term.quoted else "word"
        self.terms.setdefault((kind, tokens), None)

    def _add_source(self, term: _Term) -> None:
        name = " ".join(term.body.split()).lower()
        if name:
            self.sources.setdefault(name, None)
        else:
            self.problems.append(Issue.of(
                N_('"%(term)s" needs a source name, like source:bbc.'), {"term": term.raw}))

    def _add_time(self, term: _Term) -> None:
        value = term.body.strip().translate(_DIGITS)
        moment = _parse_moment(value, self.now, end_of_day=term.operator == "until")
        if moment is None:
            template = (N_('"%(term)s" is not a date or an age like 7d.') if value
                        else N_('"%(term)s" needs a date or an age like 7d.'))
            self.problems.append(Issue.of(template, {"term": term.raw}))
        elif term.operator == "since":
            self.since = moment if self.since is None else max(self.since, moment)
        else:
            self.until = moment if self.until is None else min(self.until, moment)

    def build(self) -> Query:
        terms = list(self.terms)
        if len(terms) > MAX_TERMS:
            self.problems.append(Issue.of(N_("Only the first %(count)d search terms were used."),
                                          {"count": MAX_TERMS}))
            terms = terms[:MAX_TERMS]
        if self.since is not None and self.until is not None and self.since >= self.until:
            self.problems.append(Issue.of(N_(
                "The since: date is not before the until: date, so nothing can match.")))

        def of(kind: str) -> tuple[tuple[str, ...], ...]:
            return tuple(tokens for found, tokens in terms if found == kind)

        return Query(
            words=tuple(token for (token,) in of("word")),
            phrases=of("phrase"),
            exact_words=tuple(token for (token,) in of("exact")),
            excluded=of("excluded"),
            excluded_exact=tuple(token for (token,) in of("excluded_exact")),
            sources=tuple(self.sources),
            since=self.since,
            until=self.until,
            issues=tuple(dict.fromkeys(self.problems)),
        )


# --- values ----------------------------------------------------------------------------------


def _parse_moment(value: str, now: datetime, *, end_of_day: bool) -> datetime | None:
    """The UTC instant ``value`` names (an age before ``now`` or a date), None when invalid.

    A date alone means its 00:00, or the next day's 00:00 with ``end_of_day`` (an exclusive
    bound that includes the whole day).
    """
    age = _AGE.fullmatch(value)
    if age:
        amount = int(age.group(1))
        return now - amount * _UNITS[age.group(2).lower()] if amount else None
    date = _DATE.fullmatch(value)
    if date is None:
        return None
    year, month, day, hour, minute = (int(group or 0) for group in date.groups())
    try:
        moment = datetime(year, month, day, hour, minute, tzinfo=UTC)
        return moment + _DAY if end_of_day and date.group(4) is None else moment
    except (ValueError, OverflowError):  # 2026-13-45, or the day after 9999-12-31
        return None


def _moment(moment: datetime) -> str:
    if moment.hour == moment.minute == 0:
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _shown(term: tuple[str, ...]) -> str:
    return term[0] if len(term) == 1 else '"' + " ".join(term) + '"'
