"""While one message is answered, the reading children already read the next messages' attachments (issue 12);
nothing a message becomes depends on it: the same decisions, the same replies, a moved message still skipped,
a file that overruns its time limit still a finding of its own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mailbot.bootstrap import App, build_app
from mailbot.config import load_settings
from mailbot.demo_mail import VN, DemoMail
from mailbot.isolation import IsolatedReader
from mailbot.pipeline import process_batch, process_one
from mailbot.readahead import ReadAhead
from mailbot.validation.schema import Rules
from tests.builders.sheets import xlsx_bytes
from tests.builders.units import unit_mails
from tests.mailflow import Workspace, make_workspace

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)


def _mails(rules: Rules, count: int) -> list[DemoMail]:
    return unit_mails(rules, count, wrong_budget_every=2)


class CountingReader(IsolatedReader):
    """The real reader, counting the reads that found their file already read ahead."""

    taken_ahead = 0

    def read(self, name: str, data: bytes):  # type: ignore[no-untyped-def]  # same signature as the parent
        if any(key[0] == name for key in self._ahead):
            self.taken_ahead += 1
        return super().read(name, data)


def _app(space: Workspace, *, processes: int | None) -> App:
    app = build_app(load_settings(space.config))
    assert app.reader is not None
    app.reader.close()
    if processes is None:
        app.reader = None  # read in this process: nothing to read ahead
    else:
        app.reader = CountingReader(
            memory_mb=1024, timeout_seconds=60, max_bytes=20_000_000, max_uncompressed=200_000_000, processes=processes
        )
    return app


def _outcome(space: Workspace) -> tuple[list[object], list[object], list[str]]:
    exported = space.export()
    messages = [(m["action"], m["reason"], m["receipt"]) for m in exported["messages"]]
    archive = load_settings(space.config).archive_dir
    blobs = sorted(str(p.relative_to(archive)) for p in archive.rglob("*") if p.is_file())
    replies = sorted((r["To"], r["Subject"], r.get_body(("plain",)).get_content()) for r in space.replies())
    return messages, replies, blobs


def test_a_batch_reads_the_next_messages_ahead_and_decides_exactly_as_without(tmp_path: Path, rules: Rules) -> None:
    outcomes, mails = [], _mails(rules, 5)
    for name, processes in (("ahead", 2), ("in-process", None)):
        space = make_workspace(tmp_path / name)
        space.deliver(mails)
        app = _app(space, processes=processes)
        try:
            report = process_batch(app)
            if isinstance(app.reader, CountingReader):
                assert app.reader.taken_ahead == 10  # both files of every message were read ahead
        finally:
            app.close()
        assert report.actions == {"acknowledged": 3, "correction_sent": 2}
        outcomes.append(_outcome(space))
    assert outcomes[0] == outcomes[1]  # the same records, replies and archived blobs (no temporary file left)
    assert len(outcomes[0][2]) == 5 * 3  # each message and its two files


def test_a_message_moved_away_after_it_was_read_ahead_is_still_skipped(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    space.deliver(_mails(rules, 2))
    app = _app(space, processes=2)
    try:
        keys = app.mailbox.list_new()
        app.ahead = ReadAhead(app, keys)
        app.ahead.before(0)  # both messages fetched, parsed and their files handed to the readers
        assert set(app.ahead.prepared) == set(keys)
        assert process_one(app, keys[0]) == "acknowledged"
        for path in space.inbox():
            path.unlink()  # a person deletes the second one in their mail client
        app.ahead.before(1)
        assert process_one(app, keys[1]) is None
        app.ahead.close()
    finally:
        app.close()
    assert [m["action"] for m in space.export()["messages"]] == ["acknowledged"] and len(space.replies()) == 1


def test_a_file_read_ahead_that_overruns_its_time_costs_that_file_and_the_other_worker_reads_on() -> None:
    slow = xlsx_bytes([[f"ô {r}-{c}" for c in range(20)] for r in range(8_000)])
    good = xlsx_bytes([["STT", "Tên nhiệm vụ"], [1, "Nhiệm vụ"]])
    limits = {"max_bytes": 50_000_000, "max_uncompressed": 500_000_000}
    reader = IsolatedReader(memory_mb=2048, timeout_seconds=60, processes=2, **limits)
    try:
        for n in range(20):  # until both workers are started (a start counts in a read's time)
            names = [f"Warm{n}-{k}.xlsx" for k in range(2)]
            for name in names:
                reader.ahead(name, good)
            assert all(reader.read(name, good).grids for name in names)
            if all(lane.pool for lane in reader._lanes):
                break
        assert all(lane.pool for lane in reader._lanes)
        reader.timeout = 0.6  # the big sheet takes seconds, the small one milliseconds
        reader.ahead("ChamLam.xlsx", slow)
        reader.ahead("PhuLuc1.xlsx", good)
        read = reader.read("PhuLuc1.xlsx", good)
        result = reader.read("ChamLam.xlsx", slow)
    finally:
        reader.close()
    assert [f.code for f in result.findings] == ["file_too_complex"] and "giây" in result.findings[0].message
    assert read.findings == [] and read.grids[0].rows[1][1] == "Nhiệm vụ"


def test_two_readers_read_side_by_side_and_each_read_is_its_own_file() -> None:
    files = {f"Tep{n}.xlsx": xlsx_bytes([["STT", "Tên"], [n, f"Nhiệm vụ {n}"]]) for n in range(6)}
    reader = IsolatedReader(
        memory_mb=1024, timeout_seconds=60, max_bytes=50_000_000, max_uncompressed=500_000_000, processes=2
    )
    try:
        for name, data in files.items():
            reader.ahead(name, data)
        read = {name: reader.read(name, data) for name, data in reversed(files.items())}
        workers = {pid for lane in reader._lanes if lane.pool for pid in getattr(lane.pool, "_processes", {})}
    finally:
        reader.close()
    assert {name: r.grids[0].rows[1][1] for name, r in read.items()} == {
        f"Tep{n}.xlsx": f"Nhiệm vụ {n}" for n in range(6)
    }
    assert len(workers) == 2
