"""A local Maildir as the mailbox (the embedded default).

The arrival time is the delivery time of the file. Done messages move, by an atomic rename that
keeps their unique name, into Maildir++ subfolders (.Processed, .Quarantine), so moving twice after
a crash is harmless.
"""

from __future__ import annotations

import datetime as dt
import mailbox
import os
from pathlib import Path

from mailbot.ports import Fetched


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

        def delivered(key: str) -> tuple[float, str]:
            try:
                return files[key].stat().st_mtime, key
            except FileNotFoundError:
                return 0.0, key

        return sorted(files, key=delivered)

    def fetch(self, key: str) -> Fetched | None:
        path = self._files().get(key)
        if path is None:
            return None
        try:
            raw = path.read_bytes()
            arrived = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
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
