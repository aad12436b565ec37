"""`[officer] email`: one address where notes that ask for something are forwarded; anything else is refused."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mailbot.cli import main
from mailbot.config import load_settings

CONFIG = '[mailbox]\nkind = "maildir"\n\n[smtp]\nkind = "outbox"\nfrom = "Vụ TKNL <nop-de-xuat@example.org>"\n'


def test_the_officer_address_is_read_from_its_section(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG + '\n[officer]\nemail = "Ông Quang <quangch@moit.gov.vn>"\n', encoding="utf-8")
    assert load_settings(config).officer.email == "quangch@moit.gov.vn"


def test_without_the_section_nothing_is_forwarded(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    assert load_settings(config).officer.email is None


def test_an_officer_email_that_is_not_one_address_is_refused_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG + '\n[officer]\nemail = "a@b.vn, c@d.vn"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 78 and "officer" in result.output and "email" in result.output
