"""`mailbot demo`: a workspace whose Maildir holds realistic submissions, processed once.

Everything is dated before the call's deadline (30/4/2023) except the one meant to be late. The demo is
for a person to read: it prints what became of each message and of each submission, and logs only
warnings and errors (readable on a terminal, JSON lines otherwise, like every command).
"""

from __future__ import annotations

import datetime as dt
import logging
import mailbox
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailbot.demo_mail import (
    MAILBOX,
    VN,
    DemoMail,
    descriptions_docx,
    email,
    task,
    task_list_docx,
    task_list_xlsx,
    zip_of,
)
from mailbot.validation.schema import Rules

MARKER = ".mailbot-demo"
CONFIG = f"""# The demo's configuration (see config.example.toml for every key).
[mailbox]
kind = "maildir"
path = "./var/mail"

[smtp]
kind = "outbox"
path = "./var/outbox"
from = "Vụ TKNL <{MAILBOX}>"

[rules]
file = "rules/sxtdbv-2024.toml"

[storage]
dir = "./var"
tracker = "./var/tracker.xlsx"
"""

LEATHER = "Viện Nghiên cứu Da - Giày"
CLEANER = "Trung tâm Sản xuất sạch hơn Việt Nam"
PLASTIC = "Công ty Cổ phần Nhựa Xanh"
TEXTILE = "Viện Dệt May"
COOP = "Hợp tác xã Xanh"


def _day(day: int, hour: int = 9, month: int = 4) -> dt.datetime:
    return dt.datetime(2023, month, day, hour, 0, tzinfo=VN)


def _tasks() -> dict[str, list[dict[str, Any]]]:
    def one(name: str, orientation: int, start: str, end: str, total: float, state: float, unit: str) -> dict[str, Any]:
        return task(name, orientation, start, end, total, state, unit)

    textile = [
        one("Hướng dẫn kỹ thuật sử dụng hiệu quả nước ngành dệt nhuộm", 5, "2024-01", "2024-09", 800, 800, TEXTILE)
    ]
    wrong = [dict(textile[0], kinh_phi_tong="khoảng 800", dinh_huong="Năng lượng tái tạo", ket_thuc="12/2023")]
    return {
        "leather": [
            one(
                "Truyền thông về sản xuất và tiêu dùng bền vững ngành da giày",
                1,
                "2024-01",
                "2024-12",
                1500,
                1000,
                LEATHER,
            ),
            one(
                "Xây dựng định mức tiêu hao nguyên vật liệu ngành da giày",
                3,
                "2024-03",
                "2024-11",
                2000.5,
                2000.5,
                LEATHER,
            ),
        ],
        "cleaner": [one("Nhân rộng mô hình sản xuất sạch hơn ngành giấy", 4, "2024-02", "2024-10", 900, 700, CLEANER)],
        "plastic": [one("Mô hình thu hồi, tái chế bao bì nhựa", 6, "2024-04", "2024-12", 1200, 800, PLASTIC)],
        "textile": textile,
        "wrong": wrong,
        "coop": [one("Chuỗi cung ứng nông sản bền vững", 8, "2024-03", "2024-12", 600, 400, COOP)],
    }


def _sender(name: str, who: str) -> str:
    return f"{name} <{who}@{who}.example.vn>"


GREETING = "Kính gửi Vụ Tiết kiệm năng lượng và Phát triển bền vững,\n\nĐơn vị xin gửi kế hoạch năm 2024 kèm theo."


def demo_mails(rules: Rules, domain: str) -> list[DemoMail]:
    """The demo's messages in delivery order, each with the action it should get."""
    from mailbot.intake import parse_message
    from mailbot.replies import reply_message_id

    t = _tasks()

    def both(org: str, key: str, p1: str = "PhuLuc1.xlsx") -> list[tuple[str, bytes]]:
        table = task_list_docx(rules, org, t[key]) if p1.endswith(".docx") else task_list_xlsx(rules, org, t[key])
        described = t["textile"] if key == "wrong" else t[key]
        return [(p1, table), ("PhuLuc2.docx", descriptions_docx(rules, described))]

    mails: list[DemoMail] = []

    def add(
        label: str, expect: str, when: dt.datetime, sender: str, subject: str, body: str = GREETING, **kw: Any
    ) -> DemoMail:
        raw, message_id = email(sender, subject, body, kw.pop("files", ()), date=when, **kw)
        mails.append(DemoMail(label, raw, when, expect, message_id))
        return mails[-1]

    first = add(
        "valid xlsx + docx",
        "acknowledged",
        _day(10),
        _sender("Viện Da Giày", "leather"),
        "Đề xuất nhiệm vụ SXTDBV năm 2024",
        files=both(LEATHER, "leather", "PhuLuc1_VienDaGiay.xlsx"),
    )
    add(
        "Phụ lục 1 as a Word table",
        "acknowledged",
        _day(12),
        _sender("VNCPC", "cleaner"),
        "Gửi đề xuất nhiệm vụ 2024",
        files=both(CLEANER, "cleaner", "Phu luc 1.docx"),
    )
    wrong = add(
        "row errors",
        "correction_sent",
        _day(14),
        _sender("Viện Dệt May", "textile"),
        "Đề xuất nhiệm vụ năm 2024",
        files=both(TEXTILE, "wrong"),
    )
    add(
        "a zip of both files",
        "acknowledged",
        _day(15),
        _sender("Nhựa Xanh", "plastic"),
        "Ho so de xuat nhiem vu",
        files=[("HoSo.zip", zip_of(both(PLASTIC, "plastic")))],
    )
    add(
        "an out-of-office reply",
        "ignored",
        _day(15, 10),
        _sender("Nguyễn Văn B", "cleaner"),
        "Trả lời tự động: Vắng mặt",
        "Tôi đang đi công tác đến 20/4.",
        headers={"Auto-Submitted": "auto-replied"},
    )
    add(
        "a newsletter",
        "ignored",
        _day(16),
        _sender("Bản tin", "news"),
        "Bản tin tháng 4",
        "Tin tức ngành công thương.",
        headers={"List-Id": "<bantin.example.net>", "Precedence": "bulk"},
    )
    mails.append(DemoMail("the same message delivered twice", first.raw, _day(17), "duplicate", first.message_id))
    add(
        "a resubmission answering the correction",
        "acknowledged",
        _day(20),
        _sender("Viện Dệt May", "textile"),
        "Re: Đề nghị bổ sung, chỉnh sửa hồ sơ",
        "Đơn vị gửi lại hồ sơ đã chỉnh sửa.",
        files=both(TEXTILE, "textile", "PhuLuc1_sua.xlsx"),
        in_reply_to=reply_message_id(parse_message(wrong.raw), domain),
    )
    add(
        "a late submission",
        "acknowledged",
        dt.datetime(2023, 5, 3, 8, 30, tzinfo=VN),
        _sender("HTX Xanh", "coop"),
        "Đề xuất nhiệm vụ 2024 (gửi muộn)",
        files=both(COOP, "coop"),
    )
    return mails


def deliver(maildir: Path, mails: list[DemoMail]) -> None:
    """Put each message into the Maildir's new/ with its arrival time as the file's delivery time."""
    maildir.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(str(maildir), create=True)
    for mail in mails:
        key = box.add(mail.raw)  # the bytes exactly as sent
        path = maildir / "new" / key
        stamp = mail.arrives.timestamp()
        os.utime(path, (stamp, stamp))


def prepare_workspace(workspace: Path) -> Path:
    """A fresh workspace: an earlier demo's is replaced; any other non-empty folder is refused."""
    if workspace.exists() and any(workspace.iterdir()):
        if not (workspace / MARKER).exists():
            raise SystemExit(f"mailbot: {workspace} is not empty and is not a mailbot demo; choose another --dir")
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / MARKER).write_text("made by mailbot demo\n", encoding="utf-8")
    config = workspace / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def run_demo(workspace: Path, echo: Callable[[str], object] = print) -> dict[str, object]:
    from mailbot.bootstrap import build_app
    from mailbot.config import load_settings
    from mailbot.logs import configure_logging
    from mailbot.pipeline import process_batch
    from mailbot.readmodel import export_document
    from mailbot.scheduler import single_instance

    config = prepare_workspace(workspace)
    settings = load_settings(config)
    configure_logging(level=logging.WARNING)  # the summary below tells the story; the events are in the ledger
    with single_instance(settings.storage.dir):
        app = build_app(settings)
        try:
            mails = demo_mails(app.rules, settings.sender_domain)
            assert settings.mailbox.kind == "maildir"
            deliver(settings.mailbox.path, mails)
            process_batch(app)
            document = export_document(app.ledger)
        finally:
            app.close()
    assert settings.smtp.kind == "outbox"
    _print_summary(echo, document, settings.storage.tracker, settings.smtp.path, len(mails))
    return document


def _print_summary(
    echo: Callable[[str], object], document: dict[str, object], tracker: Path, outbox: Path, n: int
) -> None:
    messages = document["messages"]
    assert isinstance(messages, list)
    echo(f"{n} messages delivered to the demo mailbox and processed:\n")
    echo(f"  {'Arrived (VN)':<16}  {'What mailbot did':<16}  {'Receipt':<16}  Subject")
    for m in messages:
        arrived = dt.datetime.fromisoformat(m["received_at"]).astimezone(VN).strftime("%d/%m/%Y %H:%M")
        echo(f"  {arrived:<16}  {m['action']:<16}  {m['receipt'] or '':<16}  {(m['subject'] or '')[:50]}")
    submissions = document["submissions"]
    assert isinstance(submissions, list)
    echo(f"\n{len(submissions)} submissions:\n")
    echo(f"  {'Receipt':<16}  {'Organisation':<40} {'Status':<17} {'Ver':>3} {'Tasks':>5} {'Budget (tr.đ)':>14}")
    for s in submissions:
        budget = sum(t.get("kinh_phi_tong") or 0 for t in s["tasks"])
        status = s["status"] + (", late" if s.get("late") else "")
        echo(
            f"  {s['receipt']:<16}  {(s['organization'] or '?')[:40]:<40} {status:<17} {s['version']:>3}"
            f" {len(s['tasks']):>5} {budget:>14,.1f}"
        )
    echo(f"\nTracker workbook: {tracker}\nReplies (.eml):   {outbox}")
