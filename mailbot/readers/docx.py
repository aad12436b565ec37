"""Word (.docx/.docm) reader: every table as a Grid on its true grid, and the text in reading order.

python-docx repeats a merged cell across every grid position it covers, so this reader walks the
table XML itself (`w:tc`, `w:gridSpan`, `w:vMerge`) and keeps a merged value once, in its top-left
position. A broken file becomes an `unreadable_file` finding, never an exception.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from docx.opc.part import XmlPart
from docx.oxml.ns import qn
from docx.oxml.parser import parse_xml
from docx.package import Package

from mailbot.model import CellValue, Finding, Grid, ReadResult, TextDocument
from mailbot.readers import MAX_COLS, MAX_ROWS

#: lxml elements from python-docx's parser; lxml ships no type information, so they are `Any` here.
_Element = Any

_P, _TBL, _TR, _TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_SDT, _SDT_CONTENT, _CUSTOM_XML = qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")
_VAL = qn("w:val")

#: Run content that carries text; runs inside text boxes are skipped (they float outside the flow).
_RUN_TEXT_XPATH = ".//w:r[not(ancestor::w:txbxContent)]/*[self::w:t or self::w:tab or self::w:br or self::w:cr]"
_MACRO_MEMBER = "word/vbaproject.bin"


@dataclass
class _Table:
    """One Word table laid out on its grid."""

    rows: list[list[CellValue]]
    merges: list[tuple[int, int, int, int]]
    lines: list[str]


@dataclass
class _Walk:
    """What the body walk collects: grids, text lines, and the paragraphs since the last table."""

    name: str
    grids: list[Grid] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


def read_docx(name: str, data: bytes) -> ReadResult:
    """Read a Word document's tables and text; a file that cannot be read yields a finding.

    Macros are recognised by the sniffing in `read_file`, which also sets the kind (docm).
    """
    try:
        body = _document_body(data)
        walk = _Walk(name)
        _walk_blocks(body, walk)
    # The one boundary where untrusted bytes meet python-docx, zipfile and lxml: any failure there
    # (bad zip, missing part, malformed XML, …) means the file is unreadable, not that we are broken.
    except MemoryError:  # the isolation's memory cap: reported as such, not as a corrupt file
        raise
    except Exception:
        return ReadResult(file=name, kind="docx", findings=[_unreadable(name)])
    return ReadResult(file=name, kind="docx", grids=walk.grids, text=TextDocument(file=name, paragraphs=walk.lines))


def _document_body(data: bytes) -> _Element:
    """The `w:body` of the main document part (docm parts load as plain parts, so parse them here)."""
    part = Package.open(io.BytesIO(data)).main_document_part
    root = part.element if isinstance(part, XmlPart) else parse_xml(part.blob)
    if root.tag != qn("w:document"):
        raise ValueError("main part is not a Word document")
    body = root.find(qn("w:body"))
    if body is None:
        raise ValueError("Word document has no body")
    return body


def _walk_blocks(body: _Element, walk: _Walk) -> None:
    for block in _content(body, (_P, _TBL)):
        if block.tag == _P:
            text = _paragraph_text(block).strip()
            if text:
                walk.lines.append(text)
                walk.pending.append(text)
            continue
        table = _read_table(block)
        sheet = f"Bảng {len(walk.grids) + 1}"
        walk.grids.append(Grid(walk.name, sheet, table.rows, table.merges, preamble=walk.pending))
        walk.lines.extend(table.lines)
        walk.pending = []


def _content(parent: _Element, tags: tuple[str, ...]) -> Iterator[_Element]:
    """Children of `parent` with one of `tags`, looking through content controls and custom XML."""
    for child in parent:
        if child.tag in tags:
            yield child
        elif child.tag == _SDT:
            for content in child.iterchildren(_SDT_CONTENT):
                yield from _content(content, tags)
        elif child.tag == _CUSTOM_XML:
            yield from _content(child, tags)


def _paragraph_text(paragraph: _Element) -> str:
    parts: list[str] = []
    for node in paragraph.xpath(_RUN_TEXT_XPATH):
        if node.tag == qn("w:t"):
            parts.append(node.text or "")
        else:
            parts.append("\t" if node.tag == qn("w:tab") else "\n")
    return "".join(parts)


def _cell_text(tc: _Element) -> CellValue:
    """The cell's paragraphs joined by line breaks; a nested table contributes its row lines."""
    pieces: list[str] = []
    for block in _content(tc, (_P, _TBL)):
        if block.tag == _P:
            pieces.append(_paragraph_text(block))
        else:
            pieces.extend(_read_table(block).lines)
    text = "\n".join(pieces).strip()
    return text or None


@dataclass
class _Placed:
    """A `w:tc` placed on the grid: its first column, how many grid columns it spans, its merge role."""

    row: int
    col: int
    span: int
    text: CellValue
    vmerge: str | None  # "restart", "continue" or None

    @property
    def last_col(self) -> int:
        return self.col + self.span - 1


def _place_cells(tbl: _Element) -> list[list[_Placed]]:
    """The cells of a table by grid position; bounded to MAX_ROWS × MAX_COLS whatever spans it declares."""
    placed: list[list[_Placed]] = []
    for r, tr in enumerate(_content(tbl, (_TR,))):
        if r >= MAX_ROWS:
            break
        col = min(max(0, _int_prop(tr, "w:trPr/w:gridBefore", 0)), MAX_COLS)
        row: list[_Placed] = []
        for tc in _content(tr, (_TC,)):
            if col >= MAX_COLS:
                break
            span = min(max(1, _int_prop(tc, "w:tcPr/w:gridSpan", 1)), MAX_COLS - col)
            row.append(_Placed(r, col, span, _cell_text(tc), _vmerge(tc)))
            col += span
        placed.append(row)
    return placed


def _int_prop(element: _Element, path: str, default: int) -> int:
    found = element.xpath(path)
    if not found:
        return default
    try:
        return int(found[0].get(_VAL, default))
    except ValueError:
        return default


def _vmerge(tc: _Element) -> str | None:
    found = tc.xpath("w:tcPr/w:vMerge")
    if not found:
        return None
    return "restart" if found[0].get(_VAL) == "restart" else "continue"


def _read_table(tbl: _Element) -> _Table:
    placed = _place_cells(tbl)
    width = max((cell.col + cell.span for row in placed for cell in row), default=0)
    rows: list[list[CellValue]] = [[None] * width for _ in placed]
    ranges: dict[tuple[int, int], list[int]] = {}
    open_vertical: dict[int, tuple[int, int]] = {}
    origins: list[list[_Placed]] = [[] for _ in placed]
    for row in placed:
        for cell in row:
            origin = open_vertical.get(cell.col)
            if cell.vmerge == "continue" and origin is not None and ranges[origin][3] == cell.last_col:
                ranges[origin][2] = cell.row
                continue
            for c in range(cell.col, cell.last_col + 1):
                open_vertical.pop(c, None)
            rows[cell.row][cell.col] = cell.text
            ranges[(cell.row, cell.col)] = [cell.row, cell.col, cell.row, cell.last_col]
            origins[cell.row].append(cell)
            if cell.vmerge is not None:
                open_vertical[cell.col] = (cell.row, cell.col)
    merges = [(a, b, c, d) for a, b, c, d in ranges.values() if c > a or d > b]
    return _Table(rows, merges, [line for line in map(_row_line, origins) if line])


def _row_line(cells: list[_Placed]) -> str:
    """One table row as a text line: each cell once, ' | ' between cells; '' for an empty row."""
    texts = [str(cell.text).replace("\n", " ") if cell.text is not None else "" for cell in cells]
    return " | ".join(texts) if any(texts) else ""


def _unreadable(name: str) -> Finding:
    return Finding(
        code="unreadable_file",
        severity="error",
        message=f"Không đọc được tệp Word “{name}”: tệp bị hỏng hoặc không đúng định dạng .docx.",
        hint="Vui lòng mở tệp bằng Microsoft Word, lưu lại dưới dạng Word Document (.docx) rồi gửi lại.",
        file=name,
    )
