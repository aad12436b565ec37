"""A local Maildir as the mailbox (the embedded default).

The arrival time is the delivery time the delivering agent wrote into the file's unique name
(`1682830800.M123456P789Q1.host`: seconds, and microseconds after `M`), so a message copied into new/
later (`cp`, a restore) keeps its real arrival; when the file's modification time is earlier still, that
time is taken (a tool that delivers under a fresh name and sets the time back, as `mailbot demo` does).
A file whose name is not a Maildir name arrived at the date of its topmost `Received:` field, else at its
modification time. `list_new` lists oldest first by the same time.

Done messages move, by an atomic rename that keeps their unique name, into Maildir++ subfolders
(.Processed, .Quarantine), so moving twice after a crash is harmless.
"""

from __future__ import annotations

import datetime as dt
import mailbox
import os
import re
from pathlib import Path

from mailbot.intake.headers import HEADER_BLOCK_BYTES, topmost_received
from mailbot.ports import Fetched

_MAILDIR_NAME = re.compile(r"(\d{9,10})\.([^.]*)\..")
_MICROSECONDS = re.compile(r"M(\d{1,6})(?!\d)")
_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class MaildirMailbox:
    def __init__(self, path: Path, *, processed_folder: str = "Processed", quarantine_folder: str = "Quarantine"):
        self.root = path
        box = mailbox.Maildir(str(path), create=True)
        self.folders = {False: self._folder(box, processed_folder), True: self._folder(box, quarantine_folder)}

    def _folder(self, box: mailbox.Maildir, name: str) -> Path:
        if name not in box.list_folders():
            box.add_folder(name)
        return self.root / f".{name}"  # the Maildir++ layout of add_folder

    def _files(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for sub in ("new", "cur"):
            folder = self.root / sub
            for name in os.listdir(folder):
                if not name.startswith("."):
                    found[name.split(":", 1)[0]] = folder / name
        return found

    def list_new(self) -> list[str]:
        files = self._files()

        def delivered(key: str) -> tuple[dt.datetime, str]:
            try:
                return arrival(files[key]), key
            except OSError:
                return _EARLIEST, key

        return sorted(files, key=delivered)

    def fetch(self, key: str) -> Fetched | None:
        path = self._files().get(key)
        if path is None:
            return None
        try:
            raw = path.read_bytes()
            arrived = arrival(path, raw)
        except FileNotFoundError:
            return None
        return Fetched(key, raw, arrived)

    def mark_done(self, key: str, *, quarantine: bool = False) -> None:
        path = self._files().get(key)
        if path is None:
            return  # already moved (a crash after the move, or a person moved it)
        target = self.folders[quarantine] / "cur" / path.name
        os.replace(path, target)

    def close(self) -> None:
        return None


def arrival(path: Path, raw: bytes | None = None) -> dt.datetime:
    """When the message in `path` was delivered (see the module docstring); `raw` is its bytes when already read."""
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    named = name_time(path.name)
    if named is not None:
        return min(named, modified)
    if raw is None:
        with path.open("rb") as file:
            raw = file.read(HEADER_BLOCK_BYTES)
    return topmost_received(raw) or modified


def name_time(name: str) -> dt.datetime | None:
    """The delivery time in a Maildir unique name ("1682830800.M123456P789Q1.host"), or None for another name."""
    found = _MAILDIR_NAME.match(name)
    if found is None:
        return None
    micro = _MICROSECONDS.search(found.group(2))
    when = dt.datetime.fromtimestamp(int(found.group(1)), dt.UTC)
    when += dt.timedelta(microseconds=int(micro.group(1)) if micro else 0)
    return when if when >= _EARLIEST else None
