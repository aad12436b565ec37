"""Vietnamese typed in the old 8-bit font encodings (TCVN3/ABC, VNI), turned back into Unicode.

Offices still keep documents typed with ".VnTime" (TCVN3, also called ABC) or "VNI-Times" (VNI)
fonts: the bytes are stored as Latin-1 characters and only the font draws them as Vietnamese, so a
reader sees "Tªn nhiÖm vô" (TCVN3) or "Teân nhieäm vuï" (VNI) for "Tên nhiệm vụ".

Pure functions: `encoding_of_font` recognises the fonts, `detect` recognises the text when no font
is known (by character statistics: the Unicode reading must look less like Vietnamese syllables
than the converted one), `to_unicode` converts. The tables are the public code charts of the two
encodings. `convert_grid` applies all this to a spreadsheet Grid and says so in one finding.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from typing import Literal

from mailbot.model import CellValue, Finding, Grid

Encoding = Literal["tcvn3", "vni"]
_ENCODINGS: tuple[Encoding, ...] = ("tcvn3", "vni")

# ---------------------------------------------------------------- TCVN3 (TCVN 5712:1993, "ABC")

#: Unicode letter -> its TCVN3 byte, as Latin-1. Lower case, plus the seven upper-case letters the
#: ".Vn…" fonts carry; the ".Vn…H" fonts draw the lower-case positions as capitals.
_TCVN3_OF: dict[str, str] = {
    "à": "\xb5", "ả": "\xb6", "ã": "\xb7", "á": "\xb8", "ạ": "\xb9",
    "ă": "\xa8", "ằ": "\xbb", "ẳ": "\xbc", "ẵ": "\xbd", "ắ": "\xbe", "ặ": "\xc6",
    "â": "\xa9", "ầ": "\xc7", "ẩ": "\xc8", "ẫ": "\xc9", "ấ": "\xca", "ậ": "\xcb",
    "đ": "\xae",
    "è": "\xcc", "ẻ": "\xce", "ẽ": "\xcf", "é": "\xd0", "ẹ": "\xd1",
    "ê": "\xaa", "ề": "\xd2", "ể": "\xd3", "ễ": "\xd4", "ế": "\xd5", "ệ": "\xd6",
    "ì": "\xd7", "ỉ": "\xd8", "ĩ": "\xdc", "í": "\xdd", "ị": "\xde",
    "ò": "\xdf", "ỏ": "\xe1", "õ": "\xe2", "ó": "\xe3", "ọ": "\xe4",
    "ô": "\xab", "ồ": "\xe5", "ổ": "\xe6", "ỗ": "\xe7", "ố": "\xe8", "ộ": "\xe9",
    "ơ": "\xac", "ờ": "\xea", "ở": "\xeb", "ỡ": "\xec", "ớ": "\xed", "ợ": "\xee",
    "ù": "\xef", "ủ": "\xf1", "ũ": "\xf2", "ú": "\xf3", "ụ": "\xf4",
    "ư": "\xad", "ừ": "\xf5", "ử": "\xf6", "ữ": "\xf7", "ứ": "\xf8", "ự": "\xf9",
    "ỳ": "\xfa", "ỷ": "\xfb", "ỹ": "\xfc", "ý": "\xfd", "ỵ": "\xfe",
    "Ă": "\xa1", "Â": "\xa2", "Ê": "\xa3", "Ô": "\xa4", "Ơ": "\xa5", "Ư": "\xa6", "Đ": "\xa7",
}  # fmt: skip
_FROM_TCVN3: dict[int, str] = {ord(code): letter for letter, code in _TCVN3_OF.items()}

# ---------------------------------------------------------------- VNI (VNI Windows)

#: Marks typed after a base letter, lower-case forms (the upper-case forms are the Latin-1 capitals).
_VNI_TONES = {"\u0301": "ù", "\u0300": "ø", "\u0309": "û", "\u0303": "õ", "\u0323": "ï"}  # sắc huyền hỏi ngã nặng
_VNI_HAT = "â"  # â ê ô
_VNI_HAT_TONES = {"\u0301": "á", "\u0300": "à", "\u0309": "å", "\u0303": "ã", "\u0323": "ä"}
_VNI_BREVE = "ê"  # ă
_VNI_BREVE_TONES = {"\u0301": "é", "\u0300": "è", "\u0309": "ú", "\u0303": "ü", "\u0323": "ë"}
#: Letters VNI writes as one byte (lower case; upper case is the Latin-1 capital of the same byte).
_VNI_SINGLE = {
    "ơ": "ô", "ư": "ö", "đ": "ñ", "í": "í", "ì": "ì", "ỉ": "æ", "ĩ": "ó", "ị": "ò", "ỵ": "î",
}  # fmt: skip


def _vni_table() -> dict[str, str]:
    """VNI spelling -> Unicode letter, for every Vietnamese letter that is not plain ASCII."""
    table: dict[str, str] = {}

    def add(letter: str, spelling: str) -> None:
        table[spelling] = letter
        table[spelling.upper()] = letter.upper()

    for letter, code in _VNI_SINGLE.items():
        add(letter, code)
    for base in "aeiouy":
        for mark, code in _VNI_TONES.items():
            if base == "i":
                continue  # i with a tone is a single byte
            add(unicodedata.normalize("NFC", base + mark), base + code)
    for base in "aeo":
        add(unicodedata.normalize("NFC", base + "\u0302"), base + _VNI_HAT)
        for mark, code in _VNI_HAT_TONES.items():
            add(unicodedata.normalize("NFC", base + "\u0302" + mark), base + code)
    add("ă", "a" + _VNI_BREVE)
    for mark, code in _VNI_BREVE_TONES.items():
        add(unicodedata.normalize("NFC", "a\u0306" + mark), "a" + code)
    for base, single in (("ơ", "ô"), ("ư", "ö")):
        for mark, code in _VNI_TONES.items():
            add(unicodedata.normalize("NFC", base + mark), single + code)
    table.pop("y" + _VNI_TONES["\u0323"], None)  # ỵ is the single byte î
    table.pop("Y" + _VNI_TONES["\u0323"].upper(), None)
    return table


_FROM_VNI = _vni_table()
_VNI_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_FROM_VNI, key=len, reverse=True)))

# ---------------------------------------------------------------- fonts

#: How the names of the fonts of each old encoding start (lower case, after leading spaces).
FONT_STARTS: dict[Encoding, tuple[str, ...]] = {"tcvn3": (".vn", "vn3", "abc "), "vni": ("vni-", "vni ")}


def encoding_of_font(font: str | None) -> Encoding | None:
    """The legacy encoding a font name stands for: ".VnTime", ".VnArialH" → tcvn3; "VNI-Times" → vni."""
    if not font:
        return None
    name = font.strip().lower()
    return next((encoding for encoding, starts in FONT_STARTS.items() if name.startswith(starts)), None)


def is_upper_font(font: str | None) -> bool:
    """The TCVN3 capitals fonts (".VnTimeH", ".VnArialH") draw every letter as a capital."""
    return font is not None and encoding_of_font(font) == "tcvn3" and font.strip().endswith("H")


# ---------------------------------------------------------------- conversion


def to_unicode(text: str, encoding: Encoding, *, upper: bool = False) -> str:
    """`text` as typed in `encoding`, in Unicode (NFC)."""
    if encoding == "tcvn3":
        converted = text.translate(_FROM_TCVN3)
    else:
        converted = _VNI_PATTERN.sub(lambda m: _FROM_VNI[m.group(0)], text)
    return converted.upper() if upper else converted


# ---------------------------------------------------------------- detection by statistics

_VOWELS = "aăâeêioôơuưy"
_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
_TONED = "".join(unicodedata.normalize("NFC", v + m) for v in _VOWELS for m in ("", *_TONE_MARKS))
_SYLLABLE = re.compile(
    rf"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?([{_TONED}]{{1,3}})(?:ch|ng|nh|[cmnpt])?$"
)
#: The vowel groups of Vietnamese syllables, without tone marks.
_NUCLEI_TEXT = (
    "a ă â e ê i o ô ơ u ư y ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi oo ua uâ uê ui uô uơ uy ưa ưi ươ "
    "ưu yê iêu yêu oai oay oao oeo uây uôi ươi ươu uya uyê uyu uêu"
)
_NUCLEI = frozenset(_NUCLEI_TEXT.split())
#: Letters of Vietnamese that Latin-1 has not: a text with one of them is Unicode Vietnamese already.
_VIETNAMESE_ONLY = re.compile("[ăđơưĂĐƠƯĩũĨŨ\u1ea0-\u1ef9]")
_EDGES = "\"'()[]{}.,;:!?«»“”‘’-–—/\\*0123456789%"
#: Fewest words worth judging: below it, the text is read as it is.
_MIN_WORDS = 1


def _is_syllable(word: str) -> bool:
    found = _SYLLABLE.match(word)
    if found is None:
        return False
    nucleus = unicodedata.normalize("NFD", found.group(1))
    tones = sum(nucleus.count(mark) for mark in _TONE_MARKS)
    bare = unicodedata.normalize("NFC", "".join(ch for ch in nucleus if ch not in _TONE_MARKS))
    return tones <= 1 and bare in _NUCLEI


def _score(text: str) -> tuple[int, int]:
    """(Vietnamese-looking words, words with a non-ASCII letter) in `text`."""
    good = total = 0
    for token in text.split():
        word = token.strip(_EDGES)
        if not word or word.isascii():
            continue
        total += 1
        lowered = word.lower()
        if _is_syllable(lowered) and (word == lowered or word[1:] == lowered[1:] or word == word.upper()):
            good += 1
    return good, total


def detect(text: str) -> Encoding | None:
    """The legacy encoding `text` was typed in, or None when it reads as Unicode Vietnamese (or plain ASCII)."""
    if text.isascii() or _VIETNAMESE_ONLY.search(text):
        return None
    good, total = _score(text)
    if total < _MIN_WORDS:
        return None
    best: Encoding | None = None
    best_good = good
    for encoding in _ENCODINGS:
        converted = to_unicode(text, encoding)
        new_good, new_total = _score(converted)
        plausible = bool(_VIETNAMESE_ONLY.search(converted)) or new_good == new_total
        if new_good > best_good and new_good * 2 > new_total and plausible:
            best, best_good = encoding, new_good
    return best


def read_legacy(text: str, font: str | None = None) -> tuple[str, Encoding | None]:
    """`text` in Unicode, and the legacy encoding it was in (from its font when known, else detected)."""
    encoding = encoding_of_font(font)
    if encoding is not None:
        return to_unicode(text, encoding, upper=is_upper_font(font)), encoding if not text.isascii() else None
    found = detect(text)
    return (to_unicode(text, found), found) if found else (text, None)


# ---------------------------------------------------------------- spreadsheets and findings

ENCODING_NAMES = {"tcvn3": "TCVN3 (ABC, phông .VnTime…)", "vni": "VNI (phông VNI-Times…)"}


def legacy_finding(file: str, encodings: set[Encoding], sheet: str | None = None) -> Finding:
    names = ", ".join(ENCODING_NAMES[e] for e in sorted(encodings))
    return Finding(
        code="legacy_font_encoding",
        severity="warning",
        message=(
            f"Tệp “{file}” được gõ bằng bảng mã tiếng Việt cũ {names}; hệ thống đã tự chuyển sang Unicode "
            "để đọc. Vui lòng kiểm tra lại nội dung các nhiệm vụ trong thư này."
        ),
        hint=(
            "Lần sau, hãy chuyển văn bản sang Unicode (phông Times New Roman), ví dụ bằng công cụ chuyển mã "
            "của Unikey, trước khi gửi."
        ),
        file=file,
        sheet=sheet,
    )


def convert_grid(grid: Grid, fonts: dict[tuple[int, int], str] | None = None) -> tuple[Grid, set[Encoding]]:
    """The grid with legacy-encoded text cells (by their font, else by statistics) in Unicode.

    A short cell can read as Vietnamese either way ("Ghi chó" is TCVN3 for "Ghi chú"): when most text
    cells of the grid are in one legacy encoding, the undecided cells are taken to be in it too.
    """
    fonts = fonts if fonts is not None else grid.fonts
    counts: dict[Encoding | None, int] = {}
    rows: list[list[CellValue]] = [list(row) for row in grid.rows]
    undecided: list[tuple[int, int]] = []
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if not isinstance(value, str) or value.isascii():
                continue
            rows[r][c], encoding = read_legacy(value, fonts.get((r, c)))
            if encoding is None and not _VIETNAMESE_ONLY.search(value):
                undecided.append((r, c))
            else:
                counts[encoding] = counts.get(encoding, 0) + 1
    legacy = [e for e in counts if e is not None]
    if not legacy:
        return grid, set()
    main = max(legacy, key=lambda e: counts[e])
    if counts[main] > counts.get(None, 0):
        for r, c in undecided:
            rows[r][c] = to_unicode(str(rows[r][c]), main)
    preamble = [read_legacy(line)[0] for line in grid.preamble]
    return replace(grid, rows=rows, preamble=preamble), set(legacy)


def convert_grids(file: str, grids: list[Grid]) -> tuple[list[Grid], list[Finding]]:
    """Every grid converted; one finding for the file when any text was in a legacy encoding."""
    found: set[Encoding] = set()
    converted = []
    for grid in grids:
        new, encodings = convert_grid(grid)
        converted.append(new)
        found |= encodings
    return converted, [legacy_finding(file, found)] if found else []
