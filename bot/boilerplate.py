"""Site furniture in article text: what is not the story, found line by line.

Pure text rules shared by the extract stage (text trafilatura found on a page) and the parse
stage (text a feed carries in ``content:encoded`` or a long description): share bars and
"follow us on WhatsApp" prompts, "download our app" lines, back-to-top links, copyright and
translation credits, end-of-wire markers, site slogans, newsletter and cookie prompts, and
"اقرأ أيضا" headers with the headlines listed under them.

The rules only match short, prompt-like lines (anchored phrases, word-count limits), because
a lost story sentence is worse than a kept share link: a sentence that merely mentions
WhatsApp, an app or a translation stays.
"""

from __future__ import annotations

import re

from bot.textnorm import normalize_arabic


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
    "متابعة القراءة", "تابع القراءة", "أكمل القراءة", "واصل القراءة", "continue reading",
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
_SHARE_PREFIXES = _keys("تابعونا", "follow us", "find us", "like us", "join us", "share this",
                        "share on")
_NEWSLETTER = _keys(
    "اشترك في النشرة", "اشترك في نشرتنا", "اشترك في القائمة البريدية", "اشترك الآن",
    "subscribe to our newsletter", "sign up for our newsletter", "subscribe to newsletter",
)
_COPYRIGHT = _keys("جميع الحقوق محفوظة", "all rights reserved", "حقوق النشر محفوظة",
                   "حقوق الطبع محفوظة")
_COPYRIGHT_OR_NEWSLETTER = _COPYRIGHT | _NEWSLETTER
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

# --- reader prompts: follow our channel, download our app --------------------------------------

# What a prompt points the reader to. "X" alone is too common a letter to count.
_CHANNELS = _SOCIAL_NAMES - _keys("x", "email", "print", "share", "follow", "copy", "link",
                                  "tweet", "rss", "شارك", "شاركوا", "مشاركة", "تابعونا",
                                  "تابعنا", "تابعوا", "طباعة", "نسخ", "الرابط", "أرسل",
                                  "حساباتنا", "صفحتنا", "قناتنا", "منصات", "البريد")
_CHANNELS |= _keys("واتسآب", "واتساپ", "تليغرام", "تلغرم", "إكس", "قناة", "قنوات", "channel",
                   "تطبيق", "تطبيقات", "app", "apps", "application", "قناتنا", "قنواتنا",
                   "صفحتنا", "صفحاتنا", "حسابنا", "حساباتنا", "مجموعتنا", "تطبيقنا", "منصاتنا")
# Words that address the reader as "us"/"our": no story sentence speaks like this outside
# quotes. Imperatives are no such sign in Arabic: "تابعوا"/"انضم"/"اشترك" also read as past
# tense ("they followed", "he joined"), which stories use all the time.
_READER_WORDS = _keys(
    "تابعونا", "تابعنا", "تابعينا", "قناتنا", "قنواتنا", "صفحتنا", "صفحاتنا", "حسابنا",
    "حساباتنا", "مجموعتنا", "تطبيقنا", "موقعنا", "منصاتنا", "نشرتنا",
)
_CLICK = _keys("اضغط هنا", "انقر هنا", "اضغط على الرابط", "انقر على الرابط", "click here",
               "tap here")
# Words a prompt starts with. In English an imperative at the start of a line is a prompt.
_ARABIC_OPENERS = _keys(
    "تابع", "تابعوا", "انضم", "انضموا", "انضمي", "اشترك", "اشتركوا", "حمل", "حملوا", "نزل",
    "نزلوا", "قم", "لمتابعة", "للمتابعة", "لمزيد", "للمزيد", "للاشتراك", "للانضمام",
    "لتحميل", "للتحميل", "لتنزيل", "للتنزيل", "اضغط", "انقر",
)
_ENGLISH_OPENERS = _keys("follow", "join", "subscribe", "download", "get", "install")
_PREFIXES = ("", "وال", "بال", "لل", "ال", "و", "ب", "ل", "ف")


def _with_clitics(table: frozenset[str]) -> frozenset[str]:
    """``table`` plus its words with a clitic prefix ("وعلى", "بالتطبيق", "لقناتنا")."""
    return frozenset(prefix + word for prefix in _PREFIXES for word in table)


_CHANNEL_FORMS = _with_clitics(_CHANNELS)
_READER_FORMS = _with_clitics(_READER_WORDS)
_MAX_PROMPT_WORDS = 16
# Quoted speech may say "our channel"; prompts do not quote anybody.
_QUOTES = re.compile("[«»“”]")
_FINAL_STOP = re.compile(r"[.؟?…]\W*$")

# --- credits -------------------------------------------------------------------------------------

_CREDIT = re.compile(
    # "ترجمة: ..." "ترجمة وتحرير: ..." "وقد قام مركز ... بترجمة هذا الخبر" "Translated by ..."
    r"^\W*ترجمه(?: و?(?:تحرير|اعداد|تدقيق|مراجعه|خاصه))*\s*[:\-\u2013\u2014/]"
    r"|^\W*(?:و?قد )?(?:قام|قامت|تمت|تم|ترجم)\b.*\bب?ترجم(?:ه|ت)? هذ[اه] (?:الخبر|المقال|التقرير"
    r"|الماده|النص)"
    r"|^\W*(?:translated|translation)(?: and (?:edited|adapted))?(?: from [\w ]{1,30}?)? by\b"
)
_MAX_CREDIT_WORDS = 20
# "ترجمة خاصة لـ«عربي21»" is a credit; "ترجمة خاصة بالأطفال لرواية ... صدرت" is news.
_SPECIAL_CREDIT = re.compile(r"^\W*ترجمه خاصه (?:ل|ب)")
_MAX_SPECIAL_CREDIT_WORDS = 6
_MAX_ENGLISH_CREDIT_WORDS = 10
# WordPress appends this to feed items (core "The post ... appeared first on ..." filter).
_WP_FOOTER = re.compile(r"^the post .+ appeared first on |^ظهرت المقاله .+ اولا (?:علي|في) ")


def strip_boilerplate(text: str) -> str:
    """Remove the non-story lines of an article text; keep paragraphs by blank lines.

    Drops share/follow lines and social-network lists, "follow our channel" and "download our
    app" prompts, back-to-top links, copyright and translation-credit lines, end-of-wire
    markers ("نهاية الرسالة", "(انتهى)"), site slogans, newsletter and cookie prompts, and
    "اقرأ أيضا"-style headers together with the short headline lines listed under them.
    Sentences that merely mention a network, an app or a translation are kept.
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
            if is_related_header(line):
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


def is_related_header(line: str) -> bool:
    """Whether ``line`` heads a list of other articles ("اقرأ أيضا", "Related stories")."""
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
    if len(words) <= 30 and (_contains_any(key, _COPYRIGHT_OR_NEWSLETTER)
                             or words[0] == "copyright"):
        return True
    if _is_social_line(words) or _is_share_prompt(key, words):
        return True
    if _is_credit(line, words) or _is_reader_prompt(line, key, words):
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


def _is_credit(line: str, words: list[str]) -> bool:
    """Translation credits and the WordPress "appeared first on" footer."""
    # Folded like the keys, but with the punctuation kept: "ترجمة:" is a credit, "ترجمة" a word.
    folded = " ".join(normalize_arabic(line).casefold().split())
    if _WP_FOOTER.search(folded):
        return len(words) <= 40
    if _SPECIAL_CREDIT.search(folded):
        return len(words) <= _MAX_SPECIAL_CREDIT_WORDS
    if not _CREDIT.search(folded):
        return False
    limit = _MAX_ENGLISH_CREDIT_WORDS if words[0].isascii() else _MAX_CREDIT_WORDS
    return len(words) <= limit


def _is_reader_prompt(line: str, key: str, words: list[str]) -> bool:
    """"Follow our channel on Telegram" and "download our app" lines, in their many forms.

    A short line naming a network, a channel or an app is a prompt when it addresses the
    reader ("قناتنا", "تابعونا", "اضغط هنا") or starts like a prompt ("حمّل", "لمتابعة",
    "Join") and, in Arabic, does not end like a sentence.
    """
    if len(words) > _MAX_PROMPT_WORDS or _QUOTES.search(line):
        return False
    if _CHANNEL_FORMS.isdisjoint(words):
        return False
    if words[0] in _ENGLISH_OPENERS or _contains_any(key, _CLICK):
        return True
    opener = words[0] in _ARABIC_OPENERS
    if not _READER_FORMS.isdisjoint(words):
        return opener or not _FINAL_STOP.search(line)
    # A full stop makes it a sentence: "تابع ملايين المشاهدين المباراة عبر يوتيوب." is news.
    return opener and not _FINAL_STOP.search(line)


def _is_cookie_notice(key: str, words: list[str]) -> bool:
    return (len(words) <= 60 and _contains_any(key, _COOKIE_WORDS)
            and _contains_any(key, _COOKIE_CONTEXT))
