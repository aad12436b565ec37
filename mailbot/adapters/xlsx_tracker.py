"""The officer's tracking workbook: a projection of the ledger, rebuilt whole and swapped in atomically.

`write` builds the workbook into `.{name}.{pid}.tmp` beside the tracker, fsyncs it and `os.replace`s
it over the tracker. When the tracker stays locked (open in Excel on a Windows share) the new
workbook goes to `{stem}.pending.xlsx` instead and the old file is left exactly as it was. The
officer's own columns, "Quyết định" and "Ghi chú của cán bộ", are read back before every rebuild and
written again beside their receipt; those whose receipt is gone are kept in the hidden sheet "Ghi chú cũ".
Before the workbook, every version's attachments are copied from the archive to `ho-so/<receipt>/v<N>/`
beside it (xlsx_tracker_files), which its links point at.

Extra sheets: append a builder (`(Workbook, Book) -> None`, see xlsx_tracker_sheets.SheetBuilder) to
`EXTRA_SHEETS` below; it runs after the standard sheets.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from mailbot.adapters.xlsx_tracker_files import place_files
from mailbot.adapters.xlsx_tracker_sheets import (
    DECISION_HEADER,
    LEGACY_RECEIPT_HEADERS,
    NOTE_HEADER,
    OFFICER_HEADERS,
    OLD_NOTES,
    RECEIPT_HEADER,
    SUBMISSIONS,
    Book,
    SheetBuilder,
    build_workbook,
)
from mailbot.adapters.xlsx_tracker_units import add_units_sheet
from mailbot.faults import checkpoint
from mailbot.model import TrackerData
from mailbot.ports import TrackerWrite

#: How far down a sheet to look for the header row (the officer may have added a title above it).
HEADER_SEARCH_ROWS = 10


#: Sheets beyond the standard ones, in order (e.g. the roster's "Đơn vị").
def _units(wb: Workbook, book: Book) -> None:
    add_units_sheet(wb, book.data)  # "Đơn vị": the roster's units and their states, when there is a roster


EXTRA_SHEETS: tuple[SheetBuilder, ...] = (_units,)

#: receipt → {officer header: text}
Kept = dict[str, dict[str, str]]


class XlsxTracker:
    def __init__(self, path: Path, *, retries: int = 3, retry_delay: float = 0.5) -> None:
        self.path = Path(path)
        self.pending_path = self.path.with_name(f"{self.path.stem}.pending{self.path.suffix}")
        self.unreadable_path = self.path.with_name(f"{self.path.stem}.unreadable{self.path.suffix}")
        self.retries = retries
        self.retry_delay = retry_delay

    def write(self, data: TrackerData) -> TrackerWrite:
        """Rebuild the workbook from `data`; on a lock that outlasts the retries, write the pending copy."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        notes = self._notes_for_rebuild()
        placed = place_files(self.path.parent, data.files)
        tmp = self._temp_path(self.path)
        try:
            save_synced(build_workbook(Book(data, notes, placed), EXTRA_SHEETS), tmp)
            checkpoint("tracker_replacing")  # a crash here keeps the old tracker; the temp goes next run
            if self._replace(tmp, self.path):
                self._discard_pending(notes)
                return TrackerWrite(self.path, False)
            if self._replace(tmp, self.pending_path):
                return TrackerWrite(self.pending_path, True)
            raise PermissionError(f"{self.path} and {self.pending_path} are both locked")
        finally:
            with suppress(OSError):
                tmp.unlink(missing_ok=True)

    def read_notes(self) -> dict[str, str]:
        """Receipt → the officer's note, from the current workbook; empty when there is none or it cannot be read."""
        return self._read_column(NOTE_HEADER)

    def read_decisions(self) -> dict[str, str]:
        """Receipt → the officer's "Quyết định", as read_notes."""
        return self._read_column(DECISION_HEADER)

    def _read_column(self, header: str) -> dict[str, str]:
        try:
            kept = load_notes(self.path)
        except Exception:  # an unreadable workbook has no notes we can use; any parser error means that
            return {}
        return {receipt: values[header] for receipt, values in kept.items() if values.get(header)}

    # ------------------------------------------------------------ internals

    def _notes_for_rebuild(self) -> Kept:
        """The notes to carry over; an existing tracker that cannot be read is first copied aside, not lost."""
        if not self.path.exists():
            return {}
        try:
            return load_notes(self.path)
        except Exception:  # same as read_notes, but keep the officer's file before we replace it
            with suppress(OSError):
                shutil.copy2(self.path, self.unreadable_path)
            return {}

    def _temp_path(self, target: Path) -> Path:
        return target.with_name(f".{target.name}.{os.getpid()}.tmp")

    def _remove_leftovers(self) -> None:
        """Delete our own temp files left by a crash (never Excel's `~$` owner files or anything else)."""
        names = "|".join(re.escape(p.name) for p in (self.path, self.pending_path))
        ours = re.compile(rf"\.(?:{names})\.\d+\.tmp")
        for entry in os.scandir(self.path.parent):
            if ours.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with suppress(OSError):
                    os.remove(entry.path)

    def _replace(self, tmp: Path, target: Path) -> bool:
        """Swap `tmp` in for `target`, retrying while the target is locked; False when it stayed locked."""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.retry_delay)
            try:
                os.replace(tmp, target)
            except OSError as error:
                if not is_lock(error):
                    raise
                continue
            fsync_folder(target.parent)
            return True
        return False

    def _discard_pending(self, notes: Kept) -> None:
        """Remove a pending copy made obsolete by this write, unless it holds a note the tracker lacks."""
        if not self.pending_path.exists():
            return
        with suppress(Exception):  # unreadable or locked: leave it; the next write overwrites it anyway
            pending = load_notes(self.pending_path)
            if all(notes.get(receipt, {}).items() >= values.items() for receipt, values in pending.items()):
                self.pending_path.unlink()


def is_lock(error: OSError) -> bool:
    """Windows reports a file open in Excel as PermissionError; a Linux CIFS mount may say EBUSY instead."""
    return isinstance(error, PermissionError) or error.errno in (errno.EBUSY, errno.ETXTBSY)


def save_synced(wb: Workbook, tmp: Path) -> None:
    with open(tmp, "wb") as handle:
        wb.save(handle)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_folder(folder: Path) -> None:
    """Make the rename durable; Windows cannot open a folder, and some network file systems refuse."""
    if os.name != "posix":
        return
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------- reading the officer's notes


def load_notes(path: Path) -> Kept:
    """The officer's columns from the hidden sheet of old notes, then from "Hồ sơ" (which wins for a receipt)."""
    wb = load_workbook(path, read_only=True)
    try:
        kept: Kept = {}
        for title in (OLD_NOTES, SUBMISSIONS):
            if title in wb.sheetnames:
                for receipt, values in sheet_notes(wb[title].iter_rows(values_only=True)).items():
                    kept.setdefault(receipt, {}).update(values)
        return kept
    finally:
        wb.close()  # release the handle at once: on Windows an open handle would block our own replace


def sheet_notes(rows: Iterator[tuple[Any, ...]]) -> Kept:
    columns = find_note_columns(rows)
    if columns is None:
        return {}
    receipt_at, officer = columns
    kept: Kept = {}
    for row in rows:
        receipt = as_text(row[receipt_at] if receipt_at < len(row) else None)
        if not receipt:
            continue
        for header, index in officer.items():
            value = as_text(row[index] if index < len(row) else None)
            if value:
                values = kept.setdefault(receipt, {})
                old = values.get(header)
                values[header] = f"{old}\n{value}" if old and old != value else value
    return kept


def find_note_columns(rows: Iterator[tuple[Any, ...]]) -> tuple[int, dict[str, int]] | None:
    """Advance `rows` past the header row; the 0-based column of the receipt and of each officer column."""
    for _, row in zip(range(HEADER_SEARCH_ROWS), rows, strict=False):
        headers = [as_text(value) for value in row]
        receipt = next((h for h in (RECEIPT_HEADER, *LEGACY_RECEIPT_HEADERS) if h in headers), None)
        officer = {h: headers.index(h) for h in OFFICER_HEADERS if h in headers}
        if receipt and officer:
            return headers.index(receipt), officer
    return None


def as_text(value: Any) -> str:
    """A cell as the officer meant it, as NFC text."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        text = value.strftime("%d/%m/%Y %H:%M" if value.time() != dt.time() else "%d/%m/%Y")
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    return unicodedata.normalize("NFC", text).strip()
