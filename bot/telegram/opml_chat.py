"""Feed lists in the chat: an admin sends an OPML file and sees what importing it would do
(with Import and Cancel buttons); /export sends the feeds followed as an OPML file.

The file's feeds wait in ``chat_data`` between the preview and the press (one import per
chat, for :data:`PENDING_SECONDS`); buttons carry a token, so an older preview's buttons
cannot import a newer file. Every new address passes the SSRF check of /addfeed first.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from telegram import (
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.errors import FetchError
from bot.i18n import Gettext, Ngettext
from bot.netguard import Resolver, check_public, system_resolver
from bot.opml import (
    ImportPlan,
    OpmlError,
    OpmlFeed,
    Skipped,
    export_opml,
    followed,
    parse_opml,
    plan_import,
    state_feeds,
)
from bot.telegram.common import (
    answer,
    clipped,
    edit,
    esc,
    is_admin,
    ntexts,
    refuse_arguments,
    reply,
    texts,
)
from bot.telegram.paging import listed
from bot.telegram.services import services

MAX_OPML_BYTES = 1024 * 1024
PENDING_KEY = "opml_import"
PENDING_SECONDS = 15 * 60
RESOLVER_KEY = "opml_resolver"   # bot_data: the DNS lookup of the SSRF check (tests set it)
DNS_CONCURRENCY = 16
DNS_TIMEOUT_SECONDS = 10.0
SHOWN_FEEDS = 10
SHOWN_SKIPS = 5
OPML_SUFFIXES = (".opml", ".xml")
OPML_TYPES = ("text/x-opml", "text/xml", "application/xml", "application/octet-stream")


@dataclass(frozen=True)
class PendingImport:
    """An OPML file's new feeds, waiting for an admin's Import."""

    token: str
    feeds: tuple[OpmlFeed, ...]
    until: float   # time.monotonic()


async def document_received(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A file sent to the bot: an admin's OPML file gets an import preview."""
    _ = texts(update, context)
    message = update.effective_message
    if message is None or message.document is None:
        return
    if not is_admin(update, context):
        # Files mean nothing to readers' commands; an admin-only feature is not advertised.
        await reply(update, _("I can't do anything with files. /help lists what I can do."))
        return
    name = message.document.file_name or "file"
    problem = _document_problem(message.document, _)
    if problem:
        await reply(update, problem)
        return
    data = await _download(update, context)
    if data is None:
        return
    try:
        found = await asyncio.to_thread(parse_opml, data, name)
    except OpmlError as exc:
        await reply(update, _("Not imported: %(problem)s") % {"problem": esc(exc.reason)})
        return
    svc = services(context)
    plan = plan_import(found, svc.store.feeds(), (f.url for f in svc.settings.feeds))
    if not svc.settings.fetch.allow_private:
        resolver: Resolver = context.bot_data.get(RESOLVER_KEY, system_resolver)
        plan = await public_only(plan, resolver)
    pending = PendingImport(secrets.token_hex(4), tuple(plan.new),
                            time.monotonic() + PENDING_SECONDS)
    if plan.new:
        assert context.chat_data is not None
        context.chat_data[PENDING_KEY] = pending
    await reply(update, preview(plan, name, _, ntexts(update, context)),
                reply_markup=_buttons(pending, _) if plan.new else None)


def _document_problem(document: Document, _: Gettext) -> str | None:
    """Why this file is not taken for an import (before downloading it), or None."""
    name = (document.file_name or "").lower()
    if not name.endswith(OPML_SUFFIXES) and document.mime_type not in OPML_TYPES:
        return _("To import feeds, send an OPML file (.opml or .xml) as exported by another "
                 "feed reader. /export sends the feeds I follow.")
    if (document.file_size or 0) > MAX_OPML_BYTES:
        return _("That file is too large to import (the limit is 1 MB).")
    return None


async def _download(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bytes | None:
    """The sent file's bytes, or None after saying why not."""
    _ = texts(update, context)
    message = update.effective_message
    assert message is not None and message.document is not None
    try:
        file = await message.document.get_file()
        data = bytes(await file.download_as_bytearray())
    except TelegramError:
        await reply(update, _("I could not download that file from Telegram; please send it "
                              "again."))
        return None
    if len(data) > MAX_OPML_BYTES:
        await reply(update, _("That file is too large to import (the limit is 1 MB)."))
        return None
    return data


async def public_only(plan: ImportPlan, resolver: Resolver) -> ImportPlan:
    """The plan without the new feeds whose host is private, local or a metadata service
    (the rules of /addfeed); each host is resolved once."""
    hosts = {_host_port(f.url) for f in plan.new}
    limit = asyncio.Semaphore(DNS_CONCURRENCY)

    async def refusal(host: str, port: int) -> str | None:
        async with limit:
            try:
                await asyncio.wait_for(check_public(host, port, resolver), DNS_TIMEOUT_SECONDS)
            except FetchError as exc:
                return exc.reason
            except TimeoutError:
                return f"cannot resolve host {host}"
        return None

    reasons = dict(zip(hosts, await asyncio.gather(*(refusal(*h) for h in hosts)),
                       strict=True))
    kept = [f for f in plan.new if reasons[_host_port(f.url)] is None]
    refused = [Skipped(f.url, reasons[_host_port(f.url)] or "") for f in plan.new
               if reasons[_host_port(f.url)] is not None]
    return replace(plan, new=kept, skipped=[*plan.skipped, *refused])


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def preview(plan: ImportPlan, name: str, _: Gettext, ngettext: Ngettext) -> str:
    """What importing would do (HTML): counts, the first feeds, the first skipped."""
    n, k = len(plan.new), len(plan.categories)
    counts = [ngettext("%(n)d feed will be added", "%(n)d feeds will be added", n) % {"n": n}]
    if k:
        counts[0] += " " + ngettext("in %(k)d category", "in %(k)d categories", k) % {"k": k}
    counts.append(ngettext("%(n)d already followed", "%(n)d already followed",
                           len(plan.present)) % {"n": len(plan.present)})
    counts.append(ngettext("%(n)d skipped", "%(n)d skipped", len(plan.skipped))
                  % {"n": len(plan.skipped)})
    lines = [f"<b>{esc(clipped(name, 60))}</b>", ", ".join(counts) + "."]
    lines += [f"• {listed(f.name)}" + (f" · <i>{listed(f.category)}</i>" if f.category else "")
              for f in plan.new[:SHOWN_FEEDS]]
    if n > SHOWN_FEEDS:
        lines.append(_("… and %(n)d more") % {"n": n - SHOWN_FEEDS})
    if plan.skipped:
        lines.append(_("Skipped:"))
        # The reasons of bot.opml are in the catalogs (N_); the SSRF check's name addresses.
        reasons = [_(s.reason) if s.reason else "" for s in plan.skipped[:SHOWN_SKIPS]]
        lines += [f"✖ {esc(clipped(s.what, 60))}: {esc(reason)}"
                  for s, reason in zip(plan.skipped, reasons, strict=False)]
        if len(plan.skipped) > SHOWN_SKIPS:
            lines.append(_("… and %(n)d more") % {"n": len(plan.skipped) - SHOWN_SKIPS})
    if not n:
        lines.append(_("Nothing to import."))
    return "\n".join(lines)


def _buttons(pending: PendingImport, _: Gettext) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(_("Import"), callback_data=f"opml:go:{pending.token}"),
        InlineKeyboardButton(_("Cancel"), callback_data=f"opml:no:{pending.token}"),
    ]])


async def import_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Import or Cancel under a preview: ``opml:go:<token>`` / ``opml:no:<token>``."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = texts(update, context)
    if not is_admin(update, context):
        await answer(update, _("Sorry, only the bot's administrators can do that."),
                     alert=True)
        return
    _prefix, action, token = [*query.data.split(":", 2), "", ""][:3]
    chat_data = context.chat_data if context.chat_data is not None else {}
    pending = chat_data.get(PENDING_KEY)
    if not isinstance(pending, PendingImport) or pending.token != token \
            or pending.until < time.monotonic():
        await answer(update, _("That import has expired. Send the file again."), alert=True)
        await edit(update, _("Import expired."), None)
        return
    del chat_data[PENDING_KEY]
    if action != "go":
        await answer(update, _("Cancelled"))
        await edit(update, _("Import cancelled: nothing was added."), None)
        return
    added = services(context).store.import_feeds(pending.feeds, datetime.now(UTC))
    await answer(update, _("Imported"))
    ngettext = ntexts(update, context)
    await edit(update, ngettext(
        "Imported %(n)d feed. New articles arrive with the next refresh.",
        "Imported %(n)d feeds. New articles arrive with the next refresh.", added)
        % {"n": added}, None)


async def export_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the feeds followed as an OPML file: /export."""
    _ = texts(update, context)
    if not is_admin(update, context):
        await reply(update, _("Sorry, only the bot's administrators can do that."))
        return
    if await refuse_arguments(update, context, "export"):
        return
    svc = services(context)
    now = datetime.now(UTC)
    feeds = followed(svc.store.feeds(active_only=True), (f.url for f in svc.settings.feeds))
    data = await asyncio.to_thread(export_opml, state_feeds(feeds), created=now)
    message = update.effective_message
    assert message is not None
    ngettext = ntexts(update, context)
    caption = ngettext("%(n)d feed, with categories as folders.",
                       "%(n)d feeds, with categories as folders.", len(feeds)) % {"n": len(feeds)}
    await message.reply_document(
        InputFile(data, filename=f"nashra-feeds-{now:%Y-%m-%d}.opml"), caption=caption)
