"""The configuration: one typed object read from TOML, checked at start-up.

An unknown key is an error naming the key. Relative paths are relative to the config file's folder
(the rules file falls back to the one shipped beside the package). Secrets are never in the file:
only `password_env = "NAME"` or `password_file = "PATH"`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mailbot.errors import ConfigError
from mailbot.tomlfile import load_toml_model
from mailbot.validation.rules_file import APP_ROOT


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MaildirMailbox(Section):
    kind: Literal["maildir"]
    path: Path = Path("./var/mail")
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"


class OutboxSender(Section):
    kind: Literal["outbox"]
    path: Path = Path("./var/outbox")
    sender: str = Field(alias="from")
    resend_uncertain: bool = True  # a reply whose sending was interrupted goes again with the same Message-ID


class RulesSection(Section):
    file: Path = Path("rules/sxtdbv-2024.toml")


class Storage(Section):
    dir: Path = Path("./var")
    tracker: Path = Path("./var/tracker.xlsx")


class Schedule(Section):
    interval_seconds: int = Field(default=60, ge=5, le=86_400)


class Limits(Section):
    max_message_bytes: int = Field(default=60_000_000, ge=1)
    max_attachment_bytes: int = Field(default=20_000_000, ge=1)
    max_zip_members: int = Field(default=200, ge=1)
    max_zip_uncompressed_bytes: int = Field(default=100_000_000, ge=1)
    max_zip_ratio: int = Field(default=100, ge=1)
    max_nesting: int = Field(default=3, ge=0, le=10)
    replies_per_sender: int = Field(default=10, ge=1)  # within rate_window_minutes
    replies_total: int = Field(default=500, ge=1)  # within rate_window_minutes
    rate_window_minutes: int = Field(default=60, ge=1)


class Replies(Section):
    templates: Path | None = None  # default: the replies/ folder shipped with mailbot
    attach_blank_forms: bool = True


Mailbox = Annotated[MaildirMailbox, Field(discriminator="kind")]
Sender = Annotated[OutboxSender, Field(discriminator="kind")]


class Settings(Section):
    mailbox: Mailbox
    smtp: Sender
    rules: RulesSection = RulesSection()
    storage: Storage = Storage()
    schedule: Schedule = Schedule()
    limits: Limits = Limits()
    replies: Replies = Replies()

    @property
    def ledger_path(self) -> Path:
        return self.storage.dir / "ledger.sqlite3"

    @property
    def archive_dir(self) -> Path:
        return self.storage.dir / "archive"

    @property
    def sender_domain(self) -> str:
        return self.smtp.sender.rpartition("@")[2].strip(" >").lower() or "localhost"


def _resolve(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else (base / path).resolve()


def load_settings(path: Path | str) -> Settings:
    """Read and check the configuration; relative paths become absolute from the file's folder."""
    path = Path(path)
    settings = load_toml_model(path, Settings)
    base = path.resolve().parent
    rules_file = _resolve(base, settings.rules.file)
    if not rules_file.is_file() and not settings.rules.file.is_absolute():
        rules_file = APP_ROOT / settings.rules.file
    templates = settings.replies.templates
    return settings.model_copy(
        update={
            "mailbox": settings.mailbox.model_copy(update={"path": _resolve(base, settings.mailbox.path)}),
            "smtp": settings.smtp.model_copy(update={"path": _resolve(base, settings.smtp.path)}),
            "rules": RulesSection(file=rules_file),
            "storage": Storage(
                dir=_resolve(base, settings.storage.dir), tracker=_resolve(base, settings.storage.tracker)
            ),
            "replies": settings.replies.model_copy(
                update={"templates": _resolve(base, templates) if templates else None}
            ),
        }
    )


def read_secret(path: Path | str, *, env: str | None, file: Path | None, key: str) -> str:
    """A password from an environment variable or a file; a ConfigError names the key if missing."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigError(path, f"environment variable {env} is not set or empty", key=f"{key}_env")
        return value
    if file:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(path, f"cannot read {file}: {exc.strerror}", key=f"{key}_file") from exc
    raise ConfigError(path, f"set {key}_env or {key}_file", key=key)
