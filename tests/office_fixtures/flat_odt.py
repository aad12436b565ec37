"""A small writer of flat OpenDocument text (.fodt), for fixture makers to hand to LibreOffice.

Build a document block by block, then `write()` it and let `tests.office.convert` save it as
.docx/.doc/.odt/.rtf, so the fixture is what an office suite really writes:

    doc = FlatOdt()
    doc.heading("PHỤ LỤC 1", level=1)
    doc.paragraph("Đơn vị tính: triệu đồng")
    doc.numbered(["Tên nhiệm vụ", "Mục tiêu"])            # "1." "2." are list numbering, not text
    doc.paragraph([Run("Tªn nhiÖm vô", font=".VnTime")])    # a run typed in a TCVN3 font
    doc.landscape()                                        # the next block starts a landscape page
    doc.table(
        [[Cell("STT", rowspan=2), Cell("Kinh phí", colspan=2)],   # merged header cells
         ["NSNN", "Khác"],                                         # (covered cells are added for you)
         ["1", "100", "20"]],
        header_rows=2,                                     # repeated on every page (table:table-header-rows)
    )
    doc.page_break()                                       # the next block starts a new page
    doc.table([["2", "50", "0"]])                          # a table split from the first one
    doc.portrait()
    path = doc.write(work / "plan.fodt")

Blocks: `paragraph`, `heading` (outline level; `numbered=True` numbers it through a numbered list,
not through its text), `numbered` (an automatic numbered list, nested lists for "1.1"), `table`
(cells are strings, `Cell`s, or `None` for an empty cell; `header_rows` rows go into
table:table-header-rows), `page_break`, `landscape`/`portrait` (a page style change: a section
break in Word). Text is a string or a list of `Run`s, each with its own font, bold or italic; a
newline in a paragraph is a line break, and in a cell starts a new paragraph.

This module has no FIXTURES: it is a library for the fixture modules beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

FIXTURES: dict[str, object] = {}

DEFAULT_FONT = "Times New Roman"


@dataclass(frozen=True)
class Run:
    """A stretch of text with its own character formatting (font name as the office shows it)."""

    text: str
    font: str | None = None
    bold: bool = False
    italic: bool = False
    size_pt: float | None = None


Text = str | Run | list[Run] | list[str | Run]


@dataclass(frozen=True)
class Cell:
    """A table cell; `colspan`/`rowspan` merge it over its neighbours (they become covered cells)."""

    text: Text = ""
    colspan: int = 1
    rowspan: int = 1
    font: str | None = None
    bold: bool = False


@dataclass
class ListItem:
    """One item of a numbered list: its text (a paragraph, or a heading at `heading_level`) and sub-items."""

    text: Text
    children: list[ListItem] = field(default_factory=list)
    heading_level: int | None = None


def _runs(text: Text, font: str | None = None, bold: bool = False) -> list[Run]:
    if isinstance(text, str):
        return [Run(text, font=font, bold=bold)]
    if isinstance(text, Run):
        return [text]
    return [Run(part, font=font, bold=bold) if isinstance(part, str) else part for part in text]


class FlatOdt:
    """A flat ODT document under construction; `to_xml()` gives the XML, `write(path)` saves it."""

    def __init__(self, font: str = DEFAULT_FONT, size_pt: float = 13) -> None:
        self.font = font
        self.size_pt = size_pt
        self._body: list[str] = []
        self._fonts: set[str] = {font}
        self._auto: dict[str, str] = {}  # style XML (without name) → style name
        self._auto_xml: list[str] = []
        self._tables = 0
        self._pending_break = False
        self._pending_master: str | None = None
        self._lists = 0
        self._list_styles: list[str] = []

    # ---- blocks ---------------------------------------------------------------------------------

    def paragraph(self, text: Text = "", *, bold: bool = False, align: str | None = None) -> FlatOdt:
        self._body.append(self._paragraph_xml(text, bold=bold, align=align))
        return self

    def heading(self, text: Text, level: int = 1, *, numbered: bool = False) -> FlatOdt:
        """A heading at an outline level; `numbered` puts it in a one-item numbered list (numbering, not text)."""
        if numbered:
            return self.numbered([ListItem(text, heading_level=level)])
        self._body.append(self._heading_xml(text, level))
        return self

    def numbered(
        self,
        items: list[str | Run | list[Run] | ListItem],
        *,
        start: int = 1,
        suffix: str = ".",
        prefix: str = "",
        continue_previous: bool = False,
    ) -> FlatOdt:
        """An automatic numbered list ("1." "2." … from the list style; nested items number "1.1")."""
        style = self._list_style(prefix, suffix, start)
        entries = [item if isinstance(item, ListItem) else ListItem(item) for item in items]
        attrs = f' text:style-name="{style}"'
        if continue_previous:
            attrs += ' text:continue-numbering="true"'
        self._body.append(self._list_xml(entries, attrs))
        return self

    def table(
        self,
        rows: list[list[str | Cell | None]],
        *,
        header_rows: int = 0,
        column_widths_cm: list[float] | None = None,
        name: str | None = None,
    ) -> FlatOdt:
        """A table; the first `header_rows` rows repeat on every page. Covered cells are filled in."""
        self._tables += 1
        name = name or f"Table{self._tables}"
        columns = max(sum(c.colspan if isinstance(c, Cell) else 1 for c in row) for row in rows)
        widths = column_widths_cm or [2.5] * columns
        style = self._style(
            "table",
            f'<style:table-properties style:width="{sum(widths):.2f}cm" table:align="left"{self._block_extras()}/>',
            master=self._take_master(),
        )
        parts = [f"<table:table table:name={quoteattr(name)} table:style-name={quoteattr(style)}>"]
        for width in widths:
            col_style = self._style("table-column", f'<style:table-column-properties style:column-width="{width}cm"/>')
            parts.append(f'<table:table-column table:style-name="{col_style}"/>')
        body = self._rows_xml(rows, columns)
        if header_rows:
            parts.append("<table:table-header-rows>" + "".join(body[:header_rows]) + "</table:table-header-rows>")
        parts.extend(body[header_rows:])
        parts.append("</table:table>")
        self._body.append("".join(parts))
        return self

    def page_break(self) -> FlatOdt:
        """The next block starts on a new page (no empty paragraph is added)."""
        self._pending_break = True
        return self

    def landscape(self) -> FlatOdt:
        """The next block starts a landscape page (a new section in Word)."""
        self._pending_master = "Landscape"
        return self

    def portrait(self) -> FlatOdt:
        """The next block starts a portrait page again."""
        self._pending_master = "Standard"
        return self

    # ---- output ---------------------------------------------------------------------------------

    def write(self, path: Path) -> Path:
        path.write_text(self.to_xml(), encoding="utf-8")
        return path

    def to_xml(self) -> str:
        fonts = "".join(
            f"<style:font-face style:name={quoteattr(f)} svg:font-family={quoteattr(_family(f))}/>"
            for f in sorted(self._fonts)
        )
        default = (
            '<style:default-style style:family="paragraph"><style:text-properties '
            f'style:font-name={quoteattr(self.font)} fo:font-size="{self.size_pt}pt" fo:language="vi" '
            'fo:country="VN"/></style:default-style>'
        )
        headings = "".join(
            f'<style:style style:name="Heading_20_{n}" style:display-name="Heading {n}" style:family="paragraph" '
            f'style:parent-style-name="Standard" style:default-outline-level="{n}">'
            f'<style:text-properties fo:font-weight="bold"/></style:style>'
            for n in range(1, 5)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<office:document {_NAMESPACES} office:version="1.3" '
            'office:mimetype="application/vnd.oasis.opendocument.text">'
            f"<office:font-face-decls>{fonts}</office:font-face-decls>"
            f"<office:styles>{default}"
            '<style:style style:name="Standard" style:family="paragraph" style:class="text"/>'
            f"{headings}</office:styles>"
            f"<office:automatic-styles>{_PAGE_LAYOUTS}{''.join(self._auto_xml)}{''.join(self._list_styles)}"
            "</office:automatic-styles>"
            f"<office:master-styles>{_MASTER_PAGES}</office:master-styles>"
            f"<office:body><office:text>{''.join(self._body)}</office:text></office:body>"
            "</office:document>\n"
        )

    # ---- pieces ---------------------------------------------------------------------------------

    def _block_extras(self) -> str:
        if self._pending_break:
            self._pending_break = False
            return ' fo:break-before="page"'
        return ""

    def _take_master(self) -> str | None:
        master, self._pending_master = self._pending_master, None
        return master

    def _style(self, family: str, props: str, *, parent: str | None = None, master: str | None = None) -> str:
        attrs = f' style:family="{family}"'
        if parent:
            attrs += f' style:parent-style-name="{parent}"'
        if master:
            attrs += f' style:master-page-name="{master}"'
        key = attrs + props
        if key not in self._auto:
            prefix = {"paragraph": "P", "text": "T", "table": "Tb", "table-column": "Co", "table-cell": "Ce"}[family]
            name = f"{prefix}{len(self._auto) + 1}"
            self._auto[key] = name
            self._auto_xml.append(f'<style:style style:name="{name}"{attrs}>{props}</style:style>')
        return self._auto[key]

    def _para_style(self, parent: str, *, bold: bool = False, align: str | None = None) -> str | None:
        extras = self._block_extras()
        master = self._take_master()
        props = ""
        if extras or align:
            props += f"<style:paragraph-properties{extras}{f' fo:text-align={quoteattr(align)}' if align else ''}/>"
        if bold:
            props += '<style:text-properties fo:font-weight="bold"/>'
        if not props and not master:
            return None
        return self._style("paragraph", props, parent=parent, master=master)

    def _paragraph_xml(self, text: Text, *, bold: bool = False, align: str | None = None) -> str:
        style = self._para_style("Standard", bold=bold, align=align) or "Standard"
        return f'<text:p text:style-name="{style}">{self._runs_xml(_runs(text))}</text:p>'

    def _heading_xml(self, text: Text, level: int) -> str:
        parent = f"Heading_20_{min(level, 4)}"
        style = self._para_style(parent) or parent
        return f'<text:h text:style-name="{style}" text:outline-level="{level}">{self._runs_xml(_runs(text))}</text:h>'

    def _runs_xml(self, runs: list[Run]) -> str:
        out = []
        for run in runs:
            props = ""
            if run.font:
                self._fonts.add(run.font)
                props += (
                    f" style:font-name={quoteattr(run.font)} style:font-name-asian={quoteattr(run.font)}"
                    f" style:font-name-complex={quoteattr(run.font)}"
                )
            if run.bold:
                props += ' fo:font-weight="bold"'
            if run.italic:
                props += ' fo:font-style="italic"'
            if run.size_pt:
                props += f' fo:font-size="{run.size_pt}pt"'
            content = _text_xml(run.text)
            if props:
                style = self._style("text", f"<style:text-properties{props}/>")
                out.append(f'<text:span text:style-name="{style}">{content}</text:span>')
            else:
                out.append(content)
        return "".join(out)

    def _list_style(self, prefix: str, suffix: str, start: int) -> str:
        self._lists += 1
        name = f"L{self._lists}"
        levels = "".join(
            f'<text:list-level-style-number text:level="{n}" style:num-prefix={quoteattr(prefix)} '
            f'style:num-suffix={quoteattr(suffix)} style:num-format="1" text:display-levels="{n}"'
            f"{f' text:start-value={quoteattr(str(start))}' if n == 1 and start != 1 else ''}>"
            '<style:list-level-properties text:list-level-position-and-space-mode="label-alignment">'
            f'<style:list-level-label-alignment text:label-followed-by="space" fo:text-indent="-0.6cm" '
            f'fo:margin-left="{0.6 * n:.1f}cm"/></style:list-level-properties></text:list-level-style-number>'
            for n in range(1, 4)
        )
        self._list_styles.append(f'<text:list-style style:name="{name}">{levels}</text:list-style>')
        return name

    def _list_xml(self, items: list[ListItem], attrs: str) -> str:
        parts = [f"<text:list{attrs}>"]
        for item in items:
            if item.heading_level is not None:
                inner = self._heading_xml(item.text, item.heading_level)
            else:
                inner = self._paragraph_xml(item.text)
            if item.children:
                inner += self._list_xml(item.children, "")
            parts.append(f"<text:list-item>{inner}</text:list-item>")
        parts.append("</text:list>")
        return "".join(parts)

    def _rows_xml(self, rows: list[list[str | Cell | None]], columns: int) -> list[str]:
        covered: set[tuple[int, int]] = set()
        out = []
        for r, row in enumerate(rows):
            cells: list[str] = []
            queue = list(row)
            for c in range(columns):
                if (r, c) in covered:
                    cells.append("<table:covered-table-cell/>")
                    continue
                cell = queue.pop(0) if queue else None
                cells.append(self._cell_xml(cell))
                if isinstance(cell, Cell):
                    for dr in range(cell.rowspan):
                        for dc in range(cell.colspan):
                            if dr or dc:
                                covered.add((r + dr, c + dc))
            out.append("<table:table-row>" + "".join(cells) + "</table:table-row>")
        return out

    def _cell_xml(self, cell: str | Cell | None) -> str:
        if cell is None:
            cell = Cell("")
        elif isinstance(cell, str):
            cell = Cell(cell)
        attrs = ' office:value-type="string"'
        if cell.colspan > 1:
            attrs += f' table:number-columns-spanned="{cell.colspan}"'
        if cell.rowspan > 1:
            attrs += f' table:number-rows-spanned="{cell.rowspan}"'
        style = self._style(
            "table-cell", '<style:table-cell-properties fo:border="0.5pt solid #000000" fo:padding="0.05cm"/>'
        )
        paragraphs = _split_lines(_runs(cell.text, font=cell.font, bold=cell.bold))
        inner = "".join(f'<text:p text:style-name="Standard">{self._runs_xml(p)}</text:p>' for p in paragraphs)
        return f'<table:table-cell table:style-name="{style}"{attrs}>{inner}</table:table-cell>'


def _split_lines(runs: list[Run]) -> list[list[Run]]:
    """The runs of a cell as paragraphs: a newline in a run starts a new paragraph."""
    paragraphs: list[list[Run]] = [[]]
    for run in runs:
        pieces = run.text.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                paragraphs.append([])
            if piece:
                paragraphs[-1].append(Run(piece, run.font, run.bold, run.italic, run.size_pt))
    return paragraphs


def _text_xml(text: str) -> str:
    """Text as ODF paragraph content: runs of spaces, tabs and line breaks as their elements."""
    out: list[str] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            out.append("<text:line-break/>")
        for j, chunk in enumerate(line.split("\t")):
            if j:
                out.append("<text:tab/>")
            out.append(_spaces_xml(chunk))
    return "".join(out)


def _spaces_xml(chunk: str) -> str:
    """Spaces ODF would collapse (leading, or after another space) as text:s."""
    out: list[str] = []
    for i, piece in enumerate(re.split(r"( +)", chunk)):
        if not piece:
            continue
        if i % 2 == 0:
            out.append(escape(piece))
        elif i == 1 and not out:
            out.append(f'<text:s text:c="{len(piece)}"/>')
        else:
            out.append(" " + (f'<text:s text:c="{len(piece) - 1}"/>' if len(piece) > 1 else ""))
    return "".join(out)


def _family(font: str) -> str:
    return f"'{font}'" if " " in font else font


_NAMESPACES = " ".join(
    f'xmlns:{prefix}="{uri}"'
    for prefix, uri in {
        "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
        "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
        "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
        "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    }.items()
)

_PAGE_LAYOUTS = (
    '<style:page-layout style:name="pmPortrait"><style:page-layout-properties fo:page-width="21cm" '
    'fo:page-height="29.7cm" style:print-orientation="portrait" fo:margin-top="2cm" fo:margin-bottom="2cm" '
    'fo:margin-left="3cm" fo:margin-right="2cm"/></style:page-layout>'
    '<style:page-layout style:name="pmLandscape"><style:page-layout-properties fo:page-width="29.7cm" '
    'fo:page-height="21cm" style:print-orientation="landscape" fo:margin-top="2cm" fo:margin-bottom="2cm" '
    'fo:margin-left="2cm" fo:margin-right="2cm"/></style:page-layout>'
)

_MASTER_PAGES = (
    '<style:master-page style:name="Standard" style:page-layout-name="pmPortrait"/>'
    '<style:master-page style:name="Landscape" style:page-layout-name="pmLandscape"/>'
)
