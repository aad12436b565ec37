"""A reply is handed to the mail server on a thread of its own while the next message is read, decided and
recorded (issue 12), and nothing else changes: every message leaves the inbox only after its own reply was
handed over, one reply is in flight at a time, and a batch that stops leaves the reply's outcome recorded."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.bootstrap import App, build_app
from mailbot.config import load_settings
from mailbot.demo_mail import VN, DemoMail
from mailbot.errors import ServiceUnavailable
from mailbot.pipeline import process_batch
from mailbot.ports import Fetched
from mailbot.validation.schema import Rules
from tests.builders.units import unit_mails
from tests.mailflow import ImapWorkspace, Workspace, make_workspace
from tests.servers import Certificates, Dovecot, SmtpSink

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)


def _mails(rules: Rules, count: int) -> list[DemoMail]:
    return unit_mails(rules, count)


class Journal:
    """What happened, in order, seen through the app's own ports (the real sender and mailbox underneath)."""

    def __init__(self, app: App) -> None:
        self.events: list[tuple[str, str, str]] = []  # (what, mailbox key or recipient, thread)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        sender, mailbox = app.sender, app.mailbox
        real_send, real_fetch, real_done = sender.send, mailbox.fetch, mailbox.mark_done

        def send(reply_id: str, recipient: str, raw: bytes) -> None:
            with self.lock:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                real_send(reply_id, recipient, raw)
            finally:
                with self.lock:
                    self.in_flight -= 1
                self._note("sent", recipient)

        def fetch(key: str) -> Fetched | None:
            self._note("fetched", key)
            return real_fetch(key)

        def mark_done(key: str, *, quarantine: bool = False) -> Any:
            self._note("moved", key)
            return real_done(key, quarantine=quarantine)

        sender.send = send  # type: ignore[method-assign]  # the port's own method, wrapped to watch it
        mailbox.fetch = fetch  # type: ignore[method-assign]
        mailbox.mark_done = mark_done  # type: ignore[method-assign]

    def _note(self, what: str, subject: str) -> None:
        with self.lock:
            self.events.append((what, subject, threading.current_thread().name))


def _batch(space: Workspace, rules: Rules, count: int) -> tuple[Journal, App]:
    space.deliver(_mails(rules, count))
    app = build_app(load_settings(space.config))
    journal = Journal(app)
    return journal, app


def _check_order(journal: Journal, recipients_by_key: dict[str, str]) -> None:
    events = journal.events
    for key, recipient in recipients_by_key.items():
        sent = events.index(("sent", recipient, "dispatch"))
        moved = next(i for i, e in enumerate(events) if e[:2] == ("moved", key))
        assert sent < moved  # the message left the inbox after its reply was handed over
    assert journal.most_in_flight == 1


def _outbox(space: Workspace) -> dict[str, int]:
    ledger = SqliteLedger(load_settings(space.config).ledger_path, read_only=True)
    try:
        return ledger.outbox_counts()
    finally:
        ledger.close()


def _recipients(app: App) -> dict[str, str]:
    rows = app.ledger.db.execute(
        "SELECT m.mailbox_key, o.recipient FROM outbox o JOIN messages m ON m.id = o.message_row ORDER BY o.id"
    ).fetchall()
    return {str(key): str(recipient) for key, recipient in rows}


def test_replies_go_out_on_the_dispatcher_while_the_next_message_is_worked_on(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    journal, app = _batch(space, rules, 4)
    try:
        report = process_batch(app)
        recipients = _recipients(app)
    finally:
        app.close()
    assert report.actions == {"acknowledged": 4} and len(space.replies()) == 4
    assert {thread for what, _, thread in journal.events if what == "sent"} == {"dispatch"}
    _check_order(journal, recipients)
    # the second message was fetched before the first one's reply had been handed over and the first moved
    firsts = [e for e in journal.events if e[0] in ("fetched", "moved")]
    first_moved = next(i for i, e in enumerate(firsts) if e[0] == "moved")
    assert len({key for what, key, _ in firsts[:first_moved] if what == "fetched"}) >= 2
    assert _outbox(space)["sent"] == 4 and sum(_outbox(space).values()) == 4


def test_on_a_real_imap_account_with_smtp_every_message_is_moved_after_its_reply(
    tmp_path: Path, rules: Rules, dovecot: Dovecot, certificates: Certificates
) -> None:
    user = ("dispatch", "dispatch-secret")
    dovecot.add_user(*user)
    sink = SmtpSink(tmp_path / "smtp", certificates=certificates, tls=True).start()
    try:
        space = ImapWorkspace(tmp_path / "work", dovecot, user, sink, certificates)
        journal, app = _batch(space, rules, 3)
        try:
            report = process_batch(app)
            recipients = _recipients(app)
        finally:
            app.close()
        assert report.actions == {"acknowledged": 3} and len(sink.envelopes) == 3
        _check_order(journal, recipients)
        assert space.folder_count("Processed") == 3 and space.inbox() == []
    finally:
        sink.stop()


def test_a_batch_that_stops_records_the_reply_in_flight_as_sent_and_leaves_its_message_for_the_next(
    tmp_path: Path, rules: Rules
) -> None:
    space = make_workspace(tmp_path)
    journal, app = _batch(space, rules, 2)
    real_fetch = app.mailbox.fetch
    fetched: list[str] = []

    def fetch(key: str) -> Fetched | None:  # the mailbox goes away when the second message is fetched on its turn
        fetched.append(key)
        if fetched.count(key) == 2 and len(set(fetched)) == 2 and key == fetched[1]:
            raise ServiceUnavailable("mailbox gone")
        return real_fetch(key)

    app.mailbox.fetch = fetch  # type: ignore[method-assign]
    try:
        with pytest.raises(ServiceUnavailable):
            process_batch(app)
    finally:
        app.close()
    assert _outbox(space)["sent"] == 1 and _outbox(space)["sending"] == 0  # recorded as sent, not left `sending`
    assert len(space.replies()) == 1
    assert len(space.inbox()) == 2  # the first one's move was still to come: the next batch does it
    assert journal.most_in_flight == 1
    again = make_workspace(tmp_path)
    assert again.cli("once").exit_code == 0
    assert len(space.replies()) == 2 and space.inbox() == []
