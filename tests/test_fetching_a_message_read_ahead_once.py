"""On IMAP, a message the read-ahead fetched is not downloaded again on its turn (a UID's message never changes):
its turn asks only for its size and date, which also shows it is still there (issue 12)."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from mailbot.bootstrap import build_app
from mailbot.config import load_settings
from mailbot.demo_mail import VN, DemoMail
from tests.builders.emails import email_bytes
from tests.mailflow import ImapWorkspace
from tests.servers import Certificates, Dovecot, SmtpSink

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)


def test_a_body_fetched_ahead_is_taken_on_its_turn_and_a_moved_message_is_still_gone(
    tmp_path: Path, dovecot: Dovecot, certificates: Certificates
) -> None:
    user = (f"ahead-{secrets.token_hex(4)}", "ahead-secret")
    dovecot.add_user(*user)
    sink = SmtpSink(tmp_path / "smtp", certificates=certificates, tls=True)
    space = ImapWorkspace(tmp_path / "work", dovecot, user, sink, certificates)
    space.deliver([DemoMail(f"m{n}", email_bytes(subject=f"Thư {n}"), WHEN, "") for n in range(2)])
    app = build_app(load_settings(space.config))
    try:
        first, second = app.mailbox.list_new()
        ahead = app.mailbox.fetch(first)
        turn = app.mailbox.fetch(first)
        assert ahead is not None and turn is not None
        assert turn.raw is ahead.raw and turn.size == len(ahead.raw)  # the same bytes, not downloaded again
        again = app.mailbox.fetch(first)
        assert again is not None and again.raw == ahead.raw and again.raw is not ahead.raw  # taken once only

        assert app.mailbox.fetch(second) is not None
        client = dovecot.client(user[0])
        client.select_folder("INBOX")
        client.delete_messages([int(second.partition("/")[2])])
        client.expunge()
        client.logout()  # a person deleted it after it was read ahead
        assert app.mailbox.list_new() == [first]  # mailbot's session learns of it (on its turn: after the moves)
        assert app.mailbox.fetch(second) is None
    finally:
        app.close()
