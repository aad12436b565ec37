"""Which files of a correction get a marked copy, made where, and whether they fit in the reply.

A file with error findings gets a copy when it could be read as a workbook or a Word document: an .xlsx/.docx
is marked itself; an .xls, .ods, .doc, .odt, .rtf (and the flat ODF kinds) is marked as the .xlsx/.docx
LibreOffice makes of it. An encrypted, corrupt or PDF file has no copy. The marking runs where the reading
runs (the capped child process, `mailbot.isolation`), because it opens the submitter's file again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mailbot.logs import get_logger
from mailbot.marking import marked_name
from mailbot.model import Finding, ReadResult

#: The format of each kind's marked copy.
MARKED_FORMAT: dict[str, str] = {
    "xlsx": "xlsx",
    "xlsm": "xlsx",
    "xls": "xlsx",
    "ods": "xlsx",
    "fods": "xlsx",
    "docx": "docx",
    "docm": "docx",
    "doc": "docx",
    "rtf": "docx",
    "odt": "docx",
    "fodt": "docx",
}
AS_SENT = frozenset({"xlsx", "xlsm", "docx", "docm"})
#: What the reply's text, HTML and headers take beside its attachments (a correction with 200 findings is ~150 KB).
BODY_ALLOWANCE = 400_000

#: (kind, name, the bytes as sent, the converted bytes or None, the submission's findings) -> marked bytes or None
Marker = Callable[[str, str, bytes, bytes | None, Sequence[Finding]], bytes | None]


@dataclass(frozen=True)
class MarkedCopy:
    original: str  # the attachment's name
    name: str  # "<original stem>_can-sua.xlsx"
    data: bytes
    converted: bool  # made from the .xlsx/.docx LibreOffice made of the original (.xls, .ods, .doc, .odt …)


@dataclass
class MarkedCopies:
    """The copies a correction attaches; `too_large` when they would not fit and only the guide goes."""

    copies: list[MarkedCopy] = field(default_factory=list)
    unmarked: list[str] = field(default_factory=list)  # files with errors that have no copy (unreadable, PDF …)
    too_large: bool = False
    guide: tuple[str, bytes] | None = None  # the guide alone, when the copies are too large


def needs_copy(read: ReadResult, findings: Sequence[Finding]) -> bool:
    return any(f.severity == "error" and f.file == read.file for f in findings)


def mark_file(kind: str, name: str, data: bytes, converted: bytes | None, findings: Sequence[Finding]) -> bytes | None:
    """The marked copy of one file, or None when there can be none. Runs in the reading child: it opens the
    submitter's file again (and converts an .xls with LibreOffice)."""
    target = MARKED_FORMAT.get(kind)
    if target is None:
        return None
    source = data if kind in AS_SENT else converted
    if source is None and kind == "xls":
        from mailbot.readers.convert import convert

        source, _ = convert("xls", name, data, target="xlsx")
    if source is None:
        return None
    if target == "xlsx":
        from mailbot.marking.xlsx import mark_xlsx

        return mark_xlsx(source, findings, name)
    from mailbot.marking.docx import mark_docx

    return mark_docx(source, findings, name)


def encoded_size(data: bytes) -> int:
    """The size of `data` as a base64 MIME part: 4 characters per 3 bytes, and a line end after every 76."""
    encoded = (len(data) + 2) // 3 * 4
    return encoded + (encoded + 75) // 76


def marked_copies(
    sources: Sequence[tuple[ReadResult, bytes]],
    findings: Sequence[Finding],
    mark: Marker,
    *,
    budget: int,
    guide: Callable[[Sequence[Finding]], bytes | None],
) -> MarkedCopies:
    """The copies of the files in `sources` (each read and its bytes as sent) that have errors, within `budget`
    bytes as encoded in the reply; beyond it, the guide alone (`guide` makes it) and `too_large`."""
    out = MarkedCopies()
    for read, data in sources:
        if not needs_copy(read, findings):
            continue
        kind = read.kind
        marked = None
        if MARKED_FORMAT.get(kind) and (read.grids or read.text is not None):
            marked = mark(kind, read.file, data, read.converted, findings)
        if marked is None:
            out.unmarked.append(read.file)
            continue
        name = marked_name(read.file, MARKED_FORMAT[kind])
        out.copies.append(MarkedCopy(read.file, name, marked, converted=kind not in AS_SENT))
    if sum(encoded_size(c.data) for c in out.copies) > budget:
        get_logger().warning("marked_copies_too_large", files=[c.original for c in out.copies], budget=budget)
        out.copies, out.too_large = [], True
        made = guide(findings)
        out.guide = ("Huong-dan-sua.xlsx", made) if made is not None else None
    return out
