"""The compiled plan as a Word document for the official dispatch: A4 landscape, the national header, the title,
the plan's table (header rows repeated on every page) with the same rows as the workbook and the sums computed,
then the per-unit table. Money is written as a Vietnamese reader writes it: 1.234,5 (million VND).
"""

from __future__ import annotations

import io
import re
from itertools import groupby
from xml.sax.saxutils import escape

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.oxml.table import CT_Row
from docx.shared import Emu, Mm, Pt
from docx.table import Table, _Cell, _Row

from mailbot.officer.compiled import (
    MONEY_UNIT,
    SECTION_STATES,
    UNIT_LABEL,
    CompiledPlan,
    PlanColumn,
    PlanSection,
    PlanTask,
    cell_text,
    money,
    total,
    vietnamese_money,
)
from mailbot.officer.compiled_xlsx import COUNTRY, FONT

PAGE_WIDTH, PAGE_HEIGHT, MARGIN = Mm(297), Mm(210), Mm(12)
_TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
#: Widths in mm that fit "(12)", "12.345,5" and "01/2024" at 8 points with Word's cell margins.
_FIXED_MM = {"stt": 10, "count": 14, "money": 18, "month": 15, "integer": 10}
#: Characters a run's text cannot hold as they are (python-docx makes tabs and breaks of some, refuses others).
_SPECIAL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_JC = {WD_ALIGN_PARAGRAPH.CENTER: "center", WD_ALIGN_PARAGRAPH.RIGHT: "right"}


def plan_docx(plan: CompiledPlan) -> bytes:
    document = Document()
    _page(document, plan)
    _national_header(document, plan)
    _paragraph(document, plan.title.upper(), size=14, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(document, plan.call_title, italic=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(document, plan.updated_line, italic=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(document, MONEY_UNIT, italic=True, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _plan_table(document, plan)
    _paragraph(document, "", page_break=True)
    _paragraph(document, f"TỔNG HỢP THEO {UNIT_LABEL.upper()}", size=13, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(document, MONEY_UNIT, italic=True, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _units_table(document, plan)
    document.core_properties.title = plan.title
    document.core_properties.author = document.core_properties.last_modified_by = "mailbot"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _page(document: DocumentObject, plan: CompiledPlan) -> None:
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = MARGIN
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(10)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run("Trang ")
    _field(footer, "PAGE")
    footer.add_run("/")
    _field(footer, "NUMPAGES")
    footer.add_run(f" — {plan.title} — {plan.updated_line}")


def _field(paragraph: object, name: str) -> None:
    """A PAGE or NUMPAGES field, which Word and LibreOffice fill in on each page."""
    simple = OxmlElement("w:fldSimple")
    simple.set(qn("w:instr"), name)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    simple.append(run)
    paragraph._p.append(simple)  # type: ignore[attr-defined]  # python-docx has no API for fields


def _paragraph(
    document: DocumentObject,
    text: str,
    *,
    size: float = 11,
    bold: bool = False,
    italic: bool = False,
    align: WD_ALIGN_PARAGRAPH | None = None,
    page_break: bool = False,
) -> None:
    paragraph = document.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    run = paragraph.add_run(text)
    run.font.size, run.font.bold, run.font.italic = Pt(size), bold, italic
    if page_break:
        run.add_break(WD_BREAK.PAGE)


def _national_header(document: DocumentObject, plan: CompiledPlan) -> None:
    table = document.add_table(rows=1, cols=2)
    left, right = table.rows[0].cells
    _write(left, [plan.issuer.ministry, plan.issuer.office], bold=[False, True], size=12)
    _write(right, list(COUNTRY), bold=[True, True], size=12)
    for cell, width in ((left, _TEXT_WIDTH * 2 // 5), (right, _TEXT_WIDTH * 3 // 5)):
        cell.width = width


def _write(cell: _Cell, lines: list[str], *, bold: list[bool], size: float) -> None:
    for index, line in enumerate(lines):
        paragraph = cell.paragraphs[0] if index == 0 else cell.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(line)
        run.font.bold, run.font.size = bold[index], Pt(size)


# --- the tables --------------------------------------------------------------------------------------


class _Grid:
    """A bordered table with fixed column widths in proportion to the workbook's, and a repeated header."""

    def __init__(self, document: DocumentObject, columns: list[PlanColumn], size: float) -> None:
        self.columns, self.size = columns, size
        self.table: Table = document.add_table(rows=0, cols=len(columns))
        self.table.style = "Table Grid"
        self.table.alignment = WD_TABLE_ALIGNMENT.CENTER
        self.table.autofit = False
        self.widths = column_widths(columns)
        self.twips = [Emu(width).twips for width in self.widths]  # as python-docx writes a cell's width
        for column, width in zip(self.table.columns, self.widths, strict=True):
            column.width = width

    def row(
        self,
        texts: list[str],
        *,
        bold: bool = False,
        header: bool = False,
        right: frozenset[int] = frozenset(),
        span: int = 1,
    ) -> _Row:
        """A row appended to the table, its first cell over `span` columns (`texts` has one per column; those it
        covers must be empty). Its XML is written in one piece: the same elements python-docx's add_row,
        cell.width, paragraph.alignment, add_run and a merge within one row make, without their cost per element
        and per merge (a plan of thousands of tasks has tens of thousands of cells)."""
        size = f'<w:sz w:val="{round(self.size * 2)}"/>'
        run_properties = f"<w:rPr>{'<w:b/>' if bold or header else ''}{size}</w:rPr>"
        parts = [f"<w:tr {nsdecls('w')}><w:trPr><w:cantSplit/>{'<w:tblHeader/>' if header else ''}</w:trPr>"]
        special: list[tuple[int, str]] = []  # texts with tabs, line breaks or control characters: python-docx's
        for index, (width, text) in enumerate(zip(self.twips, texts, strict=True)):
            if 0 < index < span:
                continue  # covered by the first cell
            if index == 0 and span > 1:
                spanned = f'<w:tcW w:type="dxa" w:w="{sum(self.twips[:span])}"/><w:gridSpan w:val="{span}"/>'
                parts.append(f"<w:tc><w:tcPr>{spanned}</w:tcPr>")
            else:
                parts.append(f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{width}"/></w:tcPr>')
            if not text:
                parts.append("<w:p/></w:tc>")
                continue
            alignment = _alignment(header, index in right)
            paragraph = f'<w:pPr><w:jc w:val="{_JC[alignment]}"/></w:pPr>' if alignment is not None else ""
            if _SPECIAL.search(text):
                special.append((index, text))
                content = ""
            else:
                space = ' xml:space="preserve"' if len(text.strip()) < len(text) else ""
                content = f"<w:t{space}>{escape(text)}</w:t>"
            parts.append(f"<w:p>{paragraph}<w:r>{run_properties}{content}</w:r></w:p></w:tc>")
        tr: CT_Row = parse_xml("".join(parts) + "</w:tr>")
        self.table._tbl.append(tr)
        for index, text in special:  # python-docx's own run text: <w:tab/>, <w:br/>, or its refusal
            tr.tc_lst[index - span + 1 if index else 0].p_lst[0].r_lst[0].text = text
        return _Row(tr, self.table)

    def cells(self, row: _Row) -> list[_Cell]:
        """The cells of a row not yet merged, one per column (python-docx's `row.cells` walks the whole table)."""
        return [_Cell(tc, self.table) for tc in row._tr.tc_lst]

    def banner(self, text: str, last: int | None = None, *, values: list[str] | None = None) -> None:
        """A label merged over columns 0..last (all by default), then `values` right-aligned in the columns after."""
        end = len(self.columns) - 1 if last is None else last
        texts = [text, *[""] * end, *(values or [""] * (len(self.columns) - end - 1))]
        self.row(texts, bold=True, right=frozenset(range(end + 1, len(self.columns))), span=end + 1)

    def header(self, numbers: bool) -> None:
        top = self.cells(self.row([c.group or c.label for c in self.columns], header=True))
        bottom = self.cells(self.row([c.label if c.group else "" for c in self.columns], header=True))
        index = 0
        for group, run in groupby(self.columns, key=lambda c: c.group):
            count = len(list(run))
            if group is None:
                for at in range(index, index + count):
                    _merge_text(top[at], bottom[at])
            elif count > 1:
                _merge_text(top[index], top[index + count - 1])
            index += count
        if numbers:
            self.row([f"({i})" for i in range(1, len(self.columns) + 1)], header=True)


def column_widths(columns: list[PlanColumn]) -> list[Emu]:
    """Numbers and months get the room their text needs; the text columns share the rest by their widths."""
    fixed = {c.key: _FIXED_MM[c.key if c.key in _FIXED_MM else c.type] for c in columns if _fixed(c)}
    room = _TEXT_WIDTH - Mm(sum(fixed.values()))
    whole = sum(c.width for c in columns if not _fixed(c)) or 1
    return [Emu(Mm(fixed[c.key])) if _fixed(c) else Emu(int(room * c.width / whole)) for c in columns]


def _fixed(column: PlanColumn) -> bool:
    return column.key in _FIXED_MM or column.type in _FIXED_MM


def _merge_text(first: _Cell, last: _Cell) -> None:
    """Merge two cells keeping only the first one's text (python-docx joins both cells' paragraphs)."""
    for paragraph in last.paragraphs:
        for run in paragraph.runs:
            run.text = ""
    merged = first.merge(last)
    for extra in merged.paragraphs[1:]:
        extra._p.getparent().remove(extra._p)


def _alignment(header: bool, right: bool) -> WD_ALIGN_PARAGRAPH | None:
    if header:
        return WD_ALIGN_PARAGRAPH.CENTER
    return WD_ALIGN_PARAGRAPH.RIGHT if right else None


def _plan_table(document: DocumentObject, plan: CompiledPlan) -> None:
    grid = _Grid(document, plan.columns, 8)
    grid.header(numbers=True)
    money_at = [i for i, c in enumerate(plan.columns) if c.type == "money"]
    label_end = money_at[0] - 1 if money_at and money_at[0] > 0 else len(plan.columns) - 1
    after = plan.columns[label_end + 1 :]
    for section in plan.sections:
        grid.banner(section.title)
        number = 0
        for group in section.groups:
            grid.banner(f"{group.number}. {group.title}")
            for task in group.tasks:
                number += 1
                texts = [_task_text(c, task, number) for c in plan.columns]
                grid.row(texts, right=frozenset(money_at))
            grid.banner(group.subtotal_label, label_end, values=_sums(after, group.tasks))
        grid.banner(section.total_label, label_end, values=_sums(after, list(section.tasks())))


def _task_text(column: PlanColumn, task: PlanTask, number: int) -> str:
    if column.key == "stt":
        return str(number)
    if column.type == "money":
        return vietnamese_money(money(task, column.key))
    return cell_text(column, task)


def _sums(columns: list[PlanColumn], tasks: list[PlanTask]) -> list[str]:
    return [vietnamese_money(total(tasks, c.key)) if c.type == "money" else "" for c in columns]


def _units_table(document: DocumentObject, plan: CompiledPlan) -> None:
    money_columns = [c for c in plan.columns if c.type == "money"]
    columns = [
        PlanColumn("stt", "STT", None, 6),
        PlanColumn("unit", UNIT_LABEL, None, 40),
        PlanColumn("receipts", "Số tiếp nhận", None, 22),
        PlanColumn("state", "Tình trạng", None, 16),
        PlanColumn("count", "Số nhiệm vụ", None, 11),
        *(PlanColumn(c.key, c.label, c.group, 15, "money") for c in money_columns),
    ]
    grid = _Grid(document, columns, 10)
    grid.header(numbers=False)
    for section in plan.sections:
        _units_section(grid, section, money_columns)


def _units_section(grid: _Grid, section: PlanSection, money_columns: list[PlanColumn]) -> None:
    grid.banner(section.title)
    right = frozenset(range(4, 5 + len(money_columns)))
    for number, line in enumerate(section.units, start=1):
        head = [str(number), line.unit, ", ".join(line.receipts), SECTION_STATES[section.key], str(len(line.tasks))]
        grid.row(head + [vietnamese_money(total(line.tasks, c.key)) for c in money_columns], right=right)
    letter = "A" if section.key == "accepted" else "B"
    count = sum(len(line.tasks) for line in section.units)
    sums = [vietnamese_money(total(list(section.tasks()), c.key)) for c in money_columns]
    grid.banner(f"Cộng {letter}", 3, values=[str(count), *sums])
