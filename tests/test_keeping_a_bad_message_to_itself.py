"""A fault on one message's way costs that message, never the intake (RELIABILITY #66, #68).

An exception injected at each step of the way (MAILBOT_CRASH_AT="step:n:raise") hits the middle one of
three submissions: the other two are answered in the same run, the poison one is recorded `failed`
with an error id and moved to quarantine (or, when the fault is in sending, its reply is `failed`),
and a second run does nothing new.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from mailbot.demo_mail import VN, DemoMail, descriptions_docx, task, task_list_xlsx
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes, with_header
from tests.mailflow import ImapWorkspace, Workspace, make_workspace
from tests.servers import Certificates, Dovecot, SmtpSink

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)

#: step → which time the step is reached by the middle message (two attachments are read per message).
STEPS = {
    "fetched": 2,
    "archived": 2,
    "parsed": 2,
    "classified": 2,
    "extracted": 2,
    "read": 3,
    "validated": 2,
    "rendered": 2,
    "recorded": 2,
    "committed": 2,
    "sending": 2,
    "moved": 2,
}
IMAP_STEPS = ("parsed", "read", "recorded", "sending", "moved")


def submission(rules: Rules, n: int) -> DemoMail:
    organization = f"Viện thử nghiệm số {n}"
    tasks = [task(f"Nhiệm vụ {n}", 2, "2024-01", "2024-06", 500, 500, organization)]
    files = [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, organization, tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]
    message_id = f"<unit{n}.{secrets.token_hex(4)}@vien{n}.example.vn>"
    raw = email_bytes(sender=f"Đơn vị {n} <unit{n}@vien{n}.example.vn>", attachments=files, message_id=message_id)
    return DemoMail(f"unit {n}", raw, WHEN + dt.timedelta(minutes=n), "acknowledged", message_id=message_id)


@pytest.fixture
def imap_space(tmp_path: Path, dovecot: Dovecot, certificates: Certificates) -> Iterator[ImapWorkspace]:
    user = (f"poison-{secrets.token_hex(4)}", secrets.token_urlsafe(10))
    dovecot.add_user(*user)
    sink = SmtpSink(tmp_path / "smtp", certificates=certificates, tls=True).start()
    try:
        yield ImapWorkspace(tmp_path / "work", dovecot, user, sink, certificates)
    finally:
        sink.stop()


def run_with_fault(space: Workspace, monkeypatch: pytest.MonkeyPatch, step: str, rules: Rules) -> list[DemoMail]:
    mails = [submission(rules, n) for n in (1, 2, 3)]
    space.deliver(mails)
    monkeypatch.setenv("MAILBOT_CRASH_AT", f"{step}:{STEPS[step]}:raise")
    result = space.cli("once")
    monkeypatch.delenv("MAILBOT_CRASH_AT")
    assert result.exit_code == 0, result.output
    return mails


def check_one_message_paid(space: Workspace, mails: list[DemoMail], step: str) -> None:
    messages = space.export()["messages"]
    threads = {r["In-Reply-To"] for r in space.replies()}
    assert {mails[0].message_id, mails[2].message_id} <= threads  # the ordinary ones are answered
    assert [m["action"] for m in (messages[0], messages[2])] == ["acknowledged", "acknowledged"]
    poison = messages[1]
    if step == "sending":  # the reply could not be handed over: that reply is failed, the message stands
        assert poison["action"] == "acknowledged" and mails[1].message_id not in threads
        assert space.folder_count("Processed") == 3
    else:
        assert poison["action"] == "failed" and poison["error_id"]
        assert "InjectedFault: fault injected at " + step in poison["reason"]
        quarantined = 0 if step == "moved" else 1  # a fault after the move leaves it where it was moved
        assert space.folder_count("Quarantine") == quarantined and space.folder_count("Processed") == 3 - quarantined
        assert (mails[1].message_id in threads) == (step == "moved")  # handed over before the fault, or never
    assert space.inbox() == []


@pytest.mark.parametrize("step", list(STEPS))
def test_a_fault_at_any_step_costs_only_that_message(
    tmp_path: Path, rules: Rules, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    space = make_workspace(tmp_path)
    mails = run_with_fault(space, monkeypatch, step, rules)
    check_one_message_paid(space, mails, step)

    before, replies = space.export(), len(space.replies())
    assert space.cli("once").exit_code == 0
    assert space.export() == before and len(space.replies()) == replies  # the failed one is not retried


@pytest.mark.parametrize("step", IMAP_STEPS)
def test_a_fault_on_a_real_imap_account_costs_only_that_message(
    imap_space: ImapWorkspace, rules: Rules, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    mails = run_with_fault(imap_space, monkeypatch, step, rules)
    check_one_message_paid(imap_space, mails, step)
    before, replies = imap_space.export(), len(imap_space.replies())
    assert imap_space.cli("once").exit_code == 0
    assert imap_space.export() == before and len(imap_space.replies()) == replies


def test_the_officer_sees_the_failed_message_and_its_error_id(
    tmp_path: Path, rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = make_workspace(tmp_path)
    run_with_fault(space, monkeypatch, "validated", rules)
    error_id = space.export()["messages"][1]["error_id"]
    log = openpyxl.load_workbook(space.tracker)["Nhật ký"]
    cells = [str(c.value) for row in log.iter_rows(min_row=2) for c in row]
    assert "Lỗi xử lý (đã cách ly)" in cells
    assert any(c.startswith(f"Lỗi của chương trình khi xử lý thư (mã lỗi {error_id})") for c in cells)


def test_a_reply_that_fails_after_it_was_queued_is_held_not_sent_later(
    tmp_path: Path, rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = make_workspace(tmp_path)
    mails = run_with_fault(space, monkeypatch, "committed", rules)
    assert mails[1].message_id not in {r["In-Reply-To"] for r in space.replies()}
    assert space.cli("once").exit_code == 0
    assert mails[1].message_id not in {r["In-Reply-To"] for r in space.replies()}


# ---------------------------------------------------------------- poison addresses in one batch

ACCENTED = "jdöe@mächine.example"
NO_SMTPUTF8 = "máy chủ thư không hỗ trợ địa chỉ có dấu"


def poison_batch(rules: Rules) -> list[DemoMail]:
    """Ordinary submissions with, between them, an RFC 6532 sender and a sender whose domain is no valid IDN."""
    ordinary = [submission(rules, n) for n in (1, 3, 5)]
    accented = submission(rules, 2)
    accented = DemoMail(
        "accented", with_header(accented.raw, "From", f'"Jöhn" <{ACCENTED}>'), accented.arrives, "", accented.message_id
    )
    broken = submission(rules, 4)
    broken = DemoMail(
        "bad idn", with_header(broken.raw, "From", "Ai <a@-\u00e4-.example>"), broken.arrives, "", broken.message_id
    )
    return [ordinary[0], accented, ordinary[1], broken, ordinary[2]]


@pytest.mark.parametrize("smtputf8", [True, False], ids=["with-smtputf8", "without-smtputf8"])
def test_poison_addresses_between_ordinary_submissions_on_a_real_imap_account(
    tmp_path: Path, dovecot: Dovecot, certificates: Certificates, rules: Rules, smtputf8: bool
) -> None:
    user = (f"poison-{secrets.token_hex(4)}", secrets.token_urlsafe(10))
    dovecot.add_user(*user)
    sink = SmtpSink(tmp_path / "smtp", certificates=certificates, tls=True, smtputf8=smtputf8).start()
    try:
        space = ImapWorkspace(tmp_path / "work", dovecot, user, sink, certificates)
        mails = poison_batch(rules)
        space.deliver(mails)
        assert space.cli("once").exit_code == 0
        actions = [m["action"] for m in space.export()["messages"]]
        assert actions == ["acknowledged", "acknowledged", "acknowledged", "ignored", "acknowledged"]
        threads = {r["In-Reply-To"] for r in space.replies()}
        assert {mails[i].message_id for i in (0, 2, 4)} <= threads  # every ordinary one answered in the same run
        assert (mails[1].message_id in threads) == smtputf8
        log = openpyxl.load_workbook(space.tracker)["Nhật ký"]
        cells = [str(c.value) for row in log.iter_rows(min_row=2) for c in row]
        assert (any(NO_SMTPUTF8 in c for c in cells)) != smtputf8  # the officer reads why it was not sent
        before, replies = space.export(), len(space.replies())
        assert space.cli("once").exit_code == 0
        assert space.export() == before and len(space.replies()) == replies
    finally:
        sink.stop()


def test_poison_addresses_between_ordinary_submissions_on_a_maildir(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    mails = poison_batch(rules)
    space.deliver(mails)
    assert space.cli("once").exit_code == 0
    actions = [m["action"] for m in space.export()["messages"]]
    assert actions == ["acknowledged", "acknowledged", "acknowledged", "ignored", "acknowledged"]
    assert {r["In-Reply-To"] for r in space.replies()} == {mails[i].message_id for i in (0, 1, 2, 4)}
    before = space.export()
    assert space.cli("once").exit_code == 0 and space.export() == before
