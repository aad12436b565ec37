"""Shared by the mail tests: a workspace with a config, the demo's messages, and readers of the results."""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from mailbot.cli import main
from mailbot.demo import CONFIG, deliver
from mailbot.demo_mail import DemoMail


@dataclass
class Workspace:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def maildir(self) -> Path:
        return self.root / "var" / "mail"

    @property
    def outbox(self) -> Path:
        return self.root / "var" / "outbox"

    @property
    def tracker(self) -> Path:
        return self.root / "var" / "tracker.xlsx"

    def deliver(self, mails: list[DemoMail]) -> None:
        deliver(self.maildir, mails)

    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(main, ["--config", str(self.config), *args])

    def export(self) -> dict[str, Any]:
        result = self.cli("export", "--json")
        assert result.exit_code == 0, result.output
        data: dict[str, Any] = json.loads(result.output)
        return data

    def replies(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted(self.outbox.glob("*.eml"))
        ]

    def inbox(self) -> list[Path]:
        return [p for sub in ("new", "cur") for p in (self.maildir / sub).iterdir()]


def make_workspace(root: Path) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(CONFIG, encoding="utf-8")
    return Workspace(root)
