"""The shipped rules and reply templates are found from the package, never from the working folder;
a config's relative paths are relative to the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.config import load_settings
from mailbot.replies import templates_dir_default
from mailbot.shipped import shipped_folder
from mailbot.validation.rules_file import default_rules_path
from tests.conftest import ROOT, SEED_RULES

CONFIG = '[mailbox]\nkind = "maildir"\n\n[smtp]\nkind = "outbox"\nfrom = "Vụ TKNL <nop-de-xuat@example.org>"\n'


def _decoy(folder: Path) -> None:
    """A working folder with rules/ and replies/ of its own, which must not be picked up."""
    (folder / "rules").mkdir()
    (folder / "rules" / "sxtdbv-2024.toml").write_text("[call\n", encoding="utf-8")
    (folder / "replies").mkdir()


def test_in_a_checkout_the_defaults_are_the_top_level_folders_whatever_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _decoy(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert default_rules_path() == SEED_RULES
    assert templates_dir_default() == ROOT / "replies"
    assert shipped_folder("rules") == ROOT / "rules"


def test_a_config_without_rules_or_templates_uses_the_shipped_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    site.mkdir(), elsewhere.mkdir()
    _decoy(elsewhere)
    (site / "config.toml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(elsewhere)
    settings = load_settings(site / "config.toml")
    assert settings.rules.file == SEED_RULES
    assert settings.storage.dir == site / "var" and settings.mailbox.path == site / "var" / "mail"  # type: ignore[union-attr]


def test_a_rules_file_beside_the_config_wins_over_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    own = tmp_path / "rules" / "sxtdbv-2024.toml"
    own.write_text(SEED_RULES.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    assert load_settings(tmp_path / "config.toml").rules.file == own


def test_a_relative_rules_path_not_beside_the_config_falls_back_to_the_shipped_file_of_that_name(
    tmp_path: Path,
) -> None:
    (tmp_path / "config.toml").write_text(CONFIG + '\n[rules]\nfile = "calls/sxtdbv-2024.toml"\n', encoding="utf-8")
    assert load_settings(tmp_path / "config.toml").rules.file == SEED_RULES
