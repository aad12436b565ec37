"""A ledger written by an earlier mailbot is brought up to date at start-up, losing nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.adapters.sqlite_schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION


def version_2_ledger(path: Path) -> None:
    """A ledger as schema 2 left it: one answered message and its sent reply."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    for statement in MIGRATIONS[2]:
        db.execute(statement)
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    db.execute(
        "INSERT INTO messages (mailbox_key, message_id, sha256, sender, subject, received_at, recorded_at, action)"
        " VALUES ('k1', '<a@x>', 'ab', 'a@x', 's', '2023-04-20T02:00:00+00:00', '2023-04-20T02:00:01+00:00',"
        " 'acknowledged')"
    )
    db.execute(
        "INSERT INTO outbox (message_row, reply_id, recipient, raw, state, created_at, next_attempt_at)"
        " VALUES (1, '<mailbot.1@example.org>', 'a@x', x'00', 'sent', '2023-04-20T02:00:01+00:00', NULL)"
    )
    db.commit()
    db.close()


def test_a_schema_2_ledger_is_upgraded_with_its_messages_and_replies(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    version_2_ledger(path)
    ledger = SqliteLedger(path)
    assert ledger.meta("schema_version") == str(SCHEMA_VERSION)
    [message] = ledger.message_log()
    assert message["action"] == "acknowledged" and message["reply_state"] == "sent"
    assert ledger.outbox_counts()["sent"] == 1
    kind = ledger.db.execute("SELECT kind, message_row FROM outbox").fetchone()
    assert kind == ("reply", 1)
    assert ledger.db.execute("PRAGMA foreign_key_check").fetchall() == []
    ledger.close()


def test_status_can_read_a_ledger_without_writing_to_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    SqliteLedger(path).close()
    path.chmod(0o444)
    reader = SqliteLedger(path, read_only=True)
    assert reader.outbox_counts()["pending"] == 0
    reader.close()
