"""Someone is told (RELIABILITY #76): one alert mail per condition to `[alerts] to`, no more than one per
condition per interval, a "resolved" mail when it clears; `mailbot status` says healthy, degraded or down.

Real parts: a Maildir with the file outbox, and a real Dovecot and aiosmtpd that the tests stop and start.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailbot.demo_mail import VN, DemoMail, descriptions_docx, task, task_list_xlsx
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes
from tests.mailflow import ImapWorkspace, Workspace, make_workspace
from tests.servers import Certificates, Dovecot, SmtpSink

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)
ADMIN = "quan-tri@example.org"


def alerts_config(**keys: object) -> str:
    values = {"to": [ADMIN], "mailbox_minutes": 0, "smtp_minutes": 0, "tracker_minutes": 0} | keys
    return "\n[alerts]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())


def with_alerts(space: Workspace, **keys: object) -> Workspace:
    text = space.config.read_text(encoding="utf-8").split("\n[alerts]\n")[0]
    space.config.write_text(text + alerts_config(**keys), encoding="utf-8")
    return space


def alerts(space: Workspace) -> list[tuple[str, str]]:
    """(condition, kind) of every alert mail sent so far, sorted (a file outbox keeps no order)."""
    found = []
    for mail in space.replies():
        header = mail.get("X-Mailbot-Alert")
        if header:
            condition, _, kind = str(header).partition("; ")
            found.append((condition, kind))
    return sorted(found)


def alert_mails(space: Workspace) -> list[EmailMessage]:
    return [m for m in space.replies() if m.get("X-Mailbot-Alert")]


def submission(rules: Rules, n: int = 1) -> DemoMail:
    tasks = [task(f"Nhiệm vụ {n}", 2, "2024-01", "2024-06", 500, 500, "Viện Cơ khí")]
    files = [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, "Viện Cơ khí", tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]
    raw = email_bytes(attachments=files, message_id=f"<p{n}.{secrets.token_hex(3)}@vien.example.vn>")
    return DemoMail(f"plan {n}", raw, WHEN + dt.timedelta(minutes=n), "acknowledged")


@pytest.fixture
def space(tmp_path: Path) -> Workspace:
    return with_alerts(make_workspace(tmp_path))


@pytest.fixture
def imap_space(
    tmp_path: Path, certificates: Certificates, start_smtp_sink: Callable[..., SmtpSink]
) -> Callable[[Dovecot], ImapWorkspace]:
    def make(dovecot: Dovecot) -> ImapWorkspace:
        user = (f"a{secrets.token_hex(4)}", secrets.token_urlsafe(10))
        dovecot.add_user(*user)
        made = ImapWorkspace(tmp_path / "work", dovecot, user, start_smtp_sink(tls=True), certificates)
        with_alerts(made)
        return made

    return make


# ---------------------------------------------------------------- conditions on the Maildir


def test_a_failed_message_is_told_once_and_resolved_after_reprocessing(
    space: Workspace, rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    space.deliver([submission(rules, 1)])
    monkeypatch.setenv("MAILBOT_CRASH_AT", "read:1:raise")
    assert space.cli("once").exit_code == 0
    monkeypatch.delenv("MAILBOT_CRASH_AT")
    assert alerts(space) == [("message_failed", "alert")]
    [mail] = alert_mails(space)
    assert mail["To"] == ADMIN and mail["Auto-Submitted"] == "auto-generated"
    assert "Có thư không xử lý được" in mail["Subject"] and "A message could not be processed" in mail["Subject"]
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    error_id = space.export()["messages"][0]["error_id"]
    assert error_id in text and "mailbot reprocess --failed" in text
    assert "Nhiệm vụ 1" not in text and "Viện Cơ khí" not in text  # no submission content

    assert space.cli("once").exit_code == 0
    assert alerts(space) == [("message_failed", "alert")]  # still failed: not told twice

    assert space.cli("reprocess", "--failed").exit_code == 0
    assert space.cli("once").exit_code == 0
    assert alerts(space) == [("message_failed", "alert"), ("message_failed", "resolved")]


def test_low_disk_space_is_told_and_resolved(space: Workspace) -> None:
    with_alerts(space, min_free_disk_mb=10**12)
    assert space.cli("once").exit_code == 0
    assert space.cli("once").exit_code == 0
    assert alerts(space) == [("disk_low", "alert")]
    with_alerts(space, min_free_disk_mb=0)
    assert space.cli("once").exit_code == 0
    assert alerts(space) == [("disk_low", "alert"), ("disk_low", "resolved")]


def test_an_unwritable_tracker_is_told_and_resolved(space: Workspace, rules: Rules) -> None:
    space.tracker.parent.mkdir(parents=True, exist_ok=True)
    space.tracker.mkdir()  # something that is not a workbook holds its place
    space.deliver([submission(rules, 1)])
    assert space.cli("once").exit_code == 0
    assert alerts(space) == [("tracker_locked", "alert")]
    space.tracker.rmdir()
    assert space.cli("once").exit_code == 0
    assert alerts(space) == [("tracker_locked", "alert"), ("tracker_locked", "resolved")]


def test_a_condition_shorter_than_its_threshold_is_not_told(space: Workspace) -> None:
    with_alerts(space, tracker_minutes=30)
    space.tracker.parent.mkdir(parents=True, exist_ok=True)
    space.tracker.mkdir()
    assert space.cli("once").exit_code == 0
    space.tracker.rmdir()
    assert space.cli("once").exit_code == 0
    assert alerts(space) == []


def test_without_recipients_conditions_are_tracked_for_status_but_not_mailed(tmp_path: Path) -> None:
    space = make_workspace(tmp_path)
    space.config.write_text(space.config.read_text() + "\n[alerts]\nmin_free_disk_mb = 1000000000000\n")
    assert space.cli("once").exit_code == 0
    assert alerts(space) == []
    result = space.cli("status", "--json")
    assert result.exit_code == 1, result.output
    assert [a["condition"] for a in json.loads(result.output)["open_alerts"]] == ["disk_low"]


def test_a_failing_backup_is_told_and_resolved_by_the_next_good_one(space: Workspace, tmp_path: Path) -> None:
    assert space.cli("once").exit_code == 0
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    assert space.cli("backup", str(blocker / "backup")).exit_code != 0
    assert space.cli("once").exit_code == 0  # the running mailbot sends what the backup recorded
    assert alerts(space) == [("backup_failed", "alert")]
    assert space.cli("backup", str(tmp_path / "backup")).exit_code == 0
    assert space.cli("once").exit_code == 0
    assert alerts(space) == [("backup_failed", "alert"), ("backup_failed", "resolved")]


# ---------------------------------------------------------------- status


def test_status_is_down_before_the_first_batch_then_healthy(space: Workspace) -> None:
    before = space.cli("status")
    assert before.exit_code == 2 and "down" in before.output
    assert space.cli("once").exit_code == 0
    after = space.cli("status", "--json")
    assert after.exit_code == 0, after.output
    report = json.loads(after.output)
    assert report["state"] == "healthy" and report["outbox"]["pending"] == 0 and report["failed_messages"] == 0


def test_status_is_degraded_with_an_open_alert(space: Workspace) -> None:
    with_alerts(space, min_free_disk_mb=10**12)
    assert space.cli("once").exit_code == 0
    result = space.cli("status")
    assert result.exit_code == 1 and "degraded" in result.output and "disk_low" in result.output


def test_status_is_down_when_no_batch_succeeded_for_three_intervals(space: Workspace) -> None:
    assert space.cli("once").exit_code == 0
    ledger = space.root / "var" / "ledger.sqlite3"
    stale = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).isoformat(timespec="seconds")
    with sqlite3.connect(ledger) as db:  # the last success was ten minutes ago; the interval is one minute
        db.execute("UPDATE meta SET value = ? WHERE key = 'last_success_at'", (stale,))
    result = space.cli("status")
    assert result.exit_code == 2 and "no successful batch" in result.output


# ---------------------------------------------------------------- real servers


def test_a_stopped_dovecot_is_told_once_then_resolved_when_it_is_back(
    private_dovecot: Dovecot, imap_space: Callable[[Dovecot], ImapWorkspace]
) -> None:
    space = imap_space(private_dovecot)
    assert space.cli("once").exit_code == 0
    private_dovecot.stop()
    assert space.cli("once").exit_code == 69
    assert space.cli("once").exit_code == 69
    assert alerts(space) == [("mailbox_unreachable", "alert")]
    status = space.cli("status", "--json")
    assert status.exit_code == 1 and json.loads(status.output)["last_error"].startswith("MailboxUnavailable")
    private_dovecot.restart()
    assert space.cli("once").exit_code == 0
    assert alerts(space) == [("mailbox_unreachable", "alert"), ("mailbox_unreachable", "resolved")]
    assert space.cli("status").exit_code == 0


def test_a_refused_mailbox_login_is_told_at_once(
    dovecot: Dovecot, imap_space: Callable[[Dovecot], ImapWorkspace]
) -> None:
    space = imap_space(dovecot)
    (space.root / "mailbox.password").write_text("wrong", encoding="utf-8")
    assert space.cli("once").exit_code == 77
    assert alerts(space) == [("mailbox_login_refused", "alert")]


def test_replies_waiting_for_a_stopped_smtp_server_are_told_when_it_is_back(
    dovecot: Dovecot, imap_space: Callable[[Dovecot], ImapWorkspace], rules: Rules
) -> None:
    space = imap_space(dovecot)
    space.sink.stop()
    space.deliver([submission(rules, 1)])
    result = space.cli("once")
    assert result.exit_code == 3 and "waiting" in result.output  # cron and systemd see it
    space.sink.start()
    assert space.cli("once").exit_code == 0  # (the retry of the reply itself waits for its backoff)
    assert alerts(space) == [("smtp_unreachable", "alert"), ("smtp_unreachable", "resolved")]


def test_a_recreated_folder_is_told_once(dovecot: Dovecot, imap_space: Callable[[Dovecot], ImapWorkspace]) -> None:
    space = imap_space(dovecot)
    text = space.config.read_text(encoding="utf-8")
    space.config.write_text(text.replace("timeout_seconds = 10\n", 'timeout_seconds = 10\nfolder = "Submissions"\n'))
    raw = email_bytes(body="Xin hỏi", message_id="<q1@vien.example.vn>")
    dovecot.create_folder("Submissions", user=space.user)
    dovecot.append(raw, WHEN, "Submissions", user=space.user)
    assert space.cli("once").exit_code == 0
    dovecot.delete_folder("Submissions", user=space.user)  # restored from a backup: a new UIDVALIDITY
    dovecot.create_folder("Submissions", user=space.user)
    dovecot.append(raw, WHEN, "Submissions", user=space.user)
    assert space.cli("once").exit_code == 0
    assert alerts(space) == [("uidvalidity_changed", "alert")]


def test_a_reply_refused_for_good_is_told(
    dovecot: Dovecot, tmp_path: Path, certificates: Certificates, rules: Rules
) -> None:
    from tests.builders.emails import with_header

    user = (f"r{secrets.token_hex(4)}", secrets.token_urlsafe(10))
    dovecot.add_user(*user)
    sink = SmtpSink(tmp_path / "smtp", certificates=certificates, tls=True, smtputf8=False).start()
    try:
        space = with_alerts(ImapWorkspace(tmp_path / "work", dovecot, user, sink, certificates))
        plan = submission(rules, 1)
        accented = with_header(plan.raw, "From", '"Jöhn" <jdöe@mächine.example>')  # this server cannot take it
        space.deliver([DemoMail("accented", accented, plan.arrives, "acknowledged")])
        assert space.cli("once").exit_code == 0
        assert alerts(space) == [("replies_failed", "alert")]
        [mail] = alert_mails(space)
        body = mail.get_body(("plain",))
        assert body is not None and "máy chủ thư không hỗ trợ địa chỉ có dấu" in body.get_content()
    finally:
        sink.stop()


def test_more_bounces_in_an_hour_than_allowed_are_told(space: Workspace, rules: Rules) -> None:
    with_alerts(space, bounces_per_hour=1)
    space.deliver([submission(rules, 1), submission(rules, 2)])
    assert space.cli("once").exit_code == 0
    reports = []
    for n, reply in enumerate(r for r in space.replies() if not r.get("X-Mailbot-Alert")):
        report = (
            f"From: Mail Delivery System <MAILER-DAEMON@vien.example.vn>\r\nTo: nop-de-xuat@example.org\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce{n}@vien.example.vn>\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\n'
            "Content-Type: text/plain\r\n\r\nThe mail system: mailbox full\r\n--b\r\n"
            "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; vien.example.vn\r\n\r\n"
            "Final-Recipient: rfc822; a@vien.example.vn\r\nAction: failed\r\nStatus: 5.2.2\r\n--b\r\n"
            f"Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: {reply['Message-ID']}\r\n--b--\r\n"
        ).encode()
        reports.append(DemoMail(f"bounce {n}", report, WHEN + dt.timedelta(minutes=30 + n), "ignored"))
    space.deliver(reports)
    assert space.cli("once").exit_code == 0
    assert alerts(space) == [("bounces", "alert")]
