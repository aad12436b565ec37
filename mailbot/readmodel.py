"""Views of the ledger: the tracker's data and the `export --json` document (a public contract).

Both come from the same typed views, so the officer's workbook and the export never disagree.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import Any

from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.adapters.sqlite_state import parse_utc
from mailbot.archive import Archive
from mailbot.model import ArchivedFile, MessageView, SubmissionView, TrackerData, VersionFile
from mailbot.officer.matching import match
from mailbot.officer.roster import Roster
from mailbot.validation.schema import Rules


def submission_views(ledger: SqliteLedger, archive: Archive | None = None) -> list[SubmissionView]:
    """The latest version of every submission; archived file paths when the archive is given."""
    views = []
    for row in ledger.latest_versions():
        files = row.pop("files")
        views.append(
            SubmissionView(
                **row,
                files=[ArchivedFile(f["name"], str(archive.path_of(f["sha256"]))) for f in files] if archive else [],
            )
        )
    return views


def message_views(ledger: SqliteLedger) -> list[MessageView]:
    return [MessageView(sender=row.pop("from"), **row) for row in ledger.message_log()]


def version_files(ledger: SqliteLedger, archive: Archive) -> list[VersionFile]:
    """Every version's attachments with where their archived copies are."""
    return [
        VersionFile(row["receipt"], row["version"], row["received_at"], f["name"], str(archive.path_of(f["sha256"])))
        for row in ledger.version_files()
        for f in row["files"]
    ]


def notice_views(ledger: SqliteLedger) -> list[MessageView]:
    """The mail mailbot sent of its own accord (reminders, digests) as log rows: `action` is their kind,
    `sender` says to whom, `reason` what the job was. For the tracker's log only; the export lists received mail."""
    rows = ledger.db.execute(
        "SELECT o.reply_id, o.recipient, o.raw, o.created_at, o.kind, s.receipt, o.state, o.last_error"
        " FROM outbox o LEFT JOIN submissions s ON s.id = o.submission_id"
        " WHERE o.kind IN ('reminder', 'digest') ORDER BY o.id"
    ).fetchall()
    views = []
    for reply_id, recipient, raw, created_at, kind, receipt, state, error in rows:
        headers = BytesHeaderParser(policy=default).parsebytes(bytes(raw))
        job = str(headers.get("X-Mailbot-Job", ""))
        detail = ledger.db.execute("SELECT detail FROM jobs WHERE key = ?", (job,)).fetchone()
        views.append(
            MessageView(
                message_id=reply_id,
                sender=f"Gửi đến: {recipient}",
                subject=str(headers.get("Subject", "")),
                received_at=parse_utc(created_at),
                action=kind,
                reason=str(detail[0]) if detail and detail[0] else None,
                receipt=receipt,
                reply_state=state,
                reply_error=error,
            )
        )
    return views


def tracker_data(ledger: SqliteLedger, archive: Archive, rules: Rules, roster: Roster | None = None) -> TrackerData:
    """What the workbook shows; with a roster, each expected unit's state too (the sheet "Đơn vị")."""
    column = rules.column("dinh_huong")
    orientations = {v.code: v.name for v in column.values} if column else {}
    submissions = submission_views(ledger, archive)
    return TrackerData(
        submissions,
        message_views(ledger) + notice_views(ledger),
        orientations,
        dt.datetime.now(dt.UTC),
        files=version_files(ledger, archive),
        call=rules.call.title,
        roster=match(roster, submissions) if roster is not None else None,
    )


def _time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def strictly_json(value: Any) -> Any:
    """`value` with every non-finite float (NaN, ±infinity) as None: strict JSON has no such numbers.

    Validation never produces them; a ledger written by an older version may still hold some.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strictly_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strictly_json(item) for item in value]
    return value


def read_decisions(tracker: Path | None) -> dict[str, str]:
    """The officer's "Quyết định" per receipt, from the workbook (none without one)."""
    if tracker is None:
        return {}
    from mailbot.adapters.xlsx_tracker import XlsxTracker

    return XlsxTracker(tracker).read_decisions()


def export_document(ledger: SqliteLedger, tracker: Path | None = None) -> dict[str, Any]:
    """{"submissions": [...], "messages": [...]} in the shape other tools rely on; always strict JSON.

    `status` is accepted | needs_correction and `late` says whether it came after the deadline; `decision`
    is what the officer wrote in the workbook's "Quyết định" column (None when nothing)."""
    decisions = read_decisions(tracker)
    submissions = []
    for view in submission_views(ledger):
        view.decision = decisions.get(view.receipt) or None
        item = asdict(view)
        del item["files"]
        item["first_received_at"], item["last_received_at"] = (
            _time(view.first_received_at),
            _time(view.last_received_at),
        )
        submissions.append(item)
    messages = []
    for message in message_views(ledger):
        item = asdict(message)
        del item["reply_state"], item["reply_error"], item["note"], item["note_asks"]  # a noted reason is its note
        item["from"] = item.pop("sender")
        item["received_at"] = _time(message.received_at)
        messages.append(item)
    document: dict[str, Any] = strictly_json({"submissions": submissions, "messages": messages})
    return document
