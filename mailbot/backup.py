"""`mailbot backup DEST`: a consistent copy of the ledger and the archive, taken while mailbot may be running.

The ledger is copied with SQLite's online backup API from a read-only connection, in one step, so the copy
is one committed state even while another mailbot writes (WAL: readers do not block the writer); no lock
of mailbot's is taken. The copy is a single self-contained file (journal mode DELETE) checked with
`PRAGMA integrity_check`. The archive is content-addressed (a blob's name is its SHA-256 and never
changes), so only blobs not yet in DEST are copied. The ledger goes first: every blob it names was
written before its row was committed, so it is in the archive when the archive is copied after. The
tracker workbook is copied too (mailbot rebuilds it from the ledger, but the officer's notes live only in
it; it is always replaced whole, by a rename, so a copy is one version of it).

Restoring: stop mailbot, then put DEST/ledger.sqlite3 and DEST/archive/ back into the storage folder
(removing any ledger.sqlite3-wal and ledger.sqlite3-shm left there), and DEST/tracker.xlsx where the
tracker goes.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from mailbot.archive import fsync_dir
from mailbot.errors import MailbotError

EX_NOINPUT = getattr(os, "EX_NOINPUT", 66)
EX_CANTCREAT = getattr(os, "EX_CANTCREAT", 73)
EX_IOERR = getattr(os, "EX_IOERR", 74)
EX_USAGE = getattr(os, "EX_USAGE", 64)
LEDGER_NAME = "ledger.sqlite3"


class BackupError(MailbotError):
    """The backup could not be made; `exit_code` is the sysexits code for it."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class BackupReport:
    ledger: Path
    ledger_bytes: int
    blobs_copied: int
    blobs_present: int
    tracker: Path | None


def backup_storage(ledger: Path, archive: Path, dest: Path, tracker: Path | None = None) -> BackupReport:
    """Copy `ledger`, the new files of `archive` and the `tracker` workbook into `dest` (made if needed)."""
    _refuse_overlap(ledger, archive, dest)
    if not ledger.is_file():
        raise BackupError(f"no ledger at {ledger}: nothing to back up", EX_NOINPUT)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot write to {dest}: {exc.strerror or exc}", EX_CANTCREAT) from exc
    copy = dest / LEDGER_NAME
    _backup_ledger(ledger, copy)
    copied, present = _copy_archive(archive, dest / "archive")
    tracker_copy = None
    if tracker is not None and tracker.is_file():
        tracker_copy = dest / tracker.name
        _copy_file(tracker, tracker_copy)
    return BackupReport(copy, copy.stat().st_size, copied, present, tracker_copy)


def _refuse_overlap(ledger: Path, archive: Path, dest: Path) -> None:
    target = dest.resolve()
    if target == ledger.resolve().parent or target.is_relative_to(archive.resolve()):
        raise BackupError(f"{dest} is mailbot's own storage: choose a folder outside it", EX_USAGE)


def _backup_ledger(ledger: Path, copy: Path) -> None:
    """SQLite's online backup into a temporary file, checked, then renamed over the previous copy."""
    tmp = copy.with_name(f".{copy.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(f"file:{quote(str(ledger.resolve()))}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the ledger {ledger}: {exc}", EX_IOERR) from exc
    try:
        target = sqlite3.connect(tmp)
        try:
            source.backup(target)  # all pages in one step: one consistent snapshot
            target.execute("PRAGMA journal_mode = DELETE")  # a single file, whatever the live ledger uses
            problems = [row[0] for row in target.execute("PRAGMA integrity_check")]
        finally:
            target.close()
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"the ledger {ledger} could not be copied into {copy.parent}: {exc}", EX_IOERR) from exc
    finally:
        source.close()
    if problems != ["ok"]:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"the copy of {ledger} fails its integrity check: {'; '.join(problems[:3])}", EX_IOERR)
    os.replace(tmp, copy)
    fsync_dir(copy.parent)


def _copy_archive(archive: Path, dest: Path) -> tuple[int, int]:
    """Copy the blobs DEST lacks (through a temporary name); returns (copied, already there)."""
    copied = present = 0
    if not archive.is_dir():
        return copied, present
    for blob in sorted(archive.rglob("*")):
        if not blob.is_file() or blob.name.startswith("."):  # "."-names are temporary files being written
            continue
        target = dest / blob.relative_to(archive)
        if target.is_file() and target.stat().st_size == blob.stat().st_size:
            present += 1
            continue
        _copy_file(blob, target)
        copied += 1
    return copied, present


def _copy_file(source: Path, target: Path) -> None:
    """Copy through a temporary name, so `target` is never half written."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise BackupError(f"cannot copy {source} into {target.parent}: {exc.strerror or exc}", EX_CANTCREAT) from exc
