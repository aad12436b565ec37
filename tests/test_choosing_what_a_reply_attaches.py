"""What a reply attaches follows `[replies]`: marked copies replace the blank templates unless an appendix is
missing or a file cannot be marked; copies too large for one mail leave only the guide; the receipt can be off."""

from __future__ import annotations

import datetime as dt
import io
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest

from mailbot.demo_mail import DemoMail, descriptions_docx, email, task, task_list_xlsx
from mailbot.marking import GUIDE_TITLE
from mailbot.validation.schema import Rules
from tests.builders.sheets import encrypted_xlsx_bytes
from tests.mailflow import Workspace, make_workspace

VN = dt.timezone(dt.timedelta(hours=7))
UNIT = "Viện Nghiên cứu Da - Giày"
FORMS = ["SXTDBV-2024_PhuLuc1_DanhMucNhiemVu.xlsx", "SXTDBV-2024_PhuLuc2_ThuyetMinhNhiemVu.docx"]


def _tasks() -> list[dict[str, object]]:
    return [task("Truyền thông về tiêu dùng bền vững ngành da giày", 1, "2024-01", "2024-12", 1500, 1000, UNIT)]


def _wrong(rules: Rules) -> tuple[str, bytes]:
    return ("Phu luc 1.xlsx", task_list_xlsx(rules, UNIT, [dict(_tasks()[0], kinh_phi_tong="khoảng 800")]))


def _answer(tmp_path: Path, files: list[tuple[str, bytes]], replies: str = "") -> EmailMessage:
    space: Workspace = make_workspace(tmp_path)
    if replies:
        space.config.write_text(space.config.read_text(encoding="utf-8") + f"\n[replies]\n{replies}\n", "utf-8")
    when = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)
    raw, mid = email("Đơn vị <unit@unit.example.vn>", "Hồ sơ", "Kính gửi Vụ,", files, date=when)
    space.deliver([DemoMail("one", raw, when, "", mid)])
    run = space.cli("once")
    assert run.exit_code == 0, run.output
    (reply,) = space.replies()
    return reply


def _names(reply: EmailMessage) -> list[str]:
    return [str(p.get_filename()) for p in reply.iter_attachments()]


def _text(reply: EmailMessage) -> str:
    body = reply.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_a_missing_appendix_brings_the_blank_templates_beside_the_marked_copy(tmp_path: Path, rules: Rules) -> None:
    reply = _answer(tmp_path, [_wrong(rules)])
    assert _names(reply) == ["Phu luc 1_can-sua.xlsx", *FORMS]
    assert "Mẫu trống" in _text(reply)


def test_a_file_that_cannot_be_marked_is_named_and_brings_the_templates(tmp_path: Path, rules: Rules) -> None:
    locked = ("Phu luc 1.xlsx", encrypted_xlsx_bytes([["STT", "Tên nhiệm vụ"], [1, "x"]]))
    reply = _answer(tmp_path, [locked, ("Phu luc 2.docx", descriptions_docx(rules, _tasks()))])
    assert _names(reply) == FORMS
    assert "Không tạo được bản đánh dấu cho tệp: Phu luc 1.xlsx" in _text(reply)


@pytest.mark.parametrize(("policy", "expected"), [("never", []), ("always", FORMS)])
def test_the_blank_templates_policy_is_obeyed(tmp_path: Path, rules: Rules, policy: str, expected: list[str]) -> None:
    files = [_wrong(rules), ("Phu luc 2.docx", descriptions_docx(rules, _tasks()))]
    reply = _answer(tmp_path, files, f'blank_forms = "{policy}"')
    assert _names(reply) == ["Phu luc 1_can-sua.xlsx", *expected]


def test_without_marked_copies_the_templates_go_as_before(tmp_path: Path, rules: Rules) -> None:
    files = [_wrong(rules), ("Phu luc 2.docx", descriptions_docx(rules, _tasks()))]
    reply = _answer(tmp_path, files, "marked_copies = false")
    assert _names(reply) == FORMS and "_can-sua" not in _text(reply)


def test_copies_too_large_for_one_mail_leave_only_the_guide(tmp_path: Path, rules: Rules) -> None:
    files = [_wrong(rules), ("Phu luc 2.docx", descriptions_docx(rules, _tasks()))]
    reply = _answer(tmp_path, files, 'max_reply_bytes = 100_000\nblank_forms = "never"')
    assert _names(reply) == ["Huong-dan-sua.xlsx"]
    assert "vượt quá dung lượng" in _text(reply) and "Huong-dan-sua.xlsx" in _text(reply)
    guide = next(p for p in reply.iter_attachments()).get_content()
    book = openpyxl.load_workbook(io.BytesIO(guide))
    assert book.sheetnames == [GUIDE_TITLE]
    listed = "\n".join(str(c.value) for row in book.active.iter_rows() for c in row if c.value)
    assert "Tệp «Phu luc 1.xlsx»" in listed and "K" in listed


def test_the_receipt_can_be_turned_off(tmp_path: Path, rules: Rules) -> None:
    files = [
        ("Phu luc 1.xlsx", task_list_xlsx(rules, UNIT, _tasks())),
        ("Phu luc 2.docx", descriptions_docx(rules, _tasks())),
    ]
    assert _names(_answer(tmp_path / "on", files)) == ["Phieu-tiep-nhan-SXTDBV-2024-0001.pdf"]
    reply = _answer(tmp_path / "off", files, "receipt_pdf = false")
    assert _names(reply) == [] and "Phiếu tiếp nhận" not in _text(reply)
