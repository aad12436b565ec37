"""A folder as the SMTP server (the embedded default): each reply becomes <reply-id>.eml.

The file is named by the reply's Message-ID and written atomically, so sending the same reply again
after a crash rewrites the same file: a reply is never delivered twice under different ids.
"""

from __future__ import annotations

import re
from pathlib import Path

from mailbot.archive import write_durably
from mailbot.ports import SendError

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def eml_name(reply_id: str) -> str:
    return _UNSAFE.sub("_", reply_id.strip("<>")) + ".eml"


class OutboxDirSender:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def send(self, reply_id: str, recipient: str, raw: bytes) -> None:
        try:
            write_durably(self.path / eml_name(reply_id), raw)
        except OSError as exc:
            raise SendError(f"cannot write to the outbox folder: {exc.strerror}", permanent=False) from exc

    def release(self) -> None:
        return None  # nothing is kept open between sends

    def close(self) -> None:
        return None
