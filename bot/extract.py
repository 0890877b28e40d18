"""Extract stage: an article page's bytes -> clean plain text.

Three steps: decode the bytes (declared charset, else a detection tuned for Arabic legacy
encodings), let trafilatura find the main text, then drop the site furniture that survives
extraction (share bars, end-of-wire markers, copyright lines, related-article lists...).
"""

from __future__ import annotations

import codecs
import re

import trafilatura

from bot.errors import ExtractError
from bot.safetext import clean_text
from bot.textnorm import arabic_ratio, normalize_arabic

# --- decoding ---------------------------------------------------------------------------------

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
# WHATWG treats these labels as windows-1252, a superset that never fails on real pages.
_LATIN1_LABELS = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1",
                            "us-ascii", "ascii", "cp819", "ibm819"})
_ARABIC_CANDIDATES = ("cp1256", "iso-8859-6")
_ARABIC = re.compile("[\u0621-\u064a\u0660-\u0669\u0671-\u06d3]")
# Characters a wrong single-byte decoding of Arabic produces: Latin-1 letters, French
# letters cp1256 keeps at 0xE0-0xFC, symbols such as x and not-sign, C1 controls.
# Guillemets and the degree sign are left out: genuine Arabic text uses them.
_ODD = re.compile("[\u0080-\u009f\u00a1-\u00aa\u00ac-\u00af\u00b1-\u00ba\u00bc-\u00ff"
                  "\u0152\u0153\u0192\u02c6\u2020\u2021\u2030]")
_MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.S | re.I)
# Below this share of Arabic letters in the visible text a page is not Arabic, and the
# single-byte Arabic code pages are no better guesses than any other.
_MIN_ARABIC_RATIO = 0.3


def decode_html(body: bytes, content_type: str | None) -> str:
    """Decode an HTML page to text.

    Order: a byte-order mark (it is unambiguous), the charset of the ``Content-Type`` header,
    ``<meta charset>`` / ``http-equiv``, then detection: strict UTF-8, then windows-1256 vs
    ISO-8859-6 scored by how Arabic the result looks, then charset_normalizer, then
    windows-1252 with replacement. A declared charset that fails to decode is ignored.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(encoding, "replace")
    for label in (_header_charset(content_type), _meta_charset(body)):
        text = _try_decode(body, label)
        if text is not None:
            return text
    return _detect(body)


def _header_charset(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:8192])
    return match.group(1).decode("ascii", "ignore") if match else None


def _codec_name(label: str) -> str | None:
    label = label.strip().lower()
    if label in _LATIN1_LABELS:
        return "cp1252"
    if label.startswith("utf-16"):
        return "utf-8"  # a page that could be read to find this label is not UTF-16
    label = re.sub(r"^(iso-8859-\d+)-[ie]$", r"\1", label)  # ISO-8859-6-I is plain 8859-6
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _try_decode(body: bytes, label: str | None) -> str | None:
    codec = _codec_name(label) if label else None
    if codec is None:
        return None
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        return None


def _detect(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    scored = []
    for codec in _ARABIC_CANDIDATES:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        scored.append((_arabic_score(text), codec, text))
    if scored:
        score, _, text = max(scored)
        if score > 0 and arabic_ratio(_MARKUP.sub(" ", text)) >= _MIN_ARABIC_RATIO:
            return text
    return _normalizer_guess(body)


def _arabic_score(text: str) -> float:
    """Arabic letters minus a heavy penalty for characters a wrong decoding produces."""
    arabic = len(_ARABIC.findall(text))
    odd = len(_ODD.findall(text))
    return arabic - 4.0 * odd


def _normalizer_guess(body: bytes) -> str:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # only a transitive dependency; fall back gracefully
        return body.decode("cp1252", "replace")
    best = from_bytes(body).best()
    if best is None:
        return body.decode("cp1252", "replace")
    return str(best)


# --- extraction -------------------------------------------------------------------------------

_MIN_LETTERS = 40
_LETTER = re.compile(r"[^\W\d_]")


def extract_text(body: bytes, url: str, content_type: str | None = None) -> str:
    """The article's main text, paragraphs separated by blank lines.

    Raises :class:`ExtractError` when the page yields no article text (empty page, an index
    page, or only boilerplate).
    """
    if not body.strip():
        raise ExtractError("empty page")
    html = decode_html(body, content_type)
    try:
        extracted = trafilatura.extract(
            html, url=url, favor_precision=True, include_comments=False,
            include_tables=False, include_images=False, output_format="txt",
        )
    except Exception as exc:  # trafilatura/lxml failures belong to this one page
        raise ExtractError(f"extraction failed: {type(exc).__name__}") from exc
    # trafilatura puts one paragraph per line; Nashra separates paragraphs by blank lines.
    lines = clean_text(extracted or "").splitlines()
    text = strip_boilerplate("\n\n".join(line for line in lines if line.strip()))
    if len(_LETTER.findall(text)) < _MIN_LETTERS:
        raise ExtractError("no article text found")
    return text


# --- boilerplate ------------------------------------------------------------------------------


def _key(text: str) -> str:
    """Comparison form of a line: Arabic variants folded, lower case, punctuation removed."""
    folded = normalize_arabic(text).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def _keys(*phrases: str) -> frozenset[str]:
    return frozenset(_key(p) for p in phrases)


_BACK_TO_TOP = _keys(
    "زر الذهاب إلى الأعلى", "الذهاب إلى الأعلى", "العودة إلى الأعلى", "العودة للأعلى",
    "عودة إلى الأعلى", "عودة للأعلى", "إلى الأعلى", "للأعلى", "back to top", "scroll to top",
    "go to top", "top",
)
# Footer and menu links that extractors sometimes keep as one-line paragraphs.
_SITE_LINKS = _keys(
    "الرئيسية", "من نحن", "اتصل بنا", "سياسة الخصوصية", "شروط الاستخدام",
    "أعلن معنا", "خريطة الموقع", "اشترك", "home", "about us", "contact us", "privacy policy",
    "terms of use", "terms of service", "advertise with us", "sitemap", "subscribe",
)
_END_MARKERS = _keys("نهاية الرسالة", "انتهى", "انتهت", "\u0627.\u0647\u0640", "النهاية", "end")
_SLOGANS = _keys("Get News Fast", "Breaking News", "آخر الأخبار", "عاجل", "Latest News")
_RELATED_HEADERS = _keys(
    "اقرأ أيضا", "إقرأ أيضا", "اقرأ ايضا", "اقرأ أيضاً", "اقرأ المزيد", "مواضيع ذات صلة",
    "أخبار ذات صلة", "مقالات ذات صلة", "مواد ذات صلة", "موضوعات ذات صلة", "قد يعجبك أيضا",
    "قد يهمك أيضا", "اخترنا لك", "الأكثر قراءة", "الأكثر مشاهدة", "المزيد من الأخبار",
    "read more", "read also", "see also", "related", "related articles", "related stories",
    "related news", "more stories", "you may also like", "most read", "recommended",
)
# Whole-line share prompts. "شارك" also means "took part", so it only goes when alone.
_SHARE_LINES = _keys(
    "شارك", "شاركوا", "شارك الخبر", "شارك المقال", "شارك هذا", "شارك القصة", "شاركها",
    "مشاركة", "طباعة", "share", "share this", "share this article", "share this story",
    "tweet", "print", "email", "copy link", "نسخ الرابط",
)
# Prompts that may go on with handles or network names ("تابعونا على تويتر: @...").
_SHARE_PREFIXES = _keys("تابعونا", "follow us", "share this", "share on")
_NEWSLETTER = _keys(
    "اشترك في النشرة", "اشترك في نشرتنا", "اشترك في القائمة البريدية", "اشترك الآن",
    "subscribe to our newsletter", "sign up for our newsletter", "subscribe to newsletter",
)
_COPYRIGHT = _keys("جميع الحقوق محفوظة", "all rights reserved", "حقوق النشر محفوظة",
                   "حقوق الطبع محفوظة")
_COOKIE_WORDS = _keys("cookie", "cookies", "ملفات تعريف الارتباط", "الكوكيز", "ملفات الكوكيز")
_COOKIE_CONTEXT = _keys("we use", "this site", "this website", "by continuing", "accept",
                        "نستخدم", "يستخدم هذا الموقع", "يستخدم موقعنا", "موافق", "بمواصلة",
                        "تجربتك", "your experience", "privacy policy", "سياسة الخصوصية")
# Words of share bars and "follow us" lines: network names (also split in two, as many sites
# write them) and the few verbs and particles that glue them together.
_SOCIAL_WORDS = _keys(
    "فيسبوك", "فيس", "بوك", "فايسبوك", "فيسبوك", "تويتر", "إكس", "اكس", "واتساب", "واتس",
    "اب", "آب", "تلغرام", "تيليغرام", "تيليجرام", "تليجرام", "تلجرام", "تلقرام", "إنستغرام",
    "انستغرام", "انستجرام", "إنستجرام", "انستقرام", "يوتيوب", "لينكدإن", "لينكد", "إن",
    "تيك", "توك", "تيكتوك", "سناب", "شات", "سنابشات", "ماسنجر", "بينترست", "ريديت", "جوجل",
    "نيوز", "ثريدز", "شارك", "شاركوا", "مشاركة", "تابعونا", "تابعنا", "تابعوا", "على", "عبر",
    "في", "و", "أو", "البريد", "الإلكتروني", "الالكتروني", "طباعة", "نسخ", "الرابط", "أرسل",
    "حساباتنا", "صفحتنا", "قناتنا", "منصات", "التواصل", "الاجتماعي",
    "facebook", "twitter", "x", "whatsapp", "telegram", "instagram", "youtube", "linkedin",
    "tiktok", "snapchat", "messenger", "pinterest", "reddit", "threads", "google", "news",
    "vk", "email", "e", "mail", "print", "share", "follow", "us", "on", "and", "via", "copy",
    "link", "tweet", "rss",
)
_SOCIAL_NAMES = _SOCIAL_WORDS - _keys(
    "على", "عبر", "في", "و", "أو", "on", "and", "via", "us", "e", "إن", "اب", "آب", "شات",
    "بوك", "news", "نيوز",
)
# Wire-agency end markers glued to the last sentence; only delimited forms, because a
# sentence may well end with the verb "انتهى" (it ended).
_END_SUFFIX = re.compile(
    r"\s*(?:[(\[]\s*انتهى\s*[)\]]|[-\u2013\u2014]+\s*انتهى\s*[-\u2013\u2014]*"
    r"|نهاية الرسالة\s*/)\s*$"
)
_SENTENCE_END = re.compile(r"[.!؟?…:؛]\s*$")
_MAX_LIST_ITEM_WORDS = 16
_MAX_LIST_ITEMS = 12


def strip_boilerplate(text: str) -> str:
    """Remove the non-story lines that survive extraction; keep paragraphs by blank lines.

    Drops share/follow lines and social-network lists, back-to-top links, copyright and
    translation-credit lines, end-of-wire markers ("نهاية الرسالة", "(انتهى)"), site slogans,
    newsletter and cookie prompts, and "اقرأ أيضا"-style headers together with the short
    headline lines listed under them. Sentences that merely mention a network are kept.
    """
    blocks: list[list[str]] = []
    in_related_list = 0
    for block in re.split(r"\n\s*\n", text.strip()):
        kept: list[str] = []
        for raw_line in block.splitlines():
            line = " ".join(raw_line.split())
            if not line:
                continue
            if in_related_list and _is_list_item(line):
                in_related_list -= 1
                continue
            in_related_list = 0
            if _is_related_header(line):
                in_related_list = _MAX_LIST_ITEMS
                continue
            if _is_boilerplate(line):
                continue
            line = _END_SUFFIX.sub("", line)
            kept.append(line)
        if kept:
            blocks.append(kept)
    return "\n\n".join("\n".join(block) for block in blocks)


def _is_list_item(line: str) -> bool:
    return len(line.split()) <= _MAX_LIST_ITEM_WORDS and not _SENTENCE_END.search(line)


def _is_related_header(line: str) -> bool:
    key = _key(line)
    if key in _RELATED_HEADERS:
        return True
    # "اقرأ أيضا: <headline>" on a single line is a link, not a paragraph.
    head, sep, _ = line.partition(":")
    return bool(sep) and _key(head) in _RELATED_HEADERS and len(line.split()) <= 20


def _is_boilerplate(line: str) -> bool:
    key = _key(line)
    if not key:
        return True  # only punctuation or symbols: separators, bullets
    words = key.split()
    if "©" in line or re.search(r"\(c\)\s*\d{4}", line, re.I):
        return True
    if key in _BACK_TO_TOP or key in _END_MARKERS or key in _SLOGANS or key in _SITE_LINKS:
        return True
    if len(words) <= 30 and (_contains_any(key, _COPYRIGHT | _NEWSLETTER)
                             or words[0] == "copyright"):
        return True
    if _is_social_line(words) or _is_share_prompt(key, words):
        return True
    return _is_cookie_notice(key, words)


def _contains_any(key: str, phrases: frozenset[str]) -> bool:
    padded = f" {key} "
    return any(f" {phrase} " in padded for phrase in phrases)


def _social_word(word: str) -> bool:
    # Arabic attaches "and" to the next word: "وتويتر".
    return word in _SOCIAL_WORDS or (word.startswith("و") and word[1:] in _SOCIAL_WORDS)


def _is_social_line(words: list[str]) -> bool:
    if not words or not all(_social_word(w) for w in words):
        return False
    return any(w in _SOCIAL_NAMES or w[1:] in _SOCIAL_NAMES for w in words)


def _is_share_prompt(key: str, words: list[str]) -> bool:
    if key in _SHARE_LINES:
        return True
    return len(words) <= 10 and any(key == p or key.startswith(p + " ") for p in _SHARE_PREFIXES)


def _is_cookie_notice(key: str, words: list[str]) -> bool:
    return (len(words) <= 60 and _contains_any(key, _COOKIE_WORDS)
            and _contains_any(key, _COOKIE_CONTEXT))
