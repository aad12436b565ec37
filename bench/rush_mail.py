"""For bench/deadline_rush.py: many distinct realistic submissions, fast, and the places they are put.

Each submission is a Phụ lục 1 (.xlsx, the blank template filled in by mailbot.demo_mail) and a Phụ lục 2
(.docx) for one task. The two files are built once with placeholder names; each message gets its own
organisation and task name by replacing the placeholders inside the files' XML (then re-zipped), so no two
messages are duplicates (different senders, organisations, task names and file bytes) while building
thousands of them costs milliseconds each instead of a full openpyxl/python-docx save.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import mailbox
import os
import zipfile
from pathlib import Path

from mailbot.demo_mail import MAILBOX, VN, descriptions_docx, email, task, task_list_xlsx
from mailbot.validation.rules_file import load_rules
from tests.mailflow import ImapWorkspace
from tests.servers import Dovecot

ORG, TASK = "QQORGQQ", "QQTASKQQ"  # placeholders: ASCII, in no other text of the files
ARRIVES = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)  # before the call's deadline (2023-04-30)

# The bench's own limits: the default replies_total (500 an hour) would hold back replies in a backlog of 1,000.
EXTRA_CONFIG = """
[schedule]
interval_seconds = 3600

[limits]
replies_total = 1000000
replies_per_sender = 1000
"""


class Submissions:
    """`raw(n)`: the n-th distinct submission email (the same n gives the same bytes)."""

    def __init__(self, rules_path: Path, tag: str = "") -> None:
        rules = load_rules(rules_path)
        tasks = [task(TASK, 4, "2024-02", "2024-10", 900, 700, ORG)]
        self._xlsx = task_list_xlsx(rules, ORG, tasks)
        self._docx = descriptions_docx(rules, tasks)
        self.tag = tag  # keeps the messages of different parts of a run apart

    def tagged(self, tag: str) -> Submissions:
        other = copy.copy(self)
        other.tag = tag
        return other

    def files(self, n: int) -> list[tuple[str, bytes]]:
        org = f"Viện Nghiên cứu Công nghiệp {self.tag}{n}"
        name = f"Mô hình sản xuất sạch hơn cho cơ sở {self.tag}{n}"
        return [
            ("PhuLuc1.xlsx", _substituted(self._xlsx, {ORG: org, TASK: name})),
            ("PhuLuc2.docx", _substituted(self._docx, {ORG: org, TASK: name})),
        ]

    def address(self, n: int) -> str:
        return f"don-vi-{self.tag.lower()}{n}@dv{n}.example.vn"

    def raw(self, n: int, files: list[tuple[str, bytes]] | None = None) -> bytes:
        sender = f"Đơn vị {self.tag}{n} <{self.address(n)}>"
        subject = f"Đề xuất nhiệm vụ {self.tag}{n}"
        raw, _ = email(sender, subject, "Kính gửi Vụ TKNL.", files or self.files(n), date=ARRIVES)
        return raw

    def raws(self, numbers: range) -> list[bytes]:
        return [self.raw(n) for n in numbers]


def _substituted(data: bytes, names: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.endswith(".xml"):
                for placeholder, value in names.items():
                    content = content.replace(placeholder.encode(), value.encode("utf-8"))
            target.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    return out.getvalue()


def append_all(dovecot: Dovecot, user: str, raws: list[bytes]) -> None:
    """APPEND every message over one login (Dovecot.append logs in once per message)."""
    client = dovecot.client(user, timeout=60)
    try:
        for raw in raws:
            client.append("INBOX", raw, flags=(), msg_time=ARRIVES)
    finally:
        client.logout()


def imap_workspace(root: Path, dovecot: Dovecot, user: str, sink: object, certificates: object) -> ImapWorkspace:
    """A fresh Dovecot account and a mailbot workspace answering it (replies to the SMTP sink)."""
    password = f"{user}-secret"
    dovecot.add_user(user, password)
    space = ImapWorkspace(root, dovecot, (user, password), sink, certificates)  # type: ignore[arg-type]  # test servers
    space.config.write_text(space.config.read_text(encoding="utf-8") + EXTRA_CONFIG, encoding="utf-8")
    return space


def seed_config(space: ImapWorkspace) -> Path:
    """A Maildir config beside the IMAP one, writing to the same storage folder (ledger, archive, tracker)."""
    path = space.root / "seed.toml"
    path.write_text(
        f"""[mailbox]
kind = "maildir"
path = "./seed/mail"

[smtp]
kind = "outbox"
path = "./seed/outbox"
from = "Vụ TKNL <{MAILBOX}>"

[storage]
dir = "./var"
tracker = "./var/tracker.xlsx"
{EXTRA_CONFIG}""",
        encoding="utf-8",
    )
    return path


def deliver_maildir(folder: Path, raws: list[bytes]) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(str(folder), create=True)
    stamp = ARRIVES.timestamp()
    for raw in raws:
        key = box.add(raw)
        os.utime(folder / "new" / key, (stamp, stamp))
