"""/filter and /alert: a chat's include, exclude and alert words, by command and button.

Words are plain text, never patterns: control and invisible characters are dropped, the rest
trimmed with whitespace collapsed. An entry starts at a ``+``, a ``-`` or a comma and runs to
the next one, so ``/filter +central bank -football`` includes the phrase "central bank" and
excludes "football", and ``/alert oil, central bank`` adds two alert entries. At most
``MAX_WORDS`` per chat (filters and alerts together), ``MAX_WORD_CHARS`` characters each;
duplicates are found ignoring case.

A channel's administrator edits the channel's lists from a private chat: ``/filter @channel
+word``, ``/alert @channel word``. Callback data: ``flt:<word id>`` removes a filter word,
``alr:<word id>`` an alert word, with ``@<channel id>`` appended for a channel's list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.digest import isolate
from bot.i18n import N_, Gettext
from bot.models import ChatWord
from bot.safetext import clean_line
from bot.store import Store
from bot.telegram.common import (
    INVALID_BUTTON,
    Target,
    answer,
    button_target,
    clipped,
    command_target,
    edit,
    esc,
    ntexts,
    parse_id,
    refuse_change,
    reply,
    texts,
)
from bot.telegram.services import services

INCLUDE, EXCLUDE, ALERT = "include", "exclude", "alert"
FILTER_KINDS = (INCLUDE, EXCLUDE)
SIGNS = {"+": INCLUDE, "-": EXCLUDE}
MAX_WORDS = 50  # per chat, filters and alerts together
MAX_WORD_CHARS = 50
ALERTS_PER_HOUR = 10  # enforced where alerts are sent; said here so users know
# Entries end at a comma (Latin or Arabic) or where a word starts with + or -.
_ENTRY_BREAK = re.compile(r"[,،]|\s+(?=[+-])")
GONE = N_("That word is no longer there.")
FILTERS, ALERTS = N_("Filters"), N_("Alerts")  # the headings of the two lists
# What a word already in the other filter list is said to be, and where a word was added.
ALREADY_OTHER = {INCLUDE: N_("Already an include word, remove it first"),
                 EXCLUDE: N_("Already an exclude word, remove it first")}
ADDED = {INCLUDE: N_("Added to the include words"), EXCLUDE: N_("Added to the exclude words"),
         ALERT: N_("Added to the alert words")}

View = Callable[[Store, Target, Gettext], tuple[str, InlineKeyboardMarkup | None]]


def limits(_: Gettext) -> str:
    return _("Plain words or phrases, up to %(chars)d characters; at most %(words)d per chat, "
             "filters and alerts together.") % {"chars": MAX_WORD_CHARS, "words": MAX_WORDS}


def entries(args: Sequence[str]) -> list[tuple[str, str]]:
    """``(sign, entry)`` pairs; an entry without a sign takes the previous one ("" first)."""
    found: list[tuple[str, str]] = []
    sign = ""
    for part in _ENTRY_BREAK.split(" ".join(args)):
        part = part.strip()
        if part[:1] in SIGNS:
            sign, part = part[0], part[1:]
        entry = clean_line(part, None)
        if entry:
            found.append((sign, entry))
    return found


def quoted(word: str) -> str:
    """A user's word inside an HTML answer; isolated so Arabic keeps the line in order."""
    return f"“{esc(isolate(word))}”"


@dataclass
class Outcome:
    """What one command did, grouped under a few headings for a short answer."""

    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, heading: str, word: str) -> None:
        self.notes.setdefault(heading, []).append(word)

    def html(self, _: Gettext) -> str:
        return "\n".join(_("%(heading)s: %(words)s.") % {
            "heading": heading, "words": _(", ").join(quoted(w) for w in words)}
            for heading, words in self.notes.items())


def _heading(target: Target, title: str, _: Gettext) -> str:
    """A list's bold heading: ``title`` (an N_ string), with the channel it is for."""
    return "<b>" + target.heading(_(title), _) + "</b>"


def _command(name: str, target: Target) -> str:
    return f"/{name} {esc(target.channel)}" if target.channel else f"/{name}"


def _remove_buttons(words: list[ChatWord], prefix: str, target: Target,
                    label: Callable[[ChatWord], str]) -> InlineKeyboardMarkup | None:
    buttons = [InlineKeyboardButton("✖ " + label(w), callback_data=f"{prefix}:{w.id}"
                                    f"{target.suffix}") for w in words]
    return InlineKeyboardMarkup([buttons[i:i + 2] for i in range(0, len(buttons), 2)]) \
        if buttons else None


# /filter ------------------------------------------------------------------------------------

def filter_help(target: Target, _: Gettext) -> str:
    return _("%(cmd)s +word: only stories matching an include word are sent. %(cmd)s -word: "
             "stories matching it are never sent. Each + or - starts a new entry: "
             "%(cmd)s +central bank -football.") % {
        "cmd": _command("filter", target)} + " " + limits(_)


def filter_view(store: Store, target: Target,
                _: Gettext) -> tuple[str, InlineKeyboardMarkup | None]:
    """The include and exclude words with a remove button each."""
    words = store.chat_words(target.chat.id)
    include = [w for w in words if w.kind == INCLUDE]
    exclude = [w for w in words if w.kind == EXCLUDE]
    lines = [_heading(target, FILTERS, _)]
    if include:
        lines += [_("Only stories matching one of these are sent:"),
                  *(f"• {esc(isolate(w.word))}" for w in include)]
    if exclude:
        lines += [_("Stories matching these are never sent:"),
                  *(f"• {esc(isolate(w.word))}" for w in exclude)]
    lines.append(_("Tap a word to remove it.") if include or exclude
                 else _("None: every story is sent."))
    markup = _remove_buttons(include + exclude, "flt", target,
                             lambda w: ("+" if w.kind == INCLUDE else "-") + w.word)
    return "\n".join([*lines, "", filter_help(target, _)]), markup


async def filter_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the filter words with remove buttons, or add some: /filter +word -word."""
    target, args = await command_target(update, context, "filter")
    if target is None:
        return
    store, _ = services(context).store, texts(update, context)
    if not args:
        text, markup = filter_view(store, target, _)
        await reply(update, text, reply_markup=markup)
        return
    found = entries(args)
    if not found or any(not sign for sign, _entry in found):
        await reply(update, _("Start each word with + (include) or - (exclude), e.g. "
                              "%(cmd)s +oil -football. A phrase is one entry: "
                              "%(cmd)s +central bank.") % {"cmd": _command("filter", target)})
        return
    if await refuse_too_many(update, context, found) or await refuse_change(update, context,
                                                                             target):
        return
    outcome, existing = Outcome(), store.chat_words(target.chat.id)
    for sign, word in found:
        add_word(store, target.chat.id, SIGNS[sign], word, existing, outcome, _)
    await reply(update, "\n".join([_heading(target, FILTERS, _), outcome.html(_), _(
        "%(cmd)s shows the list.") % {"cmd": _command("filter", target)}]))


async def filter_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remove one filter word (``flt:<id>``) and redraw the list in place."""
    await _remove_pressed(update, context, FILTER_KINDS, filter_view)


# /alert -------------------------------------------------------------------------------------

def alert_help(target: Target, _: Gettext) -> str:
    return _("%(cmd)s word adds one, %(cmd)s -word removes one; separate several with "
             "commas: %(cmd)s oil, central bank.") % {
        "cmd": _command("alert", target)} + " " + limits(_)


def alert_view(store: Store, target: Target,
               _: Gettext) -> tuple[str, InlineKeyboardMarkup | None]:
    """The alert words with a remove button each, and what alerts do."""
    words = store.chat_words(target.chat.id, ALERT)
    if target.channel:
        where = _("A new story matching an alert word is sent to %(channel)s as soon as it is "
                  "fetched: at most %(count)d an hour, the rest wait for the next digest.")
    else:
        where = _("A new story matching an alert word is sent here as soon as it is fetched: "
                  "at most %(count)d an hour, the rest wait for the next digest.")
    lines = [_heading(target, ALERTS, _),
             where % {"channel": esc(target.channel), "count": ALERTS_PER_HOUR}]
    lines += [f"• {esc(isolate(w.word))}" for w in words] or [_("No alert words yet.")]
    if words:
        lines.append(_("Tap a word to remove it."))
    markup = _remove_buttons(words, "alr", target, lambda w: w.word)
    return "\n".join([*lines, "", alert_help(target, _)]), markup


async def alert_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the alert words with remove buttons, add some, or remove one: /alert -word."""
    target, args = await command_target(update, context, "alert")
    if target is None:
        return
    store, _ = services(context).store, texts(update, context)
    if not args:
        text, markup = alert_view(store, target, _)
        await reply(update, text, reply_markup=markup)
        return
    found = entries(args)
    if not found:
        await reply(update, alert_help(target, _))
        return
    if await refuse_too_many(update, context, found) or await refuse_change(update, context,
                                                                             target):
        return
    outcome, existing = Outcome(), store.chat_words(target.chat.id)
    for sign, word in found:
        if sign == "-":
            remove_alert(store, target.chat.id, word, outcome, _)
        else:
            add_word(store, target.chat.id, ALERT, word, existing, outcome, _)
    await reply(update, "\n".join([_heading(target, ALERTS, _), outcome.html(_), _(
        "%(cmd)s shows the list.") % {"cmd": _command("alert", target)}]))


async def alert_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remove one alert word (``alr:<id>``) and redraw the list in place."""
    await _remove_pressed(update, context, (ALERT,), alert_view)


# changes ------------------------------------------------------------------------------------

async def refuse_too_many(update: Update, context: ContextTypes.DEFAULT_TYPE,
                          found: list[tuple[str, str]]) -> bool:
    """True (after saying so) for more entries than a chat may hold: the answer stays short."""
    if len(found) <= MAX_WORDS:
        return False
    ngettext = ntexts(update, context)
    await reply(update, ngettext("That is %(count)d entry; a chat can have at most %(max)d.",
                                 "That is %(count)d entries; a chat can have at most %(max)d.",
                                 len(found)) % {"count": len(found), "max": MAX_WORDS})
    return True


def word_problem(word: str, _: Gettext) -> str | None:
    """Why an entry cannot be a word (a heading for :class:`Outcome`), or None."""
    if len(word) > MAX_WORD_CHARS:
        return _("Too long (max %(count)d characters)") % {"count": MAX_WORD_CHARS}
    if not any(c.isalnum() for c in word):
        return _("Not added, no letters or digits")
    return None


def add_word(store: Store, chat_id: int, kind: str, word: str, existing: list[ChatWord],
             outcome: Outcome, _: Gettext) -> None:
    """Add one word of ``kind`` unless refused; ``existing`` (all the chat's words) grows."""
    problem = word_problem(word, _)
    if problem:
        outcome.note(problem, clipped(word))
        return
    related = FILTER_KINDS if kind in FILTER_KINDS else (kind,)
    same = next((w for w in existing
                 if w.kind in related and w.word.casefold() == word.casefold()), None)
    if same is not None:
        outcome.note(_("Already there") if same.kind == kind
                     else _(ALREADY_OTHER[same.kind]), same.word)
        return
    if len(existing) >= MAX_WORDS:
        outcome.note(_("Not added, the list is full (%(count)d words per chat, filters and "
                       "alerts together)") % {"count": MAX_WORDS}, word)
        return
    if not store.add_chat_word(chat_id, kind, word, datetime.now(UTC)):
        outcome.note(_("Already there"), word)
        return
    existing.append(ChatWord(0, kind, word))
    outcome.note(_(ADDED[kind]), word)


def remove_alert(store: Store, chat_id: int, word: str, outcome: Outcome,
                 _: Gettext) -> None:
    found = next((w for w in store.chat_words(chat_id, ALERT)
                  if w.word.casefold() == word.casefold()), None)
    if found is None:
        outcome.note(_("Not an alert word"), clipped(word))
        return
    store.remove_chat_word(chat_id, found.id)
    outcome.note(_("Removed from the alert words"), found.word)


async def _remove_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE,
                          kinds: tuple[str, ...], view: View) -> None:
    target, data = await button_target(update, context)
    if target is None:
        return
    _ = texts(update, context)
    word_id = parse_id(data.partition(":")[2])
    if word_id is None:
        await answer(update, _(INVALID_BUTTON), alert=True)
        return
    store = services(context).store
    word = next((w for w in store.chat_words(target.chat.id)
                 if w.id == word_id and w.kind in kinds), None)
    if word is None:
        await answer(update, _(GONE), alert=True)  # not this list's: leave the message alone
        return
    store.remove_chat_word(target.chat.id, word.id)
    await answer(update, _("Removed: %(word)s") % {"word": clipped(word.word, 150)})
    await edit(update, *view(store, target, _))
