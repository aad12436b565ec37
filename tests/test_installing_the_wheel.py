"""A normal install runs: the wheel, installed with pip into a fresh venv outside the checkout, works from anywhere.

This builds the wheel, makes a real venv in a temporary folder, installs the wheel and its dependencies
from the package index (pip's cache makes later runs quick), then runs the installed `mailbot` from an
unrelated folder. Nothing here may skip: a wheel that cannot be built or installed is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailbot.demo import deliver, demo_mails
from mailbot.validation.schema import Rules
from tests.conftest import ROOT

INSTALL_TIMEOUT = 900


def _env() -> dict[str, str]:
    """The environment of a user's shell: nothing pointing back into the checkout or its venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT)))
    return env


def _must(args: list[str], what: str, cwd: Path, timeout: float = INSTALL_TIMEOUT) -> str:
    try:
        done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: no result within {timeout}s ({' '.join(args)})", pytrace=False)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}", pytrace=False)
    return done.stdout


class Installed:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "venv" / "bin"
        self.elsewhere = root / "elsewhere"  # the folder commands run from: no rules/, no replies/, no config

    def mailbot(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "mailbot"), *args],
            cwd=self.elsewhere,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("installed")
    assert not root.resolve().is_relative_to(ROOT), "the venv must be outside the checkout"
    dist = root / "dist"
    _must(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        "building the wheel",
        root,
    )
    wheels = list(dist.glob("mailbot-*.whl"))
    assert len(wheels) == 1, wheels
    _must([sys.executable, "-m", "venv", str(root / "venv")], "making a venv", root, timeout=300)
    _must([str(root / "venv/bin/python"), "-m", "pip", "install", "-q", str(wheels[0])], "installing the wheel", root)
    space = Installed(root)
    space.elsewhere.mkdir()
    return space


def _no_traceback(run: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in run.stderr, run.stderr


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    where = _must(
        [str(installed.bin / "python"), "-c", "import mailbot; print(mailbot.__file__)"],
        "importing",
        installed.elsewhere,
    )
    assert Path(where.strip()).is_relative_to(installed.root / "venv")


def test_the_demo_runs_from_any_folder_and_answers_its_mail(installed: Installed) -> None:
    workspace = installed.root / "demo-space"
    run = installed.mailbot("demo", "--dir", str(workspace))
    assert run.returncode == 0, run.stderr
    _no_traceback(run)
    assert "Tracker workbook" in run.stdout
    assert len(list((workspace / "var" / "outbox").glob("*.eml"))) >= 5
    assert (workspace / "var" / "tracker.xlsx").stat().st_size > 0


def test_the_blank_templates_are_written_from_the_shipped_rules(installed: Installed) -> None:
    out = installed.root / "forms"
    run = installed.mailbot("template", "--out", str(out))
    assert run.returncode == 0, run.stderr
    written = sorted(p.suffix for p in out.iterdir())
    assert written == [".docx", ".xlsx"]


def test_the_example_configuration_copied_anywhere_answers_a_submission(installed: Installed, rules: Rules) -> None:
    site = installed.root / "site"
    site.mkdir()
    config = site / "config.toml"
    shutil.copy(ROOT / "config.example.toml", config)
    deliver(site / "var" / "mail", demo_mails(rules, "example.org")[:1])

    check = installed.mailbot("--config", str(config), "check")
    assert check.returncode == 0, check.stderr
    assert str(installed.root / "venv") in check.stdout  # the rules came from the installed package

    once = installed.mailbot("--config", str(config), "once")
    assert once.returncode == 0, once.stderr
    _no_traceback(once)
    assert "processed 1 message(s)" in once.stdout
    replies = list((site / "var" / "outbox").glob("*.eml"))
    assert len(replies) == 1 and b"SXTDBV-2024" in replies[0].read_bytes()
    assert (site / "var" / "tracker.xlsx").stat().st_size > 0
