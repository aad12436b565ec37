"""A correction carries the submitter's own files back, marked where to fix them; an acknowledgement carries a receipt.

End to end, from a Maildir and from a real Dovecot account: four units send plans with errors in a Phụ lục 1
workbook (.xlsx), a legacy workbook (.xls, written by LibreOffice), a Word table (.docx) and a Phụ lục 2 task
description (.docx). Each correction reply attaches `<file>_can-sua.xlsx/.docx`: every error the ledger recorded
for that file is a coloured, commented cell (or paragraph) there, the first sheet or block "Hướng dẫn sửa" lists
them all, and reading the copy gives back every value of the original. No blank templates go with them (none
of these submissions lacks an appendix). A fifth unit's correct plan is acknowledged with its receipt PDF.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import secrets
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pypdf
import pytest

from mailbot.demo_mail import DemoMail, descriptions_docx, email, task, task_list_docx, task_list_xlsx
from mailbot.marking import ERROR_FILL, GUIDE_TITLE
from mailbot.model import Grid
from mailbot.readers import read_file
from mailbot.validation.schema import Rules
from tests.converter import needs_libreoffice
from tests.mailflow import ImapWorkspace, Workspace, make_workspace
from tests.servers import Certificates, Dovecot, SmtpSink

pytestmark = needs_libreoffice  # the .xls is written by LibreOffice, and its marked copy is made by it

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
LEATHER = "Viện Nghiên cứu Da - Giày"
VN = dt.timezone(dt.timedelta(hours=7))


@dataclass(frozen=True)
class Sent:
    unit: str
    sender: str
    files: list[tuple[str, bytes]]
    marked: str | None  # the file that must come back marked


def _tasks(unit: str) -> list[dict[str, Any]]:
    return [
        task("Truyền thông về sản xuất và tiêu dùng bền vững ngành da giày", 1, "2024-01", "2024-12", 1500, 1000, unit),
        task("Xây dựng định mức tiêu hao nguyên vật liệu ngành da giày", 3, "2024-03", "2024-11", 2000.5, 2000.5, unit),
    ]


def _wrong(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        dict(tasks[0], kinh_phi_tong="khoảng 800", dinh_huong="Năng lượng tái tạo"),
        dict(tasks[1], ket_thuc="13/2024"),
    ]


def _xls_by_libreoffice(xlsx: bytes, work: Path) -> bytes:
    from tests.office import convert

    work.mkdir(parents=True, exist_ok=True)
    source = work / "Phu luc 1.xlsx"
    source.write_bytes(xlsx)
    return convert(source, "xls", work).read_bytes()


def submissions(rules: Rules, work: Path) -> list[Sent]:
    out = []
    for n, shape in enumerate(("xlsx", "xls", "docx", "description", "correct")):
        unit = f"{LEATHER} {n + 1}"
        tasks = _tasks(unit)
        wrong = tasks if shape in ("description", "correct") else _wrong(tasks)
        described = [dict(tasks[0], kinh_phi_tong=999), tasks[1]] if shape == "description" else tasks
        p2 = ("Phụ lục 2 – Thuyết minh.docx", descriptions_docx(rules, described))
        if shape == "docx":
            p1 = ("Phụ lục 1 – Danh mục.docx", task_list_docx(rules, unit, wrong))
        elif shape == "xls":
            p1 = ("Phụ lục 1 – Danh mục.xls", _xls_by_libreoffice(task_list_xlsx(rules, unit, wrong), work / "xls"))
        else:
            p1 = ("Phụ lục 1 – Danh mục.xlsx", task_list_xlsx(rules, unit, wrong))
        marked = None if shape == "correct" else (p2 if shape == "description" else p1)[0]
        out.append(Sent(unit, f"Đơn vị {n} <unit{n}@unit{n}.example.vn>", [p1, p2], marked))
    return out


@pytest.fixture(scope="module", params=["maildir", "imap"])
def answered(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    rules: Rules,
    dovecot: Dovecot,
    certificates: Certificates,
) -> Iterator[tuple[Workspace, list[Sent]]]:
    root = tmp_path_factory.mktemp(f"marked-{request.param}")
    sent = submissions(rules, root / "made")
    if request.param == "maildir":
        space, sink = make_workspace(root / "work"), None
    else:
        user = (f"marked-{secrets.token_hex(4)}", secrets.token_urlsafe(10))
        dovecot.add_user(*user)
        sink = SmtpSink(root / "smtp", certificates=certificates, tls=True).start()
        space = ImapWorkspace(root / "work", dovecot, user, sink, certificates)
    mails = []
    for n, s in enumerate(sent):
        when = dt.datetime(2023, 4, 20, 9, n, tzinfo=VN)
        raw, mid = email(s.sender, "Gửi hồ sơ đề xuất nhiệm vụ", "Kính gửi Vụ,", s.files, date=when)
        mails.append(DemoMail(s.unit, raw, when, "correction_sent" if s.marked else "acknowledged", mid))
    space.deliver(mails)
    run = space.cli("once")
    assert run.exit_code == 0, run.output
    yield space, sent
    if sink is not None:
        sink.stop()


def _reply_to(space: Workspace, sent: Sent) -> EmailMessage:
    address = sent.sender.rpartition("<")[2].rstrip(">")
    return next(r for r in space.replies() if r["To"] == address)


def _attachments(reply: EmailMessage) -> dict[str, bytes]:
    return {str(p.get_filename()): p.get_content() for p in reply.iter_attachments()}


def _findings(space: Workspace, sent: Sent) -> list[dict[str, Any]]:
    submission = next(s for s in space.export()["submissions"] if s["organization"] == sent.unit)
    found: list[dict[str, Any]] = submission["findings"]
    return found


def _grids(name: str, data: bytes) -> list[Grid]:
    return [g for g in read_file(name, data).grids if g.sheet != GUIDE_TITLE]


def _marked_name(original: str) -> str:
    stem, _, suffix = original.rpartition(".")
    return f"{stem}_can-sua.{'xlsx' if suffix.startswith('xls') else 'docx'}"


def test_every_correction_attaches_the_marked_copy_of_the_file_with_errors_and_no_blank_templates(
    answered: tuple[Workspace, list[Sent]],
) -> None:
    space, sent = answered
    for s in sent:
        names = sorted(_attachments(_reply_to(space, s)))
        if s.marked is None:
            assert names == [f"Phieu-tiep-nhan-{_receipt(space, s)}.pdf"]
        else:
            assert names == [_marked_name(s.marked)], s.unit
            text = _reply_to(space, s).get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert _marked_name(s.marked) in text and "Hướng dẫn sửa" in text
            assert ("định dạng mới" in text) == s.marked.endswith(".xls")


def _receipt(space: Workspace, sent: Sent) -> str:
    return str(next(s for s in space.export()["submissions"] if s["organization"] == sent.unit)["receipt"])


def test_every_error_cell_of_a_workbook_is_coloured_and_commented_with_its_message(
    answered: tuple[Workspace, list[Sent]],
) -> None:
    space, sent = answered
    for s in (s for s in sent if s.marked and s.marked.endswith((".xlsx", ".xls"))):
        data = _attachments(_reply_to(space, s))[_marked_name(s.marked)]
        book = openpyxl.load_workbook(io.BytesIO(data))
        assert book.sheetnames[0] == GUIDE_TITLE and book.active.title == GUIDE_TITLE
        errors = [f for f in _findings(space, s) if f["severity"] == "error" and f["file"] == s.marked]
        assert len([f for f in errors if f["cell"]]) >= 3, errors
        for f in (f for f in errors if f["cell"]):
            cell = book[f["sheet"]][f["cell"]]
            assert str(cell.fill.fgColor.rgb).endswith(ERROR_FILL), (s.marked, f["cell"])
            assert cell.comment is not None and f["message"] in cell.comment.text
        guide = "\n".join(str(c.value) for row in book[GUIDE_TITLE].iter_rows() for c in row if c.value is not None)
        assert all(f["message"] in guide for f in _findings(space, s) if f["file"] in (s.marked, None))


def test_every_value_of_the_original_reads_back_unchanged_from_its_marked_copy(
    answered: tuple[Workspace, list[Sent]],
) -> None:
    space, sent = answered
    for s in (s for s in sent if s.marked):
        original = dict(s.files)[s.marked]
        copy = _attachments(_reply_to(space, s))[_marked_name(s.marked)]
        before, after = _grids(s.marked, original), _grids(_marked_name(s.marked), copy)
        assert [(g.sheet, g.rows, g.merges) for g in after] == [(g.sheet, g.rows, g.merges) for g in before]


def _comments(document: Any) -> list[str]:
    return [c.text for c in document.comments]


def test_every_error_of_a_word_file_is_shaded_and_commented_and_listed_first(
    answered: tuple[Workspace, list[Sent]],
) -> None:
    space, sent = answered
    for s in (s for s in sent if s.marked and s.marked.endswith(".docx")):
        data = _attachments(_reply_to(space, s))[_marked_name(s.marked)]
        document = docx.Document(io.BytesIO(data))
        assert document.paragraphs[0].text.strip() == GUIDE_TITLE
        errors = [f for f in _findings(space, s) if f["severity"] == "error" and f["file"] == s.marked]
        assert errors
        comments = _comments(document)
        for f in errors:
            assert any(f["message"] in c for c in comments), f["message"]
        fills = {e.get(f"{{{W}}}fill") for e in document.element.body.iter(f"{{{W}}}shd")}
        assert ERROR_FILL in fills
        guide = "\n".join(p.text for p in document.paragraphs[:40])
        assert all(f["message"] in guide for f in _findings(space, s) if f["file"] in (s.marked, None))


def test_the_acknowledgement_attaches_a_receipt_whose_text_reads_back_exactly(
    answered: tuple[Workspace, list[Sent]],
) -> None:
    space, sent = answered
    s = next(s for s in sent if s.marked is None)
    receipt = _receipt(space, s)
    pdf = _attachments(_reply_to(space, s))[f"Phieu-tiep-nhan-{receipt}.pdf"]
    lines = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    text = " ".join(unicodedata.normalize("NFC", lines).split())  # a long name wraps onto two lines
    assert receipt in text and s.unit in text
    assert "Truyền thông về sản xuất và tiêu dùng bền vững ngành da giày" in text
    for _, data in s.files:
        assert hashlib.sha256(data).hexdigest() in text.replace("\n", "")


def test_libreoffice_shows_the_comment_of_a_marked_cell(answered: tuple[Workspace, list[Sent]], tmp_path: Path) -> None:
    space, sent = answered
    s = sent[0]
    copy = tmp_path / "copy.xlsx"
    copy.write_bytes(_attachments(_reply_to(space, s))[_marked_name(s.marked or "")])
    from tests.office import soffice_path

    subprocess.run(
        [str(soffice_path()), "--headless", "--convert-to", "fods", "--outdir", str(tmp_path), str(copy)],
        check=True,
        capture_output=True,
        timeout=180,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    flat = (tmp_path / "copy.fods").read_text(encoding="utf-8")
    message = next(f["message"] for f in _findings(space, s) if f["cell"])
    assert "office:annotation" in flat and GUIDE_TITLE in flat
    assert message.split("«")[0].strip() in flat


def test_the_marked_copy_sent_back_with_its_errors_fixed_is_accepted(
    answered: tuple[Workspace, list[Sent]], rules: Rules, tmp_path: Path
) -> None:
    """(Last: it adds a version.) The submitter corrects the cells in the marked workbook itself and answers
    the correction with it."""
    space, sent = answered
    s = sent[0]
    copy = _attachments(_reply_to(space, s))[_marked_name(s.marked or "")]
    book = openpyxl.load_workbook(io.BytesIO(copy))
    for f in _findings(space, s):
        if f["cell"] and f["file"] == s.marked:
            right = {"kinh_phi_tong": 1500, "dinh_huong": "1. " + _orientation(rules, 1), "ket_thuc": "11/2024"}
            book[f["sheet"]][f["cell"]].value = right[f["field"]]
    out = io.BytesIO()
    book.save(out)
    reply = _reply_to(space, s)
    raw, _ = email(
        s.sender,
        "Re: " + str(reply["Subject"]),
        "Đã sửa.",
        [(_marked_name(s.marked or ""), out.getvalue()), s.files[1]],
        date=dt.datetime(2023, 4, 25, 9, 0, tzinfo=VN),
        in_reply_to=str(reply["Message-ID"]),
    )
    space.deliver([DemoMail("fixed", raw, dt.datetime(2023, 4, 25, 9, 0, tzinfo=VN), "acknowledged")])
    assert space.cli("once").exit_code == 0
    again = next(x for x in space.export()["submissions"] if x["organization"] == s.unit)
    assert again["version"] == 2 and again["status"] == "accepted", again["findings"]


def _orientation(rules: Rules, code: int) -> str:
    return next(v.name for c in rules.columns for v in c.values if v.code == code)


def test_a_marked_copy_marked_again_keeps_its_name() -> None:
    from mailbot.marking import marked_name

    assert marked_name("Phụ lục 1.xls", "xlsx") == "Phụ lục 1_can-sua.xlsx"
    assert marked_name("Phụ lục 1_can-sua.xlsx", "xlsx") == "Phụ lục 1_can-sua.xlsx"
    assert marked_name("thuyet-minh.odt", "docx") == "thuyet-minh_can-sua.docx"
