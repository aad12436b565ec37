"""`mailbot check` fails (exit 78, naming the key) on what would otherwise fail only at run time."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from mailbot.cli import main
from tests.conftest import ROOT, SEED_RULES

CONFIG = '[mailbox]\nkind = "maildir"\n\n[smtp]\nkind = "outbox"\nfrom = "Vụ TKNL <nop-de-xuat@example.org>"\n'


def _check(tmp_path: Path, text: str, *command: str) -> Result:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["--config", str(config), *(command or ("check",))])


def _line(text: str, start: str) -> int:
    return next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith(start))


def test_a_from_without_an_address_is_refused_naming_the_key(tmp_path: Path) -> None:
    text = CONFIG.replace("Vụ TKNL <nop-de-xuat@example.org>", "Vụ TKNL")
    result = _check(tmp_path, text)
    assert result.exit_code == 78
    assert f"config.toml:{_line(text, 'from')}" in result.output and "[smtp.from]" in result.output
    assert "needs an email address" in result.output


def test_an_smtp_from_without_an_address_is_refused_for_every_command(tmp_path: Path) -> None:
    text = '[mailbox]\nkind = "maildir"\n\n[smtp]\nkind = "smtp"\nhost = "smtp.example.org"\nfrom = "Vụ TKNL <>"\n'
    result = _check(tmp_path, text, "once")
    assert result.exit_code == 78 and "[smtp.from]" in result.output


def test_a_bare_address_is_a_valid_from(tmp_path: Path) -> None:
    result = _check(tmp_path, CONFIG.replace("Vụ TKNL <nop-de-xuat@example.org>", "nop-de-xuat@example.org"))
    assert result.exit_code == 0, result.output


def test_a_templates_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    text = CONFIG + '\n[replies]\ntemplates = "./my-replies"\n'
    result = _check(tmp_path, text)
    assert result.exit_code == 78
    assert f"config.toml:{_line(text, 'templates')}" in result.output and "[replies.templates]" in result.output
    assert str(tmp_path / "my-replies") in result.output


def test_a_templates_folder_lacking_a_template_is_refused_naming_it(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "replies", tmp_path / "my-replies")
    (tmp_path / "my-replies" / "late.html.j2").unlink()
    result = _check(tmp_path, CONFIG + '\n[replies]\ntemplates = "./my-replies"\n')
    assert result.exit_code == 78
    assert "[replies.templates]" in result.output and "late.html.j2" in result.output


def test_a_complete_templates_folder_of_the_admins_passes(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "replies", tmp_path / "my-replies")
    result = _check(tmp_path, CONFIG + '\n[replies]\ntemplates = "./my-replies"\n')
    assert result.exit_code == 0, result.output


def test_a_rules_file_that_is_not_there_is_refused_naming_the_key(tmp_path: Path) -> None:
    result = _check(tmp_path, CONFIG + '\n[rules]\nfile = "/nowhere/call.toml"\n')
    assert result.exit_code == 78
    assert "[rules.file]" in result.output and "/nowhere/call.toml" in result.output


def test_a_rules_file_that_does_not_load_is_refused_naming_its_line_and_key(tmp_path: Path) -> None:
    bad = SEED_RULES.read_text(encoding="utf-8").replace('late_policy = "accept_flagged"', 'late_polcy = "x"')
    (tmp_path / "call.toml").write_text(bad, encoding="utf-8")
    result = _check(tmp_path, CONFIG + '\n[rules]\nfile = "call.toml"\n')
    assert result.exit_code == 78
    assert f"call.toml:{_line(bad, 'late_polcy')}" in result.output and "call.late_polcy" in result.output
