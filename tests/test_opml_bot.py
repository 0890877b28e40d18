"""OPML in the chat through the fake Bot API with the real PTB client: an admin's file gets
a preview (with the SSRF rules of /addfeed applied), Import adds the feeds, /export sends
them back; readers get nothing of it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.bot_harness import (
    ADMIN,
    READER,
    BotSite,
    button_data,
    make_bot_site,
    postgres_url_of,
    press,
    running_bot,
    say,
)
from support.fake_telegram import FakeTelegram
from support.feed_server import FeedServer

from bot.opml import OpmlFeed, parse_opml
from bot.telegram.opml_chat import RESOLVER_KEY
from bot.telegram.services import NashraApp

T = TypeVar("T")

# What the names of the uploaded list resolve to (no DNS in tests).
ADDRESSES = {"www.kuna.net.kw": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
             "www.enabbaladi.net": ["93.184.216.35"], "feeds.bbci.co.uk": ["93.184.216.36"],
             "intranet.example.com": ["93.184.216.37", "10.0.0.7"]}


async def resolve(host: str, port: int) -> list[str]:
    if host not in ADDRESSES:
        raise OSError(f"no such host {host}")
    return ADDRESSES[host]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def inoreader_list(configured_url: str) -> bytes:
    """An Inoreader-shaped export: folders, a followed feed, and addresses a chat user may
    not make the bot fetch."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Subscriptions from Inoreader [https://www.inoreader.com]</title></head>
  <body>
    <outline text="News" title="News">
      <outline text="Gulf" title="Gulf">
        <outline text="كونا" title="كونا" type="rss" xmlUrl="https://www.kuna.net.kw/rss/ar.xml"/>
      </outline>
      <outline text="Levant" title="Levant">
        <outline text="عنب بلدي" title="عنب بلدي" type="rss"
                 xmlUrl="https://www.enabbaladi.net/feed"/>
        <outline text="Router" title="Router" type="rss" xmlUrl="http://127.0.0.1:8080/rss"/>
      </outline>
    </outline>
    <outline text="BBC Arabic" title="BBC Arabic" type="rss"
             xmlUrl="https://feeds.bbci.co.uk/arabic/rss.xml"/>
    <outline text="Metadata" type="rss" xmlUrl="http://169.254.169.254/latest/meta-data/"/>
    <outline text="Intranet" type="rss" xmlUrl="http://intranet.example.com/rss"/>
    <outline text="Local name" type="rss" xmlUrl="http://printer.local/feed"/>
    <outline text="Already here" type="rss" xmlUrl="{configured_url}"/>
    <outline text="FTP" type="rss" xmlUrl="ftp://ftp.example.com/feed.xml"/>
    <outline text="Mail" type="rss" xmlUrl="mailto:desk@example.com"/>
  </body>
</opml>
""".encode()


@pytest.fixture
def site(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
         argos_package: Path, store_location: Path | str) -> BotSite:
    return make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         database_url=postgres_url_of(store_location))


async def send_file(tg: FakeTelegram, data: bytes, name: str, chat: int = ADMIN,
                    **kw: Any) -> dict[str, Any]:
    """Send a document as a user and return the bot's next message in that chat."""
    before = len(tg.sent(chat))
    tg.push_document(chat, data, name, **kw)
    return (await tg.wait_for_messages_async(chat, before + 1))[before]


def configured_url(site: BotSite) -> str:
    return site.settings.feeds[0].url


def started(app: NashraApp) -> NashraApp:
    app.bot_data[RESOLVER_KEY] = resolve
    return app


def test_preview_import_sources_and_export(site: BotSite) -> None:
    async def scenario() -> None:
        tg = site.telegram
        async with running_bot(site) as app:
            started(app)
            shown = await send_file(tg, inoreader_list(configured_url(site)),
                                    "inoreader.opml", mime_type="text/x-opml")
            lines = shown["text"].splitlines()
            assert lines[:2] == ["inoreader.opml", "3 feeds will be added in 2 categories, "
                                 "1 already followed, 6 skipped."]
            assert lines[2:5] == ["• \u2068كونا\u2069 · \u2068News / Gulf\u2069",
                                  "• \u2068عنب بلدي\u2069 · \u2068News / Levant\u2069",
                                  "• \u2068BBC Arabic\u2069"]
            assert "✖ ftp://ftp.example.com/feed.xml: not an http(s) address" in lines
            assert ("✖ http://127.0.0.1:8080/rss: refused: 127.0.0.1 is a private or "
                    "loopback address") in lines
            assert "… and 1 more" in lines
            with site.store() as store:
                assert len(store.feeds()) == 1   # nothing before Import
            pressed = await press(tg, ADMIN, shown["message_id"],
                                  button_data(shown, "Import"))
            assert pressed["text"] == "Imported"
            edited = (await tg.wait_for_async(lambda: tg.edits(ADMIN)))[-1]
            assert edited["text"] == ("Imported 3 feeds. New articles arrive with the next "
                                      "refresh.")
            assert edited["reply_markup"] is None
            sources = await say(tg, "/sources", chat=ADMIN)
            assert "\nNews / Gulf\n✅ كونا\nNews / Levant\n✅ عنب بلدي" \
                in sources["text"].replace("\u2068", "").replace("\u2069", "")
            before = len(tg.sent(ADMIN))
            tg.push_message(ADMIN, "/export")
            document = (await tg.wait_for_messages_async(ADMIN, before + 1))[before]
        assert document["document"]["file_name"].endswith(".opml")
        assert document["text"] == "4 feeds, with categories as folders."
        exported = parse_opml(document["document"]["data"])
        assert sorted(exported.feeds, key=lambda f: f.url) == [
            OpmlFeed(configured_url(site), "الوكالة التجريبية"),
            OpmlFeed("https://feeds.bbci.co.uk/arabic/rss.xml", "BBC Arabic"),
            OpmlFeed("https://www.enabbaladi.net/feed", "عنب بلدي", "News / Levant"),
            OpmlFeed("https://www.kuna.net.kw/rss/ar.xml", "كونا", "News / Gulf")]
        with site.store() as store:
            added = {f.url: f for f in store.feeds() if f.origin == "user"}
        assert set(added) == {"https://feeds.bbci.co.uk/arabic/rss.xml",
                              "https://www.enabbaladi.net/feed",
                              "https://www.kuna.net.kw/rss/ar.xml"}

    run(scenario())


def test_cancel_stale_buttons_bad_files_and_readers(site: BotSite) -> None:
    if not isinstance(site.settings.database, Path):
        pytest.skip("chat behaviour only: once is enough")

    async def scenario() -> None:
        tg = site.telegram
        async with running_bot(site) as app:
            started(app)
            data = inoreader_list(configured_url(site))
            refused = await send_file(tg, data, "feeds.opml", chat=READER)
            assert refused["text"] == ("I can't do anything with files. /help lists what "
                                       "I can do.")
            first = await send_file(tg, data, "feeds.opml")
            second = await send_file(tg, data, "feeds.opml")
            # The newer preview replaced the older one: its Import no longer imports.
            stale = await press(tg, ADMIN, first["message_id"], button_data(first, "Import"))
            assert stale == {**stale, "text": "That import has expired. Send the file again.",
                             "show_alert": True}
            forged = await press(tg, ADMIN, second["message_id"],
                                 button_data(second, "Import"), user_id=READER)
            assert forged["show_alert"] and "administrators" in forged["text"]
            cancelled = await press(tg, ADMIN, second["message_id"],
                                    button_data(second, "Cancel"))
            assert cancelled["text"] == "Cancelled"
            edits = await tg.wait_for_async(lambda: [
                e["text"] for e in tg.edits(ADMIN) if e["message_id"] == second["message_id"]])
            assert edits == ["Import cancelled: nothing was added."]
            assert [e["text"] for e in tg.edits(ADMIN)
                    if e["message_id"] == first["message_id"]] == ["Import expired."]
            broken = await send_file(tg, data.replace(b"</body>", b""), "broken.opml")
            assert broken["text"] == ("Not imported: broken.opml is not well-formed XML: "
                                      "line 24, column 3: mismatched tag")
            pdf = await send_file(tg, b"%PDF-1.4", "report.pdf", mime_type="application/pdf")
            assert pdf["text"].startswith("To import feeds, send an OPML file")
            big = await send_file(tg, b" " * (1024 * 1024 + 1), "huge.opml")
            assert big["text"] == "That file is too large to import (the limit is 1 MB)."
            nothing = await send_file(tg, f'<opml version="2.0"><body><outline text="x" '
                                      f'xmlUrl="{configured_url(site)}"/></body></opml>'
                                      .encode(), "same.xml")
            assert nothing["text"].splitlines()[1:] == [
                "0 feeds will be added, 1 already followed, 0 skipped.", "Nothing to import."]
            assert "reply_markup" not in nothing["message"]
            export = await say(tg, "/export", chat=READER)
            assert export["text"] == "Sorry, only the bot's administrators can do that."
        with site.store() as store:
            assert len(store.feeds()) == 1

    run(scenario())


def test_allow_private_lets_the_operator_import_loopback_feeds(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
        argos_package: Path) -> None:
    site = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package,
                         extra=["allow_private = true"])

    async def scenario() -> None:
        async with running_bot(site) as app:
            started(app)
            shown = await send_file(site.telegram, inoreader_list(configured_url(site)),
                                    "lan.opml")
        assert shown["text"].splitlines()[1] == (
            "7 feeds will be added in 2 categories, 1 already followed, 2 skipped.")

    run(scenario())
