"""Views of the ledger: the tracker's data and the `export --json` document (a public contract)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.archive import Archive
from mailbot.model import ArchivedFile, MessageView, SubmissionView, TrackerData
from mailbot.validation.schema import Rules


def tracker_data(ledger: SqliteLedger, archive: Archive, rules: Rules) -> TrackerData:
    submissions = [
        SubmissionView(
            receipt=s["receipt"],
            organization=s["organization"],
            sender=s["sender"],
            status=s["status"],
            version=s["version"],
            first_received_at=s["first_received_at"],
            last_received_at=s["last_received_at"],
            tasks=s["tasks"],
            findings=s["findings"],
            files=[ArchivedFile(f["name"], str(archive.path_of(f["sha256"]))) for f in s["files"]],
        )
        for s in ledger.latest_versions()
    ]
    messages = [
        MessageView(
            message_id=m["message_id"],
            sender=m["from"],
            subject=m["subject"],
            received_at=m["received_at"],
            action=m["action"],
            reason=m["reason"],
            receipt=m["receipt"],
            reply_state=m["reply_state"],
        )
        for m in ledger.message_log()
    ]
    column = rules.column("dinh_huong")
    orientations = {v.code: v.name for v in column.values} if column else {}
    return TrackerData(submissions, messages, orientations, dt.datetime.now(dt.UTC))


def _time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def export_document(ledger: SqliteLedger) -> dict[str, Any]:
    """{"submissions": [...], "messages": [...]} in the shape other tools rely on."""
    submissions = [
        {
            "receipt": s["receipt"],
            "sender": s["sender"],
            "organization": s["organization"],
            "status": s["status"],
            "version": s["version"],
            "first_received_at": _time(s["first_received_at"]),
            "last_received_at": _time(s["last_received_at"]),
            "tasks": s["tasks"],
            "findings": s["findings"],
        }
        for s in ledger.latest_versions()
    ]
    messages = [
        {
            "message_id": m["message_id"],
            "from": m["from"],
            "subject": m["subject"],
            "received_at": _time(m["received_at"]),
            "action": m["action"],
            "reason": m["reason"],
            "receipt": m["receipt"],
        }
        for m in ledger.message_log()
    ]
    return {"submissions": submissions, "messages": messages}
