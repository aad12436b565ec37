"""The ledger's views: what the tracker, `export` and `reprocess` read (latest versions, the message log,
the messages to run again). A mixin of SqliteLedger, kept apart so the ledger's writing stays in one look."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from mailbot.adapters.sqlite_state import parse_utc


class LedgerViews:
    db: sqlite3.Connection

    def messages_to_rerun(
        self,
        *,
        actions: Sequence[str] = (),
        receipt: str | None = None,
        message_id: str | None = None,
        latest_versions: bool = False,
    ) -> list[dict[str, Any]]:
        """Recorded messages chosen by action, receipt, Message-ID, or as the latest version of each submission."""
        wheres, args = [], []
        if actions:
            wheres.append(f"m.action IN ({','.join('?' * len(actions))})")
            args += list(actions)
        if receipt:
            wheres.append("s.receipt = ?")
            args.append(receipt)
        if message_id:
            wheres.append("m.message_id = ?")
            args.append(message_id)
        if latest_versions:
            wheres.append("m.version = (SELECT MAX(version) FROM versions WHERE submission_id = m.submission_id)")
        rows = self.db.execute(
            "SELECT m.id, m.mailbox_key, m.sha256, m.action, m.reason, m.received_at, m.submission_id, m.version,"
            " s.receipt FROM messages m LEFT JOIN submissions s ON s.id = m.submission_id"
            f" WHERE {' AND '.join(wheres) or '1'} AND m.action != 'duplicate' ORDER BY m.id",
            args,
        ).fetchall()
        keys = (
            "row",
            "mailbox_key",
            "sha256",
            "action",
            "reason",
            "received_at",
            "submission_id",
            "version",
            "receipt",
        )
        return [dict(zip(keys, r, strict=True)) | {"received_at": parse_utc(r[5])} for r in rows]

    def version_outcome(self, submission_id: int, version: int) -> tuple[str, bool, list[str]]:
        """(status, late, finding codes) of one version."""
        row = self.db.execute(
            "SELECT status, late, findings FROM versions WHERE submission_id = ? AND version = ?",
            (submission_id, version),
        ).fetchone()
        return str(row[0]), bool(row[1]), sorted(f.get("code", "") for f in json.loads(row[2]))

    def latest_versions(self) -> list[dict[str, Any]]:
        """Each submission with its latest version and its first and last received times."""
        rows = self.db.execute(
            "SELECT s.receipt, s.sender, v.version, v.status, v.organization, v.tasks, v.findings, v.files,"
            " (SELECT MIN(received_at) FROM versions WHERE submission_id = s.id),"
            " (SELECT MAX(received_at) FROM versions WHERE submission_id = s.id), v.signature, v.signed_copies,"
            " v.late, v.note, v.note_asks"
            " FROM submissions s JOIN versions v ON v.submission_id = s.id"
            " AND v.version = (SELECT MAX(version) FROM versions WHERE submission_id = s.id)"
            " ORDER BY s.id"
        ).fetchall()
        keys = ("receipt", "sender", "version", "status", "organization", "tasks", "findings", "files")
        out = []
        for row in rows:
            item = dict(zip(keys, row[:8], strict=True))
            for key in ("tasks", "findings", "files"):
                item[key] = json.loads(item[key])
            item["first_received_at"], item["last_received_at"] = parse_utc(row[8]), parse_utc(row[9])
            item["signature"], item["signed_copies"] = json.loads(row[10] or "null"), json.loads(row[11] or "[]")
            item["late"], item["note"], item["note_asks"] = bool(row[12]), row[13], bool(row[14])
            out.append(item)
        return out

    def version_files(self) -> list[dict[str, Any]]:
        """Every version's attachments (receipt, version, received_at, files: [{name, sha256}]), oldest first."""
        rows = self.db.execute(
            "SELECT s.receipt, v.version, v.received_at, v.files FROM versions v"
            " JOIN submissions s ON s.id = v.submission_id ORDER BY s.id, v.version"
        ).fetchall()
        keys = ("receipt", "version", "received_at", "files")
        return [
            dict(zip(keys, row, strict=True)) | {"received_at": parse_utc(row[2]), "files": json.loads(row[3])}
            for row in rows
        ]

    def message_log(self) -> list[dict[str, Any]]:
        """Every message with what was done, its receipt and the state of its reply, oldest first."""
        rows = self.db.execute(
            "SELECT m.message_id, m.sender, m.subject, m.received_at, m.action, m.reason, s.receipt,"
            " o.state, o.last_error, m.error_id, m.reprocessed_at,"
            " CASE WHEN m.action = 'noted' THEN m.reason ELSE v.note END, COALESCE(v.note_asks, 0)"
            " FROM messages m LEFT JOIN submissions s ON s.id = m.submission_id"
            # each message's last reply and version by one grouped pass each (a subquery per message scanned them)
            " LEFT JOIN (SELECT message_row, MAX(id) AS id FROM outbox WHERE kind = 'reply' GROUP BY message_row) lo"
            " ON lo.message_row = m.id LEFT JOIN outbox o ON o.id = lo.id"
            " LEFT JOIN (SELECT message_row, MAX(id) AS id FROM versions GROUP BY message_row) lv"
            " ON lv.message_row = m.id LEFT JOIN versions v ON v.id = lv.id"
            " ORDER BY m.received_at, m.id"
        ).fetchall()
        keys = (
            "message_id",
            "from",
            "subject",
            "received_at",
            "action",
            "reason",
            "receipt",
            "reply_state",
            "reply_error",
            "error_id",
            "reprocessed_at",
            "note",
            "note_asks",
        )
        out = []
        for row in rows:
            item = dict(zip(keys, row, strict=True))
            item["received_at"] = parse_utc(item["received_at"])
            item["note_asks"] = bool(item["note_asks"])
            out.append(item)
        return out
