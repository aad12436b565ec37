"""Phụ lục 2 (thuyết minh nhiệm vụ) as a blank Word document, generated from the rules of a call.

Each section heading is one paragraph starting exactly with "<n>. " (1-based, in the rules' order),
followed by an empty paragraph to write in: that is what mailbot's description reader recognises.
"""

from __future__ import annotations

import io

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt

from mailbot.text import fold
from mailbot.validation.schema import Rules

INSTRUCTION = (
    "Mỗi nhiệm vụ ở Phụ lục 1 cần một bản thuyết minh; tên nhiệm vụ và kinh phí phải trùng với Phụ lục 1. "
    "Có thể gửi mỗi nhiệm vụ một tệp, hoặc nhiều nhiệm vụ trong một tệp, mỗi nhiệm vụ bắt đầu lại từ mục 1."
)
BUDGET_EXAMPLE = "Tổng kinh phí: … triệu đồng, trong đó NSNN: … triệu đồng, nguồn khác: … triệu đồng"
_BUDGET_KEY = "kinh phi"
_FONT = "Times New Roman"  # the usual face of Vietnamese administrative documents


def description_template(rules: Rules) -> bytes:
    """A blank Phụ lục 2 document as .docx bytes: title, instruction, one numbered heading per section."""
    document = Document()
    _page_and_font(document)
    _title(document, rules)
    document.add_paragraph(INSTRUCTION)
    for number, section in enumerate(rules.documents.phu_luc_2.sections, start=1):
        _section(document, number, section)
    properties = document.core_properties
    properties.title = rules.documents.phu_luc_2.title
    properties.subject = rules.call.title
    properties.author = "mailbot"
    properties.last_modified_by = "mailbot"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def title_lines(title: str) -> list[str]:
    """ "Phụ lục 2 — Thuyết minh nhiệm vụ" → ["PHỤ LỤC 2", "THUYẾT MINH NHIỆM VỤ"]."""
    for dash in (" — ", " – ", " - "):
        if dash in title:
            return [part.strip().upper() for part in title.split(dash, 1)]
    return [title.strip().upper()]


def section_heading(number: int, section: str) -> str:
    """The text of a section heading paragraph, e.g. "1. Tên nhiệm vụ: "."""
    return f"{number}. {section}: "


def _page_and_font(document: DocumentObject) -> None:
    for part in document.sections:
        part.page_width, part.page_height = Mm(210), Mm(297)
        part.left_margin, part.right_margin = Mm(30), Mm(20)
        part.top_margin, part.bottom_margin = Mm(20), Mm(20)
    normal = document.styles["Normal"]
    normal.font.name = _FONT
    normal.font.size = Pt(13)


def _title(document: DocumentObject, rules: Rules) -> None:
    for line in title_lines(rules.documents.phu_luc_2.title):
        paragraph = document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(line)
        run.bold = True
    for line in (rules.call.title, f"(Kèm theo {rules.call.document})" if rules.call.document else ""):
        if not line:
            continue
        paragraph = document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.add_run(line).italic = True


def _section(document: DocumentObject, number: int, section: str) -> None:
    heading = document.add_paragraph()
    heading.add_run(f"{number}. ")
    heading.add_run(section).bold = True
    heading.add_run(": ")
    if fold(section).startswith(_BUDGET_KEY):
        document.add_paragraph().add_run(BUDGET_EXAMPLE).italic = True
    document.add_paragraph()
