"""A small writer of flat OpenDocument spreadsheets (.fods), for fixture makers to hand to LibreOffice.

A fixture maker describes its sheets in plain Python and lets LibreOffice save them as .xlsx/.xls/.ods
(`tests.office.convert`), so the committed fixtures are written the way an office writes them:

    from datetime import date
    from tests.office_fixtures.flat_ods import Sheet, Row, cell, formula, month, write_fods

    sheet = Sheet(
        "Phụ lục 1",
        rows=[
            Row([cell("KẾ HOẠCH", colspan=3)]),          # merged A1:C1; B1, C1 become covered cells
            Row(["STT", "Tên nhiệm vụ", "Kinh phí"]),
            Row([1, "Nhiệm vụ A", 100.0]),
            Row([2, "Nhiệm vụ B", 50], hidden=True),     # a hidden row (table:visibility="collapse")
            Row(["", "Tổng cộng", formula("of:=SUM([.C3:.C4])")]),
            Row(["", "Bắt đầu", month(date(2024, 1, 1))]),  # a real date shown as 01/2024
        ],
        widths=[1.2, 8.0, 3.0],                              # centimetres, optional
        hidden_cols={2},                                     # 0-based column indexes
    )
    source = write_fods(work / "plan.fods", [sheet])

Values in a `Row` are either a `Cell` (from `cell`, `formula`, `month`, `day`) or a bare value: `str` is a string
cell, `int`/`float` a float cell, `datetime.date` a date cell shown as dd/mm/yyyy, `None` an empty cell.
A text with line breaks becomes one paragraph per line, as in LibreOffice. A formula is written without
a cached value unless one is given: LibreOffice computes it when it loads the file and stores the result
when it saves the converted copy. Merges: the anchor cell carries `colspan`/`rowspan`; the positions it
covers are written as `table:covered-table-cell` whatever the rows hold there (leave them `None`).

This module defines no FIXTURES: it is a library for the modules that do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

FIXTURES: dict[str, object] = {}

#: Style names the writer declares; a `Cell.style` picks one of them.
MONTH_STYLE = "ce_month"  # a date shown as MM/YYYY
DAY_STYLE = "ce_day"  # a date shown as DD/MM/YYYY
BOLD_STYLE = "ce_bold"
WRAP_STYLE = "ce_wrap"

Scalar = str | int | float | date | None


@dataclass(frozen=True)
class Cell:
    """One cell: a value of a `kind` ("string", "float", "date", "empty"), an optional formula, a merge span."""

    value: Scalar = None
    kind: str = "empty"
    formula: str | None = None
    colspan: int = 1
    rowspan: int = 1
    style: str | None = None


@dataclass
class Row:
    cells: Sequence[Cell | Scalar]
    hidden: bool = False
    height: float | None = None  # centimetres


@dataclass
class Sheet:
    name: str
    rows: list[Row]
    widths: Sequence[float] | None = None  # centimetres per column, from column A
    hidden_cols: set[int] = field(default_factory=set)  # 0-based


def cell(value: Scalar, *, colspan: int = 1, rowspan: int = 1, bold: bool = False, wrap: bool = False) -> Cell:
    """A plain value as a cell, possibly merged over `colspan` columns and `rowspan` rows."""
    style = BOLD_STYLE if bold else WRAP_STYLE if wrap else None
    base = _as_cell(value)
    return Cell(base.value, base.kind, None, colspan, rowspan, style or base.style)


def formula(expression: str, cached: float | None = None, *, colspan: int = 1, rowspan: int = 1) -> Cell:
    """A float formula such as ``of:=SUM([.C5:.C7])``; `cached` is written as its stored value if given."""
    if not expression.startswith("of:="):
        raise ValueError("OpenFormula expressions start with 'of:=' (cells as [.C5], ranges as [.C5:.C7])")
    return Cell(cached, "float", expression, colspan, rowspan)


def month(value: date, **span: int) -> Cell:
    """A real date, formatted as a month (MM/YYYY) by a number style."""
    return Cell(value, "date", None, span.get("colspan", 1), span.get("rowspan", 1), MONTH_STYLE)


def day(value: date, **span: int) -> Cell:
    """A real date, formatted as DD/MM/YYYY."""
    return Cell(value, "date", None, span.get("colspan", 1), span.get("rowspan", 1), DAY_STYLE)


def write_fods(path: Path, sheets: Iterable[Sheet]) -> Path:
    """Write `sheets` as one flat ODS document at `path` (conventionally *.fods); return `path`."""
    body = "".join(_sheet_xml(sheet) for sheet in sheets)
    path.write_text(_HEAD + body + _TAIL, encoding="utf-8")
    return path


def _as_cell(value: Cell | Scalar) -> Cell:
    if isinstance(value, Cell):
        return value
    if value is None or value == "":
        return Cell()
    if isinstance(value, str):
        return Cell(value, "string")
    if isinstance(value, bool):
        raise TypeError("booleans are not fixture values")
    if isinstance(value, int | float):
        return Cell(float(value), "float")
    if isinstance(value, date):
        return Cell(value, "date", style=DAY_STYLE)
    raise TypeError(f"cannot write {value!r} as a cell")


def _sheet_xml(sheet: Sheet) -> str:
    width = max((len(row.cells) for row in sheet.rows), default=1)
    columns = "".join(_column_xml(sheet, index) for index in range(width))
    covered = _covered_positions(sheet.rows)
    rows = "".join(_row_xml(row, index, width, covered) for index, row in enumerate(sheet.rows))
    return f"<table:table table:name={quoteattr(sheet.name)}>{columns}{rows}</table:table>"


def _column_xml(sheet: Sheet, index: int) -> str:
    attrs = ""
    if sheet.widths is not None and index < len(sheet.widths):
        attrs += f' table:style-name="co_{_cm(sheet.widths[index])}"'
    if index in sheet.hidden_cols:
        attrs += ' table:visibility="collapse"'
    return f"<table:table-column{attrs}/>"


def _covered_positions(rows: list[Row]) -> set[tuple[int, int]]:
    covered: set[tuple[int, int]] = set()
    for r, row in enumerate(rows):
        for c, value in enumerate(row.cells):
            if isinstance(value, Cell) and (value.colspan > 1 or value.rowspan > 1):
                span = {(r + dr, c + dc) for dr in range(value.rowspan) for dc in range(value.colspan)}
                covered |= span - {(r, c)}
    return covered


def _row_xml(row: Row, index: int, width: int, covered: set[tuple[int, int]]) -> str:
    attrs = ' table:visibility="collapse"' if row.hidden else ""
    if row.height is not None:
        attrs += f' table:style-name="ro_{_cm(row.height)}"'
    cells = list(row.cells) + [None] * (width - len(row.cells))
    parts = []
    for column, value in enumerate(cells):
        if (index, column) in covered:
            parts.append("<table:covered-table-cell/>")
        else:
            parts.append(_cell_xml(_as_cell(value)))
    return f"<table:table-row{attrs}>{''.join(parts)}</table:table-row>"


def _cell_xml(c: Cell) -> str:
    attrs = ""
    if c.style:
        attrs += f' table:style-name="{c.style}"'
    if c.colspan > 1:
        attrs += f' table:number-columns-spanned="{c.colspan}"'
    if c.rowspan > 1:
        attrs += f' table:number-rows-spanned="{c.rowspan}"'
    if c.formula is not None:
        attrs += f" table:formula={quoteattr(c.formula)}"
    if c.kind == "empty" and c.formula is None:
        return f"<table:table-cell{attrs}/>"
    if c.kind == "string":
        text = str(c.value)
        attrs += ' office:value-type="string"'
        paragraphs = "".join(f"<text:p>{escape(line)}</text:p>" for line in text.split("\n"))
        return f"<table:table-cell{attrs}>{paragraphs}</table:table-cell>"
    if c.kind == "date" and isinstance(c.value, date):
        stamp = c.value.isoformat() if isinstance(c.value, datetime) else f"{c.value.isoformat()}"
        return f'<table:table-cell{attrs} office:value-type="date" office:date-value="{stamp}"/>'
    attrs += ' office:value-type="float"'
    if c.value is not None:
        attrs += f' office:value="{_number(c.value)}"'
    return f"<table:table-cell{attrs}/>"


def _number(value: Scalar) -> str:
    number = float(value) if isinstance(value, int | float | str) else 0.0
    return repr(int(number)) if number.is_integer() else repr(number)


def _cm(value: float) -> str:
    return f"{value:.3f}".replace(".", "_")


def _length_styles() -> str:
    """Column-width and row-height styles for the lengths fixtures commonly use (0.1 cm steps to 30 cm)."""
    parts = []
    for tenth in range(1, 301):
        cm = tenth / 10
        name = _cm(cm)
        parts.append(
            f'<style:style style:name="co_{name}" style:family="table-column">'
            f'<style:table-column-properties style:column-width="{cm}cm"/></style:style>'
            f'<style:style style:name="ro_{name}" style:family="table-row">'
            f'<style:table-row-properties style:row-height="{cm}cm" style:use-optimal-row-height="false"/>'
            "</style:style>"
        )
    return "".join(parts)


_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
    'xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2" '
    'office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.spreadsheet"'
)

_DATA_STYLES = (
    '<number:date-style style:name="N_MONTH"><number:month number:style="long"/><number:text>/</number:text>'
    '<number:year number:style="long"/></number:date-style>'
    '<number:date-style style:name="N_DAY"><number:day number:style="long"/><number:text>/</number:text>'
    '<number:month number:style="long"/><number:text>/</number:text><number:year number:style="long"/>'
    "</number:date-style>"
)

_CELL_STYLES = (
    f'<style:style style:name="{MONTH_STYLE}" style:family="table-cell" style:data-style-name="N_MONTH"/>'
    f'<style:style style:name="{DAY_STYLE}" style:family="table-cell" style:data-style-name="N_DAY"/>'
    f'<style:style style:name="{BOLD_STYLE}" style:family="table-cell">'
    '<style:table-cell-properties fo:wrap-option="wrap"/><style:text-properties fo:font-weight="bold"/>'
    "</style:style>"
    f'<style:style style:name="{WRAP_STYLE}" style:family="table-cell">'
    '<style:table-cell-properties fo:wrap-option="wrap"/></style:style>'
)

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f"<office:document {_NAMESPACES}>"
    f"<office:styles>{_DATA_STYLES}</office:styles>"
    f"<office:automatic-styles>{_CELL_STYLES}{_length_styles()}</office:automatic-styles>"
    "<office:body><office:spreadsheet>"
)
_TAIL = "</office:spreadsheet></office:body></office:document>\n"
