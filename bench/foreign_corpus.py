"""Persian and Turkish news articles, generated from hand-written templates (the same shape as
bench/corpus.py's Arabic ones: a headline and paragraphs of long attributed sentences), for
bench/operators.py's language detection batches.
"""

from __future__ import annotations

import random
from typing import Any

# Persian and Turkish news of the same shape as bench/corpus.py's Arabic: sentence templates.
_FOREIGN: dict[str, dict[str, Any]] = {
    "fa": {"sentence": "{who} روز {day} در {where} {said} که {fact}.", "head": "{fact}",
           "who": ["وزیر امور خارجه", "سخنگوی دولت", "رئیس مجلس", "وزیر اقتصاد",
                   "رئیس کل بانک مرکزی", "استاندار تهران", "وزیر بهداشت", "فرمانده پلیس راهور"],
           "said": ["گفت", "اعلام کرد", "تأکید کرد", "اظهار داشت", "خبر داد"],
           "where": ["تهران", "مشهد", "اصفهان", "شیراز", "تبریز", "کرمان", "اهواز", "رشت"],
           "day": ["شنبه", "یکشنبه", "دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه"],
           "fact": ["نرخ تورم سالانه به {p} درصد رسیده است",
                    "دولت {n} میلیارد تومان برای بازسازی مدارس روستایی اختصاص می‌دهد",
                    "قیمت نان و لبنیات در بازارهای محلی {p} درصد افزایش یافته است",
                    "{n} نفر در تصادف زنجیره‌ای جاده چالوس زخمی شدند",
                    "مذاکرات دو کشور پس از {n} دور گفتگو وارد مرحله تازه‌ای شده است",
                    "صادرات پسته و زعفران نسبت به سال گذشته {p} درصد کاهش یافته است",
                    "بارش برف سنگین راه ارتباطی {n} روستا را مسدود کرده است"],
           "more": ["این در حالی است که کارشناسان نسبت به افزایش بیکاری جوانان هشدار داده‌اند.",
                    "تاکنون واکنش رسمی از سوی طرف مقابل منتشر نشده است.",
                    "قرار است نشست بعدی هفته آینده با حضور نمایندگان همه طرف‌ها برگزار شود."]},
    "tr": {"sentence": "{who}, {day} günü {where} kentinde yaptığı açıklamada {fact}.",
           "head": "{where}: {fact}", "said": [""],
           "who": ["Dışişleri Bakanı", "Cumhurbaşkanlığı Sözcüsü", "Hazine ve Maliye Bakanı",
                   "Merkez Bankası Başkanı", "İstanbul Valisi", "Sağlık Bakanı"],
           "where": ["Ankara", "İstanbul", "İzmir", "Bursa", "Antalya", "Gaziantep", "Konya"],
           "day": ["pazartesi", "salı", "çarşamba", "perşembe", "cuma", "cumartesi", "pazar"],
           "fact": ["yıllık enflasyonun yüzde {p} seviyesine yükseldiğini söyledi",
                    "hükümetin tarım sektörüne {n} milyon lira destek sağlayacağını açıkladı",
                    "iki ülke arasındaki görüşmelerin {n} turun ardından kritik bir aşamaya "
                    "girdiğini belirtti",
                    "kentteki {n} okulun kar yağışı nedeniyle kapatıldığını duyurdu",
                    "buğday ihracatının geçen yıla göre yüzde {p} azaldığını ifade etti",
                    "otoyoldaki zincirleme kazada {n} kişinin yaralandığını bildirdi"],
           "more": ["Uzmanlar, alınan önlemlerin fiyatlar üzerindeki baskıyı kısa vadede "
                    "hafifletebileceğini düşünüyor.",
                    "Karşı taraftan henüz resmi bir açıklama yapılmadı.",
                    "Bir sonraki toplantının gelecek hafta yapılması planlanıyor."]},
}


def foreign_article(rng: random.Random, language: str) -> tuple[str, str]:
    """A headline and 3-5 paragraphs of Persian ("fa") or Turkish ("tr") news."""
    words = _FOREIGN[language]

    def pick(template: str) -> str:
        fact = rng.choice(words["fact"]).format(n=rng.randint(2, 900), p=rng.randint(2, 60))
        return template.format(fact=fact, **{k: rng.choice(words[k])
                                             for k in ("who", "said", "where", "day")})
    body = "\n\n".join(" ".join([pick(words["sentence"]), pick(words["sentence"]),
                                  rng.choice(words["more"])])
                        for _ in range(rng.randint(3, 5)))
    return pick(words["head"]), body
