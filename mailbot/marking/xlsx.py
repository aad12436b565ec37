"""The submitter's own workbook back, marked where to fix it (`<original>_can-sua.xlsx`).

Every cell one of the file's findings names is filled (red: an error on it; yellow: warnings only) and carries
an Excel comment with each finding's message and hint; a first sheet "Hướng dẫn sửa" lists every problem with a
link to its cell. Nothing else changes: values, formulas (with the results the submitter's program stored),
merges, number formats, fonts, borders. A copy marked again replaces its old guide and our old comments.

openpyxl loads and saves the workbook, so what openpyxl does not keep is lost: pictures (without Pillow), shapes
and text boxes, form controls, sparklines and other extensions; threaded comments come back as plain notes; macros
are dropped (the copy is always a plain .xlsx).
Never raises: a workbook openpyxl cannot load or save gives no marked copy (None).
"""

from __future__ import annotations

import math
import re
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from xml.sax.saxutils import escape

from defusedxml import ElementTree  # type: ignore[import-untyped]  # defusedxml ships no type stubs
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.comments import Comment
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.marking import (
    COMMENT_AUTHOR,
    ERROR_FILL,
    GUIDE_TITLE,
    SEVERITY_WORD,
    WARNING_FILL,
    GuideEntry,
    comment_text,
    guide_entries,
)
from mailbot.model import Finding
from mailbot.readers.xlsx_limits import workbook_excess

__all__ = ["MAX_MARKED_CELLS", "OUR_HEADING", "mark_xlsx", "quoted_sheet"]

#: Cells marked in one file at most; the guide still lists every finding.
MAX_MARKED_CELLS = 500
#: The first line of our part of a comment: how a copy marked again finds what was ours in a comment it shares.
OUR_HEADING = f"{COMMENT_AUTHOR}:"
_EXCEL_ROWS, _EXCEL_COLS = 1_048_576, 16_384
_OUR_FILLS = {f"FF{ERROR_FILL}".upper(), f"FF{WARNING_FILL}".upper()}
#: Comment box: width in pixels, characters per line at that width, pixels per line.
_BOX_WIDTH, _BOX_CHARS, _BOX_LINE = 360, 50, 16


@dataclass
class _Mark:
    """One cell to mark and the findings on it."""

    sheet: str
    coordinate: str
    findings: list[Finding] = field(default_factory=list)


def mark_xlsx(data: bytes, findings: Sequence[Finding], file: str) -> bytes | None:
    """The workbook in `data` marked with `file`'s findings, as .xlsx bytes; None when openpyxl cannot do it."""
    try:
        return _mark(data, findings, file)
    except MemoryError:
        raise
    # openpyxl, zipfile and the XML parsers raise many unrelated exception types on odd workbooks; a workbook
    # that cannot be marked simply gets no marked copy (the caller logs it and replies without it).
    except Exception:
        return None


def _mark(data: bytes, findings: Sequence[Finding], file: str) -> bytes | None:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        if workbook_excess(archive):
            return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "extension not supported" and the like: noise, not problems
        reader = ExcelReader(
            BytesIO(data), read_only=False, keep_vba=False, data_only=False, keep_links=True, rich_text=True
        )
        reader.read()
        book = reader.wb
        results = _cached_results(data, reader)
        book.template = False  # an .xltx/.xltm or .xlsm comes back as a plain workbook
        if GUIDE_TITLE in book.sheetnames:  # a copy marked before: its guide is replaced
            del book[GUIDE_TITLE]
        for sheet in book.worksheets:
            _unmark(sheet)
        entries = guide_entries(findings, file)
        targets = {id(e.finding): _target(book, e.finding) if e.finding.file == file else None for e in entries}
        marks = _marks([(e.finding, targets[id(e.finding)]) for e in entries])
        for mark in marks.values():
            _apply(book[mark.sheet], mark)
        wanted = len({t for t in targets.values() if t is not None})
        write_guide(book, entries, targets, file, capped=(MAX_MARKED_CELLS, wanted) if wanted > len(marks) else None)
        _show_guide_first(book)
        out = BytesIO()
        book.save(out)
    return _restore_results(out.getvalue(), results, {ws.title: ws.path.lstrip("/") for ws in book.worksheets})


# ---------------------------------------------------------------- which cell


def _target(book: Workbook, finding: Finding) -> tuple[str, str] | None:
    """(sheet, coordinate) of the cell to mark for `finding`; None when it names no cell of this workbook.

    A cell inside a merged range is its range's top-left cell (the one Excel shows and keeps comments on);
    a finding with a row but no column is marked on the row's first cell that holds a value."""
    if not finding.sheet or finding.sheet not in book.sheetnames:
        return None
    sheet = book[finding.sheet]
    if not isinstance(sheet, Worksheet):  # a chart sheet has no cells
        return None
    place = _place(sheet, finding)
    if place is None:
        return None
    row, column = _top_left(sheet, *place)
    return sheet.title, f"{get_column_letter(column)}{row}"


def _place(sheet: Worksheet, finding: Finding) -> tuple[int, int] | None:
    try:
        if finding.cell:
            letters, row = coordinate_from_string(finding.cell)
            column = column_index_from_string(letters)
        elif finding.row and finding.column:
            row, column = finding.row, column_index_from_string(finding.column)
        elif finding.row:
            row, column = finding.row, _first_column(sheet, finding.row)
        else:
            return None
    except ValueError:  # a cell name openpyxl does not accept ("E0", "ABCD1"): not a place of this workbook
        return None
    return (row, column) if 0 < row <= _EXCEL_ROWS and 0 < column <= _EXCEL_COLS else None


def _first_column(sheet: Worksheet, row: int) -> int:
    columns = [c for (r, c), cell in sheet._cells.items() if r == row and cell.value is not None]
    return min(columns, default=sheet.min_column)


def _top_left(sheet: Worksheet, row: int, column: int) -> tuple[int, int]:
    if not isinstance(sheet._cells.get((row, column)), MergedCell):
        return row, column
    for span in sheet.merged_cells.ranges:
        if span.min_row <= row <= span.max_row and span.min_col <= column <= span.max_col:
            return span.min_row, span.min_col
    return row, column


def _marks(located: Sequence[tuple[Finding, tuple[str, str] | None]]) -> dict[tuple[str, str], _Mark]:
    """The cells to mark, in the guide's order, at most MAX_MARKED_CELLS of them."""
    marks: dict[tuple[str, str], _Mark] = {}
    for finding, target in located:
        if target is None or (target not in marks and len(marks) >= MAX_MARKED_CELLS):
            continue
        marks.setdefault(target, _Mark(*target)).findings.append(finding)
    return marks


# ---------------------------------------------------------------- marking and unmarking


def _apply(sheet: Worksheet, mark: _Mark) -> None:
    cell = sheet[mark.coordinate]
    assert isinstance(cell, Cell)  # _target chose a merged range's top-left cell, never a MergedCell
    colour = ERROR_FILL if any(f.severity == "error" for f in mark.findings) else WARNING_FILL
    cell.fill = _solid(colour)
    ours = "\n\n".join([OUR_HEADING + "\n" + comment_text(mark.findings[0]), *map(comment_text, mark.findings[1:])])
    own = cell.comment
    text = f"{own.text.rstrip()}\n\n{ours}" if own is not None and own.text.strip() else ours
    author = own.author if own is not None and own.author else COMMENT_AUTHOR
    cell.comment = _comment(text, author)


def _solid(colour: str) -> PatternFill:
    argb = f"FF{colour}"  # opaque: some programs take a 6-digit colour's missing alpha for transparent
    return PatternFill(fill_type="solid", start_color=argb, end_color=argb)


def _comment(text: str, author: str) -> Comment:
    lines = sum(max(1, math.ceil(len(line) / _BOX_CHARS)) for line in text.splitlines())
    return Comment(text, author, height=min(24 + lines * _BOX_LINE, 640), width=_BOX_WIDTH)


def _unmark(sheet: Worksheet) -> None:
    """Take our old comments off (keeping a submitter's own text before them) and their cells' fill."""
    for cell in _commented(sheet):
        comment = cell.comment
        assert comment is not None  # _commented yields only cells with a comment
        own = _their_part(comment.text, comment.author)
        if own == comment.text:
            continue
        cell.comment = Comment(own, comment.author, comment.height, comment.width) if own else None
        if cell.fill.fill_type == "solid" and str(cell.fill.fgColor.rgb).upper() in _OUR_FILLS:
            cell.fill = PatternFill()


def _commented(sheet: Worksheet) -> Iterator[Cell]:
    return (cell for cell in list(sheet._cells.values()) if isinstance(cell, Cell) and cell.comment is not None)


_OURS_AFTER = re.compile(rf"(?:^|\n\n){re.escape(OUR_HEADING)}\n")


def _their_part(text: str, author: str | None) -> str:
    """The part of a comment that is not ours ("" when all of it is)."""
    found = _OURS_AFTER.search(text or "")
    if found:
        return text[: found.start()].rstrip()
    return "" if author == COMMENT_AUTHOR else text


def _show_guide_first(book: Workbook) -> None:
    """The guide is the active and only selected tab, and the tab bar starts at it."""
    for sheet in [*book.worksheets, *book.chartsheets]:
        views = getattr(getattr(sheet, "views", None) or getattr(sheet, "sheetViews", None), "sheetView", [])
        for view in views:
            view.tabSelected = False
    book.active = 0
    book.worksheets[0].sheet_view.tabSelected = True
    for view in book.views:
        view.firstSheet = 0
    book.calculation.fullCalcOnLoad = True  # the submitter's program computes every formula again on opening


# ---------------------------------------------------------------- the guide sheet

_COLUMNS = (("STT", 6), ("Mức độ", 10), ("Vị trí", 36), ("Nội dung", 70), ("Cách sửa", 60))
_HEADER_ROW = 3
_HOW = (
    "Bấm vào một vị trí để đến ô cần sửa. Ô có lỗi được tô đỏ, ô cần lưu ý tô vàng; di chuột lên ô để đọc ghi chú."
    " Sửa xong, lưu tệp và gửi lại (có thể giữ nguyên trang hướng dẫn này)."
)
_LINK_FONT = Font(color="FF0563C1", underline="single")
_WRAP = Alignment(wrap_text=True, vertical="top")
_THIN = Side(style="thin", color="FF808080")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def write_guide(
    book: Workbook,
    entries: Sequence[GuideEntry],
    targets: dict[int, tuple[str, str] | None],
    file: str | None,
    capped: tuple[int, int] | None,
) -> None:
    """The guide as the first sheet of `book`: one row per entry, linked to its target cell when it has one."""
    sheet = book.create_sheet(GUIDE_TITLE, 0)
    errors = sum(e.severity == "error" for e in entries)
    what = f"tệp «{file}»" if file else "hồ sơ"
    title = f"Hướng dẫn sửa {what}: {errors} lỗi, {len(entries) - errors} lưu ý"
    if capped:
        title += f" (chỉ {capped[0]} ô đầu tiên được tô màu và ghi chú; danh sách dưới đây có đủ {capped[1]} ô)"
    _put(sheet, 1, 1, title).font = Font(bold=True, size=13)
    _put(sheet, 2, 1, _HOW)
    for row in (1, 2):
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(_COLUMNS))
        sheet.cell(row, 1).alignment = _WRAP
    sheet.row_dimensions[1].height = 36
    sheet.row_dimensions[2].height = 32
    for column, (label, width) in enumerate(_COLUMNS, start=1):
        cell = _put(sheet, _HEADER_ROW, column, label)
        cell.font, cell.border, cell.alignment = Font(bold=True), _BOX, Alignment(wrap_text=True, horizontal="center")
        cell.fill = _solid("D9D9D9")
        sheet.column_dimensions[get_column_letter(column)].width = width
    for row, entry in enumerate(entries, start=_HEADER_ROW + 1):
        _guide_row(sheet, row, entry, targets.get(id(entry.finding)))
    _printable(sheet, _HEADER_ROW + len(entries))


def _guide_row(sheet: Worksheet, row: int, entry: GuideEntry, target: tuple[str, str] | None) -> None:
    values: tuple[str | int, ...] = (
        entry.number,
        SEVERITY_WORD[entry.severity],
        entry.place,
        entry.message,
        entry.hint,
    )
    for column, value in enumerate(values, start=1):
        cell = _put(sheet, row, column, value)
        cell.alignment, cell.border = _WRAP, _BOX
    sheet.cell(row, 2).fill = _solid(ERROR_FILL if entry.severity == "error" else WARNING_FILL)
    if target is not None:
        link = sheet.cell(row, 3)
        link.hyperlink = Hyperlink(ref=link.coordinate, location=f"{quoted_sheet(target[0])}!{target[1]}")
        link.font = _LINK_FONT
    lines = max(_lines(str(value), width) for value, (_label, width) in zip(values, _COLUMNS, strict=True))
    sheet.row_dimensions[row].height = min(15 * lines + 3, 409)


def _lines(text: str, width: int) -> int:
    return sum(max(1, math.ceil(len(line) * 1.1 / width)) for line in text.splitlines() or [""])


def _put(sheet: Worksheet, row: int, column: int, value: str | int) -> Cell:
    cell = sheet.cell(row, column)
    assert isinstance(cell, Cell)  # the guide is a new sheet: its merges are made after its cells are written
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value
    if isinstance(value, str):
        cell.data_type = "s"  # a message starting with "=" stays text, never a formula
    return cell


def _printable(sheet: Worksheet, last_row: int) -> None:
    sheet.freeze_panes = f"A{_HEADER_ROW + 1}"
    sheet.print_title_rows = f"{_HEADER_ROW}:{_HEADER_ROW}"
    sheet.auto_filter.ref = f"A{_HEADER_ROW}:{get_column_letter(len(_COLUMNS))}{max(last_row, _HEADER_ROW + 1)}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_options.gridLines = False


# ---------------------------------------------------------------- formula results, as stored by the submitter

#: A formula cell as openpyxl writes it: no stored result (`<v></v>` or `<v/>`).
_UNSTORED = re.compile(
    rb'<c r="([A-Z]{1,3}[0-9]{1,7})"((?: [A-Za-z]+="[^"]*")*)>(<f\b[^>]*?(?:/>|>[^<]*</f>))<v\s*(?:/>|></v>)</c>'
)
_HAS_FORMULA = re.compile(rb"<(?:\w+:)?f\b")
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_KINDS = {"n": "n", "str": "str", "s": "str", "b": "b", "e": "e", "d": "d"}

Results = dict[str, dict[str, tuple[str, str]]]  # sheet title -> cell -> (type, stored text)


def _cached_results(data: bytes, reader: ExcelReader) -> Results:
    """The result the submitter's program stored with each formula, by sheet and cell.

    openpyxl writes formulas without their results; restored, the marked copy shows and reads as the original
    did (a viewer that does not calculate, a preview, mailbot reading the copy sent back)."""
    strings = reader.shared_strings
    found: Results = {}
    with zipfile.ZipFile(BytesIO(data)) as archive:
        for sheet, rel in reader.parser.find_sheets():
            xml = archive.read(rel.target.lstrip("/"))
            if _HAS_FORMULA.search(xml):
                found[sheet.name] = dict(_stored(xml, strings))
    return found


def _stored(xml: bytes, strings: Sequence[object]) -> Iterator[tuple[str, tuple[str, str]]]:
    for _event, element in ElementTree.iterparse(BytesIO(xml)):
        if element.tag != f"{_NS}c":
            continue
        value, ref, kind = element.find(f"{_NS}v"), element.get("r"), _KINDS.get(element.get("t", "n"))
        if ref and kind and element.find(f"{_NS}f") is not None and value is not None and value.text:
            text = value.text
            if element.get("t") == "s":
                text = str(strings[int(text)])
            yield ref, (kind, text)
        element.clear()


def _restore_results(saved: bytes, results: Results, parts: dict[str, str]) -> bytes:
    patched = {parts[title]: stored for title, stored in results.items() if stored and title in parts}
    if not patched:
        return saved
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(saved)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename in patched:
                content = _with_results(content, patched[info.filename])
            target.writestr(info, content)
    return out.getvalue()


def _with_results(xml: bytes, stored: dict[str, tuple[str, str]]) -> bytes:
    def put(match: re.Match[bytes]) -> bytes:
        got = stored.get(match.group(1).decode("ascii"))
        if got is None:
            return match.group(0)
        kind, text = got
        attrs = re.sub(rb' t="[^"]*"', b"", match.group(2)) + (b"" if kind == "n" else f' t="{kind}"'.encode())
        value = escape(ILLEGAL_CHARACTERS_RE.sub("", text)).encode("utf-8")
        return b'<c r="%s"%s>%s<v>%s</v></c>' % (match.group(1), attrs, match.group(3), value)

    return _UNSTORED.sub(put, xml)


def quoted_sheet(title: str) -> str:
    """A sheet's name as a formula or a link writes it: always quoted, quotes doubled ('Phụ lục 1', 'Tom''s')."""
    return "'" + title.replace("'", "''") + "'"
