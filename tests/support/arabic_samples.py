"""Synthetic Arabic news written for Nashra's tests, and builders for feeds and pages.

All text here was written for this project (fictional events; no publisher's copy), so it can be
committed and reused freely. Public API:

* :data:`ARTICLES` — seven :class:`SampleArticle` (economy, weather, sport, health, diplomacy,
  technology, culture); ``published`` dates differ and are not in list order.
* :func:`article_path` / :func:`article_url` — where an article page lives on a server.
* :func:`rss_with_content_encoded`, :func:`summary_only_rss`, :func:`atom_feed` — feed bytes
  (UTF-8) whose item links point at :func:`article_url`.
* :func:`article_page_html` — the article as a web page, by default wrapped in heavy site
  boilerplate (nav, share buttons, related list, back-to-top, end marker, cookies, footer).
* :func:`legacy_encoded_page` / :func:`windows_1256_page` — the page in a legacy Arabic
  encoding with no charset declared anywhere.
* :func:`register_site` — put a feed and all its article pages on a ``FeedServer``.
* :func:`shared_fixtures` — where the team's real (uncopied) fixture files live, if present.
* :data:`NAIVE_EXTRACTOR_OUTPUT` / :data:`NAIVE_EXTRACTOR_STORY` — text as a naive extractor
  returns it (slogan, story, end marker, translation credit, back-to-top, social lists) and the
  story paragraphs that must survive cleaning.
* :func:`wordpress_full_content_rss` with :data:`WORDPRESS_STORY` / :data:`WORDPRESS_JUNK` — a
  full-content WordPress item whose story is followed by site furniture that must not survive.

Every article's text encodes in UTF-8, windows-1256 and ISO-8859-6 (ASCII digits and quotes,
no guillemets), so the same article can be served in any of them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from support.feed_server import FeedServer

SITE_TITLE = "نشرة الأخبار التجريبية"


def shared_fixtures(*parts: str) -> Path:
    """A path under the team's ``shared/fixtures/arabic`` (beside the repository checkout).

    Those files are never copied into the project; tests using them must skip when
    ``path.exists()`` is false.
    """
    return Path(__file__).resolve().parents[3].joinpath("shared", "fixtures", "arabic", *parts)


@dataclass(frozen=True)
class SampleArticle:
    """One news story: ``paragraphs`` are plain text; ``summary`` is the first paragraph."""

    slug: str
    category: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime

    @property
    def summary(self) -> str:
        return self.paragraphs[0]

    @property
    def text(self) -> str:
        """Paragraphs separated by blank lines, as the parse and extract stages produce."""
        return "\n\n".join(self.paragraphs)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 7, day, hour, minute, tzinfo=UTC)


ARTICLES: tuple[SampleArticle, ...] = (
    SampleArticle("central-bank-rates", "اقتصاد",
        "البنك المركزي يُبقي على أسعار الفائدة دون تغيير مع تباطؤ التضخم", (
        "قرر البنك المركزي اليوم الإبقاء على سعر الفائدة الرئيسي عند 5.25 في المئة للاجتماع "
        "الثالث على التوالي، في خطوة توقعها معظم المحللين بعد تراجع معدل التضخم خلال الأشهر "
        "الماضية.",
        "وقال محافظ البنك في مؤتمر صحفي إن لجنة السياسة النقدية ترى أن الاقتِصاد يسير نحو "
        "التوازن، لكنها ستواصل مراقبة أسعار الغذاء والطاقة قبل أي خطوة لخفض الفائدة.",
        "وأظهرت بيانات رسمية نُشرت الأسبوع الماضي أن التضخم السنوي انخفض إلى 3.1 في المئة في "
        "يونيو، مقارنة بـ 4.4 في المئة في مارس، بفضل استقرار سعر صرف العملة المحلية.",
        "ويرى خبراء أن البنك قد يبدأ دورة تيسير نقدي قبل نهاية العام إذا استمر تباطؤ الأسعار، "
        "وهو ما قد يخفف الأعباء عن الشركات الصغيرة والأسر المقترضة.",
    ), _at(27, 9, 30)),
    SampleArticle("heat-wave-warning", "طقس",
        "موجة حر شديدة تضرب البلاد وتحذيرات من التعرض المباشر للشمس", (
        "حذرت هيئة الأرصاد الجوية من موجة حر شديدة تبدأ غدا وتستمر حتى نهاية الأسبوع، مع توقع "
        "أن تتجاوز درجات الحرارة 46 درجة مئوية في المناطق الداخلية.",
        "ودعت الهيئة المواطنين إلى تجنب التعرض المباشر لأشعة الشمس بين الساعة الحادية عشرة صباحا "
        "والرابعة عصرا، والإكثار من شرب الماء، وعدم ترك الأطفال داخل السيارات المغلقة.",
        "وأوضح المتحدث باسم الهيئة أن كتلة هوائية حارة قادمة من الجنوب الشرقي هي سبب الارتفاع، "
        "مشيرا إلى أن الرطوبة ستكون مرتفعة على السواحل ليلا.",
        "وأعلنت وزارة الكهرباء رفع جاهزية محطات التوليد تحسبا لزيادة الأحمال، فيما قررت بلديات "
        "عدة تقليص ساعات العمل الميداني لعمال النظافة.",
        "ومن المتوقع أن تنخفض درجات الحرارة تدريجيا مطلع الأسبوع المقبل مع هبوب رياح شمالية "
        "غربية معتدلة.",
    ), _at(28, 6, 15)),
    SampleArticle("national-team-semifinal", "رياضة",
        "المُنتخب الوطني يتأهل إلى نصف نهائي كأس العرب بعد فوز مثير", (
        "تأهل المنتخب الوطني لكرة القدم إلى الدور نصف النهائي من بطولة كأس العرب، بعد فوزه على "
        "منافسه بهدفين مقابل هدف في مباراة مثيرة أقيمت مساء أمس.",
        "وافتتح المهاجم الشاب التسجيل في الدقيقة 23 بتسديدة قوية من خارج منطقة الجزاء، قبل أن "
        "يدرك المنافس التعادل من ركلة جزاء في بداية الشوط الثاني.",
        "وحسم البديل النتيجة في الدقيقة 88 برأسية متقنة إثر ركلة ركنية، ليشعل مدرجات الملعب "
        "التي امتلأت بأكثر من 40 ألف مشجع.",
        "وقال المدرب في المؤتمر الصحفي بعد اللقاء إن لاعبيه أظهروا شخصية قوية، مؤكدا أن "
        "التركيز ينصب الآن على مباراة نصف النهائي المقررة يوم الجمعة.",
    ), _at(26, 21, 45)),
    SampleArticle("flu-vaccination-campaign", "صحة",
        "وزارة الصحة تطلق حملة وطنية للتطعيم ضد الإنفلونزا الموسمية", (
        "أطلقت وزارة الصحة اليوم حملة وطنية للتطعيم ضد الإنفلونزا الموسمية، تستهدف أكثر من "
        "مليوني شخص من كبار السن والحوامل والمصابين بأمراض مزمنة.",
        "وأكد وكيل الوزارة أن اللَّقاح متوفر مجانا في جميع المراكز الصحية الحكومية، وأن فرقا "
        "متنقلة ستزور المدارس ودور الرعاية خلال الأسابيع الأربعة المقبلة.",
        "وأشار إلى أن التطعيم المبكر يقلل خطر دخول المستشفى بنسبة كبيرة، داعيا العاملين في "
        "القطاع الصحي إلى أن يكونوا قدوة في تلقي الجرعة.",
    ), _at(27, 13, 0)),
    SampleArticle("energy-cooperation-talks", "سياسة",
        "وزير الخارجية يبحث مع نظيره الأوروبي تعزيز التعاون في مجال الطاقة", (
        "بحث وزير الخارجية مع نظيره الأوروبي خلال اتصال هاتفي اليوم سبل تعزيز التعاون الثنائي، "
        "ولا سيما في مجالي الطاقة المتجددة والربط الكهربائي.",
        "واتفق الجانبان على عقد الدورة المقبلة من اللجنة المشتركة في العاصمة خلال الخريف، "
        "بمشاركة ممثلين عن القطاع الخاص وصناديق الاستثمار.",
        "كما تبادل الوزيران وجهات النظر حول التطورات الإقليمية، وأكدا أهمية الحوار والحلول "
        "الدبلوماسية لخفض التوتر وضمان أمن الملاحة في الممرات البحرية.",
        "وقال بيان للوزارة إن حجم التبادل التجاري بين الجانبين ارتفع بنسبة 12 في المئة العام "
        "الماضي، وإن هناك فرصا واعدة لمشروعات الهيدروجين الأخضر.",
    ), _at(28, 8, 5)),
    SampleArticle("local-satellite-launch", "تكنولوجيا",
        "إطلاق أول قمر صناعي محلي الصنع لرصد التغيرات المناخية", (
        "أعلنت وكالة الفضاء الوطنية نجاح إطلاق أول قمر صناعي صُمِّم وصُنع محليا، وذلك على متن "
        "صاروخ انطلق فجر اليوم من قاعدة إطلاق دولية.",
        "ويزن القمر نحو 150 كيلوغراما، وسيعمل على مدار منخفض لرصد درجات حرارة سطح البحر وتغير "
        "الغطاء النباتي وجودة الهواء فوق المدن الكبرى.",
        "وقال مدير المشروع إن فريقا من 60 مهندسا ومهندسة عمل على تطوير القمر طوال أربع سنوات، "
        "وإن البيانات ستتاح مجانا للجامعات ومراكز البحث.",
        "وأضاف أن الوكالة ستنشر الصور الأولى عبر حساباتها على فيسبوك وتويتر خلال الأسبوع المقبل، "
        "داعيا المهتمين إلى متابعة مراحل التشغيل التجريبي.",
    ), _at(25, 4, 20)),
    SampleArticle("book-fair-visitors", "ثقافة",
        "معرض الكتاب يستقبل أكثر من مليون زائر في دورته الحالية", (
        "أعلنت إدارة معرض الكتاب الدولي أن عدد زوار الدورة الحالية تجاوز مليون زائر في أيامه "
        "العشرة، وهو رقم قياسي منذ انطلاق المعرض قبل ثلاثين عاما.",
        "وشارك في المعرض أكثر من 900 دار نشر من 35 دولة، وشهد تنظيم ندوات فكرية وأمسيات "
        "شعرية وورش عمل للأطفال حول القراءة والكتابة الإبداعية.",
        "وقالت مديرة المعرض إن الإقبال على الكتب الرقمية والصوتية ارتفع بشكل لافت هذا العام، "
        "لكن الكتاب الورقي ما زال يحتفظ بمكانته لدى القراء الشباب.",
    ), _at(24, 17, 10)),
)


def article_path(article: SampleArticle) -> str:
    """Server path of the article page, e.g. ``/articles/heat-wave-warning.html``."""
    return f"/articles/{article.slug}.html"


def article_url(article: SampleArticle, base_url: str) -> str:
    """Absolute URL of the article page under ``base_url`` (no trailing slash expected)."""
    return base_url.rstrip("/") + article_path(article)


def _rfc822(when: datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S +0000")


def _html_paragraphs(article: SampleArticle) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)


def _rss(items: Sequence[SampleArticle], base_url: str, *, full: bool, link_suffix: str) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{html.escape(SITE_TITLE)}</title><link>{base_url}/</link>"
        "<description>أخبار تجريبية لاختبار نشرة</description><language>ar</language>"
    ]
    for a in items:
        link = html.escape(article_url(a, base_url) + link_suffix)
        parts.append(
            f"<item><title>{html.escape(a.title)}</title><link>{link}</link>"
            f'<guid isPermaLink="false">nashra-sample-{a.slug}</guid>'
            f"<pubDate>{_rfc822(a.published)}</pubDate>"
            f"<category>{html.escape(a.category)}</category>"
            f"<description><![CDATA[<p>{html.escape(a.summary)}</p>]]></description>"
        )
        if full:
            parts.append(f"<content:encoded><![CDATA[{_html_paragraphs(a)}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")


def rss_with_content_encoded(items: Sequence[SampleArticle], base_url: str, *,
                             link_suffix: str = "") -> bytes:
    """RSS 2.0: ``description`` holds the first paragraph, ``content:encoded`` all of them.

    GUIDs are ``nashra-sample-<slug>``; ``link_suffix`` (e.g. ``"?utm_source=rss"``) is
    appended to each link to imitate tracking parameters.
    """
    return _rss(items, base_url, full=True, link_suffix=link_suffix)


def summary_only_rss(items: Sequence[SampleArticle], base_url: str, *,
                     link_suffix: str = "") -> bytes:
    """RSS 2.0 with only a one-paragraph ``description``; the full text is on the linked page."""
    return _rss(items, base_url, full=False, link_suffix=link_suffix)


def atom_feed(items: Sequence[SampleArticle], base_url: str) -> bytes:
    """Atom 1.0 with ``tag:`` ids, an HTML ``summary`` and the full HTML ``content``."""
    updated = max((a.published for a in items), default=_at(1, 0))
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{html.escape(SITE_TITLE)}</title><id>tag:nashra.test,2026:feed</id>"
        f'<link rel="alternate" href="{base_url}/"/><updated>{updated.isoformat()}</updated>'
    ]
    for a in items:
        parts.append(
            f"<entry><title>{html.escape(a.title)}</title>"
            f'<link rel="alternate" href="{html.escape(article_url(a, base_url))}"/>'
            f"<id>tag:nashra.test,2026:{a.slug}</id>"
            f"<published>{a.published.isoformat()}</published>"
            f"<updated>{a.published.isoformat()}</updated>"
            f'<summary type="html">{html.escape("<p>" + html.escape(a.summary) + "</p>")}'
            f'</summary><content type="html">{html.escape(_html_paragraphs(a))}</content>'
            "</entry>"
        )
    parts.append("</feed>\n")
    return "".join(parts).encode("utf-8")


_NAV = ("الرئيسية", "أخبار", "اقتصاد", "رياضة", "صحة", "تكنولوجيا", "ثقافة", "طقس")
_SOCIAL = "فيسبوك تويتر واتساب تلغرام"


def _boilerplate_head(article: SampleArticle) -> str:
    nav = "".join(f'<li><a href="/section/{i}">{n}</a></li>' for i, n in enumerate(_NAV))
    return (
        f'<header class="site-header"><div class="logo">{SITE_TITLE}</div>'
        f'<nav class="main-menu"><ul>{nav}</ul></nav>'
        '<div class="breaking">عاجل: تابعوا آخر التطورات لحظة بلحظة</div></header>'
        f'<div class="breadcrumbs"><a href="/">الرئيسية</a> / {article.category}</div>'
        '<div class="share-buttons top"><span>شارك</span> <a href="#">فيسبوك</a> '
        '<a href="#">تويتر</a> <a href="#">واتساب</a> <a href="#">تلغرام</a></div>'
    )


def _boilerplate_tail(article: SampleArticle) -> str:
    related = "".join(
        f'<li><a href="{article_path(o)}">{html.escape(o.title)}</a></li>'
        for o in ARTICLES if o is not article
    )
    return (
        '<p class="end-marker">نهاية الرسالة/</p>'
        f'<div class="share-buttons bottom"><p>{_SOCIAL}</p></div>'
        f'<aside class="related"><h3>اقرأ أيضاً</h3><ul>{related}</ul></aside>'
        '<div class="newsletter"><h4>اشترك في النشرة البريدية</h4>'
        '<form><input type="email" placeholder="بريدك الإلكتروني"><button>اشترك</button></form>'
        '</div><a class="to-top" href="#top">زر الذهاب إلى الأعلى</a>'
        '<div class="cookie-banner">نستخدم ملفات تعريف الارتباط لتحسين تجربتك على موقعنا. '
        '<button>موافق</button></div>'
        '<footer><ul><li><a href="/about">من نحن</a></li><li><a href="/contact">اتصل بنا</a>'
        f'</li></ul><p>تابعونا على: {_SOCIAL} يوتيوب</p>'
        f"<p>© 2026 {SITE_TITLE}. جميع الحقوق محفوظة</p></footer>"
    )


def article_page_html(article: SampleArticle, *, boilerplate: bool = True,
                      charset_meta: bool = True) -> str:
    """The article as a complete HTML page (``lang="ar" dir="rtl"``).

    With ``boilerplate`` the story sits between a nav bar, share buttons, an end marker, a
    related-articles list, a newsletter box, back-to-top link, cookie banner and footer.
    ``charset_meta=False`` leaves out ``<meta charset>`` (for legacy-encoding tests).
    """
    meta = '<meta charset="utf-8">' if charset_meta else ""
    body = (
        f"<article><h1>{html.escape(article.title)}</h1>"
        f'<time datetime="{article.published.isoformat()}">'
        f"{article.published:%Y-%m-%d}</time>"
        f'<div class="entry-content">{_html_paragraphs(article)}</div></article>'
    )
    if boilerplate:
        body = _boilerplate_head(article) + f"<main>{body}{_boilerplate_tail(article)}</main>"
    return (
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head>{meta}'
        f"<title>{html.escape(article.title)} | {SITE_TITLE}</title>"
        "<style>body{font-family:sans-serif}</style>"
        "<script>window.dataLayer=[];</script></head>"
        f"<body>{body}</body></html>"
    )


def legacy_encoded_page(article: SampleArticle, encoding: str = "cp1256") -> bytes:
    """The boilerplate-free page in ``encoding`` with no charset declared anywhere.

    ``encoding`` is ``"cp1256"`` (windows-1256) or ``"iso-8859-6"``; every sample encodes in both.
    """
    return article_page_html(article, boilerplate=False, charset_meta=False).encode(encoding)


def windows_1256_page(article: SampleArticle) -> bytes:
    """Shorthand for ``legacy_encoded_page(article, "cp1256")``."""
    return legacy_encoded_page(article, "cp1256")


FeedKind = Literal["content", "summary", "atom"]


def register_site(server: FeedServer, items: Sequence[SampleArticle] = ARTICLES, *,
                  kind: FeedKind = "content", feed_path: str = "/feed.xml") -> str:
    """Serve ``items`` as article pages plus one feed of ``kind`` on ``server``.

    Returns the feed URL. Pages are served as ``text/html; charset=utf-8`` with boilerplate.
    """
    for a in items:
        server.add(article_path(a), article_page_html(a).encode("utf-8"),
                   headers={"Content-Type": "text/html; charset=utf-8"})
    builders = {"content": rss_with_content_encoded, "summary": summary_only_rss}
    body = atom_feed(items, server.base_url) if kind == "atom" else \
        builders[kind](items, server.base_url)
    ctype = "application/atom+xml" if kind == "atom" else "application/rss+xml"
    return server.add(feed_path, body, headers={"Content-Type": f"{ctype}; charset=utf-8"})


NAIVE_EXTRACTOR_STORY: tuple[str, ...] = (
    "أعلنت الحكومة اليوم عن خطة لتوسيع شبكة النقل العام في العاصمة تشمل ثلاثة خطوط جديدة "
    "للحافلات السريعة ومحطة مركزية قرب المطار.",
    "وقال وزير النقل إن المشروع سيكلف نحو 400 مليون دولار وسيُنفذ على مرحلتين تنتهي الأولى "
    "خلال 18 شهرا، مضيفا أن الوزارة ستنشر تفاصيل المناقصات على موقعها وصفحتها في فيسبوك.",
    "ويأمل المسؤولون أن تخفف الخطوط الجديدة الازدحام المروري الذي يكلف الاقتصاد ساعات عمل "
    "طويلة كل يوم.",
)

NAIVE_EXTRACTOR_OUTPUT = "\n\n".join((
    "Get News Fast",
    *NAIVE_EXTRACTOR_STORY,
    "نهاية الرسالة/",
    "© وقد قام مركز الترجمة في الوكالة بترجمة هذا الخبر",
    "زر الذهاب إلى الأعلى",
    "فيسبوك تويتر واتساب تلغرام",
    "Facebook Twitter WhatsApp Telegram",
    "تابعونا على",
    "اقرأ أيضا",
    "ارتفاع أسعار الذهب في الأسواق المحلية",
    "افتتاح مستشفى جديد في الجنوب",
    "جميع الحقوق محفوظة لوكالة الأنباء 2026",
))
"""A realistic naive extraction: every line that is not in NAIVE_EXTRACTOR_STORY must go."""


# --- a full-content WordPress feed whose items carry site furniture ----------------------------

WORDPRESS_TITLE = "شركة الاتصالات الوطنية تطلق خدمة إنترنت عبر الأقمار الصناعية للمناطق النائية"

WORDPRESS_STORY: tuple[str, ...] = (
    "أطلقت شركة الاتصالات الوطنية اليوم خدمة إنترنت عبر الأقمار الصناعية تستهدف القرى الجبلية "
    "والمناطق الصحراوية النائية التي لا تصلها شبكات الألياف الضوئية.",
    "وقال الرئيس التنفيذي للشركة في مؤتمر صحفي إن الاشتراك الشهري سيبدأ من 15 دولارا، وإن أجهزة "
    "الاستقبال ستوزع مجانا على المدارس والمراكز الصحية خلال الأشهر الستة الأولى.",
    # The next four mention WhatsApp, Telegram, YouTube, an app, a download and a translation:
    # story sentences all the same.
    "وأعلنت شركة واتساب عن ميزة جديدة لتحميل الملفات الكبيرة عبر الشبكة الجديدة، فيما انضم أكثر "
    "من 20 ألف مستخدم إلى قناة الشركة على تلغرام خلال ساعات من الإعلان.",
    "وتابع ملايين المشاهدين البث المباشر لحفل الإطلاق عبر يوتيوب.",
    "حُمِّل تطبيق الشركة أكثر من مئة ألف مرة في يومه الأول.",
    "ترجمة الدليل إلى اللغات المحلية ستتاح قريبا عبر تطبيق الشركة.",
    "ويأمل مسؤولو الشركة أن تسهم الخدمة في تقليص الفجوة الرقمية بين المدن والأرياف بحلول نهاية "
    "العام المقبل.",
)

WORDPRESS_RELATED: tuple[str, ...] = (
    "هل تنجح خدمات الأقمار الصناعية في منافسة الألياف الضوئية؟",
    "الحكومة تعلن خطة لتوسيع شبكة الجيل الخامس.",
    "أسعار الهواتف الذكية ترتفع للمرة الثالثة هذا العام",
)

WORDPRESS_JUNK: tuple[str, ...] = (
    "نهاية الرسالة", "ترجمة وتحرير", "قسم الأخبار الدولية", "تابعونا على واتساب",
    "قناتنا على تيليجرام", "حمّل تطبيق", "اقرأ أيضا", "©", "العودة إلى الأعلى",
    "appeared first on", *WORDPRESS_RELATED,
)
"""Pieces of the furniture in :func:`wordpress_full_content_rss`: none may reach a reader."""


def _wordpress_content() -> str:
    story = "".join(f"<p>{html.escape(p)}</p>" for p in WORDPRESS_STORY)
    related = "".join(f'<li><a href="/related/{i}">{html.escape(h)}</a></li>'
                      for i, h in enumerate(WORDPRESS_RELATED))
    return (
        f"{story}<p>نهاية الرسالة/</p>"
        "<p><em>ترجمة وتحرير: قسم الأخبار الدولية</em></p>"
        '<p><strong>تابعونا على واتساب</strong></p>'
        '<p><a href="https://t.me/x">تابعوا آخر الأخبار عبر قناتنا على تيليجرام</a></p>'
        '<p>حمّل تطبيق نشرة الإخبارية الآن <a href="/app">من هنا</a></p>'
        f"<p><strong>اقرأ أيضا:</strong></p><ul>{related}</ul>"
        f"<p>© 2026 {html.escape(SITE_TITLE)}</p>"
        '<p><a href="#top">العودة إلى الأعلى</a></p>'
        f'<p>The post <a href="/wp/1">{html.escape(WORDPRESS_TITLE)}</a> appeared first on '
        f'<a href="/">{html.escape(SITE_TITLE)}</a>.</p>'
    )


def wordpress_full_content_rss(base_url: str) -> bytes:
    """RSS 2.0 as WordPress writes it: one item whose ``content:encoded`` is the story
    (:data:`WORDPRESS_STORY`) followed by an end marker, a translation credit, follow and
    download-app prompts, "اقرأ أيضا" with a ``<ul>`` of headlines, a © line, a back-to-top
    link and the "appeared first on" footer; the description is a ``[…]`` excerpt."""
    excerpt = html.escape(WORDPRESS_STORY[0][:80]) + " [&#8230;]"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{html.escape(SITE_TITLE)}</title><link>{base_url}/</link>"
        "<generator>https://wordpress.org/?v=6.5</generator><language>ar</language>"
        f"<item><title>{html.escape(WORDPRESS_TITLE)}</title>"
        f"<link>{base_url}/2026/07/28/satellite-internet/</link>"
        "<dc:creator><![CDATA[محرر الموقع]]></dc:creator>"
        f"<pubDate>Tue, 28 Jul 2026 08:00:00 +0000</pubDate>"
        f'<guid isPermaLink="false">{base_url}/?p=4211</guid>'
        f"<description><![CDATA[<p>{excerpt}</p>]]></description>"
        f"<content:encoded><![CDATA[{_wordpress_content()}]]></content:encoded>"
        "</item></channel></rss>\n"
    ).encode()
