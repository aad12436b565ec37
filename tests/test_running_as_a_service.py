"""`mailbot run` as a service: scheduled cycles, heartbeat, graceful SIGTERM, one instance only;
`mailbot check` for admins; a damaged ledger stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mailbot.demo import demo_mails
from mailbot.scheduler import single_instance
from mailbot.validation.schema import Rules
from tests.mailflow import Workspace, make_workspace


def _start(space: Workspace, command: str = "run") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailbot", "--config", str(space.config), command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.1)


def test_run_processes_mail_touches_the_heartbeat_and_exits_0_on_sigterm(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    space.deliver(demo_mails(rules, "example.org")[:3])
    service = _start(space)
    try:
        _wait_for(tmp_path / "var" / "heartbeat")
        service.send_signal(signal.SIGTERM)
        _, stderr = service.communicate(timeout=60)
    finally:
        service.kill()
    assert service.returncode == 0, stderr
    assert len(space.export()["messages"]) == 3 and '"event": "stopped"' in stderr


def test_a_second_instance_is_refused_at_once_with_a_clear_error(tmp_path: Path) -> None:
    space = make_workspace(tmp_path)
    with single_instance(tmp_path / "var"):
        second = subprocess.run(
            [sys.executable, "-m", "mailbot", "--config", str(space.config), "once"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert second.returncode == 75
    assert "already running" in second.stderr


def test_check_accepts_the_example_configuration() -> None:
    from click.testing import CliRunner

    from mailbot.cli import main

    result = CliRunner().invoke(main, ["--config", "config.example.toml", "check"])
    assert result.exit_code == 0 and "OK" in result.output


def test_check_names_the_key_and_reason_of_a_bad_configuration(tmp_path: Path) -> None:
    space = make_workspace(tmp_path)
    text = space.config.read_text(encoding="utf-8").replace('kind = "outbox"', 'kind = "outbox"\nretries = 3')
    space.config.write_text(text, encoding="utf-8")
    result = space.cli("check")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("retries"))
    assert result.exit_code == 78
    assert f"config.toml:{line}" in result.output and "[smtp.retries]" in result.output
    assert "unknown key" in result.output


def test_a_damaged_ledger_is_refused_and_the_mailbox_is_not_touched(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    space.deliver(demo_mails(rules, "example.org")[:1])
    ledger = tmp_path / "var" / "ledger.sqlite3"
    ledger.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    result = space.cli("once")
    assert result.exit_code == 74 and "refusing to run" in result.output
    assert len(space.inbox()) == 1 and not space.outbox.exists()


def test_check_names_a_password_variable_that_is_not_set(tmp_path: Path, monkeypatch: Any) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[mailbox]\nkind = "imap"\nhost = "mail.example.org"\nusername = "bot@example.org"\n'
        'password_env = "MAILBOT_TEST_UNSET_PASSWORD"\n\n'
        '[smtp]\nkind = "outbox"\nfrom = "Vụ TKNL <nop-de-xuat@example.org>"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("MAILBOT_TEST_UNSET_PASSWORD", raising=False)
    from click.testing import CliRunner

    from mailbot.cli import main

    result = CliRunner().invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 78
    assert "mailbox.password_env" in result.output and "MAILBOT_TEST_UNSET_PASSWORD" in result.output


def test_the_imap_example_configuration_passes_check_with_its_secrets_set(monkeypatch: Any) -> None:
    from click.testing import CliRunner

    from mailbot.cli import main

    monkeypatch.setenv("MAILBOT_MAILBOX_PASSWORD", "x")
    monkeypatch.setenv("MAILBOT_SMTP_PASSWORD", "y")
    result = CliRunner().invoke(main, ["--config", "config.imap.example.toml", "check"])
    assert result.exit_code == 0, result.output
    assert "mailbox imap, replies via smtp" in result.output
