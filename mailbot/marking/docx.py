"""The submitter's own Word file marked where to fix it: shaded places with comments, a guide at the start.

Every place a finding names gets a fill (ERROR_FILL when an error is there, else WARNING_FILL), a bookmark,
and one Word comment (author COMMENT_AUTHOR) with the text of every finding on it:
- a Phụ lục 1 table finding ("Bảng 2", "E7") marks the `w:tc` the docx reader read that grid cell from
  (mailbot.readers.docx.layout_of: same walk, same gridSpan/vMerge placement, same joined split tables);
- a Phụ lục 2 finding (task_index, field, value) marks the paragraph of that description holding the value
  (the "Tổng kinh phí: …" line for a budget), or the description's first paragraph when there is no value.
The body then opens with the guide: the title, one line per guide entry linked to its place's bookmark, a page
break. Its first and last paragraphs carry the bookmarks GUIDE_START/GUIDE_END (bookmarks survive Word and
LibreOffice; a content control's tag does not survive LibreOffice), by which the reader skips the guide, so a
copy sent back reads like the original. Marking a marked copy again first removes our guide, our comments,
bookmarks and fills (a cell's own fill, kept in its bookmark's name, comes back).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import docx
from docx.document import Document as WordDocument
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.part import XmlPart
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.run import Run
from openpyxl.utils import column_index_from_string

from mailbot.marking import (
    COMMENT_AUTHOR,
    COMMENT_INITIALS,
    ERROR_FILL,
    GUIDE_TITLE,
    SEVERITY_WORD,
    WARNING_FILL,
    GuideEntry,
    comment_text,
    guide_entries,
)
from mailbot.model import Finding
from mailbot.readers.docx import GUIDE_END, GUIDE_START, Layout, body_blocks, guide_blocks, layout_of
from mailbot.readers.sections import LineOwner, line_owners
from mailbot.validation.money_words import description_budget

__all__ = ["MAX_MARKED_PLACES", "mark_docx"]

_Element = Any  # lxml elements (python-docx's oxml classes); lxml ships no type information

#: At most this many places are shaded and commented; the guide still lists every finding.
MAX_MARKED_PLACES = 500
_BOOKMARK = "_HDS_"  # a hidden bookmark (leading underscore): "_HDS_C12" (a cell), "_HDS_P3_D9D9D9" (old fill)
_BOOKMARK_NAME = re.compile(r"^_HDS_([CP])\d+(?:_([0-9A-Fa-f]{6}|auto))?$")
_GUIDE_BOOKMARK_ID = 2**31 - 4  # the guide's two bookmarks: ids far above the document's own
_TEXT = qn("w:t")
_OUR_FILLS = {ERROR_FILL.upper(), WARNING_FILL.upper()}
_GUIDE_INTRO = (
    "Tệp này là bản sao tệp của quý đơn vị; mỗi chỗ cần sửa được tô màu và có ghi chú (comment)."
    " Bấm vào từng dòng dưới đây để đến đúng chỗ. Sửa xong có thể gửi lại chính tệp này;"
    " phần hướng dẫn này không cần xoá."
)
_CUT_NOTE = (
    "Chỉ {count} chỗ đầu tiên được tô màu và ghi chú; các dòng không có liên kết hãy tìm theo vị trí ghi ở đầu dòng."
)
#: Children that come after `w:shd` in `w:tcPr` / `w:pPr` (the schema's order; Word refuses other orders).
_AFTER_SHD = {
    "tc": "noWrap tcMar textDirection tcFitText vAlign hideMark headers cellIns cellDel cellMerge tcPrChange",
    "p": "tabs suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi"
    " adjustRightInd snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc textDirection"
    " textAlignment textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange",
}
_BUDGET_LINES = 200  # a Kinh phí section's first lines searched for the one stating its total
#: The description section a Phụ lục 2 finding's field is written in.
_SECTION_OF_FIELD = {"kinh_phi_tong": "kinh_phi", "kinh_phi_nsnn": "kinh_phi", "kinh_phi_khac": "kinh_phi"}


@dataclass
class _Target:
    """One marked place: a table cell (`w:tc`) or a paragraph (`w:p`), and the findings on it."""

    element: _Element
    number: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "C" if self.element.tag == qn("w:tc") else "P"

    @property
    def fill(self) -> str:
        return ERROR_FILL if any(f.severity == "error" for f in self.findings) else WARNING_FILL


def mark_docx(data: bytes, findings: Sequence[Finding], file: str) -> bytes | None:
    """A copy of the Word file `file` marked with its findings and opening with the guide; None when python-docx
    cannot load or save it (a .docm, a broken package)."""
    try:
        document = docx.Document(io.BytesIO(data))
        _unmark(document)
        body = document.element.body
        layout = layout_of(file, body, document.part)
        entries = guide_entries(findings, file)
        links, cut = _mark_places(document, entries, _Places(layout))
        for paragraph in reversed(_guide(entries, links, cut)):
            body.insert(0, paragraph)
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()
    except MemoryError:  # the isolation's memory cap: reported as such
        raise
    # The boundary where untrusted bytes meet python-docx, zipfile and lxml: any failure means no marked copy.
    except Exception:
        return None


# ---------------------------------------------------------------- where a finding is


class _Places:
    """Finds the element a finding names, on the reader's own layout of the document."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._owners: list[LineOwner] | None = None
        self._corners = {sheet: {(a, b): tc for a, b, _c, _d, tc in cells} for sheet, cells in layout.cells.items()}

    def of(self, finding: Finding) -> _Element | None:
        if finding.sheet and finding.row and finding.column:
            try:
                col = column_index_from_string(finding.column) - 1
            except ValueError:
                return None
            return self._cell(finding.sheet, finding.row - 1, col)
        if finding.task_index is not None and finding.sheet is None:
            return self._description(finding)
        return None

    def _cell(self, sheet: str, row: int, col: int) -> _Element | None:
        found = self._corners.get(sheet, {}).get((row, col))
        if found is not None:
            return found
        covering = (tc for a, b, c, d, tc in self.layout.cells.get(sheet, []) if a <= row <= c and b <= col <= d)
        return next(covering, None)

    def _description(self, finding: Finding) -> _Element | None:
        if self._owners is None:
            self._owners = line_owners(self.layout.text)
        lines = [o for o in self._owners if o.description == finding.task_index]
        if not lines:
            return None
        section = _SECTION_OF_FIELD.get(finding.field or "", finding.field)
        written = [o for o in lines if o.section == section]
        chosen = lines[0]  # the description's first paragraph: its title
        if finding.value and written:
            budget = _budget_line(written) if section == "kinh_phi" else None
            chosen = budget or next((o for o in written if o.text), written[0])
        return self.layout.sources[chosen.paragraph]


def _budget_line(lines: list[LineOwner]) -> LineOwner | None:
    """The line that states the section's total (a sentence, a dự toán table's total row): the first line without
    which the total read from the section changes."""
    lines = lines[:_BUDGET_LINES]
    total = description_budget("\n".join(o.text for o in lines))
    if total is None:
        return None
    for k, line in enumerate(lines):
        if line.text and description_budget("\n".join(o.text for o in lines[:k] + lines[k + 1 :])) != total:
            return line
    return None


# ---------------------------------------------------------------- marking


def _mark_places(document: WordDocument, entries: list[GuideEntry], places: _Places) -> tuple[dict[int, str], bool]:
    """Shade, bookmark and comment every place; the bookmark each guide entry links to, by entry number, and
    whether some places were left unmarked (beyond MAX_MARKED_PLACES)."""
    targets: dict[int, _Target] = {}
    owner: dict[int, _Target] = {}
    cut = False
    for entry in entries:
        element = places.of(entry.finding) if entry.finding.file is not None else None
        if element is None:
            continue
        target = targets.get(id(element))
        if target is None:
            if len(targets) >= MAX_MARKED_PLACES:
                cut = True
                continue
            target = targets[id(element)] = _Target(element, len(targets) + 1)
        target.findings.append(entry.finding)
        owner[entry.number] = target
    next_id = 1 + max((int(i) for i in document.element.body.xpath(".//w:bookmarkStart/@w:id")), default=0)
    names = {}
    for offset, target in enumerate(targets.values()):
        names[target.number] = _mark(document, target, next_id + offset)
    return {number: names[target.number] for number, target in owner.items()}, cut


def _mark(document: WordDocument, target: _Target, bookmark_id: int) -> str:
    element = target.element
    paragraphs = element.xpath("./w:p") if target.kind == "C" else [element]
    if not paragraphs:
        paragraphs = [element.makeelement(qn("w:p"), {})]
        element.append(paragraphs[0])
    properties = element.get_or_add_tcPr() if target.kind == "C" else element.get_or_add_pPr()
    old = _set_fill(properties, target.kind, target.fill)
    name = f"{_BOOKMARK}{target.kind}{target.number}" + (f"_{old}" if old else "")
    start = OxmlElement("w:bookmarkStart", attrs={qn("w:id"): str(bookmark_id), qn("w:name"): name})
    end = OxmlElement("w:bookmarkEnd", attrs={qn("w:id"): str(bookmark_id)})
    first, last = _first_run(paragraphs[0]), _last_run(paragraphs[-1])
    text = "\n".join(comment_text(f) for f in target.findings)
    document.add_comment([Run(first, document.part), Run(last, document.part)], text, COMMENT_AUTHOR, COMMENT_INITIALS)
    _insert_at_start(paragraphs[0], start)  # around the commented runs: LibreOffice drops an empty bookmark there
    paragraphs[-1].append(end)
    return name


def _set_fill(properties: _Element, kind: str, fill: str) -> str | None:
    """Put our fill on a `w:tcPr`/`w:pPr`; the fill it had before (kept in the bookmark's name), if any."""
    shd = properties.find(qn("w:shd"))
    old = None
    if shd is None:
        shd = OxmlElement("w:shd")
        after = {qn(f"w:{tag}") for tag in _AFTER_SHD["tc" if kind == "C" else "p"].split()}
        successor = next((child for child in properties if child.tag in after), None)
        if successor is not None:
            successor.addprevious(shd)
        else:
            properties.append(shd)
    else:
        previous = str(shd.get(qn("w:fill"), ""))
        old = previous if re.fullmatch(r"[0-9A-Fa-f]{6}|auto", previous) else None
    for attribute, value in (("w:val", "clear"), ("w:color", "auto"), ("w:fill", fill)):
        shd.set(qn(attribute), value)
    return old


def text_of(element: _Element) -> str:
    return "".join(t.text or "" for t in element.iter(_TEXT))


def _insert_at_start(paragraph: _Element, child: _Element) -> None:
    properties = paragraph.find(qn("w:pPr"))
    if properties is not None:
        properties.addnext(child)
    else:
        paragraph.insert(0, child)


def _first_run(paragraph: _Element) -> _Element:
    """The paragraph's first run, or an empty run put at its start (an empty cell has none to anchor on)."""
    runs = paragraph.findall(qn("w:r"))
    if runs:
        return runs[0]
    run = OxmlElement("w:r")
    _insert_at_start(paragraph, run)
    return run


def _last_run(paragraph: _Element) -> _Element:
    runs = paragraph.findall(qn("w:r"))
    if runs:
        return runs[-1]
    run = OxmlElement("w:r")
    paragraph.append(run)
    return run


# ---------------------------------------------------------------- the guide


def _guide(entries: list[GuideEntry], links: dict[int, str], cut: bool) -> list[_Element]:
    """The guide's paragraphs: the title (bookmark GUIDE_START), the intro, the entries (the last one carries
    GUIDE_END), then a page break: the bookmarks tell the reader and a later marking where the guide is."""
    paragraphs = [_paragraph([_run(GUIDE_TITLE, bold=True, size=28)]), _paragraph([_run(_GUIDE_INTRO, italic=True)])]
    if cut:
        paragraphs.append(_paragraph([_run(_CUT_NOTE.format(count=MAX_MARKED_PLACES), italic=True)]))
    paragraphs += [_entry(entry, links.get(entry.number)) for entry in entries]
    for paragraph, name, bookmark_id in ((paragraphs[0], GUIDE_START, 0), (paragraphs[-1], GUIDE_END, 1)):
        attrs = {qn("w:id"): str(_GUIDE_BOOKMARK_ID + bookmark_id)}
        paragraph.insert(0, OxmlElement("w:bookmarkStart", attrs={**attrs, qn("w:name"): name}))
        paragraph.append(OxmlElement("w:bookmarkEnd", attrs=attrs))
    breaker = _run("")
    breaker.append(OxmlElement("w:br", attrs={qn("w:type"): "page"}))
    return [*paragraphs, _paragraph([breaker])]


def _entry(entry: GuideEntry, bookmark: str | None) -> _Element:
    """ "1. Bảng 1, ô E7 (hàng 7, cột E) – Lỗi: … Cách sửa: …", the place linked to its bookmark."""
    place = _run(entry.place, link=bookmark is not None)
    if bookmark is not None:
        link = OxmlElement("w:hyperlink", attrs={qn("w:anchor"): bookmark, qn("w:history"): "1"})
        link.append(place)
        place = link
    severity = SEVERITY_WORD[entry.severity]
    tail = f" – {severity}: {entry.message}" + (f" Cách sửa: {entry.hint}" if entry.hint else "")
    return _paragraph([_run(f"{entry.number}. "), place, _run(tail)])


def _paragraph(children: list[_Element]) -> _Element:
    paragraph = OxmlElement("w:p")
    paragraph.extend(children)
    return paragraph


def _run(text: str, *, bold: bool = False, italic: bool = False, size: int = 0, link: bool = False) -> _Element:
    run = OxmlElement("w:r")
    properties = OxmlElement("w:rPr")
    if bold:
        properties.append(OxmlElement("w:b"))
    if italic:
        properties.append(OxmlElement("w:i"))
    if link:
        properties.append(OxmlElement("w:color", attrs={qn("w:val"): "0563C1"}))
    if size:
        properties.append(OxmlElement("w:sz", attrs={qn("w:val"): str(size)}))
    if link:
        properties.append(OxmlElement("w:u", attrs={qn("w:val"): "single"}))
    if len(properties):
        run.append(properties)
    if text:
        run.append(OxmlElement("w:t", attrs={"{http://www.w3.org/XML/1998/namespace}space": "preserve"}))
        run[-1].text = text
    return run


# ---------------------------------------------------------------- a marked copy marked again


def _unmark(document: WordDocument) -> None:
    """Remove what an earlier marking added: the guide, our bookmarks and fills, our comments."""
    body = document.element.body
    blocks = body_blocks(body)
    guide = guide_blocks(blocks)
    after = blocks[guide.stop] if guide and guide.stop < len(blocks) else None
    if after is not None and _is_page_break(after):
        after.getparent().remove(after)
    for i in guide:
        blocks[i].getparent().remove(blocks[i])
    for start in body.xpath(f".//w:bookmarkStart[starts-with(@w:name, '{_BOOKMARK}')]"):
        found = _BOOKMARK_NAME.match(str(start.get(qn("w:name"))))
        if found:
            _restore_fill(start, found.group(1), found.group(2))
        for end in body.xpath(f".//w:bookmarkEnd[@w:id='{start.get(qn('w:id'))}']"):
            end.getparent().remove(end)
        start.getparent().remove(start)
    if not any(rel.reltype == RT.COMMENTS for rel in document.part.rels.values()):
        return
    part = document.part.part_related_by(RT.COMMENTS)
    if not isinstance(part, XmlPart):
        return
    comments = part.element
    ours = [c for c in comments.iterchildren(qn("w:comment")) if c.get(qn("w:author")) == COMMENT_AUTHOR]
    ids = {str(c.get(qn("w:id"))) for c in ours}
    for comment in ours:
        comments.remove(comment)
    for tag in ("w:commentRangeStart", "w:commentRangeEnd", "w:commentReference"):
        for mark in body.xpath(f".//{tag}"):
            if mark.get(qn("w:id")) in ids:
                _remove_mark(mark)


def _is_page_break(paragraph: _Element) -> bool:
    """An empty paragraph that breaks the page (the guide's last; LibreOffice may make it a page-break-before)."""
    breaks = paragraph.xpath(".//w:br[@w:type='page'] | w:pPr/w:pageBreakBefore")
    return paragraph.tag == qn("w:p") and bool(breaks) and not text_of(paragraph).strip()


def _remove_mark(mark: _Element) -> None:
    parent = mark.getparent()
    parent.remove(mark)
    if parent.tag == qn("w:r") and all(child.tag == qn("w:rPr") for child in parent):
        parent.getparent().remove(parent)  # the run python-docx made to hold the reference


def _restore_fill(start: _Element, kind: str, old: str | None) -> None:
    holder = next(iter(start.iterancestors(qn("w:tc") if kind == "C" else qn("w:p"))), None)
    if holder is None:
        return
    shd = holder.find(f"{qn('w:tcPr' if kind == 'C' else 'w:pPr')}/{qn('w:shd')}")
    if shd is None or str(shd.get(qn("w:fill"), "")).upper() not in _OUR_FILLS:
        return  # the submitter changed the colour: theirs now
    if old:
        shd.set(qn("w:fill"), old)
    else:
        shd.getparent().remove(shd)
