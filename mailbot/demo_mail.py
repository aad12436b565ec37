"""Realistic submissions for the demo (and the end-to-end tests): files and the emails carrying them."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import docx
import openpyxl

from mailbot.forms import task_list_template
from mailbot.forms.xlsx import FIRST_CONTACT_ROW, FIRST_DATA_ROW
from mailbot.validation.schema import Rules

VN = dt.timezone(dt.timedelta(hours=7), "ICT")
MAILBOX = "nop-de-xuat@example.org"


def task(name: str, orientation: int, start: str, end: str, total: float, state: float, unit: str) -> dict[str, Any]:
    return {
        "ten_nhiem_vu": name,
        "dinh_huong": orientation,
        "muc_tieu": f"Mục tiêu của nhiệm vụ «{name}»",
        "noi_dung": "Khảo sát hiện trạng; xây dựng tài liệu; tổ chức hội thảo phổ biến",
        "san_pham": "Báo cáo tổng hợp; tài liệu hướng dẫn",
        "don_vi_chu_tri": unit,
        "don_vi_phoi_hop": None,
        "bat_dau": start,
        "ket_thuc": end,
        "kinh_phi_tong": total,
        "kinh_phi_nsnn": state,
        "kinh_phi_khac": round(total - state, 3) or None,
        "ghi_chu": None,
    }


def task_list_xlsx(rules: Rules, organization: str, tasks: Sequence[dict[str, Any]]) -> bytes:
    """The blank Phụ lục 1 template, filled in as a submitter would (months as text, orientation from the list)."""
    book = openpyxl.load_workbook(io.BytesIO(task_list_template(rules)))
    sheet = book.worksheets[0]
    sheet.cell(FIRST_CONTACT_ROW, 1).value = f"Tên đơn vị: {organization}"
    names = {v.code: v.name for c in rules.columns for v in c.values}
    for i, item in enumerate(tasks):
        for c, column in enumerate(rules.columns, start=1):
            value = i + 1 if column.key == "stt" else item.get(column.key)
            if column.type == "month" and isinstance(value, str) and "-" in value:
                year, month = value.split("-")
                value = f"{month}/{year}"
            elif column.type == "enum" and isinstance(value, int):
                value = f"{value}. {names[value]}"
            sheet.cell(FIRST_DATA_ROW + i, c).value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def task_list_docx(rules: Rules, organization: str, tasks: Sequence[dict[str, Any]]) -> bytes:
    """Phụ lục 1 as a Word table, the other common shape."""
    document = docx.Document()
    document.add_paragraph("PHỤ LỤC 1 – DANH MỤC NHIỆM VỤ ĐỀ XUẤT")
    document.add_paragraph(f"Tên đơn vị: {organization}")
    table = document.add_table(rows=1, cols=len(rules.columns))
    for c, column in enumerate(rules.columns):
        table.rows[0].cells[c].text = column.label if not column.group else f"{column.label} ({column.group})"
    for i, item in enumerate(tasks):
        cells = table.add_row().cells
        for c, column in enumerate(rules.columns):
            value = i + 1 if column.key == "stt" else item.get(column.key)
            if column.type == "month" and isinstance(value, str):
                value = f"T{int(value[5:])}/{value[:4]}"
            cells[c].text = "" if value is None else str(value).replace(".", ",")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def descriptions_docx(rules: Rules, tasks: Sequence[dict[str, Any]]) -> bytes:
    """Phụ lục 2: one thuyết minh per task, all in one document, numbered as the template."""
    document = docx.Document()
    for item in tasks:
        document.add_paragraph("THUYẾT MINH NHIỆM VỤ")
        for n, section in enumerate(rules.documents.phu_luc_2.sections, start=1):
            document.add_paragraph(f"{n}. {section}: {_answer(section, item)}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _answer(section: str, item: dict[str, Any]) -> str:
    lowered = section.lower()
    if lowered.startswith("tên nhiệm vụ"):
        return str(item["ten_nhiem_vu"])
    if lowered.startswith("kinh phí"):
        total = f"{item['kinh_phi_tong']:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
        return f"Tổng kinh phí {total} triệu đồng"
    if lowered.startswith("đơn vị chủ trì"):
        return str(item["don_vi_chu_tri"])
    return "Nội dung trình bày chi tiết theo hướng dẫn."


def zip_of(files: Sequence[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return out.getvalue()


@dataclass
class DemoMail:
    """One email to deliver, with when it arrives and what should become of it."""

    label: str
    raw: bytes
    arrives: dt.datetime
    expect: str  # the action the pipeline should record
    message_id: str | None = None
    notes: list[str] = field(default_factory=list)


def email(
    sender: str,
    subject: str,
    body: str,
    attachments: Sequence[tuple[str, bytes]] = (),
    *,
    date: dt.datetime,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
) -> tuple[bytes, str]:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"Vụ TKNL <{MAILBOX}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message_id = message_id or make_msgid(domain=sender.rpartition("@")[2].strip(">"))
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for name, data in attachments:
        maintype, subtype = _mime(name)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(), message_id


def _mime(name: str) -> tuple[str, str]:
    kinds = {
        ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ".docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ".zip": ("application", "zip"),
    }
    return kinds.get(name[name.rfind(".") :].lower(), ("application", "octet-stream"))
