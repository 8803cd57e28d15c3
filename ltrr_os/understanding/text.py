"""Text helpers of query understanding: normalisation, words, numbers, language.

Everything here is pure and cheap: it runs on every query. The same functions turn
catalog names into gazetteer keys and query text into lookup keys, so both sides always
agree on what a "word" is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# -- normalisation -------------------------------------------------------------------
# Letters NFKD does not decompose into base + accent.
_FOLD = str.maketrans(
    {"ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe", "ı": "i", "ð": "d", "þ": "th"}
)
_NON_WORD = re.compile(r"[\W_]+")
#: Tokens read as the word "and" (so "Earth, Wind & Fire" == "earth wind and fire").
AND_TOKENS = frozenset({"&", "+", "＆"})
_APOSTROPHES = ("'", "\u2019", "`", "\u00b4")


def norm_token(text: str) -> str:
    """Casefold, strip accents, drop everything but letters and digits.

    ``"Beyoncé"`` -> ``"beyonce"``, ``"MØ"`` -> ``"mo"``, ``"P!nk"`` -> ``"pnk"``,
    ``"Ｔａｙｌｏｒ"`` -> ``"taylor"``; a punctuation or emoji token becomes ``""``.
    """
    s = text.casefold()
    if not s.isascii():
        s = unicodedata.normalize("NFKD", s.translate(_FOLD))
        s = "".join(c for c in s if not unicodedata.combining(c))
        s = unicodedata.normalize("NFC", s)
    return _NON_WORD.sub("", s)


def fold_case(text: str) -> str:
    """Lower-case, keeping the length (a character whose lower case is longer stays).

    The tokenizer sees folded text so that ``"India.Arie"`` and ``"india.arie"`` split
    the same way (spaCy's infix rules look at case), and offsets stay valid.
    """
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(lc if len(lc := c.lower()) == 1 else c for c in text)


def clean_text(text: str) -> str:
    """Replace control, format and other non-printable characters by spaces.

    Length-preserving on purpose: character offsets into the result are offsets into
    the input, so slot ``start_char``/``end_char`` point into the query as given.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " for c in text)


@dataclass(slots=True)
class Word:
    """A word of a query or name: its normalised form and its span in the text."""

    norm: str
    start: int
    end: int


def doc_words(doc: Any) -> list[Word]:
    """Words of a spaCy ``Doc``: tokens with a non-empty normalised form.

    Punctuation, emoji and blank tokens are dropped; ``&`` and ``+`` read as ``and``;
    contraction pieces spaCy splits off (``do|n't``, ``taylor|'s``, ``80|'s``) are glued
    back to the word they are attached to, so ``don't`` and ``dont`` are the same key
    (spaCy splits the apostrophe-less ``dont``/``cant`` into ``do|nt`` too).
    """
    words: list[Word] = []
    for tok in doc:
        text = tok.text
        if tok.is_space:
            continue
        norm = "and" if text in AND_TOKENS else norm_token(text)
        if not norm:
            continue
        start = tok.idx
        if (
            words
            and words[-1].end == start
            and (norm == "nt" or any(a in text for a in _APOSTROPHES))
        ):
            words[-1].norm += norm
            words[-1].end = start + len(text)
        else:
            words.append(Word(norm, start, start + len(text)))
    return words


# -- stop words and language ---------------------------------------------------------
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP: dict[str, frozenset[str]] = {
    "en": _words(
        "a an the and or of to in on at by for with from my me i you your is are was be "
        "it its this that these those we us our he him his she her they them their as up "
        "out so no not do all what who how when where why one just can will if but oh "
        "yeah am im into about like than then there here go get got"
    ),
    "es": _words(
        "el la los las de del y en que un una mi mis tu tus te por para con se no es lo "
        "me su sus al como pero yo muy mas más sin sobre este esta eso ya cuando donde "
        "porque"
    ),
    "fr": _words(
        "le la les de des du et en un une je tu il elle est pas pour dans sur au aux que "
        "qui mon ma mes ton ta tes son sa ses ce cette nous vous ne avec moi toi mais"
    ),
    "de": _words(
        "der die das und ich du nicht ein eine mit von zu ist auf im den dem des mein "
        "meine dich mich wir ihr sie es für fur auch noch nur wie wenn aber"
    ),
    "pt": _words(
        "o a os as de do da dos das e em um uma que não nao eu você voce meu minha para "
        "com no na nos nas por se ao é seu sua mais"
    ),
}
#: Function words of the languages above, normalised: they only ever match exactly.
STOPWORDS: frozenset[str] = frozenset(norm_token(w) for ws in _STOP.values() for w in ws)
#: Content words so frequent in music queries and titles that they count as common
#: even in a small catalog (see ``Gazetteer.is_common``).
COMMON_WORDS: frozenset[str] = _words(
    "love night heart baby girl boy life time day world man light lights fire dream "
    "home song songs music summer dance party good bad new old little big best hits "
    "greatest remix remixes live version edition deluxe feat featuring remastered "
    "mix radio edit original acoustic instrumental album single vol volume"
)
# Content words of typical music queries, a tie-breaker for the language guess only.
_LANG_HINTS: dict[str, frozenset[str]] = {
    "en": _words("love song songs music best greatest hits night baby heart"),
    "es": _words("amor canción canciones corazón éxitos noche bailar quiero"),
    "fr": _words("amour chanson chansons coeur cœur nuit meilleur tubes"),
    "de": _words("liebe lieder herz nacht musik besten"),
    "pt": _words("amor canção coração músicas noite sucessos saudade quero"),
}
_LANG_CHARS: dict[str, str] = {"es": "ñ¿¡", "pt": "ãõ", "de": "ßäöü", "fr": "èêëàâîôûùç"}
_SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x0370, 0x03FF, "el"),
    (0x0400, 0x04FF, "ru"),
    (0x0530, 0x058F, "hy"),
    (0x0590, 0x05FF, "he"),
    (0x0600, 0x06FF, "ar"),
    (0x0900, 0x097F, "hi"),
    (0x0E00, 0x0E7F, "th"),
    (0x10A0, 0x10FF, "ka"),
    (0x1100, 0x11FF, "ko"),
    (0x3040, 0x30FF, "ja"),  # hiragana, katakana
    (0x3130, 0x318F, "ko"),
    (0x4E00, 0x9FFF, "zh"),  # CJK ideographs (ja when kana are present too)
    (0xAC00, 0xD7AF, "ko"),
)
_WORD_RE = re.compile(r"\w+")


def _script(c: str) -> str | None:
    o = ord(c)
    if o < 0x0250:
        return "latin" if c.isalpha() else None
    for lo, hi, lang in _SCRIPTS:
        if lo <= o <= hi:
            return lang
    return "latin" if c.isalpha() and "LATIN" in unicodedata.name(c, "") else None


def guess_language(text: str) -> str:
    """A cheap ISO 639-1 guess for a short query, ``"und"`` when there is no evidence.

    Non-Latin scripts decide by themselves (Cyrillic -> ru, Hangul -> ko, kana -> ja,
    Han only -> zh...). Latin text is scored by the stop words and a few music words of
    en/es/fr/de/pt (a word shared by k languages counts 1/k) plus letters peculiar to
    one language (ñ, ã, ß, è...); a tie or no hit at all is ``"und"``.
    """
    counts: dict[str, int] = {}
    for c in text:
        s = _script(c)
        if s is not None:
            counts[s] = counts.get(s, 0) + 1
    if not counts:
        return "und"
    top = max(counts, key=lambda k: counts[k])
    if top != "latin":
        if top == "zh" and counts.get("ja"):
            return "ja"
        return "uk" if top == "ru" and any(c in "іїєґІЇЄҐ" for c in text) else top
    scores = dict.fromkeys(_STOP, 0.0)
    low = text.casefold()
    for w in _WORD_RE.findall(low):
        langs = [lang for lang, ws in _STOP.items() if w in ws]
        langs = langs or [lang for lang, ws in _LANG_HINTS.items() if w in ws]
        for lang in langs:
            scores[lang] += 1.0 / len(langs)
    for lang, chars in _LANG_CHARS.items():
        if any(c in low for c in chars):
            scores[lang] += 0.75
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if ranked[0][1] == 0 or ranked[0][1] == ranked[1][1]:
        return "und"
    return ranked[0][0]


# -- numbers -------------------------------------------------------------------------
YEAR_MIN, YEAR_MAX = 1900, 2030
_DECADE_WORDS = {
    "thirties": 1930,
    "forties": 1940,
    "fifties": 1950,
    "sixties": 1960,
    "seventies": 1970,
    "eighties": 1980,
    "nineties": 1990,
    "noughties": 2000,
    "aughts": 2000,
}
_DECADE_RE = re.compile(r"^(\d\d|\d{4})s$")


def parse_year(norm: str) -> int | None:
    """``"2019"`` -> 2019 (four digits in [1900, 2030]), else None."""
    if len(norm) == 4 and norm.isdigit():
        y = int(norm)
        if YEAR_MIN <= y <= YEAR_MAX:
            return y
    return None


def parse_decade(norm: str) -> int | None:
    """The first year of a decade written ``80s``, ``'80s``, ``80's``, ``1980s``, ``eighties``.

    Works on normalised words (apostrophes already removed). Two digits: ``00s``-``20s``
    are 2000-2020, ``30s``-``90s`` are 1930-1990. Four digits must be a decade in
    [1900, 2030]. ``"twenties"``/``"tens"`` are left alone (1920s or 2020s?).
    """
    word = _DECADE_WORDS.get(norm)
    if word is not None:
        return word
    m = _DECADE_RE.match(norm)
    if m is None:
        return None
    digits = m.group(1)
    n = int(digits)
    if n % 10:
        return None
    if len(digits) == 2:
        return 2000 + n if n <= 20 else 1900 + n
    return n if YEAR_MIN <= n <= YEAR_MAX else None


def join_words(words: Iterable[str]) -> str:
    return " ".join(words)
