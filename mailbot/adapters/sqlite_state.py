"""The ledger's record of how mailbot itself is doing: run times, alert conditions, and the counts `status` shows.

Kept beside the messages in the same SQLite file, so `mailbot status` (another process) and the alert
mails read one truth, and a restart remembers since when a condition has lasted.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def parse_utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _text(moment: dt.datetime) -> str:
    return utc_text(moment)


@dataclass(frozen=True)
class AlertRecord:
    condition: str
    state: str  # active (seen, not mailed yet) | open (mailed) | resolved
    detail: str
    since: dt.datetime
    mailed_at: dt.datetime | None
    mails: int


class RunState:
    db: sqlite3.Connection

    # ------------------------------------------------------------ run times

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                        (key, value, value))  # fmt: skip

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    # ------------------------------------------------------------ alert conditions

    def alert(self, condition: str) -> AlertRecord | None:
        row = self.db.execute(
            "SELECT condition, state, detail, since, mailed_at, mails FROM alerts WHERE condition = ?", (condition,)
        ).fetchone()
        return _alert(row) if row else None

    def alerts(self, *, states: tuple[str, ...] = ("active", "open")) -> list[AlertRecord]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            f"SELECT condition, state, detail, since, mailed_at, mails FROM alerts WHERE state IN ({marks})"
            " ORDER BY since, condition",
            states,
        ).fetchall()
        return [_alert(r) for r in rows]

    def save_alert(
        self,
        condition: str,
        *,
        state: str,
        detail: str,
        since: dt.datetime,
        now: dt.datetime,
        mailed: bool = False,
    ) -> None:
        mailed_at = _text(now) if mailed else None
        self.db.execute(
            "INSERT INTO alerts (condition, state, detail, since, updated_at, mailed_at, mails)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(condition) DO UPDATE SET state = excluded.state,"
            " detail = excluded.detail, since = excluded.since, updated_at = excluded.updated_at,"
            " mailed_at = COALESCE(excluded.mailed_at, alerts.mailed_at), mails = alerts.mails + excluded.mails",
            (condition, state, detail, _text(since), _text(now), mailed_at, int(mailed)),
        )

    # ------------------------------------------------------------ counts

    def count_messages(self, action: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM messages WHERE action = ?", (action,)).fetchone()[0])

    def outbox_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        counts = {state: 0 for state in ("pending", "sending", "uncertain", "sent", "failed")}
        counts.update({str(r[0]): int(r[1]) for r in rows})
        return counts

    def replies_failed_since(self, since: dt.datetime, *, bounced: bool) -> int:
        """Replies refused for good after `since`: bounced ones (a delivery report came back), or the others."""
        like = "LIKE" if bounced else "NOT LIKE"
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM outbox WHERE kind = 'reply' AND state = 'failed'"
                f" AND COALESCE(last_error, '') {like} 'bounced:%' AND failed_at >= ?",
                (_text(since),),
            ).fetchone()[0]
        )

    def failed_replies(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT reply_id, recipient, last_error FROM outbox WHERE kind = 'reply' AND state = 'failed'"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [{"reply_id": r[0], "recipient": r[1], "error": r[2]} for r in rows]


def _alert(row: Any) -> AlertRecord:
    mailed = dt.datetime.fromisoformat(row[4]) if row[4] else None
    return AlertRecord(row[0], row[1], row[2], dt.datetime.fromisoformat(row[3]), mailed, int(row[5]))
