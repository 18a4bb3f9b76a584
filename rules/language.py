"""A cheap guess at a post's language, so a post the English lexicon cannot read is
not mistaken for a neutral English one.

Two signals, no model: the writing system (most letters Cyrillic, Arabic, CJK...
name the language or its family), and for Latin script the share of each
language's commonest short words ("the", "de", "und", "que"...). Short posts and
close calls come back as None: unknown, judged as they are. A platform's own
language tag wins over the guess when it gives one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

# The commonest function words of each language, chosen to overlap little: "a",
# "de", "la" and "en" are shared by several and count for none, and words English
# has too are left out: one-letter ones ("i", "a", "w" for "with"), "at", "men" and
# "til". "no" and "per" (see _SECOND_WORDS) count only beside other evidence.
_STOPWORDS: Mapping[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the and is are was were to of in on for with my your you it this that "
        "not have has be been at from they we our me just but what why how can do "
        "don't can't i'm it's get got will would there their",
        "es": "el los las que es y por para con del una un mi tu su pero muy está "
        "están estoy hay como más ya hoy mañana también porque cuando gracias nada "
        "todo esta este eso qué por qué desde sin hasta otra vez llevo lleva dos",
        "fr": "le les est et pour avec une un mon ma mes pas je vous nous il elle ce "
        "cette qui que sur dans très mais ne au aux du des c'est j'ai merci rien "
        "toujours encore",
        "de": "der die das und ist nicht ich sie wir mit für auf ein eine mein meine "
        "kein keine sehr aber noch schon bei von zu den dem nach wie was warum "
        "immer danke heute",
        "pt": "o os as que é e para com uma um meu minha não está estou por mais muito "
        "mas já hoje também porque quando obrigado obrigada nada tudo isso você "
        "vocês ainda",
        "it": "il lo gli che è e con una un mio mia non sono sei ma molto più già "
        "oggi anche perché quando grazie niente tutto questo questa ancora sempre",
        "nl": "de het een en is niet ik je jij wij met voor op van zijn maar nog al "
        "geen heel ook waarom wanneer bedankt niets alles dit dat altijd vandaag",
        "pl": "nie się jest na do to że jak ale od już mnie mi jestem było "
        "dzięki dlaczego znowu bardzo tylko czy też po",
        "cs": "je se na že to ne jsem ale jak od už mi mě bylo děkuji proč zase "
        "velmi jen nebo také po",
        "tr": "ve bir bu da de için çok ama değil ile ben sen mi mı ne var yok daha "
        "hiç neden artık hala teşekkürler yine hâlâ bile gibi kadar sonra şimdi bugün",
        "id": "yang dan tidak ini itu saya di ke dari untuk sudah belum ada dengan "
        "tapi juga kenapa lagi terima kasih",
        "da": "og er det en ikke jeg på med har som var min mit hvorfor igen tak meget også",
        "sv": "och är det en att inte jag på med har som var min mitt varför igen "
        "tack mycket också",
        "fi": "ja on ei se että olen mutta kun minä sinä mitä miksi taas kiitos vielä jo myös nyt",
        "hu": "és az nem hogy van egy meg de is már még miért megint köszönöm nagyon csak",
        "vi": "không và là có của tôi được này cho với một những đã rất nhưng sao lại cảm ơn",
    }.items()
}
# Words English has too that are strong evidence once a post already holds another
# word of the language: "no me llega la factura, no entiendo nada" is Spanish, "no
# internet since monday, no engineer, no callback" is not.
_SECOND_WORDS: Mapping[str, str] = {"no": "es", "per": "it"}
# word -> the languages it is a stopword of: one lookup per word of a post.
_LANGS_OF: Mapping[str, tuple[str, ...]] = {
    word: tuple(lang for lang, stop in _STOPWORDS.items() if word in stop)
    for word in frozenset().union(*_STOPWORDS.values())
}
# Unicode script (the first word of a character's name) -> language code. Scripts
# used by one main language name it; the others name their commonest.
_SCRIPTS: Mapping[str, str] = {
    "CYRILLIC": "ru",
    "ARABIC": "ar",
    "HEBREW": "he",
    "GREEK": "el",
    "DEVANAGARI": "hi",
    "BENGALI": "bn",
    "TAMIL": "ta",
    "THAI": "th",
    "HANGUL": "ko",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "CJK": "zh",
    "GEORGIAN": "ka",
    "ARMENIAN": "hy",
}
# Platform tags that say nothing about the language.
_UNTAGGED = frozenset(["", "und", "zxx", "qme", "qht", "qam", "qst", "art"])
# Words, with links, @handles and #tags matched (and skipped: group 1 is empty for
# them) in the same pass: detect runs on every post, one scan is cheaper than two.
_WORDS = re.compile(r"(?:https?://|www\.)\S+|[@#]\S+|([^\W\d_]+(?:'[^\W\d_]+)?)")
_ASCII_WORDS = re.compile(r"(?:https?://|www\.)\S+|[@#]\S+|([a-z]+(?:'[a-z]+)?)")
_NOISE = re.compile(r"(?:https?://|www\.)\S+|[@#]\S+")


def detect(text: str) -> str | None:
    """A two-letter language code for `text`, or None when it cannot tell."""
    if text.isascii():
        found = _ASCII_WORDS.findall(text.lower())
    else:
        script = _script(_NOISE.sub(" ", text))
        if script is not None:
            return script
        found = _WORDS.findall(text.lower())
    if len(found) - found.count("") < 3:  # "": a link, @handle or #tag
        return None
    counts = dict.fromkeys(_STOPWORDS, 0)
    for word in found:
        for lang in _LANGS_OF.get(word, ()):
            counts[lang] += 1
    for word, lang in _SECOND_WORDS.items():
        if counts[lang]:
            counts[lang] += found.count(word)
    best = max(counts, key=lambda lang: counts[lang])
    if best == "en":
        return "en" if counts["en"] >= 1 else None
    # Another language must clearly beat English: loanwords and names are common.
    if counts[best] >= 2 and counts[best] >= 2 * counts["en"] + 1:
        return best
    # Words spelt with letters English does not use (ł, ş, ő, ư...) tip a close
    # call: "Internet ya ha vuelto a caer, llevo dos horas esperando" is not English.
    if counts[best] >= 1 and counts["en"] <= 1 and _foreign_words(found) >= 2:
        return best
    return "en" if counts["en"] >= 2 else None


def _foreign_words(words: list[str]) -> int:
    """How many of the words hold a Latin letter outside ASCII."""
    return sum(1 for word in words if not word.isascii())


def language_of(text: str, tagged: str | None) -> str | None:
    """The platform's tag when it gives one ("es", "pt-BR" -> "pt"), else the guess."""
    if isinstance(tagged, str) and tagged.strip().lower() not in _UNTAGGED:
        return tagged.strip().lower().split("-", 1)[0].split("_", 1)[0]
    return detect(text)


def _script(text: str) -> str | None:
    """The language of a non-Latin script that holds most of the letters."""
    if text.isascii():
        return None
    letters = 0
    by_lang: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        if ch.isascii():
            continue
        lang = _SCRIPTS.get(unicodedata.name(ch, "").split(" ", 1)[0])
        if lang is not None:
            by_lang[lang] = by_lang.get(lang, 0) + 1
    if not by_lang:
        return None
    # Japanese mixes kana with Chinese characters: with any kana, both are Japanese.
    if "ja" in by_lang and "zh" in by_lang:
        by_lang["ja"] += by_lang.pop("zh")
    lang, count = max(by_lang.items(), key=lambda kv: kv[1])
    return lang if count * 2 >= letters else None
