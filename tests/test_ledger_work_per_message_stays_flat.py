"""No query a message makes on its way reads a whole table: the cost of one message does not grow with the
ledger (issue 12: the cost per message at 5,000 on file within 1.2x of the cost at 500).

Every statement the pipeline runs while it answers a mix of messages (new units, a second version, a duplicate,
a broken file, the rate-limit counts) is asked for its query plan (EXPLAIN QUERY PLAN) on the real ledger; a
plan that SCANs a table (rather than SEARCHing an index) would make each message cost more as the ledger fills.
The tracker's rebuild reads everything by design and runs off the reply path, so it is not part of this."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.adapters.sqlite_state import utc_text
from mailbot.bootstrap import build_app
from mailbot.config import load_settings
from mailbot.demo_mail import VN, DemoMail, descriptions_docx, email, task, task_list_xlsx
from mailbot.pipeline import process_batch
from mailbot.validation.schema import Rules
from tests.mailflow import make_workspace

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)


def _submission(rules: Rules, unit: str, name: str, total: float = 500) -> list[tuple[str, bytes]]:
    tasks = [task(name, 2, "2024-01", "2024-06", total, total, unit)]
    return [("PhuLuc1.xlsx", task_list_xlsx(rules, unit, tasks)), ("PhuLuc2.docx", descriptions_docx(rules, tasks))]


def _mails(rules: Rules) -> list[DemoMail]:
    mails = []
    for n in range(3):
        raw, _ = email(
            f"Đơn vị {n} <don-vi-{n}@dv{n}.example.vn>",
            f"Đề xuất nhiệm vụ {n}",
            "Kính gửi Vụ TKNL.",
            _submission(rules, f"Viện {n}", f"Nhiệm vụ thử nghiệm {n}"),
            date=WHEN,
        )
        mails.append(DemoMail(f"unit {n}", raw, WHEN + dt.timedelta(minutes=n), ""))
    fixed = _submission(rules, "Viện 0", "Nhiệm vụ sửa")
    again, _ = email("Đơn vị 0 <DON-VI-0@dv0.example.vn>", "Gửi lại", "Bản sửa.", fixed, date=WHEN)
    not_a_workbook = [("PhuLuc1.xlsx", b"PK\x03\x04 not a zip")]
    broken, _ = email("X <x@dvx.example.vn>", "Đề xuất", "Kính gửi.", not_a_workbook, date=WHEN)
    mails += [
        DemoMail("second version", again, WHEN + dt.timedelta(minutes=10), ""),
        DemoMail("duplicate", mails[1].raw, WHEN + dt.timedelta(minutes=11), ""),
        DemoMail("broken file", broken, WHEN + dt.timedelta(minutes=12), ""),
    ]
    return mails


def _statements_of_a_batch(tmp_path: Path, rules: Rules) -> tuple[Counter[str], SqliteLedger]:
    space = make_workspace(tmp_path)
    space.deliver(_mails(rules))
    app = build_app(load_settings(space.config))
    seen: Counter[str] = Counter()
    app.ledger.db.set_trace_callback(lambda sql: seen.update([sql]))
    try:
        process_batch(app, tracker_ok=True)  # `run`'s way: the tracker is kept elsewhere
    finally:
        app.ledger.db.set_trace_callback(None)
        if app.reader is not None:
            app.reader.close()
    return seen, app.ledger


def _plan(ledger: SqliteLedger, sql: str) -> list[str]:
    return [str(row[3]) for row in ledger.db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()]


def test_no_statement_a_message_runs_scans_a_table(tmp_path: Path, rules: Rules) -> None:
    seen, ledger = _statements_of_a_batch(tmp_path, rules)
    queries = [sql for sql in seen if re.match(r"\s*(SELECT|UPDATE|DELETE|INSERT)", sql, re.IGNORECASE)]
    assert any("FROM outbox WHERE kind = 'reply' AND created_at" in sql for sql in queries)  # the rate limits ran
    assert sum(1 for sql in queries if "INSERT INTO versions" in sql) >= 4  # and the submissions were recorded
    plans = {sql: _plan(ledger, sql) for sql in queries}
    scans = {sql: plan for sql, plan in plans.items() if any(step.startswith("SCAN") for step in plan)}
    assert scans == {}
    ledger.close()


def test_the_per_sender_rate_limit_still_counts_every_spelling_of_the_address(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    now = dt.datetime(2023, 4, 20, 2, 0, tzinfo=dt.UTC)
    with ledger.transaction():
        row = ledger.insert_message(
            mailbox_key="k",
            message_id="<m@x>",
            sha256="ab",
            sender="a@x",
            subject="s",
            received_at=now,
            action="acknowledged",
            reason=None,
        )
        for n, spelling in enumerate(("Don-Vi@Example.VN", "don-vi@example.vn", "other@example.vn")):
            ledger.db.execute(
                "INSERT INTO outbox (kind, message_row, reply_id, recipient, raw, state, created_at)"
                " VALUES ('reply', ?, ?, ?, x'00', 'sent', ?)",
                (row, f"<r{n}@x>", spelling, utc_text(now + dt.timedelta(minutes=n))),
            )
    assert ledger.replies_since(now - dt.timedelta(hours=1), "DON-VI@example.vn") == 2
    assert ledger.replies_since(now + dt.timedelta(seconds=30), "don-vi@EXAMPLE.vn") == 1
    assert ledger.replies_since(now - dt.timedelta(hours=1)) == 3
    ledger.close()


def test_a_commit_not_fsynced_is_still_whole_and_the_ledger_is_fully_synchronous_again_after_it(
    tmp_path: Path,
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    with ledger.transaction(durable=False):
        assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: no fsync at this commit
        ledger.set_meta("a", "1")
    try:
        with ledger.transaction(durable=False):
            ledger.set_meta("b", "2")
            raise RuntimeError("a fault inside")
    except RuntimeError:
        pass
    assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    other = SqliteLedger(tmp_path / "ledger.sqlite3", read_only=True)
    assert (other.meta("a"), other.meta("b")) == ("1", None)
    other.close()
    ledger.close()
