"""Vietnamese text helpers: NFC for storage and display, folding for matching keys."""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACE = re.compile(r"\s+", re.UNICODE)


def nfc(text: str) -> str:
    """The NFC form of `text` with surrounding white space removed."""
    return unicodedata.normalize("NFC", text).strip()


def strip_marks(text: str) -> str:
    """Remove diacritics (tones and vowel marks) and map đ/Đ to d/D."""
    if text.isascii():  # nothing to decompose or remove: most labels, numbers and codes
        return text
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.replace("đ", "d").replace("Đ", "D")


def fold(text: str) -> str:
    """A matching key: no marks, lower case, punctuation as spaces, single spaces.

    "Tổng kinh phí (triệu đồng)" and "TONG KINH PHI  - TRIEU DONG" fold to the same key.
    NFC and NFD input fold alike.
    """
    bare = strip_marks(text).casefold()
    bare = bare.replace("_", " ")
    return _SPACE.sub(" ", _PUNCT.sub(" ", bare)).strip()


def clean_cell_text(text: str) -> str:
    """Text of a cell as written, NFC, with non-breaking spaces and line breaks made plain."""
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ")
    return _SPACE.sub(" ", text).strip()
