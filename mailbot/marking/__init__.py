"""The submitter's own file back, marked where to fix it (`<original>_can-sua.xlsx` / `.docx`).

A correction reply attaches, for each Phụ lục 1/Phụ lục 2 file with error findings, a copy of that file in
which every cell (or paragraph) a finding names is filled in a clear colour and carries a comment with the
finding's message and hint, and which opens with a guide ("Hướng dẫn sửa") listing every problem with a link
to its place. Everything else in the copy is the submitter's own: values, merges, formulas, number formats.

This module holds what both formats share: the guide's entries, the colours, the wording and the names.
`mailbot.marking.xlsx` and `mailbot.marking.docx` write the marks; `mailbot.marking.copies` chooses which files
get a marked copy and keeps them within the reply's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from mailbot.model import Finding, Severity
from mailbot.report import place_text

__all__ = [
    "COMMENT_AUTHOR",
    "ERROR_FILL",
    "GUIDE_TITLE",
    "WARNING_FILL",
    "GuideEntry",
    "comment_text",
    "guide_entries",
    "marked_name",
]

GUIDE_TITLE = "Hướng dẫn sửa"
MARK_SUFFIX = "_can-sua"
COMMENT_AUTHOR = "Hệ thống tiếp nhận hồ sơ"
COMMENT_INITIALS = "HT"
#: Fills of a marked cell (RGB hex, no '#'): Excel's own "Bad" red and "Neutral" yellow, readable on paper in grey.
ERROR_FILL = "FFC7CE"
WARNING_FILL = "FFEB9C"
SEVERITY_WORD: dict[Severity, str] = {"error": "Lỗi", "warning": "Lưu ý"}


@dataclass(frozen=True)
class GuideEntry:
    """One line of the guide: where, what, how to fix; `sheet` and `cell` say where its link goes (None: no link)."""

    number: int  # 1-based, as listed
    severity: Severity
    place: str  # Vietnamese: "Trang tính «Phụ lục 1», ô E7 (hàng 7, cột E)", "Toàn bộ hồ sơ"
    message: str
    hint: str
    sheet: str | None  # a worksheet's title (xlsx) or "Bảng N" (docx tables)
    cell: str | None  # "E7"
    finding: Finding


def marked_name(original: str, suffix: str) -> str:
    """`Phu luc 1.xls` → `Phu luc 1_can-sua.xlsx` (`suffix` is the marked copy's format, "xlsx" or "docx"); a
    marked copy sent back and marked again keeps its name (`…_can-sua.xlsx`), never `…_can-sua_can-sua.xlsx`."""
    return f"{PurePath(original).stem.removesuffix(MARK_SUFFIX)}{MARK_SUFFIX}.{suffix}"


def comment_text(finding: Finding) -> str:
    """The comment on a marked cell: "Lỗi: …" and, when there is one, "Cách sửa: …" on its own line."""
    text = f"{SEVERITY_WORD[finding.severity]}: {finding.message}"
    return f"{text}\nCách sửa: {finding.hint}" if finding.hint else text


def _place(finding: Finding) -> str:
    if finding.file is None:
        return "Toàn bộ hồ sơ"
    where = place_text(finding)
    if finding.sheet and finding.sheet.startswith("Bảng "):  # a Word table, numbered by the docx reader
        return f"{finding.sheet}, {where}"
    if finding.sheet:
        return f"Trang tính «{finding.sheet}», {where}"
    return where[:1].upper() + where[1:]


def guide_entries(findings: Iterable[Finding], file: str) -> list[GuideEntry]:
    """The guide of `file`'s marked copy: its own findings (errors first, each in sheet and row order), then the
    findings that belong to no file (a missing appendix). Findings of other files are in their own copies."""
    own = [f for f in findings if f.file == file]
    general = [f for f in findings if f.file is None]

    def order(f: Finding) -> tuple[int, str, int, str]:
        return (f.severity != "error", f.sheet or "", f.row or 0, f.column or "")

    chosen: Sequence[Finding] = [*sorted(own, key=order), *sorted(general, key=lambda f: f.severity != "error")]
    return [
        GuideEntry(
            number=n,
            severity=f.severity,
            place=_place(f),
            message=f.message,
            hint=f.hint,
            sheet=f.sheet if f.file == file else None,
            cell=f.cell if f.file == file else None,
            finding=f,
        )
        for n, f in enumerate(chosen, start=1)
    ]
