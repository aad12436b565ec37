"""The outbox: a reply is committed before it is sent, retried after a temporary failure, marked
failed after a permanent one, and resent with the same Message-ID when its fate is unknown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.archive import Archive
from mailbot.bootstrap import App
from mailbot.config import load_settings
from mailbot.demo_mail import descriptions_docx, task, task_list_xlsx
from mailbot.pipeline import process_batch
from mailbot.ports import SendError
from mailbot.replies import ReplyRenderer
from mailbot.testing import FakeMailbox, FakeSender, FakeTracker
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes
from tests.mailflow import make_workspace

T0 = dt.datetime(2023, 4, 20, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def app(tmp_path: Path, rules: Rules) -> App:
    settings = load_settings(make_workspace(tmp_path).config)
    return App(
        settings=settings,
        rules=rules,
        mailbox=FakeMailbox(),
        sender=FakeSender(),
        ledger=SqliteLedger(":memory:"),
        archive=Archive(tmp_path / "archive"),
        tracker=FakeTracker(),
        renderer=ReplyRenderer(rules),
    )


def _deliver(app: App, rules: Rules, key: str = "m1") -> None:
    tasks = [task("Nhiệm vụ thử", 2, "2024-01", "2024-06", 500, 500, "Viện Cơ khí")]
    files = [("P1.xlsx", task_list_xlsx(rules, "Viện Cơ khí", tasks)), ("P2.docx", descriptions_docx(rules, tasks))]
    assert isinstance(app.mailbox, FakeMailbox)
    app.mailbox.deliver(key, email_bytes(attachments=files), T0)


def _states(app: App) -> list[str]:
    return [r[0] for r in app.ledger.db.execute("SELECT state FROM outbox ORDER BY id")]


def test_a_temporary_failure_keeps_the_reply_pending_and_retries_it_after_a_backoff(app: App, rules: Rules) -> None:
    assert isinstance(app.sender, FakeSender)
    _deliver(app, rules)
    app.sender.fail_with = SendError("421 try again later", permanent=False)
    process_batch(app)
    assert _states(app) == ["pending"] and app.sender.sent == {}
    assert isinstance(app.mailbox, FakeMailbox) and "m1" in app.mailbox.processed  # the message itself is done
    app.sender.fail_with = None
    process_batch(app)
    assert app.sender.sent == {}, "retried before its backoff"
    app.ledger.db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00+00:00'")  # time passes
    process_batch(app)
    assert _states(app) == ["sent"] and len(app.sender.sent) == 1


def test_the_backoff_grows_with_each_attempt(app: App, rules: Rules) -> None:
    _deliver(app, rules)
    process_batch(app)
    delays = []
    for _ in range(3):
        app.ledger.db.execute("UPDATE outbox SET attempts = attempts + 1")
        before = dt.datetime.now(dt.UTC)
        delays.append((app.ledger.retry_later(1, "421") - before).total_seconds())
    assert delays[0] < delays[1] < delays[2]


def test_a_permanent_failure_marks_the_reply_failed_and_the_log_shows_it(app: App, rules: Rules) -> None:
    assert isinstance(app.sender, FakeSender) and isinstance(app.tracker, FakeTracker)
    _deliver(app, rules)
    app.sender.fail_with = SendError("550 5.7.30 basic authentication is not supported", permanent=True)
    process_batch(app)
    app.sender.fail_with = None
    process_batch(app)
    assert _states(app) == ["failed"] and app.sender.sent == {}
    assert app.tracker.writes[-1].messages[0].reply_state == "failed"


def test_a_reply_interrupted_while_sending_goes_again_with_the_same_message_id(app: App, rules: Rules) -> None:
    assert isinstance(app.sender, FakeSender)
    _deliver(app, rules)
    process_batch(app)
    [(reply_id, _)] = app.sender.sent.items()
    app.ledger.db.execute("UPDATE outbox SET state = 'sending'")  # as if killed before the server said 250
    app.sender.sent.clear()
    process_batch(app)
    assert list(app.sender.sent) == [reply_id] and _states(app) == ["sent"]


def test_the_tracker_is_given_the_ledger_after_each_batch(app: App, rules: Rules) -> None:
    assert isinstance(app.tracker, FakeTracker)
    _deliver(app, rules)
    process_batch(app)
    [data] = app.tracker.writes
    assert [s.receipt for s in data.submissions] == ["SXTDBV-2024-0001"]
    assert data.submissions[0].tasks[0]["kinh_phi_tong"] == 500.0


def test_an_unreachable_server_is_tried_once_per_batch_not_once_per_reply(app: App, rules: Rules) -> None:
    class CountingSender(FakeSender):
        attempts = 0

        def send(self, reply_id: str, recipient: str, raw: bytes) -> None:
            CountingSender.attempts += 1
            raise SendError("SMTP server unavailable: timed out", permanent=False, server_down=True)

    app.sender = CountingSender()
    for n in range(3):
        _deliver(app, rules, key=f"m{n}")
    process_batch(app)
    assert CountingSender.attempts == 1
    assert _states(app) == ["pending", "pending", "pending"]
