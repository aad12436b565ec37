"""`mailbot status`: how mailbot is doing, read from the ledger (another process may be running).

Healthy (0) when a batch succeeded within three poll intervals and no alert is open; degraded (1) with
an open alert; down (2) when no batch succeeded for three intervals (or ever). The Docker health check
calls it, so a heartbeat from a loop whose every batch fails no longer counts as healthy.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from mailbot.adapters.sqlite_ledger import LedgerError, SqliteLedger
from mailbot.adapters.sqlite_state import now_utc
from mailbot.config import Settings

HEALTHY, DEGRADED, DOWN = 0, 1, 2
STATES = {HEALTHY: "healthy", DEGRADED: "degraded", DOWN: "down"}


def status_report(settings: Settings) -> tuple[int, dict[str, Any]]:
    """(exit code, the report) for this configuration's storage."""
    path = settings.ledger_path
    report: dict[str, Any] = {"ledger": str(path), "free_disk_mb": _free_mb(settings.storage.dir)}
    if not path.is_file():
        return _verdict(DOWN, report | {"problem": "no ledger yet: mailbot has never run here"})
    try:
        ledger = SqliteLedger(path, read_only=True)
    except LedgerError as exc:
        return _verdict(DOWN, report | {"problem": str(exc)})
    try:
        report |= _read(ledger) | {"tracker": _tracker(settings, ledger)}
    finally:
        ledger.close()
    report["ledger_mb"] = round(sum(_size(Path(f"{path}{s}")) for s in ("", "-wal")) / 1_000_000, 1)
    last = report["last_success_at"]
    limit = dt.timedelta(seconds=3 * settings.schedule.interval_seconds)
    if last is None or now_utc() - dt.datetime.fromisoformat(last) > limit:
        return _verdict(DOWN, report | {"problem": "no successful batch within three poll intervals"})
    if report["open_alerts"]:
        return _verdict(DEGRADED, report)
    return _verdict(HEALTHY, report)


def _read(ledger: SqliteLedger) -> dict[str, Any]:
    alerts = ledger.alerts()
    return {
        "last_poll_at": ledger.meta("last_poll_at"),
        "last_success_at": ledger.meta("last_success_at"),
        "last_error": ledger.meta("last_error") or None,
        "waiting_on_server": int(ledger.meta("waiting") or 0),
        "outbox": ledger.outbox_counts(),
        "failed_messages": ledger.count_messages("failed"),
        "quarantined_messages": ledger.count_messages("quarantined"),
        "open_alerts": [
            {"condition": a.condition, "since": a.since.isoformat(), "detail": a.detail}
            for a in alerts
            if a.state == "open"
        ],
        "watched_conditions": [a.condition for a in alerts if a.state == "active"],
    }


def _tracker(settings: Settings, ledger: SqliteLedger) -> dict[str, Any]:
    """Where the officer's tracker is, when it was last written, and whether it shows what the ledger holds."""
    from mailbot.tracker_keeping import tracker_is_current

    path = settings.storage.tracker
    try:
        written = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")
    except OSError:
        written = None
    return {"path": str(path), "written_at": written, "current": tracker_is_current(settings, ledger)}


def _verdict(code: int, report: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return code, {"state": STATES[code], **report}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _free_mb(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free // 1_000_000
    except OSError:
        return None


def render(report: dict[str, Any]) -> list[str]:
    """The report as a few readable lines."""
    outbox = report.get("outbox", {})
    lines = [f"mailbot: {report['state']}" + (f" — {report['problem']}" if report.get("problem") else "")]
    if "last_poll_at" in report:
        lines += [
            f"last poll: {report['last_poll_at'] or 'never'};"
            f" last successful batch: {report['last_success_at'] or 'never'}",
            f"waiting on the server: {report['waiting_on_server']}; failed messages: {report['failed_messages']};"
            f" quarantined: {report['quarantined_messages']}",
            f"outbox: {outbox.get('pending', 0)} pending, {outbox.get('uncertain', 0)} uncertain,"
            f" {outbox.get('failed', 0)} failed, {outbox.get('sent', 0)} sent",
        ]
        if report.get("last_error"):
            lines.append(f"last error: {report['last_error']}")
        lines += [f"alert: {a['condition']} since {a['since']} ({a['detail']})" for a in report["open_alerts"]]
        tracker = report["tracker"]
        state = "current" if tracker["current"] else "behind the ledger (rewritten within the lag window)"
        lines.append(f"tracker: last written {tracker['written_at'] or 'never'}; {state}")
        lines.append(f"ledger: {report['ledger_mb']} MB; free disk: {report['free_disk_mb']} MB")
    return lines
