"""Faults of real servers (Dovecot, aiosmtpd on loopback): restarts, outages, a recreated folder,
a person moving mail, a second instance, a wrong certificate, servers without MOVE or UIDPLUS."""

from __future__ import annotations

import secrets
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from mailbot.bootstrap import build_app
from mailbot.config import load_settings
from mailbot.demo import demo_mails
from mailbot.demo_mail import DemoMail
from mailbot.pipeline import process_batch, process_one
from mailbot.scheduler import single_instance
from mailbot.validation.schema import Rules
from tests.mailflow import ImapWorkspace
from tests.servers import Certificates, Dovecot, SmtpSink

ANSWERED = ("acknowledged", "correction_sent")


@pytest.fixture(scope="module")
def mails(rules: Rules) -> list[DemoMail]:
    return demo_mails(rules, "example.org")


@pytest.fixture
def make_space(
    tmp_path: Path, certificates: Certificates, start_smtp_sink: Callable[..., SmtpSink]
) -> Callable[..., ImapWorkspace]:
    def make(dovecot: Dovecot, **config: str) -> ImapWorkspace:
        user = (f"u{secrets.token_hex(4)}", secrets.token_urlsafe(10))
        dovecot.add_user(*user)
        space = ImapWorkspace(tmp_path / "work", dovecot, user, start_smtp_sink(tls=True), certificates)
        if config:
            text = space.config.read_text(encoding="utf-8")
            extra = "".join(f"{key} = {value}\n" for key, value in config.items())
            space.config.write_text(text.replace("timeout_seconds = 10\n", f"timeout_seconds = 10\n{extra}"))
        return space

    return make


def _answered(mails: list[DemoMail]) -> list[str | None]:
    return sorted(m.message_id for m in mails if m.expect in ANSWERED)


def _threads(space: ImapWorkspace) -> list[str]:
    return sorted(r["In-Reply-To"] for r in space.replies())


def test_dovecot_restarted_mid_run_is_reconnected_and_nothing_is_lost(
    private_dovecot: Dovecot, make_space: Callable[..., ImapWorkspace], mails: list[DemoMail]
) -> None:
    space = make_space(private_dovecot)
    space.deliver(mails)
    app = build_app(load_settings(space.config))
    try:
        keys = app.mailbox.list_new()
        process_one(app, keys[0])
        private_dovecot.restart()  # every open connection is cut
        process_batch(app)
    finally:
        app.close()
    assert [m["action"] for m in space.export()["messages"]] == [m.expect for m in mails]
    assert _threads(space) == _answered(mails) and space.inbox() == []


def test_with_the_smtp_server_down_replies_wait_in_the_outbox_and_go_out_when_it_is_back(
    dovecot: Dovecot, make_space: Callable[..., ImapWorkspace], mails: list[DemoMail]
) -> None:
    space = make_space(dovecot)
    space.deliver(mails)
    space.sink.stop()
    assert space.cli("once").exit_code == 3  # processed, replies waiting: cron and systemd see it
    assert [m["action"] for m in space.export()["messages"]] == [m.expect for m in mails]
    assert space.inbox() == [] and space.replies() == []
    ledger = sqlite3.connect(space.root / "var" / "ledger.sqlite3")
    assert {r[0] for r in ledger.execute("SELECT state FROM outbox")} == {"pending"}
    space.sink.start()
    with ledger:  # the backoff has passed
        ledger.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
    assert space.cli("once").exit_code == 0
    assert _threads(space) == _answered(mails)
    assert {r[0] for r in ledger.execute("SELECT state FROM outbox")} == {"sent"}


def test_a_permanent_smtp_refusal_marks_the_reply_failed_and_the_log_sheet_shows_it(
    dovecot: Dovecot, make_space: Callable[..., ImapWorkspace], mails: list[DemoMail]
) -> None:
    import openpyxl

    space = make_space(dovecot)
    space.deliver(mails[:1])
    space.sink.fail_with = (550, "5.7.30 Basic authentication is not supported for Client Submission")
    assert space.cli("once").exit_code == 0
    log = openpyxl.load_workbook(space.tracker)["Nhật ký"]
    shown = [str(c.value) for row in log.iter_rows(min_row=2) for c in row]
    assert any(v.startswith("Gửi lỗi: máy chủ thư không nhận thư — SMTP 550 5.7.30") for v in shown), shown


def test_a_folder_recreated_with_the_same_messages_gets_no_second_reply(
    dovecot: Dovecot, make_space: Callable[..., ImapWorkspace], mails: list[DemoMail]
) -> None:
    space = make_space(dovecot, folder='"Submissions"')
    dovecot.create_folder("Submissions", user=space.user)
    for mail in mails:
        dovecot.append(mail.raw, mail.arrives, "Submissions", user=space.user)
    assert space.cli("once").exit_code == 0
    replies = len(space.replies())
    dovecot.delete_folder("Submissions", user=space.user)  # restored from a backup: new UIDVALIDITY
    dovecot.create_folder("Submissions", user=space.user)
    for mail in mails:
        dovecot.append(mail.raw, mail.arrives, "Submissions", user=space.user)
    assert space.cli("once").exit_code == 0
    assert len(space.replies()) == replies
    actions = Counter(m["action"] for m in space.export()["messages"])
    assert actions == Counter(m.expect for m in mails) + Counter({"duplicate": len(mails)})


def test_a_message_moved_away_by_a_person_mid_cycle_is_logged_and_the_rest_go_on(
    dovecot: Dovecot, make_space: Callable[..., ImapWorkspace], mails: list[DemoMail]
) -> None:
    space = make_space(dovecot)
    space.deliver(mails[:3])
    app = build_app(load_settings(space.config))
    try:
        keys = app.mailbox.list_new()
        with dovecot.client(space.user) as person:  # someone tidies the inbox in Outlook
            person.select_folder("INBOX")
            person.create_folder("Personal")
            person.move([int(keys[1].split("/")[1])], "Personal")
        outcomes = [process_one(app, key) for key in keys]
    finally:
        app.close()
    assert outcomes[1] is None and outcomes[0] == "acknowledged" and outcomes[2] == "correction_sent"
    assert len(space.replies()) == 2 and dovecot.folder_uids("Personal", user=space.user)


def test_a_second_instance_on_the_same_mailbox_is_refused(
    dovecot: Dovecot, make_space: Callable[..., ImapWorkspace]
) -> None:
    space = make_space(dovecot)
    with single_instance(space.root / "var"):
        result = space.cli("once")
    assert result.exit_code == 75 and "already running" in result.output


def test_a_certificate_that_does_not_match_is_refused_with_a_clear_error(
    start_dovecot: Callable[..., Dovecot], make_space: Callable[..., ImapWorkspace], mails: list[DemoMail]
) -> None:
    wrong = start_dovecot(cert="wrong")
    space = make_space(wrong)
    space.deliver(mails[:1])
    result = space.cli("once")
    assert result.exit_code == 69
    assert "TLS certificate of IMAP server" in result.output and "rejected" in result.output
    assert len(space.inbox()) == 1 and space.replies() == []


@pytest.mark.parametrize("capabilities", ["IMAP4rev1 IDLE LITERAL+ SASL-IR UIDPLUS", "IMAP4rev1 IDLE LITERAL+ SASL-IR"])
def test_without_move_messages_are_copied_and_flagged_never_bare_expunged(
    start_dovecot: Callable[..., Dovecot],
    make_space: Callable[..., ImapWorkspace],
    mails: list[DemoMail],
    capabilities: str,
) -> None:
    server = start_dovecot(capabilities=capabilities)
    space = make_space(server)
    space.deliver(mails[:2])
    with server.client(space.user) as person:  # a message someone else marked deleted, not ours to expunge
        person.select_folder("INBOX")
        other = person.append("INBOX", b"Subject: keep\r\n\r\nmine", flags=[b"\\Deleted"])
    assert space.cli("once").exit_code == 0
    assert space.cli("once").exit_code == 0  # nothing is processed or copied twice
    assert (
        server.folder_uids("Processed", user=space.user) and len(server.folder_uids("Processed", user=space.user)) == 2
    )
    inbox = server.folder_uids("INBOX", user=space.user)
    assert len(inbox) == (1 if "UIDPLUS" in capabilities else 3)  # the stranger's \\Deleted message survives
    assert other is not None and len(space.replies()) == 2


def test_a_non_ascii_processed_folder_is_created_and_used(
    dovecot: Dovecot, make_space: Callable[..., ImapWorkspace], mails: list[DemoMail]
) -> None:
    space = make_space(dovecot, processed_folder='"Đã xử lý"')
    space.deliver(mails[:2])
    assert space.cli("once").exit_code == 0
    assert len(dovecot.folder_uids("Đã xử lý", user=space.user)) == 2


def test_run_waits_in_idle_and_answers_new_mail_long_before_the_next_poll(
    dovecot: Dovecot, make_space: Callable[..., ImapWorkspace], mails: list[DemoMail]
) -> None:
    space = make_space(dovecot)
    text = space.config.read_text(encoding="utf-8") + "\n[schedule]\ninterval_seconds = 3600\n"
    space.config.write_text(text, encoding="utf-8")
    service = subprocess.Popen(
        [sys.executable, "-m", "mailbot", "--config", str(space.config), "run"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (space.root / "var" / "heartbeat").exists():  # the first poll is done; IDLE from now on
            assert time.monotonic() < deadline and service.poll() is None
            time.sleep(0.1)
        time.sleep(1)
        space.deliver([mails[0]])
        while not space.replies():  # only IDLE can wake it: the next poll is an hour away
            assert time.monotonic() < deadline, "no reply: IDLE did not wake the job"
            time.sleep(0.2)
    finally:
        service.terminate()
        _, stderr = service.communicate(timeout=60)
    assert service.returncode == 0, stderr[-2000:]
    assert '"idle": true' in stderr
