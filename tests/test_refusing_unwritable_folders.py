"""A storage or tracker folder mailbot cannot write to stops a mail command at once: one line naming the folder,
exit 73 (EX_CANTCREAT), no traceback. The folders here sit under a regular file, which fails even for root."""

from __future__ import annotations

from pathlib import Path

from tests.mailflow import make_workspace


def _configure(root: Path, storage: str, tracker: str) -> None:
    text = (root / "config.toml").read_text(encoding="utf-8")
    text = text.replace('dir = "./var"', f'dir = "{storage}"').replace(
        'tracker = "./var/tracker.xlsx"', f'tracker = "{tracker}"'
    )
    (root / "config.toml").write_text(text, encoding="utf-8")


def test_a_storage_folder_that_cannot_be_made_exits_73_naming_it(tmp_path: Path) -> None:
    space = make_workspace(tmp_path)
    (tmp_path / "data").write_text("a file, not a folder\n", encoding="utf-8")
    _configure(tmp_path, "./data/var", "./data/var/tracker.xlsx")
    for command in ("once", "run"):
        result = space.cli(command)
        assert result.exit_code == 73, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"mailbot: cannot write to {tmp_path / 'data' / 'var'}: ")
        assert isinstance(result.exception, SystemExit)  # not an OSError escaping


def test_a_tracker_folder_that_cannot_be_written_exits_73_naming_it(tmp_path: Path) -> None:
    space = make_workspace(tmp_path)
    (tmp_path / "shared").write_text("a file, not a folder\n", encoding="utf-8")
    _configure(tmp_path, "./var", "./shared/tracker.xlsx")
    result = space.cli("once")
    assert result.exit_code == 73
    assert f"cannot write to {tmp_path / 'shared'}" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "var" / "ledger.sqlite3").exists()  # stopped before anything was opened
