"""A fake Telegram Bot API server on 127.0.0.1 that the real python-telegram-bot talks to.

Usage::

    def test_start(fake_telegram: FakeTelegram) -> None:
        async def scenario() -> None:
            app = fake_telegram.application_builder().build()
            app.add_handler(CommandHandler("start", start))
            async with app:
                await app.start()
                await app.updater.start_polling(poll_interval=0.0, timeout=1)
                fake_telegram.push_message(42, "/start")
                sent = await fake_telegram.wait_for_messages_async(42, 1)
                await app.updater.stop()
                await app.stop()
            assert sent[0]["entities"][0]["type"] == "bold"

        asyncio.run(scenario())

URLs are ``{server.url}/bot<token>/<method>`` exactly as PTB builds them from
``base_url(server.base_url)``. The token in the path is checked: a well-formed wrong token
answers 401 like Telegram, so a test can prove the real token is the one being used.

The server mimics Telegram where bots usually trip: HTML entity parsing (and its error
messages), text length counted in UTF-16 units after parsing, whitespace trimming, inline
keyboards (callback_data of 1-64 bytes, at most 100 buttons), "message is not modified",
editMessageText dropping an inline keyboard it is not given again, getUpdates offset
confirmation and long polling (409 when a second poll supersedes the first), and error
payloads whose ``parameters`` PTB turns into RetryAfter / ChatMigrated.
Failures can be injected per method (and per chat) with :meth:`FakeTelegram.fail_next`;
:meth:`FakeTelegram.drop_next` closes the connection without any answer (a network error).

Forum topics: ``push_message(..., message_thread_id=N)`` posts in topic N (and makes the chat
a forum); sends to a topic are recorded with their ``message_thread_id``, and sends to a topic
removed with :meth:`FakeTelegram.delete_topic` (or to a thread of a chat that is no forum)
fail with "message thread not found". :meth:`FakeTelegram.push_channel_post` posts in a
channel (a ``channel_post`` update: ``sender_chat`` is the channel, there is no ``from``).

Inline mode: :meth:`FakeTelegram.push_inline_query` queues an ``inline_query`` update and
returns its id; answerInlineQuery is validated like Telegram does (at most 50 results, unique
result ids of 1-64 bytes, article title and text, HTML entities, inline keyboards, a
``next_offset`` of at most 64 bytes, one answer per query within
``inline_query_timeout`` seconds) and recorded for :meth:`FakeTelegram.inline_answers`.
:meth:`FakeTelegram.choose_inline_result` posts a chosen result in a chat "via" the bot.

Webhooks: setWebhook is recorded (:meth:`FakeTelegram.webhook`: url, secret_token,
allowed_updates, drop_pending_updates); while one is set getUpdates answers 409 as Telegram
does, until deleteWebhook (or setWebhook with an empty url). The fake does not push updates to
the webhook by itself: :meth:`FakeTelegram.deliver_to_webhook` POSTs one Update (e.g. from
:meth:`FakeTelegram.message_update`) to the recorded URL the way Telegram does, with the
``X-Telegram-Bot-Api-Secret-Token`` header, and returns the HTTP status. Unlike Telegram, the
fake accepts http:// URLs on any port, so tests can use loopback.

The blocking helpers (``wait_for``, ``wait_for_messages``, ``deliver_to_webhook``) must not be
called from the event loop that runs the bot - they would starve it. Inside
``asyncio.run(...)`` use the ``*_async`` variants.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import email.parser
import email.policy
import itertools
import json
import math
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.ext import ApplicationBuilder

# Shaped like a real token (digits, colon, 35 url-safe chars) so that code validating the
# format accepts it; obviously fake so that a leak in a log is easy to grep for.
DEFAULT_TOKEN = "7000000001:AAFakeTokenForNashraTests_0123456789"
DEFAULT_BOT_USERNAME = "nashra_test_bot"
# Sender of pushed group messages / callbacks when the test does not name one.
DEFAULT_USER_ID = 100001

MAX_TEXT_UTF16 = 4096
# Status recorded for calls whose connection drop_next() closed without an answer (0 is
# "still in progress").
DROPPED = -1
MAX_CALLBACK_DATA_BYTES = 64
# An inline keyboard holds at most 100 buttons in all (rows and columns together).
MAX_INLINE_BUTTONS = 100
_MARKUP_TOO_LONG = "Bad Request: reply markup is too long"
# Inline mode limits (Bot API docs): results per answer, result id and next_offset bytes, query
# characters; seconds Telegram waits for an answer before the query id stops working.
MAX_INLINE_RESULTS = 50
MAX_RESULT_ID_BYTES = 64
MAX_NEXT_OFFSET_BYTES = 64
MAX_INLINE_QUERY_CHARS = 256
INLINE_QUERY_TIMEOUT = 10.0
_INLINE_CHAT_TYPES = frozenset({"sender", "private", "group", "supergroup", "channel"})
_INLINE_RESULT_TYPES = frozenset({
    "article", "audio", "contact", "document", "game", "gif", "location", "mpeg4_gif", "photo",
    "sticker", "venue", "video", "voice",
})
# Keys that make an input_message_content something other than text (location, venue,
# contact, invoice): accepted for articles without deep validation.
_NON_TEXT_CONTENT_KEYS = ("latitude", "phone_number", "payload", "currency")
_START_PARAMETER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

T = TypeVar("T")

JSON = dict[str, Any]

# Descriptions Telegram sends for the error codes tests inject most often.
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_MIGRATED = "Bad Request: group chat was upgraded to a supergroup chat"
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_THREAD_NOT_FOUND = "Bad Request: message thread not found"
# The Bot API server's prefix for a result it cannot parse (followed by what is wrong).
_INLINE_RESULT_ERROR = "Bad Request: can't parse inline query result: "

# Form-encoded requests carry every value as a string; PTB JSON-dumps non-strings. These
# parameters are free text and must never be JSON-decoded (a text of "123" stays a string).
_STRING_PARAMS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "url", "description",
    "short_description", "name", "action", "language_code", "inline_message_id",
    "business_connection_id", "emoji", "title", "query", "secret_token", "ip_address",
    "custom_title", "message_effect_id", "inline_query_id", "next_offset", "switch_pm_text",
    "switch_pm_parameter",
})


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class _Dropped(Exception):
    """drop_next(): close the connection instead of answering."""


class EntityParseError(ValueError):
    """Malformed HTML; the message is what Telegram puts after "can't parse entities: "."""


# -- HTML entity parsing (modelled on tdlib's parse_html) -------------------------------------

_TAG_TYPES = {
    "b": "bold", "strong": "bold",
    "i": "italic", "em": "italic",
    "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z][a-zA-Z0-9]{0,31}));")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_SPACES = " \t\r\n"
# Telegram trims these from both ends of a message text (after parsing).
_TRIM = " \t\r\n\x0b\x0c"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    offset: int  # UTF-16 offset in the output where the tag's content starts
    out_index: int  # index into the output chunk list, to recover the inner text
    byte_pos: int


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    match = _ENTITY_RE.match(text, pos)
    if match is None:
        return None
    dec, hexa, name = match.groups()
    if name is not None:
        value = _NAMED_ENTITIES.get(name)
        return (value, match.end()) if value is not None else None
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSON]]:
    """Return ``(plain_text, entities)`` the way Telegram parses ``parse_mode=HTML``.

    Raises :class:`EntityParseError` with tdlib's wording. ``strict_ampersand`` rejects a
    bare ``&`` (Telegram shows it literally) because it nearly always means the bot forgot
    to escape feed text - exactly the bug these tests are meant to catch.
    """

    def byte_offset(pos: int) -> int:
        return len(text[:pos].encode("utf-8"))

    out: list[str] = []
    units = 0
    entities: list[JSON] = []
    stack: list[_OpenTag] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            decoded = _decode_entity(text, i)
            if decoded is None:
                if strict_ampersand:
                    raise EntityParseError(
                        f'Character "&" must be escaped as "&amp;" at byte offset {byte_offset(i)}'
                    )
                decoded = ("&", i + 1)
            out.append(decoded[0])
            units += utf16_len(decoded[0])
            i = decoded[1]
            continue
        if char != "<":
            out.append(char)
            units += utf16_len(char)
            i += 1
            continue

        begin = i
        i += 1
        closing = i < n and text[i] == "/"
        if closing:
            i += 1
        name_start = i
        while i < n and text[i] in _NAME_CHARS:
            i += 1
        name = text[name_start:i].lower()

        if closing:
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n or text[i] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            i += 1
            opened = stack.pop()
            if name != opened.name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                    f'expected "</{opened.name}>", found "</{name}>"'
                )
            _close_tag(opened, units, "".join(out[opened.out_index:]), entities)
            continue

        if name not in _TAG_TYPES:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {byte_offset(begin)}'
            )
        attrs: dict[str, str] = {}
        while True:
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            if text[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and text[i] in _NAME_CHARS:
                i += 1
            attr = text[attr_start:i].lower()
            if not attr:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {byte_offset(i)}'
                )
            while i < n and text[i] in _SPACES:
                i += 1
            if i < n and text[i] == "=":
                i += 1
                while i < n and text[i] in _SPACES:
                    i += 1
                if i >= n:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {byte_offset(begin)}"
                    )
                if text[i] in "'\"":
                    end = text.find(text[i], i + 1)
                    if end == -1:
                        raise EntityParseError(
                            f"Unclosed start tag at byte offset {byte_offset(begin)}"
                        )
                    raw_value = text[i + 1:end]
                    i = end + 1
                else:
                    value_start = i
                    while i < n and text[i] not in _SPACES and text[i] != ">":
                        i += 1
                    raw_value = text[value_start:i]
                attrs[attr] = _unescape_attr(raw_value)
            elif name == "blockquote" and attr == "expandable":
                attrs[attr] = ""
            else:
                raise EntityParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {byte_offset(i)}"
                )
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
            )
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise EntityParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                f"{byte_offset(begin)}"
            )
        stack.append(_OpenTag(name, attrs, units, len(out), begin))

    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"'
        )
    # "_language" only served the <pre><code> merge; Telegram sorts entities by position.
    # On ties the outer tag (closed later) comes first.
    order = sorted(range(len(entities)),
                   key=lambda idx: (entities[idx]["offset"], -entities[idx]["length"], -idx))
    clean = [{key: value for key, value in entities[idx].items() if key != "_language"}
             for idx in order]
    return "".join(out), clean


def _unescape_attr(value: str) -> str:
    # Attribute values may contain entities (href="?a=1&amp;b=2"); a bare & is literal there.
    result: list[str] = []
    i = 0
    while i < len(value):
        decoded = _decode_entity(value, i) if value[i] == "&" else None
        if decoded is None:
            result.append(value[i])
            i += 1
        else:
            result.append(decoded[0])
            i = decoded[1]
    return "".join(result)


def _close_tag(opened: _OpenTag, units: int, inner: str, entities: list[JSON]) -> None:
    length = units - opened.offset
    if length <= 0:
        return  # Telegram silently drops empty entities
    entity: JSON = {"type": _TAG_TYPES[opened.name], "offset": opened.offset, "length": length}
    if opened.name == "a":
        url = opened.attrs.get("href") or inner
        user = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if user:
            entity = {**entity, "type": "text_mention",
                      "user": {"id": int(user.group(1)), "is_bot": False,
                               "first_name": f"User {user.group(1)}"}}
        else:
            entity["url"] = url
    elif opened.name == "code":
        cls = opened.attrs.get("class", "")
        if cls.startswith("language-"):
            entity["_language"] = cls.removeprefix("language-")
    elif opened.name == "pre":
        # <pre><code class="language-x">...</code></pre> becomes one pre entity with a language.
        if entities and entities[-1]["type"] == "code" and entities[-1]["offset"] == opened.offset \
                and entities[-1]["length"] == length:
            inner_code = entities.pop()
            if inner_code.get("_language"):
                entity["language"] = inner_code["_language"]
    elif opened.name == "blockquote" and "expandable" in opened.attrs:
        entity["type"] = "expandable_blockquote"
    elif opened.name == "tg-emoji":
        entity["custom_emoji_id"] = opened.attrs["emoji-id"]
    entities.append(entity)


def trim_text(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip surrounding whitespace as Telegram does and shift/clip entities accordingly."""
    stripped = text.strip(_TRIM)
    if stripped == text:
        return text, entities
    left = utf16_len(text[: len(text) - len(text.lstrip(_TRIM))])
    total = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


# -- the server -------------------------------------------------------------------------------


@dataclass
class _Failure:
    method: str | None  # lower-case method name; None = any method
    code: int
    description: str
    parameters: JSON | None
    remaining: int
    chat_id: int | str | None
    skip: int = 0  # matching calls still to let through before failing


@dataclass
class _Poll:
    """Bookkeeping for the newest getUpdates call, to emulate Telegram's 409 on overlap."""

    generation: int = 0


@dataclass
class _Limits:
    """Telegram's flood limits, when a test asks for them (``enforce_limits``)."""

    overall: int
    private: int
    group: int
    sent: collections.deque[float] = field(default_factory=collections.deque)
    chats: dict[str, collections.deque[float]] = field(default_factory=dict)


def _recent(times: collections.deque[float], now: float,
            window: float) -> collections.deque[float]:
    while times and times[0] <= now - window:
        times.popleft()
    return times


@dataclass
class _State:
    updates: list[JSON] = field(default_factory=list)
    calls: list[JSON] = field(default_factory=list)
    sent: list[JSON] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # file_id -> content (getFile)
    edits: list[JSON] = field(default_factory=list)
    deleted: list[JSON] = field(default_factory=list)
    messages: dict[tuple[int, int], JSON] = field(default_factory=dict)
    next_message_id: dict[int, int] = field(default_factory=dict)
    chats: dict[int, JSON] = field(default_factory=dict)
    removed_chats: set[int] = field(default_factory=set)
    deleted_topics: set[tuple[int, int]] = field(default_factory=set)
    blocked: set[int] = field(default_factory=set)
    users: dict[int, JSON] = field(default_factory=dict)
    members: dict[int, dict[int, str]] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)
    commands: dict[tuple[str, str], list[JSON]] = field(default_factory=dict)
    bot_texts: dict[str, str] = field(default_factory=dict)
    callbacks: dict[str, bool] = field(default_factory=dict)  # id -> answered
    answers: list[JSON] = field(default_factory=list)  # successful answerCallbackQuery calls
    # inline query id -> {"pushed_at", "answered", "query", "offset", "user_id", "chat_type"}
    inline_queries: dict[str, JSON] = field(default_factory=dict)
    inline_answers: list[JSON] = field(default_factory=list)  # successful answerInlineQuery
    # The webhook set by setWebhook: {"url", "secret_token", "allowed_updates",
    # "drop_pending_updates", "max_connections"}; None while there is none.
    webhook: JSON | None = None


class FakeTelegram:
    """ThreadingHTTPServer in a daemon thread on a random free loopback port."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = DEFAULT_BOT_USERNAME,
                 bot_first_name: str = "Nashra Test", strict_chats: bool = False,
                 strict_html: bool = True, inline_mode: bool = True) -> None:
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":", 1)[0]), "is_bot": True, "first_name": bot_first_name,
            "username": bot_username, "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": inline_mode,
        }
        # Inline mode "enabled with BotFather" (/setinline): getMe reports it, and only then
        # can push_inline_query deliver queries. May be changed on a running server.
        self.inline_mode = inline_mode
        # An inline query answered later than this many seconds after push_inline_query is
        # "query is too old"; ``clock`` measures it (replace both before pushing, e.g. a
        # lambda over a list, to expire queries without sleeping).
        self.inline_query_timeout = INLINE_QUERY_TIMEOUT
        self.clock: Callable[[], float] = time.monotonic
        # strict_chats: only chats the test declared (add_chat) or that wrote to the bot
        # (push_message) exist; anything else is "chat not found", as for a user who never
        # pressed Start.
        self.strict_chats = strict_chats
        self.strict_html = strict_html
        # RLock: predicates given to wait_for may call sent()/calls() while the lock is held.
        self._cond = threading.Condition(threading.RLock())
        self._state = _State()
        self._poll = _Poll()
        self._update_ids = itertools.count(1000)
        self._callback_ids = itertools.count(5_000_000_000_000_000)
        self._inline_ids = itertools.count(6_000_000_000_000_000)
        self._stopping = False
        self._limits: _Limits | None = None
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-telegram", daemon=True)
        self._methods: dict[str, tuple[str, Callable[[JSON], Any]]] = {}
        for name in _METHODS:
            self._methods[name.lower()] = (name, getattr(self, "_api_" + name))
        for name in _TRUE_METHODS:
            self._methods[name.lower()] = (name, self._api_true)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()  # releases long polls so their threads finish promptly
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url`` (PTB appends the token)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url`` (serves pushed documents; else 404)."""
        return f"{self.url}/file/bot"

    @property
    def bot_id(self) -> int:
        return int(self.bot_user["id"])

    def application_builder(self) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
        """``Application.builder()`` pointed at this server with its token."""
        from telegram.ext import Application

        return (Application.builder().token(self.token).base_url(self.base_url)
                .base_file_url(self.base_file_url))

    def make_bot(self) -> Bot:
        """A plain ``telegram.Bot`` for this server; use as ``async with server.make_bot()``."""
        from telegram import Bot

        return Bot(self.token, base_url=self.base_url, base_file_url=self.base_file_url)

    # -- configuration ---------------------------------------------------------------------

    def add_chat(self, chat_id: int, *, chat_type: str | None = None, title: str | None = None,
                 username: str | None = None, first_name: str | None = None,
                 is_forum: bool = False) -> JSON:
        """Declare a chat (needed with ``strict_chats``); returns its Chat object.
        ``is_forum`` makes a supergroup a forum (topics enabled)."""
        with self._cond:
            self._state.removed_chats.discard(chat_id)
            chat = self._ensure_chat(chat_id, chat_type, title=title, username=username,
                                     first_name=first_name)
            if is_forum:
                self._make_forum(chat)
            return copy.deepcopy(chat)

    def remove_chat(self, chat_id: int) -> None:
        """Make ``chat_id`` answer "chat not found" from now on (even without strict_chats)."""
        with self._cond:
            self._state.chats.pop(chat_id, None)
            self._state.removed_chats.add(chat_id)

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """The forum topic is gone: sendMessage to it answers 400 "message thread not found"."""
        with self._cond:
            self._state.deleted_topics.add((chat_id, thread_id))

    # The same from a test's point of view: the bot can no longer post in the topic.
    close_topic = delete_topic

    def set_member(self, chat_id: int, user_id: int, status: str = "member", *,
                   username: str | None = None, first_name: str | None = None) -> None:
        """Give ``user_id`` a ChatMember status in ``chat_id`` (creator, administrator,
        member, restricted, left, kicked)."""
        if status not in {"creator", "administrator", "member", "restricted", "left", "kicked"}:
            raise ValueError(f"unknown chat member status {status!r}")
        with self._cond:
            self._ensure_chat(chat_id, None)
            self._ensure_user(user_id, username=username, first_name=first_name)
            self._state.members.setdefault(chat_id, {})[user_id] = status

    def set_admin(self, chat_id: int, user_id: int, *, creator: bool = False) -> None:
        """Shorthand: ``user_id`` administers (or created) group ``chat_id``."""
        self.set_member(chat_id, user_id, "creator" if creator else "administrator")

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: every send* to ``chat_id`` answers 403 until unblock."""
        with self._cond:
            self._state.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        with self._cond:
            self._state.blocked.discard(chat_id)

    def fail_next(self, method: str | None, *, code: int = 400, description: str | None = None,
                  retry_after: int | None = None, migrate_to_chat_id: int | None = None,
                  count: int = 1, chat_id: int | str | None = None, after: int = 0) -> None:
        """Answer the next ``count`` calls of ``method`` (None = any method), optionally only
        those addressed to ``chat_id``, with an error instead of running them. ``after``
        lets that many matching calls succeed first (a failure in the middle of a series).

        ``retry_after`` forces code 429 and ``migrate_to_chat_id`` code 400, with the
        ``parameters`` Telegram sends. Injected failures are consumed in the order queued.
        """
        parameters: JSON | None = None
        if retry_after is not None:
            code = 429
            description = description or f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after}
        elif migrate_to_chat_id is not None:
            code = 400
            description = description or _MIGRATED
            parameters = {"migrate_to_chat_id": migrate_to_chat_id}
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(code, f"Error {code}")
        with self._cond:
            self._state.failures.append(_Failure(
                method.lower() if method else None, code, description, parameters, count,
                chat_id, after))

    def drop_next(self, method: str | None, *, count: int = 1, after: int = 0) -> None:
        """Close the connection of the next ``count`` calls of ``method`` (None = any) without
        answering, as a failing network or proxy does; PTB raises NetworkError."""
        with self._cond:
            self._state.failures.append(_Failure(
                method.lower() if method else None, DROPPED, "connection dropped", None, count,
                None, after))

    # -- updates ---------------------------------------------------------------------------

    def _numbered(self, update: JSON) -> JSON:
        """A copy of ``update`` with an ``update_id`` (the next one unless given)."""
        with self._cond:
            update = copy.deepcopy(update)
            update.setdefault("update_id", next(self._update_ids))
            return update

    def push_update(self, update: JSON) -> JSON:
        """Queue a raw Update; ``update_id`` is assigned unless given. Returns it."""
        with self._cond:
            update = self._numbered(update)
            self._state.updates.append(update)
            self._cond.notify_all()
            return copy.deepcopy(update)

    def set_language(self, user_id: int, language_code: str | None) -> None:
        """User ``user_id``'s Telegram language from now on (new users have "en"); None:
        the user shares none, as Telegram allows."""
        with self._cond:
            user = self._ensure_user(user_id)
            if language_code is None:
                user.pop("language_code", None)
            else:
                user["language_code"] = language_code

    def push_message(self, chat_id: int, text: str, **fields: Any) -> JSON:
        """Queue an Update carrying a user's text Message (:meth:`message_update`, which takes
        the same arguments) for getUpdates; returns the Update."""
        return self.push_update(self.message_update(chat_id, text, **fields))

    def push_document(self, chat_id: int, data: bytes, file_name: str, *,
                      mime_type: str = "application/octet-stream",
                      caption: str | None = None, **fields: Any) -> JSON:
        """Queue an Update carrying a user's document (``fields`` as for
        :meth:`message_update`); getFile and the file URL serve ``data``. Returns it."""
        with self._cond:
            update = self.message_update(chat_id, "", entities=[], **fields)
            message = update["message"]
            file_id = f"document-{len(self._state.files) + 1}"
            self._state.files[file_id] = bytes(data)
            del message["text"]
            message["document"] = {"file_id": file_id, "file_unique_id": f"u-{file_id}",
                                   "file_name": file_name, "mime_type": mime_type,
                                   "file_size": len(data)}
            if caption:
                message["caption"] = caption
            self._state.messages[(chat_id, message["message_id"])] = copy.deepcopy(message)
            return self.push_update(update)

    def file_download(self, path: str) -> bytes | None:
        """The content behind a file URL path (``/file/bot<token>/documents/<id>``)."""
        prefix, path = f"/file/bot{self.token}/documents/", unquote(path)
        with self._cond:
            return self._state.files.get(path[len(prefix):]) if path.startswith(prefix) \
                else None

    def message_update(self, chat_id: int, text: str, *, user_id: int | None = None,
                       chat_type: str | None = None, username: str | None = None,
                       first_name: str | None = None, entities: list[JSON] | None = None,
                       reply_to_message_id: int | None = None,
                       message_thread_id: int | None = None) -> JSON:
        """An Update carrying a user's text Message, not queued (:meth:`push_message` queues
        it; :meth:`deliver_to_webhook` posts it). The message is stored in its chat.

        ``chat_type`` defaults from the id (positive: private, -100...: supergroup, other
        negative: group); the sender defaults to the chat itself in private chats. Commands
        get ``bot_command`` entities like Telegram adds, unless ``entities`` is given.
        ``message_thread_id`` posts in that forum topic: the message gets
        ``message_thread_id`` and ``is_topic_message`` and the chat becomes a forum.
        """
        with self._cond:
            private = chat_type == "private" or (chat_type is None and chat_id > 0)
            # In a private chat the chat *is* the user, so it shares the user's names.
            chat = self._ensure_chat(chat_id, chat_type, username=username if private else None,
                                     first_name=first_name if private else None)
            self._state.removed_chats.discard(chat_id)
            if message_thread_id is not None:
                if (chat_id, message_thread_id) in self._state.deleted_topics:
                    raise ValueError(f"topic {message_thread_id} of chat {chat_id} was deleted")
                self._make_forum(chat)
            if user_id is None:
                user_id = chat_id if chat["type"] == "private" else DEFAULT_USER_ID
            user = self._ensure_user(user_id, username=username, first_name=first_name)
            if chat["type"] != "private":
                self._state.members.setdefault(chat_id, {}).setdefault(user_id, "member")
            message: JSON = {
                "message_id": self._next_message_id(chat_id),
                "from": copy.deepcopy(user),
                "chat": copy.deepcopy(chat),
                "date": int(time.time()),
                "text": text,
            }
            found = _command_entities(text) if entities is None else entities
            if found:
                message["entities"] = found
            if message_thread_id is not None:
                message.update(message_thread_id=message_thread_id, is_topic_message=True)
            if reply_to_message_id is not None:
                replied = self._state.messages.get((chat_id, reply_to_message_id))
                if replied is not None:
                    message["reply_to_message"] = copy.deepcopy(replied)
            self._state.messages[(chat_id, message["message_id"])] = message
            return self._numbered({"message": message})

    def push_channel_post(self, chat_id: int, text: str, *, title: str | None = None,
                          username: str | None = None,
                          entities: list[JSON] | None = None) -> JSON:
        """Queue a ``channel_post`` Update: ``text`` posted in channel ``chat_id`` (declared as
        a channel if new). Like Telegram, the post has ``sender_chat`` (the channel) and no
        ``from``; commands get ``bot_command`` entities. Returns the Update."""
        with self._cond:
            chat = self._ensure_chat(chat_id, "channel", title=title, username=username)
            self._state.removed_chats.discard(chat_id)
            message: JSON = {
                "message_id": self._next_message_id(chat_id),
                "sender_chat": copy.deepcopy(chat),
                "chat": copy.deepcopy(chat),
                "date": int(time.time()),
                "text": text,
            }
            found = _command_entities(text) if entities is None else entities
            if found:
                message["entities"] = found
            self._state.messages[(chat_id, message["message_id"])] = message
            return self.push_update({"channel_post": message})

    def push_callback(self, chat_id: int, message_id: int, data: str, *,
                      user_id: int | None = None, username: str | None = None,
                      check_button: bool = True) -> JSON:
        """Queue a callback_query Update: the user pressed the button with ``data`` on the
        bot's message ``message_id``. Returns the Update (its query id is
        ``update["callback_query"]["id"]``).

        With ``check_button`` (default) the message must exist and currently carry a button
        with that callback_data - a real user cannot press a button that is not there.
        """
        with self._cond:
            message = self._state.messages.get((chat_id, message_id))
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}: "
                                 f"{sorted(k[1] for k in self._state.messages if k[0] == chat_id)}")
            if "via_bot" in message:
                # Telegram reports such presses with inline_message_id and no message.
                raise ValueError(f"message {message_id} in chat {chat_id} was sent via the bot "
                                 "in inline mode; callbacks from its buttons carry an "
                                 "inline_message_id, which this fake does not model")
            if check_button:
                buttons = _callback_buttons(message.get("reply_markup"))
                if data not in buttons:
                    raise ValueError(f"message {message_id} in chat {chat_id} has no button with "
                                     f"callback_data {data!r}; buttons: {buttons}")
            chat = self._state.chats[chat_id]
            if user_id is None:
                user_id = chat_id if chat["type"] == "private" else DEFAULT_USER_ID
            user = self._ensure_user(user_id, username=username)
            query_id = str(next(self._callback_ids))
            self._state.callbacks[query_id] = False
            return self.push_update({"callback_query": {
                "id": query_id,
                "from": copy.deepcopy(user),
                "message": copy.deepcopy(message),
                "chat_instance": str(abs(chat_id) * 7919 % 10**12),
                "data": data,
            }})

    def push_inline_query(self, user_id: int, query: str, *, offset: str = "",
                          chat_type: str | None = "private",
                          language_code: str | None = None) -> str:
        """Queue an ``inline_query`` Update: user ``user_id`` typed ``@bot <query>`` in a chat
        of ``chat_type`` ("sender" is their private chat with the bot; "private", "group",
        "supergroup", "channel"; None leaves the field out as for an unknown chat).
        ``offset`` is what the client sends for a further page: the previous answer's
        ``next_offset``. ``language_code`` sets the user's language. Returns the query id,
        which the bot must answer within ``inline_query_timeout`` seconds.
        """
        if not self.inline_mode:
            raise AssertionError(
                "inline mode is disabled for this bot (inline_mode=False): Telegram delivers "
                "no inline queries to a bot until inline mode is enabled with @BotFather "
                "(/setinline); getMe reports supports_inline_queries=false")
        if chat_type is not None and chat_type not in _INLINE_CHAT_TYPES:
            raise ValueError(f"unknown inline query chat_type {chat_type!r}; expected one of "
                             f"{sorted(_INLINE_CHAT_TYPES)} or None")
        if len(query) > MAX_INLINE_QUERY_CHARS:
            raise ValueError(f"an inline query holds at most {MAX_INLINE_QUERY_CHARS} "
                             f"characters, not {len(query)}")
        if user_id == self.bot_id:
            raise ValueError("a bot cannot send inline queries, not even to itself")
        with self._cond:
            user = self._ensure_user(user_id)
            if language_code is not None:
                user["language_code"] = language_code
            query_id = str(next(self._inline_ids))
            self._state.inline_queries[query_id] = {
                "pushed_at": self.clock(), "answered": False, "query": query, "offset": offset,
                "user_id": user_id, "chat_type": chat_type}
            inline: JSON = {"id": query_id, "from": copy.deepcopy(user), "query": query,
                            "offset": offset}
            if chat_type is not None:
                inline["chat_type"] = chat_type
            self.push_update({"inline_query": inline})
            return query_id

    def choose_inline_result(self, query_id: str, result_id: str, chat_id: int) -> JSON:
        """The user who sent inline query ``query_id`` picks result ``result_id`` of the bot's
        answer: Telegram posts its ``input_message_content`` in ``chat_id`` as a message from
        that user with ``via_bot`` = the bot (entities parsed as for sendMessage, the result's
        inline keyboard attached). Stored like other messages (see :meth:`message`), but no
        update is queued and it is not in :meth:`sent` (the bot did not send it). Returns the
        Message. Only text contents are modelled; a ``chosen_inline_result`` update (which
        needs inline feedback enabled in BotFather) is not sent.
        """
        with self._cond:
            answer = next((a for a in self._state.inline_answers
                           if a["inline_query_id"] == query_id), None)
            if answer is None:
                raise ValueError(f"inline query {query_id!r} has no successful answer, so the "
                                 "user has no results to choose from")
            result = next((r for r in answer["results"] if str(r["id"]) == result_id), None)
            if result is None:
                raise ValueError(f"the answer to inline query {query_id!r} has no result "
                                 f"{result_id!r}; results: {[r['id'] for r in answer['results']]}")
            content = result.get("input_message_content")
            if not isinstance(content, dict) or "message_text" not in content:
                raise ValueError(f"result {result_id!r} has no text input_message_content; "
                                 "only text messages are modelled")
            text, entities = self._inline_text(content)
            chat = self._ensure_chat(chat_id, None)
            query = self._state.inline_queries[query_id]
            message: JSON = {"message_id": self._next_message_id(chat_id)}
            if chat["type"] == "channel":
                message["sender_chat"] = copy.deepcopy(chat)
            else:
                message["from"] = copy.deepcopy(self._ensure_user(query["user_id"]))
                if chat["type"] != "private":
                    self._state.members.setdefault(chat_id, {}).setdefault(query["user_id"],
                                                                           "member")
            message.update(chat=copy.deepcopy(chat), date=int(time.time()), text=text,
                           via_bot=self._bot_as_user())
            if entities:
                message["entities"] = entities
            markup = result.get("reply_markup")
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                message["reply_markup"] = copy.deepcopy(markup)
            self._state.messages[(chat_id, message["message_id"])] = message
            self._cond.notify_all()
            return copy.deepcopy(message)

    def deliver_to_webhook(self, update: JSON, secret: str | None = None) -> int:
        """POST ``update`` (``update_id`` assigned unless given) to the webhook URL as Telegram
        does: JSON with the ``X-Telegram-Bot-Api-Secret-Token`` header. ``secret`` None sends
        the recorded secret_token (no header if setWebhook had none), "" sends no header,
        anything else is sent instead. Returns the HTTP status (a refusal is not an error).
        Blocking: from the bot's event loop use :meth:`deliver_to_webhook_async`."""
        with self._cond:
            webhook = copy.deepcopy(self._state.webhook)
            update = self._numbered(update)
        if webhook is None:
            raise AssertionError("no webhook is set: the bot never called setWebhook, or it "
                                 "was deleted\n" + self.describe())
        secret = webhook["secret_token"] if secret is None else secret
        headers = {"Content-Type": "application/json"}
        if secret:
            headers[SECRET_HEADER] = secret
        request = urllib.request.Request(webhook["url"], method="POST", headers=headers,
                                         data=json.dumps(update).encode("utf-8"))
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no $http_proxy
        try:
            with direct.open(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return int(exc.code)

    async def deliver_to_webhook_async(self, update: JSON, secret: str | None = None) -> int:
        """Like :meth:`deliver_to_webhook`, in a thread so that the event loop (and a webhook
        server running on it) keeps going."""
        return await asyncio.to_thread(self.deliver_to_webhook, update, secret)

    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._cond:
            return copy.deepcopy(self._state.updates)

    # -- inspection ------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[JSON]:
        """Every request in order: ``{"method", "params", "time", "status", "token_ok"}``;
        ``method`` filters case-insensitively."""
        with self._cond:
            calls = self._state.calls
            if method is not None:
                calls = [c for c in calls if c["method"].lower() == method.lower()]
            return copy.deepcopy(calls)

    def sent(self, chat_id: int | None = None) -> list[JSON]:
        """Messages the bot sent successfully, in order. Each record has ``chat_id``,
        ``message_id``, ``message_thread_id`` (the forum topic, or None), ``text`` (after
        entity parsing, as users see it), ``raw_text`` (as the bot sent it), ``parse_mode``,
        ``entities``, ``reply_markup`` (as sent), ``date`` and ``message`` (the Message
        object returned to the bot)."""
        with self._cond:
            return copy.deepcopy([s for s in self._state.sent
                                  if chat_id is None or s["chat_id"] == chat_id])

    def edits(self, chat_id: int | None = None) -> list[JSON]:
        """Successful editMessageText / editMessageReplyMarkup calls, in order; records have
        ``method``, ``chat_id``, ``message_id``, ``text``, ``raw_text``, ``parse_mode``,
        ``entities``, ``reply_markup``, ``date`` and ``message`` (state after the edit)."""
        with self._cond:
            return copy.deepcopy([e for e in self._state.edits
                                  if chat_id is None or e["chat_id"] == chat_id])

    def deleted(self, chat_id: int | None = None) -> list[JSON]:
        """Messages removed by deleteMessage: ``{"chat_id", "message_id"}``."""
        with self._cond:
            return copy.deepcopy([d for d in self._state.deleted
                                  if chat_id is None or d["chat_id"] == chat_id])

    def answers(self, query_id: str | None = None) -> list[JSON]:
        """Answered button presses, in order: ``{"callback_query_id", "text", "show_alert"}``
        (``text`` None when answered silently); ``query_id`` filters."""
        with self._cond:
            return copy.deepcopy([a for a in self._state.answers
                                  if query_id is None or a["callback_query_id"] == query_id])

    def inline_answers(self, query_id: str | None = None) -> list[JSON]:
        """Successful answerInlineQuery calls, in order; ``query_id`` filters. Records have
        ``inline_query_id``, ``query`` and ``offset`` (of the query answered), ``user_id``,
        ``results`` (the decoded list of result objects, as sent), ``next_offset`` ("" when
        not given), ``cache_time`` (300 when not given), ``is_personal``, ``button`` (or None)
        and ``time``."""
        with self._cond:
            return copy.deepcopy([a for a in self._state.inline_answers
                                  if query_id is None or a["inline_query_id"] == query_id])

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """Current state of a message (after edits), or None if unknown or deleted."""
        with self._cond:
            return copy.deepcopy(self._state.messages.get((chat_id, message_id)))

    def webhook(self) -> JSON | None:
        """The webhook setWebhook recorded: ``{"url", "secret_token", "allowed_updates",
        "drop_pending_updates", "max_connections"}`` (None for parameters not given); None
        while no webhook is set."""
        with self._cond:
            return copy.deepcopy(self._state.webhook)

    def commands(self, *, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Commands stored by setMyCommands for that scope and language."""
        with self._cond:
            return copy.deepcopy(self._state.commands.get(_scope_key(scope, language_code), []))

    def describe(self, limit: int = 40) -> str:
        """Human-readable dump of the last requests and sent messages, for failure output."""
        with self._cond:
            lines = [f"last {limit} of {len(self._state.calls)} calls:"]
            for call in self._state.calls[-limit:]:
                params = json.dumps(call["params"], ensure_ascii=False, default=str)
                if len(params) > 300:
                    params = params[:300] + "..."
                lines.append(f"  {call['status']} {call['method']} {params}")
            lines.append(f"sent messages ({len(self._state.sent)}):")
            for sent in self._state.sent[-limit:]:
                lines.append(f"  chat {sent['chat_id']} #{sent['message_id']}: "
                             f"{sent['text'][:200]!r}")
            lines.append(f"pending updates: {len(self._state.updates)}")
            return "\n".join(lines)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0,
                 message: str = "condition") -> T:
        """Block until ``predicate()`` is truthy and return its value; AssertionError with a
        dump of the traffic on timeout. Not for use inside the bot's event loop."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {message}\n"
                                         + self.describe())
                # Short waits: the predicate may also depend on state outside this server.
                self._cond.wait(min(remaining, 0.05))

    def wait_for_messages(self, chat_id: int, count: int = 1,
                          timeout: float = 10.0) -> list[JSON]:
        """Block until the bot sent at least ``count`` messages to ``chat_id``; returns them."""
        return self.wait_for(lambda: self._sent_at_least(chat_id, count), timeout,
                             f"{count} message(s) to chat {chat_id}")

    async def wait_for_async(self, predicate: Callable[[], T], timeout: float = 10.0,
                             message: str = "condition") -> T:
        """Like :meth:`wait_for` but yields to the event loop between checks."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {message}\n"
                                     + self.describe())
            await asyncio.sleep(0.01)

    async def wait_for_messages_async(self, chat_id: int, count: int = 1,
                                      timeout: float = 10.0) -> list[JSON]:
        """Like :meth:`wait_for_messages` but yields to the event loop between checks."""
        return await self.wait_for_async(lambda: self._sent_at_least(chat_id, count), timeout,
                                         f"{count} message(s) to chat {chat_id}")

    def wait_for_inline_answer(self, query_id: str, timeout: float = 10.0) -> JSON:
        """Block until the bot answered inline query ``query_id``; returns the answer record
        (see :meth:`inline_answers`)."""
        return self.wait_for(lambda: self._inline_answer(query_id), timeout,
                             f"an answer to inline query {query_id}")

    async def wait_for_inline_answer_async(self, query_id: str,
                                           timeout: float = 10.0) -> JSON:
        """Like :meth:`wait_for_inline_answer` but yields to the event loop between checks."""
        return await self.wait_for_async(lambda: self._inline_answer(query_id), timeout,
                                         f"an answer to inline query {query_id}")

    def _inline_answer(self, query_id: str) -> JSON:
        answers = self.inline_answers(query_id)
        return answers[0] if answers else {}  # falsy until answered

    def _sent_at_least(self, chat_id: int, count: int) -> list[JSON]:
        sent = self.sent(chat_id)
        return sent if len(sent) >= count else []

    # -- request handling (called from server threads) --------------------------------------

    def handle(self, token: str, method: str, params: JSON) -> tuple[int, JSON]:
        """Run one API call; returns (HTTP status, response body)."""
        record: JSON = {"method": method, "params": params, "time": time.time(),
                        "token_ok": token == self.token, "status": 0}
        with self._cond:
            self._state.calls.append(record)
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            entry = self._methods.get(method.lower())
            if entry is None:
                raise ApiError(404, "Not Found: method not found")
            record["method"] = entry[0]
            self._maybe_fail(method, params)
            self._within_limits(entry[0], params, record)
            result = entry[1](params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.code, exc.payload()
        except _Dropped:
            status, body = DROPPED, {}
        with self._cond:
            record["status"] = status
            self._cond.notify_all()
        return status, body

    def _maybe_fail(self, method: str, params: JSON) -> None:
        with self._cond:
            for failure in self._state.failures:
                if failure.method not in (None, method.lower()):
                    continue
                if failure.chat_id is not None and not _same_chat(failure.chat_id,
                                                                   params.get("chat_id")):
                    continue
                if failure.skip > 0:
                    failure.skip -= 1
                    return
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._state.failures.remove(failure)
                if failure.code == DROPPED:
                    raise _Dropped
                raise ApiError(failure.code, failure.description,
                               copy.deepcopy(failure.parameters))

    def enforce_limits(self, overall_per_second: int = 30, private_per_second: int = 1,
                       group_per_minute: int = 20) -> None:
        """Answer 429 as Telegram does when a bot sends too fast: more than
        ``overall_per_second`` messages in any second, more than ``private_per_second`` to one
        private chat in any second, or ``group_per_minute`` to one group in any minute.
        The call is recorded with ``limit`` = "overall" or "chat"."""
        with self._cond:
            self._limits = _Limits(overall_per_second, private_per_second, group_per_minute)

    def _within_limits(self, method: str, params: JSON, record: JSON) -> None:
        limits = self._limits
        if limits is None or method == "sendChatAction" or not method.startswith(
                ("send", "edit", "copy", "forward")):
            return
        now = time.monotonic()
        key = str(params.get("chat_id"))
        private = not key.startswith(("-", "@"))
        window, count = (1.0, limits.private) if private else (60.0, limits.group)
        with self._cond:
            overall = _recent(limits.sent, now, 1.0)
            chat = _recent(limits.chats.setdefault(key, collections.deque()), now, window)
            if len(overall) >= limits.overall:
                record["limit"] = "overall"
                raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
            if len(chat) >= count:
                record["limit"] = "chat"
                wait = max(1, math.ceil(chat[0] + window - now))
                raise ApiError(429, f"Too Many Requests: retry after {wait}",
                               {"retry_after": wait})
            overall.append(now)
            chat.append(now)

    # -- state helpers (caller holds the lock) ---------------------------------------------

    def _ensure_user(self, user_id: int, *, username: str | None = None,
                     first_name: str | None = None) -> JSON:
        if user_id == self.bot_id:
            return self.bot_user
        user = self._state.users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": f"User {user_id}",
                      "language_code": "en"})
        if username:
            user["username"] = username
        if first_name:
            user["first_name"] = first_name
        return user

    def _ensure_chat(self, chat_id: int, chat_type: str | None, *, title: str | None = None,
                     username: str | None = None, first_name: str | None = None) -> JSON:
        chat = self._state.chats.get(chat_id)
        if chat is None:
            if chat_type is None:
                chat_type = ("private" if chat_id > 0
                             else "supergroup" if str(chat_id).startswith("-100") else "group")
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = first_name or f"User {chat_id}"
            else:
                chat["title"] = title or f"Chat {chat_id}"
            self._state.chats[chat_id] = chat
        elif chat_type is not None and chat_type != chat["type"]:
            raise ValueError(f"chat {chat_id} already exists with type {chat['type']!r}")
        if title and chat["type"] != "private":
            chat["title"] = title
        if username:
            chat["username"] = username
        if first_name and chat["type"] == "private":
            chat["first_name"] = first_name
        return chat

    def _chat(self, params: JSON, *, sending: bool = False) -> JSON:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        state = self._state
        if isinstance(raw, str) and raw.startswith("@"):
            for chat in state.chats.values():
                if chat.get("username", "").lower() == raw[1:].lower():
                    return chat
            raise ApiError(400, "Bad Request: chat not found")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id in state.removed_chats or (self.strict_chats and chat_id not in state.chats):
            raise ApiError(400, "Bad Request: chat not found")
        chat = self._ensure_chat(chat_id, None)
        if sending and chat_id in state.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _make_forum(self, chat: JSON) -> None:
        if chat["type"] != "supergroup":
            raise ValueError(f"only supergroups have topics; chat {chat['id']} is a "
                             f"{chat['type']}")
        chat["is_forum"] = True

    def _send_topic(self, chat: JSON, params: JSON) -> int | None:
        """The topic a send goes to; a deleted topic, or a thread in a chat without topics,
        is "message thread not found" as on Telegram."""
        thread = _int_param(params, "message_thread_id")
        if thread is None or chat["type"] == "private":
            return thread
        if not chat.get("is_forum") or (chat["id"], thread) in self._state.deleted_topics:
            raise ApiError(400, _THREAD_NOT_FOUND)
        return thread

    def _next_message_id(self, chat_id: int) -> int:
        # One sequence per chat shared by both sides, as in private chats and supergroups.
        value = self._state.next_message_id.get(chat_id, 1)
        self._state.next_message_id[chat_id] = value + 1
        return value

    def _format_text(self, params: JSON, *, edit: bool) -> tuple[str, list[JSON]]:
        return self._render_text(
            params.get("text"), params.get("parse_mode"), params.get("entities"),
            too_long="Bad Request: MESSAGE_TOO_LONG" if edit
            else "Bad Request: message is too long")

    def _inline_text(self, content: JSON) -> tuple[str, list[JSON]]:
        """Text and entities of an inline result's InputTextMessageContent."""
        return self._render_text(
            content.get("message_text"), content.get("parse_mode"), content.get("entities"),
            too_long="Bad Request: MESSAGE_TOO_LONG",
            parse_error=_INLINE_RESULT_ERROR + "Can't parse entities: ")

    def _render_text(self, raw: Any, parse_mode: Any, given: Any, *, too_long: str,
                     parse_error: str = "Bad Request: can't parse entities: ",
                     ) -> tuple[str, list[JSON]]:
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: message text is empty")
        raw = str(raw)
        if given:
            text, entities = raw, [dict(e) for e in given]
        elif parse_mode is None or parse_mode == "":
            text, entities = raw, []
        elif str(parse_mode).lower() == "html":
            try:
                text, entities = parse_html(raw, strict_ampersand=self.strict_html)
            except EntityParseError as exc:
                raise ApiError(400, f"{parse_error}{exc}") from None
        elif str(parse_mode).lower() in ("markdown", "markdownv2"):
            # Not parsed: Nashra sends HTML. Stored verbatim so tests still see the text.
            text, entities = raw, []
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        text, entities = trim_text(text, entities)
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT_UTF16:
            raise ApiError(400, too_long)
        return text, entities

    def _bot_as_user(self) -> JSON:
        """The bot as a plain User (as in ``via_bot``), without getMe's capability fields."""
        return {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}

    def _check_inline_result(self, result: Any) -> JSON:
        """Parse one InlineQueryResult the way the Bot API server does before it forwards the
        answer; returns ``{"id", "type", "title"}`` for the checks Telegram makes after."""
        if not isinstance(result, dict):
            raise ApiError(400, _INLINE_RESULT_ERROR + "expected an Object")
        kind = result.get("type")
        if kind is None:
            raise ApiError(400, _INLINE_RESULT_ERROR + "Can't find field \"type\"")
        kind = str(kind).lower()
        if kind not in _INLINE_RESULT_TYPES:
            raise ApiError(400, _INLINE_RESULT_ERROR
                           + f'type "{kind}" is unsupported for the inline query result')
        result_id = result.get("id")
        if result_id is None:
            raise ApiError(400, _INLINE_RESULT_ERROR + "Can't find field \"id\"")
        if isinstance(result_id, bool) or not isinstance(result_id, (str, int, float)):
            raise ApiError(400, _INLINE_RESULT_ERROR + "Field \"id\" must be of type String")
        title = result.get("title")
        for name in ("title", "description", "url", "thumbnail_url"):
            if name in result and not isinstance(result[name], str):
                raise ApiError(400, _INLINE_RESULT_ERROR
                               + f"Field \"{name}\" must be of type String")
        if "reply_markup" in result:
            markup = result["reply_markup"]
            if not (isinstance(markup, dict) and isinstance(markup.get("inline_keyboard"), list)
                    and all(isinstance(row, list) and all(isinstance(b, dict) for b in row)
                            for row in markup["inline_keyboard"])):
                raise ApiError(400, _INLINE_RESULT_ERROR + "Inline keyboard expected")
            _check_markup(markup)
        content = result.get("input_message_content")
        if content is not None and not isinstance(content, dict):
            raise ApiError(400, _INLINE_RESULT_ERROR
                           + "Field \"input_message_content\" must be of type Object")
        if kind == "article":
            if title is None:
                raise ApiError(400, _INLINE_RESULT_ERROR + "Can't find field \"title\"")
            if content is None:
                raise ApiError(400, _INLINE_RESULT_ERROR
                               + "Can't find field \"input_message_content\"")
            if "message_text" not in content and not any(k in content
                                                         for k in _NON_TEXT_CONTENT_KEYS):
                raise ApiError(400, _INLINE_RESULT_ERROR + "Can't find field \"message_text\"")
        if content is not None and "message_text" in content:
            self._inline_text(content)
        return {"id": str(result_id), "type": kind, "title": title}

    # -- API methods (caller does not hold the lock) ---------------------------------------

    def _api_true(self, params: JSON) -> bool:
        return True

    def _api_getMe(self, params: JSON) -> JSON:
        return {**self.bot_user, "supports_inline_queries": bool(self.inline_mode)}

    def _api_getUpdates(self, params: JSON) -> list[JSON]:
        offset = _int_param(params, "offset")
        limit = min(max(_int_param(params, "limit") or 100, 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._state.webhook is not None:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                               "active; use deleteWebhook to delete the webhook first")
            # A newer poll terminates an older one, like Telegram does.
            self._poll.generation += 1
            generation = self._poll.generation
            self._cond.notify_all()
            updates = self._state.updates
            if offset is not None and offset < 0:
                del updates[: max(len(updates) + offset, 0)]
            elif offset:
                updates[:] = [u for u in updates if u["update_id"] >= offset]
            while True:
                if self._stopping:
                    return []
                if generation != self._poll.generation:
                    raise ApiError(409, _DEFAULT_DESCRIPTIONS[409])
                if self._state.updates:
                    return copy.deepcopy(self._state.updates[:limit])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def _api_setWebhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        with self._cond:
            if _true_param(params.get("drop_pending_updates")):
                self._state.updates.clear()
            # An empty url removes the webhook, as deleteWebhook does.
            self._state.webhook = None if not url else {
                "url": url, "secret_token": secret,
                "allowed_updates": params.get("allowed_updates"),
                "drop_pending_updates": params.get("drop_pending_updates"),
                "max_connections": params.get("max_connections")}
            self._cond.notify_all()
        return True

    def _api_deleteWebhook(self, params: JSON) -> bool:
        with self._cond:
            self._state.webhook = None
            if _true_param(params.get("drop_pending_updates")):
                self._state.updates.clear()
            self._cond.notify_all()
        return True

    def _api_getWebhookInfo(self, params: JSON) -> JSON:
        with self._cond:
            webhook = self._state.webhook or {}
            info: JSON = {"url": webhook.get("url", ""), "has_custom_certificate": False,
                          "pending_update_count": len(self._state.updates)}
            for key in ("allowed_updates", "max_connections"):
                if webhook.get(key) is not None:
                    info[key] = webhook[key]
            return info

    def _api_setMyCommands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 items")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            description = command.get("description", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        with self._cond:
            key = _scope_key(params.get("scope"), str(params.get("language_code") or ""))
            self._state.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands]
        return True

    def _api_getMyCommands(self, params: JSON) -> list[JSON]:
        return self.commands(scope=params.get("scope"),
                             language_code=str(params.get("language_code") or ""))

    def _api_deleteMyCommands(self, params: JSON) -> bool:
        with self._cond:
            key = _scope_key(params.get("scope"), str(params.get("language_code") or ""))
            self._state.commands.pop(key, None)
        return True

    def _set_bot_text(self, params: JSON, field_name: str) -> bool:
        with self._cond:
            lang = str(params.get("language_code") or "")
            self._state.bot_texts[f"{field_name}:{lang}"] = str(params.get(field_name) or "")
        return True

    def _get_bot_text(self, params: JSON, field_name: str) -> JSON:
        with self._cond:
            lang = str(params.get("language_code") or "")
            return {field_name: self._state.bot_texts.get(f"{field_name}:{lang}", "")}

    def _api_setMyDescription(self, params: JSON) -> bool:
        return self._set_bot_text(params, "description")

    def _api_getMyDescription(self, params: JSON) -> JSON:
        return self._get_bot_text(params, "description")

    def _api_setMyShortDescription(self, params: JSON) -> bool:
        return self._set_bot_text(params, "short_description")

    def _api_getMyShortDescription(self, params: JSON) -> JSON:
        return self._get_bot_text(params, "short_description")

    def _api_setMyName(self, params: JSON) -> bool:
        return self._set_bot_text(params, "name")

    def _api_getMyName(self, params: JSON) -> JSON:
        return self._get_bot_text(params, "name")

    def _api_sendMessage(self, params: JSON) -> JSON:
        with self._cond:
            chat = self._chat(params, sending=True)
            thread = self._send_topic(chat, params)
            text, entities = self._format_text(params, edit=False)
            markup = params.get("reply_markup")
            _check_markup(markup)
            message: JSON = {
                "message_id": self._next_message_id(chat["id"]),
                "from": dict(self.bot_user),
                "chat": copy.deepcopy(chat),
                "date": int(time.time()),
                "text": text,
            }
            if entities:
                message["entities"] = entities
            if thread is not None:
                message.update(message_thread_id=thread, is_topic_message=True)
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup  # Telegram echoes only inline keyboards
            self._state.messages[(chat["id"], message["message_id"])] = message
            self._state.sent.append({
                "chat_id": chat["id"], "message_id": message["message_id"],
                "message_thread_id": thread, "text": text,
                "raw_text": params.get("text"), "parse_mode": params.get("parse_mode"),
                "entities": entities, "reply_markup": markup, "date": message["date"],
                "message": copy.deepcopy(message), "time": time.time(),
            })
            self._cond.notify_all()
            return copy.deepcopy(message)

    def _api_getFile(self, params: JSON) -> JSON:
        file_id = str(params.get("file_id", ""))
        with self._cond:
            if file_id not in self._state.files:
                raise ApiError(400, "Bad Request: invalid file_id")
            return {"file_id": file_id, "file_unique_id": f"u-{file_id}",
                    "file_size": len(self._state.files[file_id]),
                    "file_path": f"documents/{file_id}"}

    def _api_sendDocument(self, params: JSON) -> JSON:
        """A document upload: recorded in sent() with ``document`` (``file_name``,
        ``mime_type``, ``data``: the bytes) and ``text`` (the caption as users see it)."""
        upload = params.get("document")
        if not isinstance(upload, dict) or "data" not in upload:
            raise ApiError(400, "Bad Request: there is no document in the request")
        with self._cond:
            chat = self._chat(params, sending=True)
            caption, entities = ("", []) if not params.get("caption") else self._render_text(
                params["caption"], params.get("parse_mode"), params.get("caption_entities"),
                too_long="Bad Request: message caption is too long")
            document = {"file_id": f"sent-{len(self._state.sent)}",
                        "file_unique_id": f"u-sent-{len(self._state.sent)}",
                        "file_name": upload["filename"], "mime_type": upload["content_type"],
                        "file_size": upload["size"]}
            message: JSON = {"message_id": self._next_message_id(chat["id"]),
                             "from": dict(self.bot_user), "chat": copy.deepcopy(chat),
                             "date": int(time.time()), "document": document}
            if caption:
                message.update(caption=caption, caption_entities=entities)
            self._state.messages[(chat["id"], message["message_id"])] = message
            self._state.sent.append({
                "chat_id": chat["id"], "message_id": message["message_id"],
                "message_thread_id": None, "text": caption, "raw_text": params.get("caption"),
                "parse_mode": params.get("parse_mode"), "entities": entities,
                "reply_markup": params.get("reply_markup"), "date": message["date"],
                "message": copy.deepcopy(message), "time": time.time(),
                "document": {**document, "data": upload["data"]},
            })
            self._cond.notify_all()
            return copy.deepcopy(message)

    def _message_to_edit(self, params: JSON) -> JSON:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._chat(params)
        message_id = _int_param(params, "message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        message = self._state.messages.get((chat["id"], message_id))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _record_edit(self, method: str, message: JSON, params: JSON) -> JSON:
        message["edit_date"] = int(time.time())
        self._state.edits.append({
            "method": method, "chat_id": message["chat"]["id"],
            "message_id": message["message_id"], "text": message.get("text"),
            "raw_text": params.get("text"), "parse_mode": params.get("parse_mode"),
            "entities": message.get("entities", []), "reply_markup": params.get("reply_markup"),
            "date": message["edit_date"], "message": copy.deepcopy(message),
        })
        self._cond.notify_all()
        return copy.deepcopy(message)

    def _api_editMessageText(self, params: JSON) -> JSON:
        with self._cond:
            message = self._message_to_edit(params)
            text, entities = self._format_text(params, edit=True)
            markup = params.get("reply_markup")
            _check_markup(markup)
            # Omitting reply_markup removes the inline keyboard - a classic real-world surprise.
            new_markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup \
                else None
            if (text == message.get("text") and entities == message.get("entities", [])
                    and new_markup == message.get("reply_markup")):
                raise ApiError(400, _NOT_MODIFIED)
            message["text"] = text
            _set_or_drop(message, "entities", entities or None)
            _set_or_drop(message, "reply_markup", new_markup)
            return self._record_edit("editMessageText", message, params)

    def _api_editMessageReplyMarkup(self, params: JSON) -> JSON:
        with self._cond:
            message = self._message_to_edit(params)
            markup = params.get("reply_markup")
            _check_markup(markup)
            new_markup = markup if isinstance(markup, dict) and markup.get("inline_keyboard") \
                else None
            if new_markup == message.get("reply_markup"):
                raise ApiError(400, _NOT_MODIFIED)
            _set_or_drop(message, "reply_markup", new_markup)
            return self._record_edit("editMessageReplyMarkup", message, params)

    def _api_deleteMessage(self, params: JSON) -> bool:
        with self._cond:
            chat = self._chat(params)
            message_id = _int_param(params, "message_id")
            if message_id is None or (chat["id"], message_id) not in self._state.messages:
                raise ApiError(400, "Bad Request: message to delete not found")
            del self._state.messages[(chat["id"], message_id)]
            self._state.deleted.append({"chat_id": chat["id"], "message_id": message_id})
            self._cond.notify_all()
        return True

    def _api_answerCallbackQuery(self, params: JSON) -> bool:
        with self._cond:
            query_id = str(params.get("callback_query_id") or "")
            if self._state.callbacks.get(query_id, True):
                raise ApiError(400, _QUERY_INVALID)  # unknown or already answered
            text = params.get("text")
            if text is not None and len(str(text)) > 200:
                raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
            self._state.callbacks[query_id] = True
            self._state.answers.append({"callback_query_id": query_id, "text": text,
                                        "show_alert": bool(params.get("show_alert"))})
            self._cond.notify_all()
        return True

    def _api_answerInlineQuery(self, params: JSON) -> bool:
        # What the Bot API server parses itself comes first, then what Telegram checks.
        results = params.get("results")
        if isinstance(results, str):  # a JSON body may carry the array JSON-encoded too
            try:
                results = json.loads(results)
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON encoded inline query "
                               "results") from None
        if not isinstance(results, list):
            raise ApiError(400, "Bad Request: expected an Array of inline query results")
        parsed = [self._check_inline_result(result) for result in results]
        cache_time = _int_param(params, "cache_time")
        if cache_time is not None and cache_time < 0:
            raise ApiError(400, "Bad Request: invalid cache_time specified")
        is_personal = params.get("is_personal", False)
        if is_personal in ("", None):
            is_personal = False
        if not isinstance(is_personal, bool):
            raise ApiError(400, "Bad Request: invalid is_personal specified")
        next_offset = params.get("next_offset")
        next_offset = "" if next_offset is None else str(next_offset)
        button = params.get("button")
        _check_results_button(button)
        with self._cond:
            query_id = str(params.get("inline_query_id") or "")
            query = self._state.inline_queries.get(query_id)
            if (query is None or query["answered"]
                    or self.clock() - query["pushed_at"] > self.inline_query_timeout):
                raise ApiError(400, _QUERY_INVALID)  # unknown, already answered or too late
            if len(results) > MAX_INLINE_RESULTS:
                raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
            seen: set[str] = set()
            for result in parsed:
                size = len(result["id"].encode("utf-8"))
                if size == 0:
                    raise ApiError(400, "Bad Request: RESULT_ID_EMPTY")
                if size > MAX_RESULT_ID_BYTES:
                    raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
                if result["id"] in seen:
                    raise ApiError(400, "Bad Request: RESULT_ID_DUPLICATE")
                seen.add(result["id"])
                if result["type"] == "article" and not str(result["title"]).strip():
                    raise ApiError(400, "Bad Request: ARTICLE_TITLE_EMPTY")
            if len(next_offset.encode("utf-8")) > MAX_NEXT_OFFSET_BYTES:
                raise ApiError(400, "Bad Request: NEXT_OFFSET_INVALID")
            query["answered"] = True
            self._state.inline_answers.append({
                "inline_query_id": query_id, "query": query["query"], "offset": query["offset"],
                "user_id": query["user_id"], "results": copy.deepcopy(results),
                "next_offset": next_offset, "cache_time": 300 if cache_time is None
                else cache_time, "is_personal": is_personal, "button": copy.deepcopy(button),
                "time": time.time(),
            })
            self._cond.notify_all()
        return True

    def _api_sendChatAction(self, params: JSON) -> bool:
        with self._cond:
            self._chat(params, sending=True)
            if not params.get("action"):
                raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _api_getChat(self, params: JSON) -> JSON:
        with self._cond:
            chat = copy.deepcopy(self._chat(params))
        # Fields PTB's ChatFullInfo requires.
        chat.update({"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": {
            "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
            "premium_subscription": False, "gifts_from_channels": False}})
        return chat

    def _member_status(self, chat: JSON, user_id: int) -> str:
        explicit = self._state.members.get(chat["id"], {}).get(user_id)
        if explicit is not None:
            return explicit
        if chat["type"] == "private":
            if user_id == chat["id"]:
                return "creator"
            return "member" if user_id == self.bot_id else "left"
        return "member" if user_id == self.bot_id else "left"

    def _api_getChatMember(self, params: JSON) -> JSON:
        with self._cond:
            chat = self._chat(params)
            user_id = _int_param(params, "user_id")
            if user_id is None:
                raise ApiError(400, "Bad Request: user not found")
            user = self._ensure_user(user_id)
            return _member_object(copy.deepcopy(user), self._member_status(chat, user_id))

    def _api_getChatAdministrators(self, params: JSON) -> list[JSON]:
        with self._cond:
            chat = self._chat(params)
            if chat["type"] == "private":
                raise ApiError(400, "Bad Request: there are no administrators in the private "
                               "chat")
            members = self._state.members.get(chat["id"], {})
            return [_member_object(copy.deepcopy(self._ensure_user(uid)), status)
                    for uid, status in members.items() if status in ("creator", "administrator")]

    def _api_getChatMemberCount(self, params: JSON) -> int:
        with self._cond:
            chat = self._chat(params)
            if chat["type"] == "private":
                return 2
            members = self._state.members.get(chat["id"], {})
            return 1 + sum(s not in ("left", "kicked") for s in members.values())


_METHODS = (
    "getMe", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo",
    "setMyCommands", "getMyCommands", "deleteMyCommands", "setMyDescription",
    "getMyDescription", "setMyShortDescription", "getMyShortDescription", "setMyName",
    "getMyName", "sendMessage", "editMessageText", "editMessageReplyMarkup", "deleteMessage",
    "answerCallbackQuery", "answerInlineQuery", "sendChatAction", "getChat", "getChatMember",
    "getChatAdministrators", "getChatMemberCount",
    "getFile", "sendDocument",
)
# Accepted and acknowledged without side effects that tests need to inspect (calls() has them).
_TRUE_METHODS = ("close", "logOut", "setChatMenuButton", "setMessageReaction", "pinChatMessage",
                 "unpinChatMessage", "leaveChat", "setMyDefaultAdministratorRights")


# -- small helpers ----------------------------------------------------------------------------


def _set_or_drop(target: JSON, key: str, value: Any) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


def _true_param(value: Any) -> bool:
    return value in (True, "true", "True", 1)


def _int_param(params: JSON, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _same_chat(wanted: int | str, given: Any) -> bool:
    return str(wanted).lower() == str(given).lower()


def _scope_key(scope: Any, language_code: str) -> tuple[str, str]:
    scope = scope if isinstance(scope, dict) and scope else {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code


def _callback_buttons(markup: Any) -> list[str]:
    if not isinstance(markup, dict):
        return []
    return [button["callback_data"] for row in markup.get("inline_keyboard", [])
            for button in row if isinstance(button, dict) and "callback_data" in button]


def _check_markup(markup: Any) -> None:
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return
    if sum(len(row) for row in markup["inline_keyboard"]) > MAX_INLINE_BUTTONS:
        raise ApiError(400, _MARKUP_TOO_LONG)
    for row in markup["inline_keyboard"]:
        for button in row:
            if not button.get("text"):
                raise ApiError(400, "Bad Request: can't parse inline keyboard button: "
                               "Text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                size = len(str(button["callback_data"]).encode("utf-8"))
                if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            elif not any(k in button for k in ("url", "switch_inline_query", "login_url",
                                                "switch_inline_query_current_chat", "pay",
                                                "web_app", "callback_game", "copy_text",
                                                "switch_inline_query_chosen_chat")):
                raise ApiError(400, "Bad Request: can't parse inline keyboard button: "
                               "Text buttons are unallowed in the inline keyboard")


def _check_results_button(button: Any) -> None:
    """The optional InlineQueryResultsButton above the results: a text and either a Web App
    or a /start parameter (1-64 characters of A-Z, a-z, 0-9, _ and -)."""
    if button is None:
        return
    prefix = "Bad Request: can't parse InlineQueryResultsButton: "
    if not isinstance(button, dict):
        raise ApiError(400, prefix + "expected an Object")
    if not isinstance(button.get("text"), str) or not button["text"]:
        raise ApiError(400, prefix + "Can't find field \"text\"")
    if "web_app" in button:
        web_app = button["web_app"]
        if not isinstance(web_app, dict) or not str(web_app.get("url") or "").startswith(
                "https://"):
            raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    elif "start_parameter" in button:
        start = button["start_parameter"]
        if not isinstance(start, str) or not start:
            raise ApiError(400, "Bad Request: START_PARAM_EMPTY")
        if not _START_PARAMETER_RE.fullmatch(start):
            raise ApiError(400, "Bad Request: START_PARAM_INVALID")
    else:
        raise ApiError(400, prefix + "expected web_app or start_parameter")


_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")


def _command_entities(text: str) -> list[JSON]:
    return [{"type": "bot_command", "offset": utf16_len(text[: m.start()]),
             "length": utf16_len(m.group())} for m in _COMMAND_RE.finditer(text)]


def _member_object(user: JSON, status: str) -> JSON:
    member: JSON = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            can_be_edited=False, is_anonymous=False, can_manage_chat=True,
            can_delete_messages=True, can_manage_video_chats=True, can_restrict_members=True,
            can_promote_members=False, can_change_info=True, can_invite_users=True,
            can_post_stories=False, can_edit_stories=False, can_delete_stories=False,
            can_pin_messages=True)
    elif status == "restricted":
        member.update(
            is_member=True, can_change_info=False, can_invite_users=False,
            can_pin_messages=False, can_send_messages=False, can_send_polls=False,
            can_send_other_messages=False, can_add_web_page_previews=False,
            can_manage_topics=False, until_date=0, can_send_audios=False,
            can_send_documents=False, can_send_photos=False, can_send_videos=False,
            can_send_video_notes=False, can_send_voice_notes=False, can_edit_tag=False,
            can_react_to_messages=False)
    elif status == "kicked":
        member["until_date"] = 0
    return member


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channel"


def _parse_body(content_type: str, body: bytes) -> JSON:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if media_type == "application/json":
        data = json.loads(body.decode("utf-8"))
        if not isinstance(data, dict):
            raise ApiError(400, "Bad Request: invalid request body")
        return data
    if media_type == "multipart/form-data":
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
        params: JSON = {}
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                payload = b""
            filename = part.get_filename()
            if filename is not None:
                params[name] = {"filename": filename, "size": len(payload),
                                "content_type": part.get_content_type(), "data": payload}
            else:
                params[name] = _decode_form_value(name, payload.decode("utf-8"))
        return params
    # application/x-www-form-urlencoded (PTB's default) and anything unlabelled.
    return {k: _decode_form_value(k, v)
            for k, v in parse_qsl(body.decode("utf-8"), keep_blank_values=True)}


_PATH_RE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)/?$")
_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")


def _make_handler(server: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive like the real API; every response carries Content-Length.
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            download = server.file_download(split.path)
            if download is not None:
                self._reply_bytes(download)
                return
            match = _PATH_RE.match(split.path)
            if match is None or not _TOKEN_SHAPE.match(match["token"]):
                # Telegram answers 404 for paths without a well-formed token, incl. files.
                self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            try:
                params: JSON = {k: _decode_form_value(k, v)
                                for k, v in parse_qsl(split.query, keep_blank_values=True)}
                params.update(_parse_body(self.headers.get("Content-Type", ""), body))
            except (ValueError, UnicodeDecodeError):
                self._reply(400, {"ok": False, "error_code": 400,
                                  "description": "Bad Request: invalid request body"})
                return
            except ApiError as exc:
                self._reply(exc.code, exc.payload())
                return
            status, payload = server.handle(match["token"], match["method"], params)
            if status == DROPPED:
                self.close_connection = True
                return
            self._reply(status, payload)

        def _reply_bytes(self, data: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _reply(self, status: int, payload: JSON) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on a long poll: expected when PTB stops polling

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest output clean (and the token out of it)

    return Handler


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A started :class:`FakeTelegram`, stopped after the test."""
    server = FakeTelegram().start()
    try:
        yield server
    finally:
        server.stop()
