"""`[reminders]` and `[digest]` are checked at start-up like every section: a bad time of day or a missing
template of theirs fails `mailbot check` naming the key."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from mailbot.cli import main
from tests.conftest import ROOT

CONFIG = '[mailbox]\nkind = "maildir"\n\n[smtp]\nkind = "outbox"\nfrom = "Vụ TKNL <nop-de-xuat@example.org>"\n'


def _check(tmp_path: Path, text: str) -> Result:
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["--config", str(tmp_path / "config.toml"), "check"])


def test_the_default_reminders_and_digest_pass(tmp_path: Path) -> None:
    extra = '\n[reminders]\nbefore_deadline_days = [10, 3, 1]\n\n[digest]\nto = ["a@b.vn"]\n'
    result = _check(tmp_path, CONFIG + extra)
    assert result.exit_code == 0, result.output


def test_a_time_of_day_that_is_not_one_is_refused_naming_the_key(tmp_path: Path) -> None:
    result = _check(tmp_path, CONFIG + '\n[digest]\nat = "25:00"\n')
    assert result.exit_code == 78 and "[digest.at]" in result.output and "25:00" in result.output
    result = _check(tmp_path, CONFIG + '\n[reminders]\nat = "8h"\n')
    assert result.exit_code == 78 and "[reminders.at]" in result.output and "HH:MM" in result.output


def test_an_offset_of_zero_days_is_refused(tmp_path: Path) -> None:
    result = _check(tmp_path, CONFIG + "\n[reminders]\nbefore_deadline_days = [7, 0]\n")
    assert result.exit_code == 78 and "before_deadline_days" in result.output


def test_a_templates_folder_lacking_a_reminder_or_digest_template_is_refused_naming_it(tmp_path: Path) -> None:
    for name in ("reminder_before.html.j2", "reminder_correction.txt.j2", "digest.html.j2"):
        folder = tmp_path / name
        shutil.copytree(ROOT / "replies", folder)
        (folder / name).unlink()
        result = _check(tmp_path, CONFIG + f'\n[replies]\ntemplates = "./{name}"\n')
        assert result.exit_code == 78 and "[replies.templates]" in result.output and name in result.output
