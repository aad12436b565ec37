"""The replies mailbot sends: Vietnamese wording from the templates, and safe, threaded, automatic messages."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jinja2
import pytest

from mailbot.forms import blank_forms
from mailbot.model import Finding, Inbound, Task
from mailbot.replies import (
    ReplyContent,
    ReplyKind,
    ReplyRenderer,
    build_reply,
    choose_recipient,
    money,
    reply_message_id,
    templates_dir_default,
)
from mailbot.validation.schema import Rules

ROOT = Path(__file__).resolve().parents[1]
SENDER = "Vụ TKNL <nop-de-xuat@example.org>"
ORGANIZATION = "Viện Nghiên cứu Da - Giày"
RECEIVED = dt.datetime(2023, 4, 20, 7, 5, tzinfo=dt.UTC)  # 14:05 in Viet Nam
KINDS: tuple[ReplyKind, ...] = ("acknowledgement", "correction", "late", "unreadable")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def inbound(**changes: Any) -> Inbound:
    values: dict[str, Any] = {
        "raw": b"raw bytes",
        "sha256": hashlib.sha256(b"raw bytes").hexdigest(),
        "message_id": "<abc123@mail.vien-da-giay.vn>",
        "from_addr": "ketoan@vien-da-giay.vn",
        "from_name": "Phòng Kế hoạch",
        "reply_to": None,
        "subject": "Đề xuất nhiệm vụ năm 2024",
        "in_reply_to": None,
        "references": [],
        "headers": {},
        "content_type": "multipart/mixed",
        "defects": [],
    }
    values.update(changes)
    return Inbound(**values)


TASKS = [
    Task(
        stt=1,
        ten_nhiem_vu="Truyền thông nâng cao nhận thức về sản xuất và tiêu dùng bền vững cho doanh nghiệp da giày",
        dinh_huong=1,
        bat_dau="2024-01",
        ket_thuc="2024-12",
        kinh_phi_tong=1500.0,
        kinh_phi_nsnn=1000.0,
        kinh_phi_khac=500.0,
    ),
    Task(
        stt=2,
        ten_nhiem_vu="Xây dựng định mức tiêu hao nguyên vật liệu ngành da giày",
        dinh_huong=3,
        bat_dau="2024-03",
        ket_thuc="2024-11",
        kinh_phi_tong=2000.5,
        kinh_phi_nsnn=2000.5,
        kinh_phi_khac=0.0,
    ),
]

ERROR_BUDGET = Finding(
    code="invalid_number",
    severity="error",
    message="Kinh phí không phải là một số.",
    hint="Ghi số tiền bằng triệu đồng, ví dụ 1.500 hoặc 1500.",
    file="PhuLuc1_DanhMuc.xlsx",
    sheet="Danh mục",
    row=12,
    column="K",
    cell="K12",
    field="kinh_phi_tong",
    task_index=1,
    value="một tỷ rưỡi",
)
ERROR_ORIENTATION = Finding(
    code="unknown_orientation",
    severity="error",
    message="Định hướng không có trong danh sách của công văn.",
    hint="Ghi số định hướng (1–10) hoặc tên định hướng theo công văn.",
    file="PhuLuc1_DanhMuc.xlsx",
    sheet="Danh mục",
    row=9,
    column="C",
    cell="C9",
    field="dinh_huong",
    task_index=0,
    value="Năng lượng tái tạo",
)
WARNING_DESCRIPTION = Finding(
    code="description_budget_mismatch",
    severity="warning",
    message="Kinh phí trong thuyết minh khác với Phụ lục 1.",
    hint="Thống nhất kinh phí giữa thuyết minh và danh mục.",
    file="ThuyetMinh_NV2.docx",
    sheet="Bảng 1",
    row=4,
    column="B",
    cell="B4",
    value="1.800",
)


def content(kind: ReplyKind = "acknowledgement", **changes: Any) -> ReplyContent:
    values: dict[str, Any] = {
        "kind": kind,
        "receipt": "SXTDBV-2024-0001",
        "version": 1,
        "organization": ORGANIZATION,
        "tasks": list(TASKS),
        "findings": [WARNING_DESCRIPTION, ERROR_BUDGET, ERROR_ORIENTATION] if kind == "correction" else [],
        "received_at": RECEIVED,
    }
    values.update(changes)
    return ReplyContent(**values)


@pytest.fixture(scope="module")
def renderer(rules: Rules) -> ReplyRenderer:
    return ReplyRenderer(rules, ROOT / "replies")


def send(renderer: ReplyRenderer, reply: ReplyContent, source: Inbound | None = None, **kwargs: Any) -> EmailMessage:
    """Render, build and parse back the reply, as a receiving mail client would see it."""
    source = source or inbound()
    subject, text, html = renderer.render(reply)
    raw = build_reply(
        inbound=source,
        sender=SENDER,
        recipient=choose_recipient(source) or "fallback@example.org",
        subject=subject,
        text=text,
        html=html,
        message_id=reply_message_id(source, "example.org"),
        **kwargs,
    )
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def bodies(message: EmailMessage) -> tuple[str, str]:
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert isinstance(text_part, EmailMessage) and isinstance(html_part, EmailMessage)
    return text_part.get_content(), html_part.get_content()


# ---------------------------------------------------------------- rendering


@pytest.mark.parametrize("late", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_every_shipped_template_renders_without_a_missing_value(
    renderer: ReplyRenderer, kind: ReplyKind, late: bool
) -> None:
    subject, text, html = renderer.render(content(kind, late=late, reason="Tệp đính kèm bị hỏng."))
    assert subject.startswith("[SXTDBV-2024-0001] ")
    assert text.startswith("Kính gửi Quý đơn vị")
    assert "Trân trọng." in text and "Trân trọng." in html
    assert "quangch@moit.gov.vn" in text and "0983377379" in html
    assert "vui lòng không thay đổi tiêu đề khi trả lời" in text
    assert html.lstrip().startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def test_the_subject_names_the_receipt_the_plan_year_and_the_organization(renderer: ReplyRenderer) -> None:
    subject, _, _ = renderer.render(content())
    assert subject == f"[SXTDBV-2024-0001] Đã nhận hồ sơ đề xuất nhiệm vụ năm 2024 – {ORGANIZATION}"


def test_each_kind_has_its_own_subject(renderer: ReplyRenderer) -> None:
    subjects = {kind: renderer.render(content(kind))[0] for kind in KINDS}
    assert "Đề nghị bổ sung, chỉnh sửa hồ sơ" in subjects["correction"]
    assert "Hồ sơ gửi sau hạn" in subjects["late"]
    assert "Không đọc được thư" in subjects["unreadable"]
    assert len(set(subjects.values())) == len(KINDS)


def test_the_subject_uses_the_plan_year_of_the_rules(rules: Rules) -> None:
    next_year = rules.model_copy(update={"call": rules.call.model_copy(update={"plan_year": 2025})})
    subject, _, _ = ReplyRenderer(next_year, ROOT / "replies").render(content())
    assert "năm 2025" in subject and "2024 –" not in subject


def test_the_received_time_is_shown_in_viet_nam_time(renderer: ReplyRenderer) -> None:
    _, text, html = renderer.render(content())
    assert "14:05 ngày 20/4/2023" in text and "14:05 ngày 20/4/2023" in html


def test_the_acknowledgement_lists_every_task_and_the_total(renderer: ReplyRenderer) -> None:
    _, text, html = renderer.render(content())
    for task in TASKS:
        assert task.ten_nhiem_vu is not None
        assert task.ten_nhiem_vu in text and task.ten_nhiem_vu in html
    assert "01/2024–12/2024" in text and "03/2024–11/2024" in html
    assert "Định mức tiêu hao" in text
    assert "Tổng cộng: 2 nhiệm vụ, tổng kinh phí 3.500,5 triệu đồng (NSNN 3.000,5" in text
    assert "3.500,5" in html and "3.000,5" in html


def test_amounts_are_written_the_vietnamese_way(renderer: ReplyRenderer) -> None:
    _, text, html = renderer.render(content())
    assert "tổng 1.500; NSNN 1.000" in text and "tổng 2.000,5" in text
    assert ">1.500<" in html and ">2.000,5<" in html
    assert (money(1500), money(2000.5), money(0), money(1234567.25), money(None)) == (
        "1.500",
        "2.000,5",
        "0",
        "1.234.567,25",
        "—",
    )


def test_a_first_submission_says_version_one_and_a_resubmission_says_it_replaces_the_previous(
    renderer: ReplyRenderer,
) -> None:
    _, first, _ = renderer.render(content())
    subject, second, html = renderer.render(content(version=2))
    assert "Lần nộp: 1\n" in first and "thay thế" not in first.split("DANH MỤC")[0]
    assert "Lần nộp: 2 (hồ sơ này thay thế toàn bộ hồ sơ đã nộp trước đó" in second
    assert "lần nộp thứ 2" in subject and "thay thế toàn bộ hồ sơ" in html


def test_the_acknowledgement_lists_warnings_as_notes(renderer: ReplyRenderer) -> None:
    _, text, html = renderer.render(content(findings=[WARNING_DESCRIPTION]))
    assert "MỘT SỐ LƯU Ý (1)" in text
    assert "Kinh phí trong thuyết minh khác với Phụ lục 1." in text and "ThuyetMinh_NV2.docx" in html
    _, quiet, _ = renderer.render(content())
    assert "LƯU Ý" not in quiet.replace("LƯU Ý VỀ THỜI HẠN", "")


@pytest.mark.parametrize("kind", ["acknowledgement", "correction", "unreadable"])
def test_the_late_sentence_appears_only_when_the_submission_is_late(renderer: ReplyRenderer, kind: ReplyKind) -> None:
    _, on_time, on_time_html = renderer.render(content(kind, late=False))
    _, late, late_html = renderer.render(content(kind, late=True))
    sentence = "sau thời hạn nộp hồ sơ (23:59 ngày 30/4/2023, giờ Việt Nam)"
    assert sentence in late and sentence in late_html and "nộp muộn" in late
    assert sentence not in on_time and sentence not in on_time_html


def test_the_late_notice_gives_the_deadline_and_says_the_submission_is_not_considered(renderer: ReplyRenderer) -> None:
    _, text, html = renderer.render(content("late", late=True))
    assert "23:59 ngày 30/4/2023" in text and "14:05 ngày 20/4/2023" in text
    assert "không được đưa vào tổng hợp, xem xét" in text and "không được đưa vào tổng hợp" in html
    assert "Ông Cù Huy Quang" in text


def test_the_correction_names_file_sheet_cell_value_and_hint_of_every_finding(renderer: ReplyRenderer) -> None:
    reply = content("correction")
    _, text, html = renderer.render(reply)
    assert "2 lỗi cần sửa và 1 lưu ý" in text
    for f in reply.findings:
        for part in (f.file, f.sheet, f"ô {f.cell} (hàng {f.row}, cột {f.column})", f.value, f.message, f.hint):
            assert part is not None
            assert part in text, part
            assert part in html, part
    assert "Cách sửa: Ghi số tiền bằng triệu đồng" in text
    assert "cột “Kinh phí dự kiến (triệu đồng) – Tổng”" in text and "Định hướng" in html


def test_the_correction_lists_errors_before_warnings_and_rows_in_order(renderer: ReplyRenderer) -> None:
    _, text, _ = renderer.render(content("correction"))
    assert text.index("ô C9") < text.index("ô K12") < text.index("CÁC LƯU Ý") < text.index("ô B4")
    assert text.index("A. CÁC LỖI CẦN SỬA (2)") < text.index("B. CÁC LƯU Ý (1)")


FORMS = ["SXTDBV-2024_PhuLuc1_DanhMucNhiemVu.xlsx", "SXTDBV-2024_PhuLuc2_ThuyetMinhNhiemVu.docx"]


def test_the_correction_explains_how_to_resubmit_and_mentions_the_blank_templates(renderer: ReplyRenderer) -> None:
    _, text, html = renderer.render(content("correction", attached={"forms": FORMS}))
    assert "trả lời (Reply) chính thư này và đính kèm ĐẦY ĐỦ tất cả các tệp hồ sơ đã chỉnh sửa" in text
    assert "thay thế toàn bộ hồ sơ đã nộp trước đó" in text
    assert FORMS[0] in text and FORMS[1] in html


def test_the_correction_names_only_what_it_attaches(renderer: ReplyRenderer) -> None:
    _, text, html = renderer.render(content("correction"))
    assert FORMS[0] not in text and "Mẫu trống" not in text and "Mẫu trống" not in html and "_can-sua" not in text
    marked = [{"original": "Phu luc 1.xls", "name": "Phu luc 1_can-sua.xlsx", "converted": True}]
    _, text, html = renderer.render(content("correction", attached={"marked": marked, "unmarked": ["scan.pdf"]}))
    for body in (text, html):
        assert "Phu luc 1_can-sua.xlsx" in body and "Hướng dẫn sửa" in body and "định dạng mới" in body
        assert "Không tạo được bản đánh dấu cho tệp: scan.pdf" in body
    _, text, _ = renderer.render(
        content("correction", attached={"marked_too_large": True, "guide": "Huong-dan-sua.xlsx"})
    )
    assert "vượt quá dung lượng" in text and "Huong-dan-sua.xlsx" in text


def test_a_finding_outside_any_file_is_shown_as_about_the_whole_submission(renderer: ReplyRenderer) -> None:
    missing = Finding(
        code="missing_appendix", severity="error", message="Thiếu Phụ lục 2.", hint="Gửi kèm thuyết minh."
    )
    _, text, _ = renderer.render(content("correction", findings=[missing]))
    assert "Hồ sơ chung" in text and "Vị trí: toàn bộ hồ sơ" in text and "Thiếu Phụ lục 2." in text


def test_the_unreadable_reply_gives_the_reason_and_how_to_resend(renderer: ReplyRenderer) -> None:
    _, text, html = renderer.render(content("unreadable", tasks=[], reason="Tệp đính kèm được đặt mật khẩu."))
    assert "Lý do: Tệp đính kèm được đặt mật khẩu." in text
    for advice in (".xlsx", ".docx", "không đặt mật khẩu", "không gửi đường liên kết", "tệp đính kèm thông thường"):
        assert advice in text and advice in html
    _, technical, _ = renderer.render(content("unreadable", reason="StartBoundaryNotFoundDefect"))
    assert "StartBoundaryNotFoundDefect" not in technical and "cấu trúc thư bị hỏng" in technical


def test_html_escapes_what_the_submitter_wrote_and_never_evaluates_it(renderer: ReplyRenderer) -> None:
    hostile_task = Task(ten_nhiem_vu="<script>alert(1)</script>", dinh_huong=1, kinh_phi_tong=1.0, kinh_phi_nsnn=0.0)
    hostile_finding = Finding(
        code="x",
        severity="error",
        message="Sai.",
        file="a.xlsx",
        sheet="S",
        row=2,
        column="B",
        cell="B2",
        value="{{ 7*7 }}",
    )
    _, _, ack_html = renderer.render(content(tasks=[hostile_task]))
    assert "<script>" not in ack_html and "&lt;script&gt;alert(1)&lt;/script&gt;" in ack_html
    _, text, html = renderer.render(content("correction", findings=[hostile_finding]))
    assert "{{ 7*7 }}" in text and "{{ 7*7 }}" in html
    assert "49" not in text and "49" not in html


def test_the_text_body_is_not_html_escaped(renderer: ReplyRenderer) -> None:
    task = Task(ten_nhiem_vu="Mô hình A & B <thí điểm>", dinh_huong=2, kinh_phi_tong=10.0, kinh_phi_nsnn=5.0)
    _, text, html = renderer.render(content(tasks=[task]))
    assert "Mô hình A & B <thí điểm>" in text and "Mô hình A &amp; B &lt;thí điểm&gt;" in html


def test_a_template_naming_a_missing_value_raises(rules: Rules, tmp_path: Path) -> None:
    for kind in KINDS:
        (tmp_path / f"{kind}.txt.j2").write_text("Số tiếp nhận {{ receipt }}; {{ no_such_value }}\n", encoding="utf-8")
        (tmp_path / f"{kind}.html.j2").write_text("<p>{{ receipt }}</p>\n", encoding="utf-8")
    with pytest.raises(jinja2.UndefinedError):
        ReplyRenderer(rules, tmp_path).render(content())


def test_an_admin_template_folder_is_used_and_only_html_templates_are_autoescaped(rules: Rules, tmp_path: Path) -> None:
    (tmp_path / "acknowledgement.txt.j2").write_text("{{ organization }} / {{ tasks[0].name }}\n", encoding="utf-8")
    (tmp_path / "acknowledgement.html.j2").write_text("<p>{{ organization }}</p>\n", encoding="utf-8")
    _, text, html = ReplyRenderer(rules, tmp_path).render(content(organization="A & B"))
    assert text == f"A & B / {TASKS[0].ten_nhiem_vu}\n"
    assert html == "<p>A &amp; B</p>\n"


def test_the_default_template_folder_is_the_shipped_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    assert templates_dir_default().resolve() == ROOT / "replies"
    monkeypatch.chdir(tmp_path)
    assert templates_dir_default() == ROOT / "replies"
    assert (templates_dir_default() / "acknowledgement.txt.j2").is_file()


# ---------------------------------------------------------------- the message


def test_the_reply_goes_to_exactly_one_recipient_and_no_one_else(renderer: ReplyRenderer) -> None:
    message = send(renderer, content())
    assert message.get_all("To") == ["ketoan@vien-da-giay.vn"]
    assert message["Cc"] is None and message["Bcc"] is None
    assert str(message["From"]) == SENDER
    assert str(message["Subject"]).startswith("[SXTDBV-2024-0001]")


def test_an_organization_smuggling_a_bcc_header_gives_a_single_line_subject_and_no_bcc(renderer: ReplyRenderer) -> None:
    reply = content("correction", organization="Viện X\r\nBcc: x@evil.example\r\n")
    subject, _, _ = renderer.render(reply)
    assert "\r" not in subject and "\n" not in subject
    message = send(renderer, reply)
    assert message["Bcc"] is None and message["Cc"] is None
    assert message.get_all("To") == ["ketoan@vien-da-giay.vn"]
    assert "\n" not in str(message["Subject"]) and str(message["Subject"]).startswith("[SXTDBV-2024-0001]")
    assert "x@evil.example" not in str(message["To"])


def test_a_subject_passed_with_line_breaks_is_flattened(renderer: ReplyRenderer) -> None:
    raw = build_reply(
        inbound=inbound(),
        sender=SENDER,
        recipient="ketoan@vien-da-giay.vn",
        subject="[SXTDBV-2024-0001] Đã nhận\r\nBcc: x@evil.example\n\x07",
        text="a",
        html="<p>a</p>",
        message_id="<mailbot.1@example.org>",
    )
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Bcc"] is None
    assert str(message["Subject"]) == "[SXTDBV-2024-0001] Đã nhận Bcc: x@evil.example"


def test_organization_echoed_into_the_subject_is_capped(renderer: ReplyRenderer) -> None:
    subject, text, _ = renderer.render(content(organization="Viện " * 200))
    assert len(subject) < 250 and subject.endswith("…")
    assert "Viện " * 20 in text and "Viện " * 25 not in text


def test_a_recipient_naming_two_addresses_is_refused() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        build_reply(
            inbound=inbound(),
            sender=SENDER,
            recipient="a@example.org, b@example.org",
            subject="s",
            text="t",
            html="<p>t</p>",
            message_id="<mailbot.1@example.org>",
        )


def test_the_reply_is_threaded_under_the_submission(renderer: ReplyRenderer) -> None:
    source = inbound(references=["<first@mail.vien-da-giay.vn>", "<ack@example.org>"])
    message = send(renderer, content(), source)
    assert str(message["In-Reply-To"]) == "<abc123@mail.vien-da-giay.vn>"
    assert str(message["References"]).split() == [
        "<first@mail.vien-da-giay.vn>",
        "<ack@example.org>",
        "<abc123@mail.vien-da-giay.vn>",
    ]


def test_a_submission_without_message_id_gets_a_reply_without_in_reply_to_or_references(
    renderer: ReplyRenderer,
) -> None:
    message = send(renderer, content(), inbound(message_id=None))
    assert message["In-Reply-To"] is None and message["References"] is None
    assert str(message["Message-ID"]).startswith("<mailbot.")


def test_the_reply_declares_itself_automatic_and_carries_our_loop_mark(renderer: ReplyRenderer) -> None:
    message = send(renderer, content())
    assert str(message["Auto-Submitted"]) == "auto-replied"
    assert str(message["X-Auto-Response-Suppress"]) == "All"
    assert str(message["X-Mailbot-Loop"]) == "example.org"
    assert message["Precedence"] is None
    assert str(message["MIME-Version"]) == "1.0"
    assert message["Date"] is not None


def test_the_date_header_is_the_given_moment(renderer: ReplyRenderer) -> None:
    message = send(renderer, content(), date=dt.datetime(2023, 4, 20, 7, 5, 30, tzinfo=dt.UTC))
    assert message["Date"].datetime == dt.datetime(2023, 4, 20, 7, 5, 30, tzinfo=dt.UTC)


def test_the_message_id_is_deterministic_per_inbound_message() -> None:
    first = reply_message_id(inbound(), "example.org")
    assert first == reply_message_id(inbound(), "example.org")
    assert first != reply_message_id(inbound(message_id="<other@mail.vien-da-giay.vn>"), "example.org")
    assert first != reply_message_id(inbound(raw=b"other bytes"), "example.org")  # a reused Message-ID
    crlf, lf = inbound(raw=b"raw\r\nbytes"), inbound(raw=b"raw\nbytes")
    assert reply_message_id(crlf, "example.org") == reply_message_id(lf, "example.org")  # an IMAP or Maildir copy
    key = "<abc123@mail.vien-da-giay.vn>\n" + hashlib.sha256(b"raw bytes").hexdigest()
    assert first == f"<mailbot.{hashlib.sha256(key.encode()).hexdigest()[:32]}@example.org>"


def test_without_a_message_id_the_reply_id_comes_from_the_content_hash() -> None:
    one = reply_message_id(inbound(message_id=None, sha256="a" * 64), "example.org")
    other = reply_message_id(inbound(message_id=None, sha256="b" * 64), "example.org")
    assert one == reply_message_id(inbound(message_id=None, sha256="a" * 64), "example.org")
    assert one != other and one.startswith("<mailbot.") and one.endswith("@example.org>")


def test_the_reply_carries_its_deterministic_message_id(renderer: ReplyRenderer) -> None:
    message = send(renderer, content())
    assert str(message["Message-ID"]) == reply_message_id(inbound(), "example.org")


def test_the_bodies_are_utf8_text_and_html_alternatives_that_decode_back(renderer: ReplyRenderer) -> None:
    reply = content("correction")
    _, text, html = renderer.render(reply)
    message = send(renderer, reply)
    got_text, got_html = bodies(message)
    assert got_text.replace("\r\n", "\n") == text.replace("\r\n", "\n")
    assert got_html.replace("\r\n", "\n") == html.replace("\r\n", "\n")
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    assert plain is not None and plain.get_content_charset() == "utf-8"


def test_the_blank_templates_attach_as_two_files_with_their_types(renderer: ReplyRenderer, rules: Rules) -> None:
    forms = blank_forms(rules)
    message = send(renderer, content("correction", attached={"forms": [n for n, _ in forms]}), attachments=forms)
    assert message.get_content_type() == "multipart/mixed"
    attached = [
        (part.get_filename(), part.get_content_type(), part.get_content()) for part in message.iter_attachments()
    ]
    assert attached == [
        (forms[0][0], XLSX, forms[0][1]),
        (forms[1][0], DOCX, forms[1][1]),
    ]
    assert forms[0][0].endswith(".xlsx") and forms[1][0].endswith(".docx")
    got_text, _ = bodies(message)
    assert forms[0][0] in got_text


# ---------------------------------------------------------------- who gets the reply


def test_reply_to_is_preferred_over_from() -> None:
    assert choose_recipient(inbound(reply_to="vanthu@vien-da-giay.vn")) == "vanthu@vien-da-giay.vn"
    assert choose_recipient(inbound(reply_to="Văn thư <vanthu@vien-da-giay.vn>")) == "vanthu@vien-da-giay.vn"


def test_from_is_used_when_there_is_no_usable_reply_to() -> None:
    assert choose_recipient(inbound()) == "ketoan@vien-da-giay.vn"
    assert choose_recipient(inbound(reply_to="")) == "ketoan@vien-da-giay.vn"
    assert choose_recipient(inbound(reply_to="a@x.example, b@y.example")) == "ketoan@vien-da-giay.vn"


@pytest.mark.parametrize(
    "address",
    [
        "noreply@example.org",
        "no-reply@example.org",
        "NoReply@example.org",
        "donotreply@example.org",
        "do-not-reply@example.org",
        "MAILER-DAEMON@mx.example.org",
        "postmaster@example.org",
        "vsnl-request@lists.example.org",
        "",
        None,
        "not-an-address",
    ],
)
def test_no_automatic_reply_goes_to_a_machine_or_an_empty_address(address: str | None) -> None:
    assert choose_recipient(inbound(from_addr=address)) is None


def test_a_reply_to_a_machine_address_is_refused_even_when_from_is_a_person() -> None:
    assert choose_recipient(inbound(reply_to="no-reply@vien-da-giay.vn")) is None


def test_an_encoded_word_echoed_into_the_subject_cannot_add_a_header() -> None:
    raw = build_reply(
        inbound=inbound(),
        sender="Vụ TKNL <nop-de-xuat@example.org>",
        recipient="a@vien.example.vn",
        subject="[SXTDBV-2024-0001] Đã nhận – =?UTF-8?Q?=0A?=Bcc: x@evil.example",
        text="t",
        html="<p>t</p>",
        message_id="<mailbot.1@example.org>",
    )
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Bcc"] is None and "Bcc" not in raw.split(b"\r\n\r\n")[0].decode()
    assert "x@evil.example" in message["Subject"] and "\n" not in message["Subject"]
