"""The guide alone, as a small workbook: what a correction attaches when its marked copies would not fit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from io import BytesIO

from openpyxl import Workbook

from mailbot.marking import GuideEntry, guide_entries
from mailbot.marking.xlsx import write_guide
from mailbot.model import Finding


def guide_entries_of_every_file(findings: Sequence[Finding]) -> list[GuideEntry]:
    """Every finding, file by file (each place names its file), then those of the whole submission."""
    files = list(dict.fromkeys(f.file for f in findings if f.file is not None))
    own = [
        replace(e, place=f"Tệp «{file}», {e.place[:1].lower()}{e.place[1:]}")
        for file in files
        for e in guide_entries([f for f in findings if f.file == file], file)
    ]
    general = guide_entries([f for f in findings if f.file is None], "")
    return [replace(e, number=n) for n, e in enumerate([*own, *general], start=1)]


def guide_workbook(findings: Sequence[Finding]) -> bytes:
    """`Huong-dan-sua.xlsx`: the guide sheet listing every finding of the submission, without links."""
    book = Workbook()
    default = book.active
    entries = guide_entries_of_every_file(findings)
    write_guide(book, entries, {}, None, capped=None)
    if default is not None:
        book.remove(default)
    out = BytesIO()
    book.save(out)
    return out.getvalue()
