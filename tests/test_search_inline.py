"""Search through the running bot against the fake Bot API: the query language of /search
(help, source:, -word, "phrases", since:/until:), stemming in both languages, and inline
mode (``@bot words`` in any chat, paging, sharing a result, the deep links back to the bot,
the per-user rate limit)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.arabic_samples import rss_with_content_encoded
from support.bot_harness import READER, BotSite, make_bot_site, running_bot, say
from support.fake_telegram import DEFAULT_BOT_USERNAME, FakeTelegram
from support.feed_server import FeedServer

from bot.models import Article
from bot.query import query_help
from bot.telegram.inline import INLINE_RESULTS
from bot.telegram.ratelimit import COMMANDS_PER_WINDOW, WINDOW_SECONDS, RateLimiter

T = TypeVar("T")
GROUP = -200700
OTHER = 1003
BBC, MAMLAKA = "BBC Arabic", "Al Mamlaka"
OLIVE_STORIES = INLINE_RESULTS + 5  # more than one inline page


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass(frozen=True)
class Story:
    """One article stored straight into the archive (its own story)."""

    key: str
    source: str
    age: timedelta
    title: str
    text: str
    title_ar: str
    text_ar: str


STORIES = [
    Story("elections", BBC, timedelta(days=2),
          "Jordan sets a date for parliamentary elections",
          "Parliamentary elections will be held on 10 September, the independent commission "
          "said on Sunday. Voter lists open for review next month.",
          "الأردن يحدد موعد الانتخابات النيابية",
          "قالت الهيئة المستقلة يوم الأحد إن الانتخابات النيابية ستجري في العاشر من أيلول."),
    Story("loans", MAMLAKA, timedelta(days=1),
          "World Bank offers soft loans to Arab states",
          "The World Bank announced a programme of soft loans to fund water and renewable "
          "energy projects.",
          "البنك الدولي يقدم قروضا ميسرة للحكومات العربية",
          "أعلن البنك الدولي عن برنامج قروض ميسرة للحكومات العربية لتمويل مشاريع المياه "
          "والطاقة المتجددة."),
    Story("rates-raised", BBC, timedelta(hours=5),
          "Central bank raises interest rates by half a point",
          "The central bank raised interest rates by half a point to curb inflation, which "
          "reached its highest level in two years.",
          "البنك المركزي يرفع أسعار الفائدة نصف نقطة",
          "رفع البنك المركزي أسعار الفائدة نصف نقطة مئوية لكبح التضخم."),
    Story("bonds", MAMLAKA, timedelta(hours=6),
          "Foreign investors return to local bonds",
          "Foreign investors showed strong interest in the new treasury bonds as their rates "
          "fell for a third week.",
          "المستثمرون الأجانب يعودون إلى السندات المحلية",
          "أبدى المستثمرون الأجانب اهتماما قويا بسندات الخزينة الجديدة مع تراجع عوائدها."),
    Story("derby", BBC, timedelta(hours=8),
          "Cairo derby ends in a draw",
          "Al Ahly and Zamalek drew one all in the Cairo football derby on Friday night.",
          "قمة القاهرة تنتهي بالتعادل",
          "تعادل الأهلي والزمالك بهدف لمثله في قمة القاهرة الكروية مساء الجمعة."),
    Story("metro", MAMLAKA, timedelta(hours=9),
          "Third Cairo metro line opens to passengers",
          "The third line of the Cairo metro opened to passengers on Sunday, linking the "
          "airport with the city centre.",
          "افتتاح الخط الثالث لمترو القاهرة",
          "افتتح الخط الثالث لمترو القاهرة أمام الركاب يوم الأحد ويربط المطار بوسط المدينة."),
    Story("desalination-gulf", BBC, timedelta(days=3),
          "Gulf states expand desalination plants",
          "Gulf states plan to double the output of their desalination plants by 2030 as "
          "demand for water grows.",
          "دول الخليج توسع محطات تحلية المياه",
          "تخطط دول الخليج لمضاعفة إنتاج محطات تحلية المياه بحلول عام 2030."),
    Story("desalination-aqaba", MAMLAKA, timedelta(days=4),
          "Aqaba desalination project signs its financing",
          "The national water carrier and desalination project in Aqaba signed its financing "
          "agreements with five lenders.",
          "مشروع تحلية مياه العقبة يوقع اتفاقيات التمويل",
          "وقع مشروع الناقل الوطني لتحلية المياه في العقبة اتفاقيات التمويل مع خمس جهات."),
    Story("phosphate-new", MAMLAKA, timedelta(days=1),
          "Phosphate exports climb in October",
          "Phosphate exports rose by twelve percent in October on strong demand from India.",
          "ارتفاع صادرات الفوسفات في تشرين الأول",
          "ارتفعت صادرات الفوسفات بنسبة اثني عشر بالمئة في تشرين الأول."),
    Story("phosphate-old", MAMLAKA, timedelta(days=20),
          "Phosphate company reports lower profits",
          "The phosphate mining company reported lower quarterly profits as prices eased.",
          "شركة الفوسفات تعلن تراجع أرباحها",
          "أعلنت شركة مناجم الفوسفات تراجع أرباحها الفصلية مع انخفاض الأسعار."),
]


def olive_story(n: int) -> Story:
    return Story(f"olive-{n}", MAMLAKA, timedelta(hours=n + 1),
                 f"Olive harvest begins in district {n}",
                 f"Farmers in district {n} began picking olives this week; presses expect a "
                 "good season.",
                 f"بدء موسم قطف الزيتون في المنطقة {n}",
                 f"بدأ المزارعون في المنطقة {n} قطف الزيتون هذا الأسبوع.")


@dataclass
class Archive:
    site: BotSite
    ids: dict[str, int]  # story key -> article id

    @property
    def tg(self) -> FakeTelegram:
        return self.site.telegram


def store_stories(site: BotSite, stories: list[Story]) -> dict[str, int]:
    """Two more sources and the stories, with their publication times; their ids."""
    now = datetime.now(UTC)
    empty = rss_with_content_encoded([], site.feeds.base_url)
    rss = {"Content-Type": "application/rss+xml; charset=utf-8"}
    with site.store() as store:
        feeds = {name: store.add_user_feed(site.feeds.add(path, empty, headers=rss), name,
                                           now).id
                 for name, path in ((BBC, "/bbc-arabic.xml"), (MAMLAKA, "/mamlaka.xml"))}
        articles = [Article(
            feed_id=feeds[s.source], key=s.key, url=f"https://news.example/{s.key}",
            canonical_url=f"https://news.example/{s.key}", published=now - s.age, fetched=now,
            language="ar", title_original=s.title_ar, text_original=s.text_ar,
            title_translated=s.title, text_translated=s.text,
            lead=s.text.split(". ")[0].rstrip(".") + ".", model="ar-en@1.0") for s in stories]
        ids = store.insert_articles(articles)
    assert len(ids) == len(stories)
    return {s.key: article_id for s, article_id in zip(stories, ids, strict=True)}


@pytest.fixture
def archive(tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FeedServer,
            argos_package: Path) -> Archive:
    site = make_bot_site(tmp_path, fake_telegram, feed_server, argos_package)
    stories = STORIES + [olive_story(n) for n in range(OLIVE_STORIES)]
    return Archive(site, store_stories(site, stories))


def read_ids(message: dict[str, Any]) -> list[int]:
    """The article ids of a /search reply, in order (each result ends with /read_ID)."""
    return [int(n) for n in re.findall(r"/read_(\d+)$", message["text"], re.M)]


def bold(message: dict[str, Any]) -> list[str]:
    """The texts shown in bold (entity offsets count UTF-16 code units)."""
    units = message["text"].encode("utf-16-le")
    return [units[2 * e["offset"]:2 * (e["offset"] + e["length"])].decode("utf-16-le")
            for e in message.get("entities") or [] if e["type"] == "bold"]


async def search_ids(tg: FakeTelegram, query: str) -> list[int]:
    return read_ids(await say(tg, f"/search {query}"))


async def inline(tg: FakeTelegram, query: str, *, user: int = READER,
                 offset: str = "") -> tuple[str, dict[str, Any]]:
    """An inline query and the bot's answer to it."""
    query_id = tg.push_inline_query(user, query, offset=offset)
    return query_id, await tg.wait_for_inline_answer_async(query_id)


# --- /search ------------------------------------------------------------------------------


def test_search_alone_replies_with_the_syntax_help(archive: Archive) -> None:
    async def scenario() -> None:
        async with running_bot(archive.site):
            answer = await say(archive.tg, "/search")
            assert answer["text"] == query_help()
            for part in ("source:", "since:", '"interest rates"', "-football", "until:"):
                assert part in answer["text"], part
            assert answer["reply_markup"] is None

    run(scenario())


def test_search_filters_through_the_bot(archive: Archive) -> None:
    ids, tg = archive.ids, archive.tg

    async def scenario() -> None:
        async with running_bot(archive.site):
            # source: keeps one source's stories (by part of its name, any case).
            gulf, aqaba = ids["desalination-gulf"], ids["desalination-aqaba"]
            assert sorted(await search_ids(tg, "desalination")) == sorted([gulf, aqaba])
            assert await search_ids(tg, "desalination source:bbc") == [gulf]
            assert await search_ids(tg, "desalination source:MAMLAKA") == [aqaba]
            assert await search_ids(tg, "desalination مصدر:mamlaka") == [aqaba]
            bbc = await say(tg, "/search desalination source:bbc")
            assert "desalination · source: bbc — results 1–1" in bbc["text"]
            assert f"\u2068{BBC}\u2069 · " in bbc["text"]  # the source, isolated
            # An unknown source: no results, and the reply says which name matched nothing.
            unknown = await say(tg, "/search desalination source:reuters")
            assert unknown["text"] == ("No results for desalination · source: reuters.\n"
                                       "No source matches “reuters”; /sources lists them.")
            assert not read_ids(unknown)

            # -word leaves out the stories that have the word.
            derby, metro = ids["derby"], ids["metro"]
            assert sorted(await search_ids(tg, "cairo")) == sorted([derby, metro])
            assert await search_ids(tg, "cairo -football") == [metro]
            assert await search_ids(tg, 'cairo -"football derby"') == [metro]
            # Words of an excluded phrase that are not consecutive exclude nothing.
            assert sorted(await search_ids(tg, 'cairo -"derby football"')) == sorted(
                [derby, metro])

            # A "phrase" needs its words next to each other, in order.
            raised, bonds = ids["rates-raised"], ids["bonds"]
            assert sorted(await search_ids(tg, "interest rates")) == sorted([raised, bonds])
            phrase = await say(tg, '/search "interest rates"')
            assert read_ids(phrase) == [raised]
            assert bold(phrase)[-2:] == ["interest", "rates"]  # the snippet's occurrence
            assert await search_ids(tg, '"rates interest"') == []

            # since: and until: by age and by date (UTC days).
            new, old = ids["phosphate-new"], ids["phosphate-old"]
            assert sorted(await search_ids(tg, "phosphate")) == sorted([new, old])
            assert await search_ids(tg, "phosphate since:7d") == [new]
            assert await search_ids(tg, "phosphate منذ:7d") == [new]
            ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
            assert await search_ids(tg, f"phosphate since:{ten_days_ago}") == [new]
            assert await search_ids(tg, f"phosphate until:{ten_days_ago}") == [old]
            nothing = await say(tg, "/search phosphate since:12h")
            assert nothing["text"].startswith("No results for phosphate · since ")

    run(scenario())


def test_stemming_through_the_bot(archive: Archive) -> None:
    ids, tg = archive.ids, archive.tg
    assert " election " not in f" {STORIES[0].title} {STORIES[0].text} ".lower()
    assert "حكومة" not in STORIES[1].title_ar + STORIES[1].text_ar

    async def scenario() -> None:
        async with running_bot(archive.site):
            # English: the translation only says "elections".
            english = await say(tg, "/search election")
            assert read_ids(english) == [ids["elections"]]
            assert "elections" in bold(english)
            # A quoted word is that form only.
            assert await search_ids(tg, '"election"') == []
            assert await search_ids(tg, '"elections"') == [ids["elections"]]
            # Arabic: the original only says للحكومات (article, plural ending).
            arabic = await say(tg, "/search حكومة")
            assert ids["loans"] in read_ids(arabic)
            assert "للحكومات" in bold(arabic)
            assert await search_ids(tg, "حكومة source:mamlaka") == [ids["loans"]]

    run(scenario())


# --- inline mode --------------------------------------------------------------------------


def deep_link(article_id: int) -> str:
    return f"https://t.me/{DEFAULT_BOT_USERNAME}?start=read_{article_id}"


def test_inline_query_answers_with_articles_to_share(archive: Archive) -> None:
    ids, tg = archive.ids, archive.tg
    gulf = ids["desalination-gulf"]

    async def scenario() -> None:
        async with running_bot(archive.site):
            query_id, answer = await inline(tg, "desalination source:bbc")
            assert answer["next_offset"] == ""
            assert answer["button"] == {"text": "How to search", "start_parameter": "search_help"}
            [result] = answer["results"]
            assert result["type"] == "article" and result["id"] == str(gulf)
            assert result["title"] == "Gulf states expand desalination plants"
            assert result["url"] == "https://news.example/desalination-gulf"
            assert result["description"].startswith(f"{BBC} · ")
            assert "Gulf states plan to double the output" in result["description"]
            content = result["input_message_content"]
            assert content["parse_mode"] == "HTML"
            assert '<a href="https://news.example/desalination-gulf">' in content["message_text"]
            [[button]] = result["reply_markup"]["inline_keyboard"]
            assert button["url"] == deep_link(gulf)

            # Sharing it in a group: the message is posted there "via" the bot.
            posted = tg.choose_inline_result(query_id, str(gulf), GROUP)
            assert posted["via_bot"]["username"] == DEFAULT_BOT_USERNAME
            assert posted["from"]["id"] == READER
            assert posted["text"].startswith("Gulf states expand desalination plants\n")
            assert "desalination" in bold(posted)
            assert {"type": "text_link", "url": "https://news.example/desalination-gulf"}.items() \
                <= next(e for e in posted["entities"] if e["type"] == "text_link").items()
            assert posted["reply_markup"]["inline_keyboard"][0][0]["url"] == deep_link(gulf)
            assert tg.sent(GROUP) == []  # posted by the user, not sent by the bot

            # The button's deep link opens the private chat with /start read_<id>.
            article = await say(tg, f"/start read_{gulf}")
            assert article["text"].startswith("Gulf states expand desalination plants\n")
            assert "demand for water grows" in article["text"]
            assert article["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == \
                f"orig:{gulf}"
            missing = await say(tg, "/start read_99999999")
            assert missing["text"] == "No article 99999999."

            # Arabic words search the originals in inline mode too.
            _id, arabic = await inline(tg, "حكومة مصدر:mamlaka")
            assert [r["id"] for r in arabic["results"]] == [str(ids["loans"])]

    run(scenario())


def test_inline_results_page_with_next_offset(archive: Archive) -> None:
    olives = {archive.ids[f"olive-{n}"] for n in range(OLIVE_STORIES)}
    tg = archive.tg

    async def scenario() -> None:
        async with running_bot(archive.site):
            _id, first = await inline(tg, "olive")
            assert len(first["results"]) == INLINE_RESULTS
            assert first["next_offset"] == str(INLINE_RESULTS)
            _id, rest = await inline(tg, "olive", offset=first["next_offset"])
            assert len(rest["results"]) == OLIVE_STORIES - INLINE_RESULTS
            assert rest["next_offset"] == ""
            assert rest["button"] is None  # the tips button sits above the first page only
            shown = [int(r["id"]) for r in first["results"] + rest["results"]]
            assert len(shown) == len(set(shown)) and set(shown) == olives
            # The newest district first: same relevance, more recent.
            assert shown[0] == archive.ids["olive-0"]
            _id, beyond = await inline(tg, "olive", offset=str(INLINE_RESULTS * 5))
            assert beyond["results"] == [] and beyond["next_offset"] == ""

    run(scenario())


def test_inline_without_words_offers_the_help(archive: Archive) -> None:
    tg = archive.tg

    async def scenario() -> None:
        async with running_bot(archive.site):
            for query in ("", "   ", "source:bbc since:7d", "-football"):
                _id, answer = await inline(tg, query)
                assert answer["results"] == [], query
                assert answer["next_offset"] == ""
                assert answer["button"] == {"text": "How to search",
                                            "start_parameter": "search_help"}
            _id, forged = await inline(tg, "olive", offset="not-a-number")
            assert forged["results"] == []
            # The button opens the private chat with /start search_help.
            help_text = await say(tg, "/start search_help")
            assert help_text["text"] == query_help()
            start = await say(tg, "/start")
            assert start["text"].startswith("Nashra — Arabic news, in English.")

    run(scenario())


def test_inline_searches_are_rate_limited_per_user(archive: Archive) -> None:
    tg = archive.tg
    clock = [0.0]
    limiter = RateLimiter(clock=lambda: clock[0])

    async def scenario() -> None:
        async with running_bot(archive.site, rate_limiter=limiter):
            for _ in range(COMMANDS_PER_WINDOW):
                _id, answer = await inline(tg, "desalination")
                assert len(answer["results"]) == 2
            _id, refused = await inline(tg, "desalination")
            assert refused["results"] == [] and refused["is_personal"]
            assert refused["cache_time"] == 0  # not reused for anyone once the window frees
            # The window is the user's, shared with their private chat: commands are
            # ignored too (silently: the over-limit notice went with the refused query).
            count = len(tg.sent(READER))
            tg.push_message(READER, "/search desalination")
            # Other users are served; updates are handled in order, so READER's came first.
            _id, other = await inline(tg, "desalination", user=OTHER)
            assert len(other["results"]) == 2
            assert (await say(tg, "/help", chat=OTHER))["text"].startswith("Commands")
            assert len(tg.sent(READER)) == count
            # Once the window has passed, the user is served again.
            clock[0] += WINDOW_SECONDS
            _id, again = await inline(tg, "desalination")
            assert len(again["results"]) == 2

    run(scenario())
