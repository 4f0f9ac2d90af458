"""Company names as matching sees them: legal suffixes, case, accents, punctuation and "&"/"and"
left out, so "ACME Corporation", "Acme Corp." and "acme, inc" are all ``acme``. Legal suffixes
are cleanco's (Inc, LLC, GmbH, Ltd, S.A. and the rest of its maintained list). Pure."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from cleanco import basename

_AND = re.compile(r"\s*(?:&|\+)\s*|\band\b", re.IGNORECASE)
_NOT_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")
_LEADING_THE = re.compile(r"^the\s+")


@lru_cache(maxsize=65536)
def normalise_name(name: str) -> str:
    """The comparable form of a company name ('' when nothing is left)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = _SPACES.sub(" ", text).strip()
    for _ in range(2):  # "Acme Holdings Co., Ltd." carries two suffixes
        stripped = basename(text)
        if not stripped or stripped == text:
            break
        text = stripped
    text = _AND.sub(" ", text.casefold())
    text = _NOT_WORD.sub("", text.replace("_", " "))
    return _LEADING_THE.sub("", _SPACES.sub(" ", text).strip())
