"""What the observability tests share: a small site of local news written for them, its
config (one good feed, one gone), a free loopback port and a plain HTTP GET."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from support.arabic_samples import SampleArticle, register_site
from support.feed_server import FeedServer

GOOD_FEED, GONE_FEED = "وكالة الأنباء المحلية", "نشرة الموانئ المتوقفة"
# Written for this test: three short local news items.
STORIES = (
    SampleArticle(
        "port-expansion", "economy", "بدء أعمال توسعة ميناء الصيادين في المدينة الساحلية",
        ("بدأت البلدية صباح الأحد أعمال توسعة ميناء الصيادين لاستيعاب مئة قارب إضافي.",
         "وقال رئيس البلدية إن المشروع يستغرق ثمانية أشهر ويوفر نحو مئتي فرصة عمل.",
         "وأضاف أن الرصيف القديم يبقى مفتوحا للصيادين طوال فترة الأعمال."),
        datetime(2026, 11, 20, 7, 30, tzinfo=UTC)),
    SampleArticle(
        "school-heating", "society", "تركيب أنظمة تدفئة جديدة في مدارس القرى الجبلية",
        ("أعلنت مديرية التربية تركيب أنظمة تدفئة تعمل بالطاقة الشمسية في اثنتي عشرة مدرسة.",
         "وأوضحت المديرية أن الأعمال تنتهي قبل منتصف الشهر المقبل مع اشتداد البرد.",),
        datetime(2026, 11, 21, 9, 0, tzinfo=UTC)),
    SampleArticle(
        "library-hours", "culture", "المكتبة العامة تمدد ساعات العمل خلال فترة الامتحانات",
        ("قررت إدارة المكتبة العامة فتح قاعات المطالعة حتى منتصف الليل طوال فترة الامتحانات.",
         "وقالت مديرة المكتبة إن القاعات استقبلت أكثر من ألف طالب في الأسبوع الماضي."),
        datetime(2026, 11, 22, 18, 15, tzinfo=UTC)),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def write_config(tmp_path: Path, feed_server: FeedServer, argos_package: Path,
                 database_url: str = "", listen: str = "") -> Path:
    good = register_site(feed_server, STORIES, feed_path="/local.xml")
    lines = [
        "[storage]", f'path = "{tmp_path / "nashra.db"}"', f'url = "{database_url}"',
        "[translation]", f'model = "{argos_package}"', "threads = 1",
        "[fetch]", "timeout_seconds = 2", "max_entries = 100",
        "[metrics]", f'listen = "{listen}"',
        "[[feeds]]", f'url = "{good}"', f'name = "{GOOD_FEED}"',
        "[[feeds]]", f'url = "{feed_server.url("/gone.xml")}"', f'name = "{GONE_FEED}"',
    ]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config
