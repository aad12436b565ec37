"""Phụ lục 2 (thuyết minh nhiệm vụ): split a document's text into task descriptions by section.

Format-independent: works on the `TextDocument` any reader produced. A heading is a line whose
folded text, after an optional "1." / "I." / "a)" marker, starts with a known section alias and is
followed by a colon or nothing; a short numbered heading may add a word or two ("Mục tiêu nhiệm vụ").
Headings numbered by Word's automatic list numbering have no "1." in their text: an alias with only
qualifying words ("Mục tiêu của nhiệm vụ") is a heading without a number too.
A `ten_nhiem_vu` heading after other sections starts the next description (all-in-one documents).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from mailbot.model import Description, TextDocument
from mailbot.text import clean_cell_text, fold

#: Section key -> aliases (folded). Extra keys beyond the ten sections keep their text out of neighbours.
SECTION_ALIASES: dict[str, tuple[str, ...]] = {
    "ten_nhiem_vu": ("ten nhiem vu",),
    "don_vi_chu_tri": ("don vi chu tri", "co quan chu tri", "to chuc chu tri"),
    "don_vi_phoi_hop": ("don vi phoi hop", "co quan phoi hop"),
    "chu_nhiem": ("chu nhiem nhiem vu", "chu nhiem"),
    "tinh_cap_thiet": ("tinh cap thiet", "su can thiet"),
    "muc_tieu": ("muc tieu",),
    "noi_dung": ("noi dung thuc hien", "noi dung"),
    "san_pham": ("san pham du kien", "san pham"),
    "tien_do": ("tien do thuc hien", "tien do", "thoi gian thuc hien"),
    "kinh_phi": ("du toan kinh phi", "kinh phi thuc hien", "kinh phi du kien", "kinh phi"),
    "hieu_qua": ("hieu qua du kien", "hieu qua"),
}
#: (alias, key), longest alias first so "noi dung thuc hien" wins over "noi dung".
_ALIASES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        ((alias, key) for key, aliases in SECTION_ALIASES.items() for alias in aliases),
        key=lambda pair: -len(pair[0]),
    )
)
_NAME_KEY = "ten_nhiem_vu"
_MAX_HEADING_WORDS = 8
#: Words that qualify a heading without changing it ("Mục tiêu của nhiệm vụ", "Tên nhiệm vụ đề xuất").
_FILLER = frozenset({"cua", "nhiem", "vu", "de", "xuat", "chinh", "du", "kien", "thuc", "hien"})
_TITLES = ("phu luc", "thuyet minh")
_TABLE_CELL_SEPARATOR = " | "

_MARKER = re.compile(
    r"""^\s*(?:
        \(\s*(?:\d{1,2}|[ivxl]{1,5}|[a-zđ])\s*\)                     # (1) (iv) (a)
      | (?:\d{1,2}(?:\.\d{1,2})*|[ivxl]{1,5}|[a-zđ])\s*[.)](?!\d)     # 1.  1)  2.1.  IV.  a)
      | \d{1,2}(?:\.\d{1,2})*(?=\s)                                  # 1 Tên nhiệm vụ
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)

#: A heading's parenthesised explanation, "Chủ nhiệm nhiệm vụ (họ tên, chức vụ, …)", is not counted.
_PARENTHESES = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class _Heading:
    key: str
    rest: str  # the text after the colon on the heading line


@dataclass
class _Draft:
    """A description being collected: section key -> its lines."""

    sections: dict[str, list[str]] = field(default_factory=dict)
    current: str | None = None

    def open(self, heading: _Heading) -> None:
        self.current = heading.key
        self.sections[heading.key] = [heading.rest] if heading.rest else []

    def add(self, line: str) -> None:
        if self.current is not None:
            self.sections[self.current].append(line)

    def accepts(self, heading: _Heading) -> bool:
        """A section already present in this description is content, not a new heading."""
        return heading.key not in self.sections


def looks_like_descriptions(doc: TextDocument) -> bool:
    """True when the text has a 'Tên nhiệm vụ' heading and at least two other distinct sections."""
    return _is_thuyet_minh(_drafts(doc))


def parse_descriptions(doc: TextDocument) -> list[Description]:
    """The task descriptions in `doc`, in order; none when the text is not a thuyết minh."""
    drafts = _drafts(doc)
    if not _is_thuyet_minh(drafts):
        return []
    return [_description(doc.file, index, draft) for index, draft in enumerate(drafts)]


@dataclass(frozen=True)
class LineOwner:
    """Where one line of a thuyết minh went: its paragraph in the TextDocument, description, section, text."""

    paragraph: int  # index in TextDocument.paragraphs
    description: int  # Description.index
    section: str | None  # section key; None before the first heading of the description
    text: str  # what the line added to its section (the text after the colon on a heading line)


def line_owners(doc: TextDocument) -> list[LineOwner]:
    """Every line that belongs to a description, in order; none when the text is not a thuyết minh."""
    owners: list[LineOwner] = []
    return owners if _is_thuyet_minh(_drafts(doc, owners)) else []


def _is_thuyet_minh(drafts: list[_Draft]) -> bool:
    keys = {key for draft in drafts for key in draft.sections}
    return _NAME_KEY in keys and len(keys - {_NAME_KEY}) >= 2


def _drafts(doc: TextDocument, owners: list[LineOwner] | None = None) -> list[_Draft]:
    drafts: list[_Draft] = []
    for paragraph, line in _lines(doc):
        heading = _heading(line)
        draft = drafts[-1] if drafts else None
        if heading is not None and (draft is None or _starts_new(draft, heading)):
            draft = _Draft()
            drafts.append(draft)
        if draft is None:
            continue  # title and front matter before the first section
        added = line
        if heading is not None and draft.accepts(heading):
            draft.open(heading)
            added = heading.rest
        elif not _is_title(line):
            draft.add(line)
        if owners is not None:
            owners.append(LineOwner(paragraph, len(drafts) - 1, draft.current, added))
    return drafts


def _starts_new(draft: _Draft, heading: _Heading) -> bool:
    return heading.key == _NAME_KEY and any(key != _NAME_KEY for key in draft.sections)


def _lines(doc: TextDocument) -> list[tuple[int, str]]:
    """Non-empty lines with their paragraph's index; a paragraph with line breaks is several lines, a table
    row stays one."""
    lines: list[tuple[int, str]] = []
    for index, paragraph in enumerate(doc.paragraphs):
        parts = [paragraph] if _TABLE_CELL_SEPARATOR in paragraph else paragraph.splitlines()
        lines.extend((index, part.strip()) for part in parts if part.strip())
    return lines


def _heading(line: str) -> _Heading | None:
    """The section this line opens, or None when it is content."""
    if _TABLE_CELL_SEPARATOR in line:
        return None  # table rows are content (budget tables)
    text = unicodedata.normalize("NFC", line).replace("：", ":")
    marker = _MARKER.match(text)
    rest = text[marker.end() :] if marker else text
    head, colon, after = rest.partition(":")
    words = fold(_PARENTHESES.sub(" ", head)).split()
    for alias, key in _ALIASES:
        alias_words = alias.split()
        if words[: len(alias_words)] == alias_words:
            extra = words[len(alias_words) :]
            if _is_heading(extra, len(alias_words), numbered=marker is not None, colon=bool(colon)):
                return _Heading(key, after.strip())
            return None
    return None


def _is_heading(extra: list[str], alias_length: int, *, numbered: bool, colon: bool) -> bool:
    """Alias alone is a heading; extra words need a number or colon, no count, and a short line."""
    if not extra:
        return True
    if extra[0][0].isdigit() or alias_length + len(extra) > _MAX_HEADING_WORDS:
        return False
    meaningful = [word for word in extra if word not in _FILLER]
    if not (numbered or colon):
        # Word's automatic list numbering keeps the "1." out of the text: "Mục tiêu của nhiệm vụ" alone
        # is still a heading, when every added word only qualifies it.
        return not meaningful
    return len(meaningful) <= (alias_length if numbered else alias_length - 1)


def _is_title(line: str) -> bool:
    """'PHỤ LỤC 2', 'THUYẾT MINH NHIỆM VỤ': document titles between descriptions, not content."""
    folded = fold(line)
    return ":" not in line and len(folded.split()) <= _MAX_HEADING_WORDS and folded.startswith(_TITLES)


def _description(file: str, index: int, draft: _Draft) -> Description:
    sections = {key: _section_text(lines) for key, lines in draft.sections.items()}
    name = clean_cell_text(sections.get(_NAME_KEY, "")) or None
    return Description(
        file=file,
        index=index,
        sections=sections,
        ten_nhiem_vu=name,
        kinh_phi_tong=None,
        kinh_phi_text=sections.get("kinh_phi") or None,
    )


def _section_text(lines: list[str]) -> str:
    return unicodedata.normalize("NFC", "\n".join(lines)).strip()
