"""Text analysis like OpenSearch's built-in analyzers.

Supported: ``standard`` (standard tokenizer + lowercase), ``simple``, ``whitespace``,
``keyword``, ``english`` (standard tokenizer, english possessive, lowercase, english stop
words, Porter stemmer, as Lucene's ``EnglishAnalyzer``), and ``custom`` analyzers built
from those pieces in the index settings. Anything else is a :class:`ConfigError`.

The standard tokenizer is a regex approximation of Unicode UAX#29 word boundaries: letters
joined by ``' . :`` stay one token ("don't", "u.s.a"), digits joined by ``, . ;`` stay one
token ("1,000", "3.5"), each CJK ideograph and each emoji is its own token, and tokens
longer than 255 characters are split (``max_token_length``). Differences from Lucene on
exotic scripts are possible; see docs/embedded-engine.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import Stemmer

from ...errors import ConfigError

#: Lucene EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (also the ``_english_`` stop list).
ENGLISH_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_EMOJI = r"\U0001F000-\U0001FAFF\u2600-\u27BF"
_WORD = rf"[^\W_{_CJK}]"  # a letter or digit that is not CJK
_TOKEN_RE = re.compile(
    rf"(?:{_WORD}|_)+(?:(?:(?<=[^\W\d_])['’.:](?=[^\W\d_])|(?<=\d)[,.;](?=\d))(?:{_WORD}|_)+)*"
    rf"|[{_CJK}]|[{_EMOJI}]"
)
MAX_TOKEN_LENGTH = 255

Analyzer = Callable[[str], list[str]]


def standard_tokenize(text: str) -> list[str]:
    """Split text into tokens (UAX#29 approximation), without lowercasing."""
    out = []
    for tok in _TOKEN_RE.findall(text):
        if len(tok) > MAX_TOKEN_LENGTH:
            out.extend(tok[i : i + MAX_TOKEN_LENGTH] for i in range(0, len(tok), MAX_TOKEN_LENGTH))
        else:
            out.append(tok)
    return out


_porter = Stemmer.Stemmer("porter")


def _possessive(tokens: list[str]) -> list[str]:
    return [t[:-2] if t.endswith(("'s", "’s", "'S")) else t for t in tokens]


def _ascii_fold(tokens: list[str]) -> list[str]:
    return [
        unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode() or t for t in tokens
    ]


_FILTERS: dict[str, Callable[[list[str]], list[str]]] = {
    "lowercase": lambda ts: [t.lower() for t in ts],
    "asciifolding": _ascii_fold,
    "english_possessive": _possessive,
    "stop": lambda ts: [t for t in ts if t not in ENGLISH_STOP_WORDS],
    "porter_stem": lambda ts: _porter.stemWords(ts),
}


def _english(text: str) -> list[str]:
    toks = [t.lower() for t in _possessive(standard_tokenize(text))]
    return _porter.stemWords([t for t in toks if t not in ENGLISH_STOP_WORDS])


BUILTIN: dict[str, Analyzer] = {
    "standard": lambda text: [t.lower() for t in standard_tokenize(text)],
    "simple": lambda text: re.findall(r"[^\W\d_]+", text.lower()),
    "whitespace": lambda text: text.split(),
    "keyword": lambda text: [text] if text != "" else [],
    "english": _english,
}


def _custom(spec: dict[str, Any], name: str) -> Analyzer:
    tokenizer = spec.get("tokenizer", "standard")
    tok_fn: Callable[[str], list[str]]
    if tokenizer == "standard":
        tok_fn = standard_tokenize
    elif tokenizer == "whitespace":
        tok_fn = str.split
    elif tokenizer == "keyword":
        tok_fn = lambda t: [t] if t else []  # noqa: E731
    else:
        raise ConfigError(f"analyzer {name!r}: unsupported tokenizer {tokenizer!r}")
    filters: list[Callable[[list[str]], list[str]]] = []
    for f in spec.get("filter", []):
        fname = f if isinstance(f, str) else None
        if fname == "stemmer" or fname is None:
            raise ConfigError(f"analyzer {name!r}: unsupported token filter {f!r}")
        if fname not in _FILTERS:
            raise ConfigError(
                f"analyzer {name!r}: unsupported token filter {fname!r}; "
                f"supported: {sorted(_FILTERS)}"
            )
        filters.append(_FILTERS[fname])

    def analyze(text: str) -> list[str]:
        tokens = tok_fn(text)
        for f in filters:
            tokens = f(tokens)
        return tokens

    return analyze


def build_analyzers(settings: dict[str, Any]) -> dict[str, Analyzer]:
    """Built-in analyzers plus the custom ones declared in index settings."""
    analyzers = dict(BUILTIN)
    analysis = settings.get("analysis") or settings.get("index", {}).get("analysis") or {}
    for name, spec in (analysis.get("analyzer") or {}).items():
        kind = spec.get("type", "custom")
        if kind == "custom":
            analyzers[name] = _custom(spec, name)
        elif kind in BUILTIN:
            analyzers[name] = BUILTIN[kind]
        else:
            raise ConfigError(f"analyzer {name!r}: unsupported type {kind!r}")
    return analyzers


def resolve(analyzers: dict[str, Analyzer], name: str, where: str) -> Analyzer:
    try:
        return analyzers[name]
    except KeyError:
        raise ConfigError(
            f"{where}: unknown analyzer {name!r}; known: {sorted(analyzers)}"
        ) from None


# -- Lucene's document-length norm (SmallFloat.intToByte4 / byte4ToInt) -----------------
def _long_to_int4(i: int) -> int:
    num_bits = i.bit_length()
    if num_bits < 4:
        return i
    shift = num_bits - 4
    encoded = (i >> shift) & 0x07
    return encoded | ((shift + 1) << 3)


def _int4_to_long(i: int) -> int:
    bits = i & 0x07
    shift = (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


NUM_FREE_VALUES = 255 - _long_to_int4(2**31 - 1)  # 24


def int_to_byte4(i: int) -> int:
    """Lucene's lossy one-byte encoding of a document length."""
    return i if i < NUM_FREE_VALUES else NUM_FREE_VALUES + _long_to_int4(i - NUM_FREE_VALUES)


def byte4_to_int(b: int) -> int:
    return b if b < NUM_FREE_VALUES else NUM_FREE_VALUES + _int4_to_long(b - NUM_FREE_VALUES)


@cache
def quantized_length(length: int) -> int:
    """The document length BM25 sees after Lucene's norm round trip (exact below 24)."""
    return byte4_to_int(int_to_byte4(length))


def analyze_values(analyzer: Analyzer, value: Any) -> list[str]:
    """Analyze a field value that may be a string, number or list of them."""
    if value is None:
        return []
    if isinstance(value, str):
        return analyzer(value)
    if isinstance(value, Sequence):
        out: list[str] = []
        for v in value:
            out.extend(analyze_values(analyzer, v))
        return out
    return analyzer(str(value))
