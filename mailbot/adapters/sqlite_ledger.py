"""The ledger: the only source of truth (SQLite, WAL, synchronous=FULL, versioned schema).

One transaction per message records the message, its submission version and its reply in the
outbox. It refuses to open a damaged database rather than start empty and answer everything again.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailbot.adapters.sqlite_schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from mailbot.adapters.sqlite_state import RunState, now_utc, utc_text
from mailbot.adapters.sqlite_views import LedgerViews
from mailbot.errors import MailbotError

#: Seconds to wait before the n-th retry of a reply after a temporary failure (then the last, repeated).
RETRY_DELAYS = (60, 120, 300, 600, 1800, 3600)


class LedgerError(MailbotError):
    """The ledger cannot be used (damaged, newer schema, unreadable)."""


@dataclass(frozen=True)
class MessageRecord:
    row: int
    mailbox_key: str
    message_id: str | None
    sha256: str
    action: str
    submission_id: int | None
    done: bool


@dataclass(frozen=True)
class SubmissionRecord:
    id: int
    receipt: str
    sender: str
    versions: int


@dataclass(frozen=True)
class OutboxRow:
    id: int
    reply_id: str
    recipient: str
    raw: bytes
    state: str
    attempts: int
    mailbox_key: str | None  # None for an alert, which answers no message
    kind: str = "reply"


class SqliteLedger(LedgerViews, RunState):
    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        """Open (and migrate) the ledger; `read_only` opens an existing one to look, as `status` does."""
        self.path = str(path)
        try:
            # The scheduler runs batches on a worker thread, one at a time (max_instances=1 and a lock).
            target = f"{Path(self.path).resolve().as_uri()}?mode=ro" if read_only else self.path
            self.db = sqlite3.connect(target, isolation_level=None, timeout=30, check_same_thread=False, uri=read_only)
            self.db.execute("PRAGMA busy_timeout = 30000")
            if read_only:
                self._check_version()
                return
            self._check_integrity()
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"the ledger {self.path} cannot be opened: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    def _check_integrity(self) -> None:
        rows = self.db.execute("PRAGMA integrity_check").fetchall()
        if [r[0] for r in rows] != ["ok"]:
            detail = "; ".join(str(r[0]) for r in rows[:3])
            raise LedgerError(f"the ledger {self.path} is damaged ({detail}); restore it from a backup")

    def _check_version(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            raise LedgerError(f"the ledger {self.path} has schema {row[0] if row else '?'}, not {SCHEMA_VERSION}")

    def _migrate(self) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables:
            with self.transaction():
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
        version = int(self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise LedgerError(f"the ledger has schema {version}, newer than this mailbot ({SCHEMA_VERSION})")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for statement in MIGRATIONS[target]:
                    self.db.execute(statement)
                self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(target),))

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; everything inside lands together or not at all.

        `durable=False`: the commit is not fsynced (synchronous = NORMAL in WAL): atomic, and safe from a crash of
        the process, but a power loss may undo it until the next durable commit makes it durable with its own."""
        if not durable:
            self.db.execute("PRAGMA synchronous = NORMAL")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        finally:
            if not durable:
                self.db.execute("PRAGMA synchronous = FULL")

    # ------------------------------------------------------------ messages

    def _message(self, where: str, args: Sequence[Any]) -> MessageRecord | None:
        row = self.db.execute(
            "SELECT id, mailbox_key, message_id, sha256, action, submission_id, done FROM messages "
            f"WHERE {where} ORDER BY id LIMIT 1",
            args,
        ).fetchone()
        return MessageRecord(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6])) if row else None

    def message_by_key(self, mailbox_key: str) -> MessageRecord | None:
        return self._message("mailbox_key = ?", (mailbox_key,))

    def message_by_identity(self, message_id: str | None, sha256: str) -> MessageRecord | None:
        """A message seen before: the same Message-ID and the same bytes, or the same bytes when it has none.

        A Message-ID alone is not enough: some mailers reuse ids for different messages (RELIABILITY #71).
        """
        if message_id:
            return self._message("message_id = ? AND sha256 = ?", (message_id, sha256))
        return self._message("sha256 = ?", (sha256,))

    def rekey_message(self, row: int, mailbox_key: str) -> None:
        """The same message seen under a new mailbox key (e.g. a new UIDVALIDITY)."""
        self.db.execute("UPDATE messages SET mailbox_key = ? WHERE id = ?", (mailbox_key, row))

    def insert_message(
        self,
        *,
        mailbox_key: str,
        message_id: str | None,
        sha256: str,
        sender: str | None,
        subject: str,
        received_at: dt.datetime,
        action: str,
        reason: str | None = None,
        submission_id: int | None = None,
        version: int | None = None,
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO messages (mailbox_key, message_id, sha256, sender, subject, received_at, recorded_at,"
            " action, reason, submission_id, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                mailbox_key,
                message_id,
                sha256,
                sender,
                subject,
                utc_text(received_at),
                utc_text(now_utc()),
                action,
                reason,
                submission_id,
                version,
            ),
        )
        return int(cursor.lastrowid or 0)

    def mark_message_done(self, row: int, moved_key: str | None = None) -> None:
        """The message is out of the inbox; `moved_key` is its id in the folder it went to, when the server gave
        it a new one (Exchange), kept beside the intake key (`mailbox_key`)."""
        self.db.execute(
            "UPDATE messages SET done = 1, moved_key = COALESCE(?, moved_key) WHERE id = ?", (moved_key, row)
        )

    def mark_failed(self, row: int, *, error_id: str, reason: str) -> None:
        """A recorded message whose way broke later (sending, moving): `failed`, keeping what it was."""
        self.db.execute(
            "UPDATE messages SET previous_action = action, action = 'failed', reason = ?, error_id = ? WHERE id = ?",
            (reason, error_id, row),
        )

    def hold_replies(self, row: int, reason: str) -> int:
        """Replies of a message that failed after they were queued, and not yet handed over: not sent."""
        return self.db.execute(
            "UPDATE outbox SET state = 'failed', last_error = ?, failed_at = ? WHERE message_row = ?"
            " AND state IN ('pending', 'uncertain')",
            (reason, utc_text(now_utc()), row),
        ).rowcount

    def set_error_id(self, row: int, error_id: str) -> None:
        self.db.execute("UPDATE messages SET error_id = ? WHERE id = ?", (error_id, row))

    def submission_by_id(self, submission_id: int) -> SubmissionRecord | None:
        return self._submission("s.id = ?", (submission_id,))

    def rerun_recorded(self, row: int, *, action: str, reason: str | None) -> None:
        """A message run again (`reprocess`): its new action, when, and what it was before."""
        self.db.execute(
            "UPDATE messages SET previous_action = action, action = ?, reason = ?, error_id = NULL,"
            " reprocessed_at = ? WHERE id = ?",
            (action, reason, utc_text(now_utc()), row),
        )

    # ------------------------------------------------------------ submissions

    def _submission(self, where: str, args: Sequence[Any]) -> SubmissionRecord | None:
        row = self.db.execute(
            "SELECT s.id, s.receipt, s.sender, (SELECT COUNT(*) FROM versions v WHERE v.submission_id = s.id)"
            f" FROM submissions s WHERE {where} LIMIT 1",
            args,
        ).fetchone()
        return SubmissionRecord(row[0], row[1], row[2], row[3]) if row else None

    def submission_answered_by(self, reply_ids: Sequence[str]) -> SubmissionRecord | None:
        """The submission that one of our replies (by Message-ID) belongs to."""
        ids = [i for i in reply_ids if i]
        if not ids:
            return None
        marks = ",".join("?" * len(ids))
        where = f"s.id = (SELECT submission_id FROM outbox WHERE reply_id IN ({marks}) ORDER BY id DESC LIMIT 1)"
        return self._submission(where, ids)

    def submission_by_receipt(self, receipt: str, sender: str) -> SubmissionRecord | None:
        return self._submission("s.receipt = ? AND lower(s.sender) = lower(?)", (receipt, sender))

    def new_submission(self, prefix: str, sender: str, at: dt.datetime) -> SubmissionRecord:
        last = int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM submissions").fetchone()[0])  # never deleted
        receipt = f"{prefix}-{last + 1:04d}"
        cursor = self.db.execute(
            "INSERT INTO submissions (receipt, sender, created_at) VALUES (?, ?, ?)", (receipt, sender, utc_text(at))
        )
        return SubmissionRecord(int(cursor.lastrowid or 0), receipt, sender, 0)

    def add_version(
        self,
        submission: SubmissionRecord,
        *,
        message_row: int,
        received_at: dt.datetime,
        status: str,
        late: bool = False,
        note: str | None = None,
        note_asks: bool = False,
        organization: str | None,
        tasks: list[dict[str, Any]],
        findings: list[dict[str, Any]],
        files: list[dict[str, str]],
        signature: dict[str, Any] | None = None,
        signed_copies: Sequence[str] = (),
    ) -> int:
        version = submission.versions + 1
        self.db.execute(
            "INSERT INTO versions (submission_id, version, message_row, received_at, status, late, note, note_asks,"
            " organization, tasks, findings, files, signature, signed_copies)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                submission.id,
                version,
                message_row,
                utc_text(received_at),
                status,
                int(late),
                note,
                int(note_asks),
                organization,
                json.dumps(tasks, ensure_ascii=False),
                json.dumps(findings, ensure_ascii=False),
                json.dumps(files, ensure_ascii=False),
                json.dumps(signature, ensure_ascii=False) if signature else None,
                json.dumps(list(signed_copies), ensure_ascii=False) if signed_copies else None,
            ),
        )
        self.db.execute(
            "UPDATE messages SET submission_id = ?, version = ? WHERE id = ?", (submission.id, version, message_row)
        )
        return version

    # ------------------------------------------------------------ outbox

    def queue_reply(
        self,
        *,
        message_row: int | None,
        submission_id: int | None,
        reply_id: str,
        recipient: str,
        raw: bytes,
        kind: str = "reply",
    ) -> None:
        self.db.execute(
            "INSERT INTO outbox (kind, message_row, submission_id, reply_id, recipient, raw, state, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
            (kind, message_row, submission_id, reply_id, recipient, raw, utc_text(now_utc())),
        )

    def outbox_has(self, reply_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM outbox WHERE reply_id = ?", (reply_id,)).fetchone() is not None

    def replies_since(self, since: dt.datetime, recipient: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM outbox WHERE kind = 'reply' AND created_at >= ?"
        args: list[Any] = [utc_text(since)]
        if recipient is not None:
            sql += " AND lower(recipient) = lower(?)"
            args.append(recipient)
        return int(self.db.execute(sql, args).fetchone()[0])

    def interrupted_to_uncertain(self) -> int:
        """Replies whose sending was under way when the process died: their fate is unknown."""
        return self.db.execute("UPDATE outbox SET state = 'uncertain' WHERE state = 'sending'").rowcount

    def outbox_to_send(self, *, include_uncertain: bool, message_row: int | None = None) -> list[OutboxRow]:
        states = ("pending", "uncertain") if include_uncertain else ("pending",)
        sql = (
            "SELECT o.id, o.reply_id, o.recipient, o.raw, o.state, o.attempts, m.mailbox_key, o.kind FROM outbox o"
            f" LEFT JOIN messages m ON m.id = o.message_row WHERE o.state IN ({','.join('?' * len(states))})"
        )
        args: list[Any] = list(states)
        sql += " AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?)"
        args.append(utc_text(now_utc()))
        if message_row is not None:
            sql += " AND o.message_row = ?"
            args.append(message_row)
        rows = self.db.execute(sql + " ORDER BY o.id", args).fetchall()
        return [OutboxRow(r[0], r[1], r[2], bytes(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    def set_outbox_state(self, outbox_id: int, state: str, error: str | None = None) -> None:
        now = utc_text(now_utc())
        self.db.execute(
            "UPDATE outbox SET state = ?, last_error = ?, sent_at = COALESCE(?, sent_at),"
            " failed_at = COALESCE(?, failed_at),"
            " attempts = attempts + (CASE WHEN ? = 'sending' THEN 1 ELSE 0 END) WHERE id = ?",
            (state, error, now if state == "sent" else None, now if state == "failed" else None, state, outbox_id),
        )

    def mark_bounced(self, reply_id: str) -> bool:
        """A reply that came back undeliverable; True when it was one of ours."""
        cursor = self.db.execute(
            "UPDATE outbox SET state = 'failed', last_error = 'bounced: undeliverable', failed_at = ?"
            " WHERE reply_id = ?",
            (utc_text(now_utc()), reply_id),
        )
        return cursor.rowcount > 0

    def retry_later(self, outbox_id: int, error: str) -> dt.datetime:
        """Back to pending after a temporary failure, not before a delay that grows with the attempts."""
        attempts = int(self.db.execute("SELECT attempts FROM outbox WHERE id = ?", (outbox_id,)).fetchone()[0])
        when = now_utc() + dt.timedelta(seconds=RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1])
        self.db.execute(
            "UPDATE outbox SET state = 'pending', last_error = ?, next_attempt_at = ? WHERE id = ?",
            (error, utc_text(when), outbox_id),
        )
        return when
