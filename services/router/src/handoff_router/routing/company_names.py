"""Company names as matching sees them: legal suffixes, case, accents, punctuation and "&"/"and"
left out, so "ACME Corporation", "Acme Corp." and "acme, inc" are all ``acme``. The legal
suffixes are cleanco's maintained list (Inc, LLC, GmbH, Ltd, S.A. and some 350 more), looked
up by the name's last words rather than scanned, since the book's names are all normalised
when its index is built. Pure."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from cleanco import prepare_default_terms

# {word count: {the suffix's words}}: ("gmbh", "&", "co", "kg"), ("inc",), ("sa",)...
_SUFFIXES: dict[int, frozenset[tuple[str, ...]]] = {}
for _count, _words in prepare_default_terms():
    _SUFFIXES[_count] = _SUFFIXES.get(_count, frozenset()) | {tuple(_words)}
_LONGEST = max(_SUFFIXES)
_SEPARATORS = re.compile(r"[\s,;()\[\]]+")
_AND = frozenset({"&", "and", "+"})
_NOT_WORD = re.compile(r"[^\w]+")


@lru_cache(maxsize=65536)
def normalise_name(name: str) -> str:
    """The comparable form of a company name ('' when nothing is left)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").casefold()
    words = [word for word in _SEPARATORS.split(text.replace(".", "")) if word]
    for _ in range(2):  # "Acme Holdings Co., Ltd." carries two suffixes
        stripped = _strip_suffix(words)
        if stripped is words:
            break
        words = stripped
    if words and words[0] == "the" and len(words) > 1:
        words = words[1:]
    cleaned = (_NOT_WORD.sub("", word.replace("_", "")) for word in words if word not in _AND)
    return " ".join(word for word in cleaned if word)


def _strip_suffix(words: list[str]) -> list[str]:
    for count in range(min(_LONGEST, len(words) - 1), 0, -1):
        if tuple(words[-count:]) in _SUFFIXES.get(count, ()):
            return words[:-count]
    return words
