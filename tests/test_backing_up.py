"""`mailbot backup DEST`: a consistent copy of the ledger and the archive, taken while another mailbot runs."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.demo import demo_mails
from mailbot.scheduler import single_instance
from mailbot.validation.schema import Rules
from tests.mailflow import Workspace, make_workspace


@pytest.fixture
def busy(tmp_path: Path, rules: Rules) -> Workspace:
    """A workspace whose ledger and archive hold the first four demo messages."""
    space = make_workspace(tmp_path / "site")
    space.deliver(demo_mails(rules, "example.org")[:4])
    assert space.cli("once").exit_code == 0
    return space


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: db.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
    finally:
        db.close()


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_a_backup_taken_while_mailbot_runs_and_writes_holds_the_committed_ledger_and_every_blob(
    busy: Workspace, tmp_path: Path
) -> None:
    storage, dest = busy.root / "var", tmp_path / "backup"
    with single_instance(storage):  # the running mailbot's lock: backup does not need it
        writer = SqliteLedger(storage / "ledger.sqlite3")
        try:
            with writer.transaction():  # a write in progress, not committed when the copy is taken
                writer.db.execute("INSERT INTO meta (key, value) VALUES ('uncommitted', 'x')")
                result = busy.cli("backup", str(dest))
                assert result.exit_code == 0, result.output
                writer.db.execute("DELETE FROM meta WHERE key = 'uncommitted'")
        finally:
            writer.close()
    copy = dest / "ledger.sqlite3"
    db = sqlite3.connect(copy)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one self-contained file
    finally:
        db.close()
    assert _rows(copy) == _rows(storage / "ledger.sqlite3")
    assert len(_rows(copy)["messages"]) == 4
    assert _files(dest / "archive") == _files(storage / "archive") and len(_files(dest / "archive")) >= 4
    assert (dest / "tracker.xlsx").read_bytes() == (storage / "tracker.xlsx").read_bytes()
    assert "integrity ok" in result.output and f"{len(_files(dest / 'archive'))} file(s) copied" in result.output


def test_a_second_backup_copies_only_the_new_archive_files(busy: Workspace, tmp_path: Path, rules: Rules) -> None:
    dest = tmp_path / "backup"
    assert busy.cli("backup", str(dest)).exit_code == 0
    before = _files(dest / "archive")
    busy.deliver(demo_mails(rules, "example.org")[4:6])
    assert busy.cli("once").exit_code == 0
    again = busy.cli("backup", str(dest))
    new = _files(busy.root / "var" / "archive") - before
    assert again.exit_code == 0 and new
    assert f"{len(new)} file(s) copied, {len(before)} already there" in again.output
    assert len(_rows(dest / "ledger.sqlite3")["messages"]) == 6


def test_a_restored_backup_is_the_same_ledger_to_mailbot(busy: Workspace, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    assert busy.cli("backup", str(dest)).exit_code == 0
    restored = make_workspace(tmp_path / "restored")
    (restored.root / "var").mkdir()
    shutil.copy(dest / "ledger.sqlite3", restored.root / "var" / "ledger.sqlite3")
    shutil.copytree(dest / "archive", restored.root / "var" / "archive")
    assert restored.export() == busy.export()


def test_backing_up_into_the_storage_folder_itself_is_refused(busy: Workspace) -> None:
    result = busy.cli("backup", str(busy.root / "var"))
    assert result.exit_code == 64 and "own storage" in result.output


def test_backing_up_before_mailbot_ever_ran_says_there_is_nothing_to_back_up(tmp_path: Path) -> None:
    space = make_workspace(tmp_path)
    result = space.cli("backup", str(tmp_path / "backup"))
    assert result.exit_code == 66 and "no ledger" in result.output and not (tmp_path / "backup").exists()
