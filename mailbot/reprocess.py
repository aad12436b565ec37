"""`mailbot reprocess` and `mailbot revalidate`: recorded messages run again from the archive.

After a fix, a rule change or a new release, a message is decided again from its archived raw bytes
(no duplicate check, no rate limits), exactly once per run. A new submission version is recorded only
when the outcome changes (the action, the status or the findings); the message row keeps what it was
before and when it was run again, which the tracker shows. A reply goes out only with
`[reprocess] notify = true`, under a Message-ID of its own. `--dry-run` decides inside a transaction
that is rolled back, and reports what would change.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from mailbot.bootstrap import App
from mailbot.deciding import Decision, add_version, decide, queue_reply, submission_for
from mailbot.intake import parse_message
from mailbot.logs import get_logger
from mailbot.model import Inbound
from mailbot.pipeline import UNAVAILABLE, send_replies
from mailbot.ports import Fetched
from mailbot.replies import reply_message_id
from mailbot.tracker_keeping import rebuild_tracker


class _RolledBack(Exception):
    """Leaves a dry run's transaction without a trace."""


@dataclass(frozen=True)
class Change:
    row: int
    receipt: str | None
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def line(self) -> str:
        what = "changed" if self.changed else "unchanged"
        return f"#{self.row} {self.receipt or '-'}: {_show(self.before)} → {_show(self.after)} ({what})"


def _show(outcome: dict[str, Any]) -> str:
    status = f" / {outcome['status']}" if outcome.get("status") else ""
    status += " / late" if outcome.get("late") else ""
    return f"{outcome['action']}{status}"


def rerun(app: App, rows: list[dict[str, Any]], *, dry_run: bool, notify: bool) -> list[Change]:
    """Run each recorded message again; rebuild the tracker and send what was queued unless dry."""
    changes = [_rerun_one(app, row, dry_run=dry_run, notify=notify) for row in rows]
    if not dry_run and rows:
        send_replies(app)
        rebuild_tracker(app)
    return changes


def _rerun_one(app: App, row: dict[str, Any], *, dry_run: bool, notify: bool) -> Change:
    before = _before(app, row)
    try:
        raw = app.archive.get(row["sha256"])
    except OSError:
        return Change(row["row"], row["receipt"], before, before | {"problem": "raw message not in the archive"})
    inbound = parse_message(raw)
    fetched = Fetched(row["mailbox_key"], raw, row["received_at"])
    try:
        with app.ledger.transaction():
            after = _decide_again(app, row, fetched, inbound, before, notify=notify)
            if dry_run:
                raise _RolledBack
    except _RolledBack:
        pass
    except UNAVAILABLE:
        raise
    except Exception as exc:  # still failing: it stays failed, with the new error id
        after = _failed_again(app, row, exc, dry_run=dry_run)
    return Change(row["row"], row["receipt"], before, after)


def _before(app: App, row: dict[str, Any]) -> dict[str, Any]:
    if row["submission_id"] and row["version"]:
        status, late, codes = app.ledger.version_outcome(row["submission_id"], row["version"])
        return {"action": row["action"], "status": status, "late": late, "findings": codes}
    return {"action": row["action"], "status": None, "late": False, "findings": []}


def _decide_again(
    app: App, row: dict[str, Any], fetched: Fetched, inbound: Inbound, before: dict[str, Any], *, notify: bool
) -> dict[str, Any]:
    decision = decide(app, fetched, inbound, check_duplicate=False, limit=False)
    after = _outcome(decision)
    if after == before:
        app.ledger.rerun_recorded(row["row"], action=decision.action, reason=row["reason"])
        return after
    app.ledger.rerun_recorded(row["row"], action=decision.action, reason=decision.reason)
    if decision.result is None:
        return after
    same = all(before[key] == after[key] for key in ("status", "late", "findings"))
    if row["submission_id"] and same:
        return after  # the same version as before: only the action is restored (e.g. failed after moving)
    known = app.ledger.submission_by_id(row["submission_id"]) if row["submission_id"] else None
    submission = known or submission_for(app, inbound, fetched.arrived_at)
    version = add_version(app, submission, row["row"], fetched.arrived_at, decision)
    if notify and decision.reply is not None:
        base = reply_message_id(inbound, app.settings.sender_domain)
        digest = hashlib.sha256(f"{base}|reprocess|{submission.id}|{version}".encode()).hexdigest()[:32]
        reply_id = f"<mailbot.{digest}@{base.rpartition('@')[2]}"
        queue_reply(app, inbound, row["row"], submission, version, fetched.arrived_at, decision, reply_id=reply_id)
    get_logger(receipt=submission.receipt).info("reprocessed", before=before, after=after, version=version)
    return after


def _outcome(decision: Decision) -> dict[str, Any]:
    result = decision.result
    if result is None:
        return {"action": decision.action, "status": None, "late": False, "findings": []}
    codes = sorted(f.code for f in result.findings)
    return {"action": decision.action, "status": decision.status, "late": decision.late, "findings": codes}


def _failed_again(app: App, row: dict[str, Any], exc: Exception, *, dry_run: bool) -> dict[str, Any]:
    error_id = secrets.token_hex(4)
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    get_logger().error("reprocess_failed", row=row["row"], error_id=error_id, error=reason, exc_info=exc)
    if not dry_run:
        with app.ledger.transaction():
            app.ledger.rerun_recorded(row["row"], action="failed", reason=reason)
            app.ledger.set_error_id(row["row"], error_id)
    return {"action": "failed", "status": None, "findings": [], "error": reason}
