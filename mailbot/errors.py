"""The program's own errors. A bad spreadsheet row is a Finding, never one of these."""

from __future__ import annotations

from pathlib import Path


class MailbotError(Exception):
    """Base of mailbot's errors."""


class ConfigError(MailbotError):
    """A configuration or rules file that cannot be used; names the file, line and key."""

    def __init__(self, path: Path | str, reason: str, *, key: str | None = None, line: int | None = None):
        self.path = str(path)
        self.reason = reason
        self.key = key
        self.line = line
        where = self.path + (f":{line}" if line else "")
        what = f" [{key}]" if key else ""
        super().__init__(f"{where}:{what} {reason}")


class ServiceUnavailable(MailbotError):
    """A server, a login or the disk cannot be used right now. The batch stops; no message is blamed."""


class ReplyBuildError(MailbotError, ValueError):
    """A reply that cannot be made into a message: a recipient that is not one valid address, or text that
    cannot be encoded (a lone surrogate …). The message says why; the reply is recorded as failed."""
