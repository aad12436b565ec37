"""Word (.docx/.docm) reader: every table as a Grid on its true grid, and the text in reading order.

python-docx repeats a merged cell across every grid position it covers, so this reader walks the
table XML itself (`w:tc`, `w:gridSpan`, `w:vMerge`) and keeps a merged value once, in its top-left
position. A broken file becomes an `unreadable_file` finding, never an exception.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from docx.opc.constants import RELATIONSHIP_TYPE
from docx.opc.packuri import PACKAGE_URI, PackURI
from docx.opc.part import XmlPart
from docx.opc.phys_pkg import PhysPkgReader
from docx.opc.pkgreader import _SerializedRelationships
from docx.oxml.ns import qn
from docx.oxml.parser import parse_xml

from mailbot.model import CellValue, Finding, Grid, ReadResult, TextDocument
from mailbot.readers import MAX_COLS, MAX_ROWS
from mailbot.readers.legacy_vn import FONT_STARTS, Encoding, encoding_of_font, legacy_finding, read_legacy

#: lxml elements from python-docx's parser; lxml ships no type information, so they are `Any` here.
_Element = Any

_P, _TBL, _TR, _TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_SDT, _SDT_CONTENT, _CUSTOM_XML = qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")
_VAL, _ASCII, _HANSI = qn("w:val"), qn("w:ascii"), qn("w:hAnsi")

#: Runs that carry text; runs inside text boxes are skipped (they float outside the flow).
_RUN_XPATH = ".//w:r[not(ancestor::w:txbxContent)]"
_RUN_TEXT = {qn("w:t"): None, qn("w:tab"): "\t", qn("w:br"): "\n", qn("w:cr"): "\n"}
_SOFT_HYPHEN = qn("w:softHyphen")
_STYLES_RELATION = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"
_MACRO_MEMBER = "word/vbaproject.bin"


@dataclass
class _Table:
    """One Word table laid out on its grid."""

    rows: list[list[CellValue]]
    merges: list[tuple[int, int, int, int]]
    lines: list[str]
    #: Each top-left `w:tc` with the 0-based inclusive range it covers; the first cell of each line's row.
    cells: list[tuple[int, int, int, int, _Element]] = field(default_factory=list)
    line_cells: list[_Element] = field(default_factory=list)


@dataclass
class _Walk:
    """What the body walk collects: grids, text lines, and the paragraphs since the last table."""

    name: str
    legacy: _Legacy
    grids: list[Grid] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    #: Where things are (for marking a copy): each line's `w:p` (or its row's first `w:tc`), and every
    #: table's top-left cells by sheet with the 0-based inclusive range each covers on the (joined) grid.
    sources: list[_Element] = field(default_factory=list)
    cells: dict[str, list[tuple[int, int, int, int, _Element]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Layout:
    """Where the reader found each thing in a document body: the text lines' elements, the grid cells' `w:tc`."""

    text: TextDocument
    sources: list[_Element]  # parallel to text.paragraphs
    cells: dict[
        str, list[tuple[int, int, int, int, _Element]]
    ]  # sheet -> (first row, first col, last row, last col, tc)


def layout_of(name: str, body: _Element, part: Any) -> Layout:
    """Walk `body` exactly as `read_docx` does and say where each line and cell is (may raise on bad XML)."""
    walk = _Walk(name, _Legacy(_style_fonts(part)))
    _walk_blocks(body, walk)
    return Layout(TextDocument(file=name, paragraphs=walk.lines), walk.sources, walk.cells)


def read_docx(name: str, data: bytes) -> ReadResult:
    """Read a Word document's tables and text; a file that cannot be read yields a finding.

    Macros are recognised by the sniffing in `read_file`, which also sets the kind (docm).
    """
    try:
        body, fonts = _document_body(data)
        walk = _Walk(name, _Legacy(fonts))
        _walk_blocks(body, walk)
    # The one boundary where untrusted bytes meet python-docx, zipfile and lxml: any failure there
    # (bad zip, missing part, malformed XML, …) means the file is unreadable, not that we are broken.
    except MemoryError:  # the isolation's memory cap: reported as such, not as a corrupt file
        raise
    except Exception:
        return ReadResult(file=name, kind="docx", findings=[_unreadable(name)])
    findings = [legacy_finding(name, walk.legacy.found)] if walk.legacy.found else []
    text = TextDocument(file=name, paragraphs=walk.lines)
    return ReadResult(file=name, kind="docx", grids=walk.grids, text=text, findings=findings)


def _document_body(data: bytes) -> tuple[_Element, _StyleFonts]:
    """The `w:body` of the main document part, and its styles' fonts.

    Only the two parts a reading needs are parsed, found through the package's relationships as python-docx finds
    them (`main_document_part`, `part_related_by`); python-docx's `Package.open` would parse every part and every
    relationship of the package first (two thirds of a Phụ lục 2's read)."""
    package: Any = PhysPkgReader(io.BytesIO(data))  # type: ignore[no-untyped-call]  # python-docx is untyped
    try:
        main = _related(package, PACKAGE_URI, RELATIONSHIP_TYPE.OFFICE_DOCUMENT)
        if main is None:
            raise KeyError("no main document part")
        root = parse_xml(package.blob_for(main))
        styles = _related(package, main, _STYLES_RELATION)
        blob = package.blob_for(styles) if styles is not None else b""
        fonts = _fonts_of(parse_xml(blob)) if _may_name_legacy_font(blob) else _StyleFonts()
    finally:
        package.close()
    if root.tag != qn("w:document"):
        raise ValueError("main part is not a Word document")
    body = root.find(qn("w:body"))
    if body is None:
        raise ValueError("Word document has no body")
    return body, fonts


#: How a font name of an old Vietnamese encoding starts (lower case), and a character reference, which could spell one.
_LEGACY_STARTS = (*(start.encode("ascii") for starts in FONT_STARTS.values() for start in starts), b"&#")


def _may_name_legacy_font(styles: bytes) -> bool:
    """Whether the styles part may give a style a legacy font; when it cannot, its fonts change nothing in a reading
    (only a legacy font does), and its parse is skipped: a Word template's styles run to 350 KB of XML."""
    lowered = styles.lower()
    return any(start in lowered for start in _LEGACY_STARTS)


def _related(package: Any, source: PackURI, reltype: str) -> PackURI | None:
    """The part `source` relates to by `reltype` inside the package (None: no such relationship; ValueError: more
    than one, as python-docx's `part_related_by` says)."""
    found = [
        rel.target_partname
        for rel in _SerializedRelationships.load_from_xml(  # type: ignore[no-untyped-call]  # python-docx is untyped
            source.baseURI, package.rels_xml_for(source)
        )
        if rel.reltype == reltype and not rel.is_external
    ]
    if len(found) > 1:
        raise ValueError(f"more than one {reltype} relationship")
    return found[0] if found else None


def body_blocks(body: _Element) -> list[_Element]:
    """The body's paragraphs and tables in reading order, as the walk sees them (through content controls)."""
    return list(_content(body, (_P, _TBL)))


def _walk_blocks(body: _Element, walk: _Walk) -> None:
    blocks = body_blocks(body)
    guide = guide_blocks(blocks)  # a marked copy sent back: our guide is not the submitter's text
    for i, block in enumerate(blocks):
        if i in guide:
            continue
        if block.tag == _P:
            text = _paragraph_text(block, walk.legacy).strip()
            if text:
                walk.lines.append(text)
                walk.pending.append(text)
                walk.sources.append(block)
            continue
        table = _read_table(block, walk.legacy)
        repeated = _repeated_rows(walk.grids[-1], table, walk.pending) if walk.grids else None
        if repeated is not None:
            offset = len(walk.grids[-1].rows) - repeated
            walk.cells[walk.grids[-1].sheet] += [
                (a + offset, b, c + offset, d, tc) for a, b, c, d, tc in table.cells if a >= repeated
            ]
            walk.grids[-1] = _joined(walk.grids[-1], table, repeated)
        else:
            sheet = f"Bảng {len(walk.grids) + 1}"
            walk.grids.append(Grid(walk.name, sheet, table.rows, table.merges, preamble=walk.pending))
            walk.cells[sheet] = table.cells
        walk.lines.extend(table.lines)
        walk.sources.extend(table.line_cells)
        walk.pending = []


#: A table split by a page break or a paragraph: at most this many short paragraphs between its parts.
_SPLIT_PARAGRAPHS, _SPLIT_PARAGRAPH_CHARS = 3, 100
_HEADER_SEARCH_ROWS = 12
_DATA_START = re.compile(r"^(?:\d{1,4}|[IVXLC]{1,6})\.?$|^(?:tổng cộng|cộng|tổng)\b", re.IGNORECASE)


def _repeated_rows(previous: Grid, table: _Table, between: list[str]) -> int | None:
    """How many header rows `table` repeats when it continues `previous` (same columns); None when it is a
    table of its own. A continuation repeats the previous table's header rows, or starts with a task row."""
    width = len(previous.rows[0]) if previous.rows else 0
    if not table.rows or len(table.rows[0]) != width or len(between) > _SPLIT_PARAGRAPHS:
        return None
    if any(len(line) > _SPLIT_PARAGRAPH_CHARS for line in between):
        return None
    first = _row_key(table.rows[0])
    for start in range(min(_HEADER_SEARCH_ROWS, len(previous.rows))):
        if _row_key(previous.rows[start]) == first:
            count = 0
            while (
                count < len(table.rows)
                and start + count < len(previous.rows)
                and _row_key(table.rows[count]) == _row_key(previous.rows[start + count])
            ):
                count += 1
            return count
    lead = next((str(v).strip() for v in table.rows[0] if v is not None and str(v).strip()), "")
    return 0 if _DATA_START.match(lead) else None


def _row_key(row: list[CellValue]) -> tuple[str, ...]:
    return tuple(" ".join(str(v).split()) if v is not None else "" for v in row)


def _joined(previous: Grid, table: _Table, repeated: int) -> Grid:
    """`previous` with the rows of its continuation below it, the repeated header rows left out."""
    offset = len(previous.rows) - repeated
    merges = [(a + offset, b, c + offset, d) for a, b, c, d in table.merges if a >= repeated]
    return replace(previous, rows=previous.rows + table.rows[repeated:], merges=previous.merges + merges)


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


#: Bookmarks on the first and last paragraph of the guide a marked copy opens with (mailbot.marking.docx).
GUIDE_START, GUIDE_END = "_HDS_Huong_dan_sua", "_HDS_Het_huong_dan"
_BOOKMARK_START, _NAME = qn("w:bookmarkStart"), qn("w:name")


def guide_blocks(blocks: list[_Element]) -> range:
    """The positions of the guide's paragraphs in `blocks` (from its GUIDE_START paragraph to its GUIDE_END one,
    paragraphs only, bookmarks survive Word and LibreOffice); empty when there is no whole guide."""
    marks = [
        (i, str(mark.get(_NAME)))
        for i, block in enumerate(blocks)
        if block.tag == _P
        for mark in block.iterfind(_BOOKMARK_START)
        if mark.get(_NAME) in (GUIDE_START, GUIDE_END)
    ]
    start = next((i for i, name in marks if name == GUIDE_START), None)
    end = next((i for i, name in marks if name == GUIDE_END and start is not None and i >= start), None)
    if start is None or end is None or any(block.tag != _P for block in blocks[start : end + 1]):
        return range(0)
    return range(start, end + 1)


def _paragraph_text(paragraph: _Element, legacy: _Legacy) -> str:
    """The paragraph's text; runs in an old Vietnamese font (or a paragraph that reads as one) in Unicode."""
    style = _attr(paragraph, "w:pPr/w:pStyle")
    parts: list[str] = []
    hinted = False
    for run in paragraph.xpath(_RUN_XPATH):
        font = _run_font(run, style, legacy.fonts)
        legacy_font = encoding_of_font(font) is not None
        text = "".join(_run_pieces(run, legacy_font))
        if text and legacy_font:
            hinted = True
            text, encoding = read_legacy(text, font)
            legacy.found |= {encoding} if encoding else set()
        parts.append(text)
    joined = "".join(parts)
    if not hinted:
        joined, encoding = read_legacy(joined)
        legacy.found |= {encoding} if encoding else set()
    return joined


def _run_pieces(run: _Element, legacy_font: bool) -> list[str]:
    """The run's text; in an old Vietnamese font a soft hyphen is the letter "ư" of TCVN3, so it is kept."""
    pieces = []
    for node in run:
        if node.tag in _RUN_TEXT:
            pieces.append(_RUN_TEXT[node.tag] or node.text or "")
        elif node.tag == _SOFT_HYPHEN and legacy_font:
            pieces.append("\xad")
    return pieces


def _attr(element: _Element, path: str) -> str | None:
    found = element.find(_path(path))
    return str(found.get(_VAL)) if found is not None and found.get(_VAL) is not None else None


@functools.cache
def _path(path: str) -> str:
    """A child path of prefixed names ("w:rPr/w:rStyle") in the Clark notation `find` takes (the first match,
    as python-docx's `xpath(path)[0]` gave, without compiling an XPath at every call)."""
    return "/".join(qn(step) for step in path.split("/"))


def _run_font(run: _Element, paragraph_style: str | None, fonts: _StyleFonts) -> str | None:
    """The run's Latin font: its own, else its character style's, its paragraph style's, the default."""
    name = _font_name(run)
    if name:
        return str(name)
    for style in (_attr(run, "w:rPr/w:rStyle"), paragraph_style):
        name = fonts.of(style)
        if name:
            return name
    return fonts.default


@dataclass
class _StyleFonts:
    """Font names of the document's styles (following `w:basedOn`) and of its defaults."""

    own: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # id -> (font, based on)
    default: str | None = None

    def of(self, style: str | None, depth: int = 0) -> str | None:
        if style is None or style not in self.own or depth > 10:
            return None
        font, based_on = self.own[style]
        return font or self.of(based_on, depth + 1)


@dataclass
class _Legacy:
    """What the walk needs to read old Vietnamese encodings: the style fonts, and the encodings met."""

    fonts: _StyleFonts
    found: set[Encoding] = field(default_factory=set)


def _style_fonts(part: Any) -> _StyleFonts:
    """The fonts of the styles part related to python-docx's `part` (for marking a copy, which has the document)."""
    try:
        related = part.part_related_by(_STYLES_RELATION)
        styles = related.element if isinstance(related, XmlPart) else parse_xml(related.blob)
    except (KeyError, AttributeError):
        return _StyleFonts()  # no styles part: direct formatting only
    return _fonts_of(styles)


def _fonts_of(styles: _Element) -> _StyleFonts:
    fonts = _StyleFonts()
    for style in styles.iterchildren(qn("w:style")):
        fonts.own[str(style.get(qn("w:styleId")))] = (_font_name(style), _attr(style, "w:basedOn"))
    fonts.default = _font_name(styles, "w:docDefaults/w:rPrDefault/w:rPr/w:rFonts")
    return fonts


def _font_name(element: _Element, path: str = "w:rPr/w:rFonts") -> str | None:
    """The Latin font the `w:rFonts` at `path` under `element` names (its ascii face, else its hAnsi one)."""
    fonts = element.find(_path(path))
    return None if fonts is None else (fonts.get(_ASCII) or fonts.get(_HANSI))


def _cell_text(tc: _Element, legacy: _Legacy) -> CellValue:
    """The cell's paragraphs joined by line breaks; a nested table contributes its row lines."""
    pieces: list[str] = []
    for block in _content(tc, (_P, _TBL)):
        if block.tag == _P:
            pieces.append(_paragraph_text(block, legacy))
        else:
            pieces.extend(_read_table(block, legacy).lines)
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
    tc: _Element

    @property
    def last_col(self) -> int:
        return self.col + self.span - 1


def _place_cells(tbl: _Element, legacy: _Legacy) -> list[list[_Placed]]:
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
            row.append(_Placed(r, col, span, _cell_text(tc, legacy), _vmerge(tc), tc))
            col += span
        placed.append(row)
    return placed


def _int_prop(element: _Element, path: str, default: int) -> int:
    found = element.find(_path(path))
    if found is None:
        return default
    try:
        return int(found.get(_VAL, default))
    except ValueError:
        return default


def _vmerge(tc: _Element) -> str | None:
    found = tc.find(_path("w:tcPr/w:vMerge"))
    if found is None:
        return None
    return "restart" if found.get(_VAL) == "restart" else "continue"


def _read_table(tbl: _Element, legacy: _Legacy) -> _Table:
    placed = _place_cells(tbl, legacy)
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
    tcs = {(cell.row, cell.col): cell.tc for row in origins for cell in row}
    cells = [(a, b, c, d, tcs[(a, b)]) for a, b, c, d in ranges.values()]
    lined = [(line, row[0].tc) for row in origins if (line := _row_line(row))]
    return _Table(rows, merges, [line for line, _ in lined], cells, [tc for _, tc in lined])


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
