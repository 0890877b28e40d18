"""Benchmark corpora: generated Arabic news articles, or NTREX news documents when present.

The generated articles are composed from hand-written Arabic phrases (newswire style: long
sentences with attribution, figures, places and dates) by seeded combinatorics, so every run
and every machine gets the same corpus and no sentence repeats. English phrases of the same
kind are generated too: a shared SentencePiece vocabulary needs both scripts, as a real ar→en
Argos model's has.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

NTREX = Path(__file__).resolve().parent.parent.parent / "shared/fixtures/arabic/ntrex"

_PEOPLE = [
    "وزير الخارجية", "رئيس الوزراء", "المتحدث باسم الحكومة", "وزير المالية", "محافظ البنك المركزي",
    "الأمين العام للأمم المتحدة", "رئيس مجلس النواب", "وزير الاقتصاد والتخطيط", "وزير الصحة",
    "قائد الشرطة", "رئيس الهيئة العامة للأرصاد الجوية", "مدير منظمة الصحة العالمية في المنطقة",
    "المبعوث الأممي الخاص", "رئيس اتحاد الغرف التجارية", "نقيب الصحفيين", "وزير التربية والتعليم",
    "وزير الطاقة والثروة المعدنية", "رئيس بلدية المدينة", "المتحدث العسكري باسم الجيش",
    "مسؤول رفيع في وزارة الداخلية", "رئيس لجنة الانتخابات", "مدير عام الجمارك",
]
_SAID = ["قال", "أعلن", "أكد", "أوضح", "كشف", "صرّح", "ذكر", "أفاد"]
_VENUES = [
    "في مؤتمر صحفي عقده في", "في بيان نشرته وكالة الأنباء الرسمية من", "خلال لقاء مع الصحفيين في",
    "في كلمة ألقاها أمام البرلمان في", "في مقابلة تلفزيونية بثت من", "عقب اجتماع مطول في",
    "على هامش منتدى اقتصادي في", "خلال زيارة ميدانية إلى",
]
_PLACES = [
    "القاهرة", "بيروت", "عمّان", "بغداد", "دمشق", "الرياض", "الدوحة", "أبوظبي", "الكويت", "مسقط",
    "تونس", "الجزائر", "الرباط", "طرابلس", "الخرطوم", "صنعاء", "غزة", "حلب", "الموصل", "البصرة",
    "الإسكندرية", "نواكشوط", "جدة", "المنامة", "إربد", "صفاقس", "وهران", "مراكش", "بنغازي", "عدن",
]
_WHEN = [
    "يوم الأحد", "يوم الاثنين", "يوم الثلاثاء", "يوم الأربعاء", "يوم الخميس", "يوم الجمعة",
    "يوم السبت", "صباح اليوم", "مساء أمس", "الأسبوع الماضي", "في وقت متأخر من الليلة الماضية",
    "مطلع الشهر الجاري",
]
_FACTS = [
    "الحكومة ستخصص {n} مليون دولار لدعم {sector} في المناطق الأكثر تضرراً",
    "معدل التضخم السنوي ارتفع إلى {p} في المئة خلال الربع الأخير من العام",
    "المفاوضات بين الطرفين دخلت مرحلة حاسمة بعد {n} جولة من المحادثات غير المباشرة",
    "عدد المصابين بلغ {n} شخصاً نقل معظمهم إلى مستشفيات {place}",
    "صادرات البلاد من {goods} تراجعت بنسبة {p} في المئة مقارنة بالعام الماضي",
    "السلطات قررت إغلاق {n} مدرسة مؤقتاً بسبب موجة البرد والعواصف الثلجية",
    "البنك المركزي أبقى سعر الفائدة الرئيسي عند {p} في المئة للمرة الثالثة على التوالي",
    "قافلة مساعدات تضم {n} شاحنة محملة بالأغذية والأدوية وصلت إلى {place}",
    "الاتفاق الجديد يتضمن إنشاء منطقة تجارة حرة وتسهيل حركة {goods} عبر الحدود",
    "أسعار {goods} في الأسواق المحلية ارتفعت بأكثر من {p} في المئة خلال شهر واحد",
    "فرق الدفاع المدني تمكنت من إخماد حريق اندلع في مستودع لتخزين {goods} في {place}",
    "نسبة المشاركة في الانتخابات البلدية لم تتجاوز {p} في المئة من الناخبين المسجلين",
    "مشروع {project} سيوفر نحو {n} فرصة عمل للشباب خلال السنوات الثلاث المقبلة",
    "الوزارة سجلت {n} إصابة جديدة بالفيروس خلال الساعات الأربع والعشرين الماضية",
    "الأمطار الغزيرة تسببت في انهيار {n} منزلاً وقطع عدد من الطرق الرئيسية في {place}",
    "المحكمة أرجأت النظر في القضية إلى جلسة تعقد بعد {n} يوماً لاستكمال الاستماع إلى الشهود",
    "العمال المضربين في ميناء {place} يطالبون بزيادة الأجور بنسبة {p} في المئة",
    "المنتخب الوطني فاز على منافسه بنتيجة {n} أهداف مقابل هدف في المباراة الودية",
]
_FOLLOW = [
    "مشيراً إلى أن", "ومضيفاً أن", "في حين أكدت مصادر مطلعة أن", "بينما رأى مراقبون أن",
    "وذلك بعد أيام من إعلان أن", "في وقت أفادت فيه تقارير محلية بأن",
]
_CONTEXT = [
    "ويأتي ذلك في ظل أزمة اقتصادية خانقة تعيشها البلاد منذ سنوات، مع تراجع قيمة العملة المحلية "
    "وارتفاع معدلات البطالة بين الشباب.",
    "ولم يصدر أي تعليق رسمي من الجانب الآخر حتى الآن، رغم محاولات متكررة للتواصل مع "
    "المسؤولين.",
    "ويخشى سكان المنطقة من تكرار ما حدث العام الماضي، عندما اضطرت مئات العائلات إلى مغادرة "
    "منازلها.",
    "وتعهدت منظمات دولية بتقديم دعم إضافي خلال الأشهر المقبلة، لكنها حذرت من نقص التمويل.",
    "ويرى خبراء اقتصاديون أن هذه الإجراءات قد تخفف الضغط على الأسعار على المدى القصير فقط.",
    "ومن المقرر أن تستأنف الاجتماعات الأسبوع المقبل بحضور ممثلين عن الأطراف المعنية كافة.",
]
_SECTORS = ["قطاع الزراعة", "المشاريع الصغيرة", "قطاع الصحة", "التعليم الفني", "قطاع السياحة",
            "الأسر الفقيرة", "شبكة النقل العام", "الصناعات المحلية"]
_GOODS = ["القمح", "الفوسفات", "زيت الزيتون", "الأسمدة", "الحديد والصلب", "الأدوية", "التمور",
          "الوقود", "الخضروات", "الإسمنت"]
_PROJECTS = ["تحلية مياه البحر", "الطاقة الشمسية", "توسعة الميناء", "القطار السريع",
             "المدينة الصناعية", "إعادة تأهيل الطرق"]
_QUESTIONS = [
    "فهل تنجح هذه الخطوة في تهدئة الشارع؟", "ويبقى السؤال: من سيتحمل كلفة هذه الإجراءات؟",
    "فهل تعود الأطراف إلى طاولة الحوار قريباً؟", "وهل تكفي هذه المساعدات لتلبية حاجات السكان؟",
]
_HEADLINES = [
    "{person} يعلن حزمة إجراءات جديدة في {place}", "ارتفاع أسعار {goods} يثير قلق الأسواق",
    "محادثات في {place} لإنهاء الأزمة", "أمطار غزيرة تضرب {place} وتقطع الطرق",
    "مشروع {project} يدخل مرحلة التنفيذ", "إضراب في ميناء {place} للمطالبة بتحسين الأجور",
]

_EN = [
    "The foreign minister said at a press conference in {place} on Monday that the government "
    "would allocate {n} million dollars to support farmers in the worst affected regions.",
    "Annual inflation rose to {p} percent in the last quarter of the year, according to figures "
    "published by the statistics office in {place}.",
    "Talks between the two sides entered a decisive phase after {n} rounds of indirect "
    "negotiations, officials told reporters on Thursday.",
    "Rescue teams put out a fire that broke out in a warehouse storing fertiliser near the port "
    "of {place}, the civil defence said.",
    "Workers on strike at the port are demanding a {p} percent pay rise and better conditions.",
    "The central bank kept its main interest rate at {p} percent for the third time in a row.",
    "An aid convoy of {n} trucks loaded with food and medicine arrived in {place} this morning.",
    "Heavy rain caused {n} houses to collapse and cut several main roads around {place}.",
    "Will the new measures be enough to calm the streets? Nobody in {place} seems to know.",
    "Economists believe the measures may ease pressure on prices only in the short term.",
]
_EN_PLACES = ["Cairo", "Beirut", "Amman", "Baghdad", "Damascus", "Riyadh", "Doha", "Tunis",
              "Algiers", "Rabat", "Tripoli", "Khartoum", "Sanaa", "Gaza", "Aleppo", "Mosul"]


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        n=rng.randint(2, 950), p=f"{rng.randint(1, 40)}.{rng.randint(1, 9)}",
        place=rng.choice(_PLACES), sector=rng.choice(_SECTORS), goods=rng.choice(_GOODS),
        project=rng.choice(_PROJECTS), person=rng.choice(_PEOPLE))


def _statement(rng: random.Random) -> str:
    fact = _fill(rng.choice(_FACTS), rng)
    follow = f"{rng.choice(_FOLLOW)} {_fill(rng.choice(_FACTS), rng)}"
    return (f"{rng.choice(_SAID)} {rng.choice(_PEOPLE)} {rng.choice(_VENUES)} "
            f"{rng.choice(_PLACES)} {rng.choice(_WHEN)} أن {fact}، {follow}.")


def _sentence(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return _statement(rng)
    if roll < 0.8:
        return (f"وفي {rng.choice(_PLACES)}، {rng.choice(_FOLLOW)} "
                f"{_fill(rng.choice(_FACTS), rng)} {rng.choice(_WHEN)}.")
    if roll < 0.95:
        return rng.choice(_CONTEXT)
    return rng.choice(_QUESTIONS)


def _unique(make: Callable[[], str], seen: set[str]) -> str:
    while (text := make()) in seen:
        pass
    seen.add(text)
    return text


def generated_articles(count: int, seed: int = 5) -> list[str]:
    """``count`` articles: a headline, then 4-6 paragraphs of 3-5 sentences; no sentence twice."""
    rng = random.Random(seed)
    seen: set[str] = set()
    articles = []
    for _ in range(count):
        paragraphs = [_unique(lambda: _fill(rng.choice(_HEADLINES), rng), seen)]
        for _ in range(rng.randint(4, 6)):
            paragraphs.append(" ".join(_unique(lambda: _sentence(rng), seen)
                                       for _ in range(rng.randint(3, 5))))
        articles.append("\n\n".join(paragraphs))
    return articles


def ntrex_articles(count: int) -> list[str]:
    """The first ``count`` NTREX-128 news documents in Arabic, one line per paragraph."""
    ids = (NTREX / "DOCUMENT_IDS.tsv").read_text(encoding="utf-8").splitlines()
    lines = (NTREX / "newstest2019-ref.arb.txt").read_text(encoding="utf-8").splitlines()
    documents: dict[str, list[str]] = {}
    for doc_id, line in zip(ids, lines, strict=True):
        documents.setdefault(doc_id.split("\t")[0], []).append(line.strip())
    return ["\n\n".join(p for p in paragraphs if p)
            for paragraphs in list(documents.values())[:count]]


def _pseudo_words(rng: random.Random, count: int) -> list[str]:
    """Word-like Latin strings: the English half of a real shared vocabulary is much larger
    than a few templates provide, and the vocabulary size sets the output layer's cost."""
    onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
              "w", "st", "tr", "pl", "gr", "ch", "sh", "th", "br", "cl"]
    vowels = ["a", "e", "i", "o", "u", "ea", "ou", "ai", "ee", "io"]
    codas = ["", "", "n", "r", "s", "t", "l", "nd", "st", "ng", "rt", "ck"]
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
                          for _ in range(rng.randint(1, 3))))
    return sorted(words)


def tokenizer_training_text(seed: int = 11) -> Iterator[str]:
    """Arabic and English news text to train the synthetic model's shared vocabulary on."""
    rng = random.Random(seed)
    for article in generated_articles(400, seed=seed):
        yield from article.split("\n\n")
    for _ in range(4000):
        yield rng.choice(_EN).format(n=rng.randint(2, 950), place=rng.choice(_EN_PLACES),
                                     p=f"{rng.randint(1, 40)}.{rng.randint(1, 9)}")
    words = _pseudo_words(rng, 6000)
    for _ in range(6000):
        # Zipf-like: a few words are frequent, most are rare, as in running text.
        yield " ".join(words[min(int(rng.paretovariate(0.6)) - 1, len(words) - 1)]
                       for _ in range(rng.randint(8, 20))).capitalize() + "."
