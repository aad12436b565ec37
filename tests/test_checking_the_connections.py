"""`mailbot check --connect` logs in to the real mailbox and SMTP server, reads and sends nothing, and says
what works, one line each: exit 0 when both work, 69 when a server cannot be reached, 77 when a login is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from mailbot.cli import main
from tests.mailflow import make_workspace
from tests.servers import Certificates, Dovecot, SmtpSink

SMTP_USER, SMTP_PASSWORD = "sender@example.org", "smtp-secret"


def _configure(
    root: Path, ca: Certificates, imap: tuple[str, int, str, str], smtp: SmtpSink, smtp_password: str | None
) -> Path:
    host, port, user, password = imap
    (root / "imap.password").write_text(password, encoding="utf-8")
    (root / "smtp.password").write_text(smtp_password or "", encoding="utf-8")
    login = f'username = "{SMTP_USER}"\npassword_file = "smtp.password"\n' if smtp_password is not None else ""
    config = root / "config.toml"
    config.write_text(
        f'[mailbox]\nkind = "imap"\nhost = "{host}"\nport = {port}\nsecurity = "starttls"\nca_file = "{ca.ca_file}"\n'
        f'username = "{user}"\npassword_file = "imap.password"\ntimeout_seconds = 10\n\n'
        f'[smtp]\nkind = "smtp"\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "starttls"\n'
        f'ca_file = "{ca.ca_file}"\ntimeout_seconds = 10\nfrom = "Vụ TKNL <nop-de-xuat@example.org>"\n{login}',
        encoding="utf-8",
    )
    return config


def _check(config: Path) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), "check", "--connect"])


def _lines(result: Result, key: str) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(f"{key}: ")]


def test_both_servers_working_exits_0_and_nothing_is_sent(
    tmp_path: Path,
    dovecot: Dovecot,
    imap_user: tuple[str, str],
    start_smtp_sink: Callable[..., SmtpSink],
    certificates: Certificates,
) -> None:
    sink = start_smtp_sink(tls=True, auth={SMTP_USER: SMTP_PASSWORD}, auth_require_tls=True)
    config = _configure(tmp_path, certificates, (dovecot.host, dovecot.port, *imap_user), sink, SMTP_PASSWORD)
    result = _check(config)
    assert result.exit_code == 0, result.output
    [mailbox], [smtp] = _lines(result, "mailbox"), _lines(result, "smtp")
    assert mailbox.startswith("mailbox: OK") and f"logged in as {imap_user[0]}, folder INBOX selected" in mailbox
    assert smtp.startswith("smtp: OK") and f"logged in as {SMTP_USER}" in smtp
    assert sink.attempts == 0 and sink.files() == []  # logged in (a wrong password is refused, below), sent nothing
    assert dovecot.folder_uids("INBOX", user=imap_user[0]) == []


def test_a_wrong_imap_password_exits_77_and_names_the_mailbox(
    tmp_path: Path,
    dovecot: Dovecot,
    imap_user: tuple[str, str],
    start_smtp_sink: Callable[..., SmtpSink],
    certificates: Certificates,
) -> None:
    sink = start_smtp_sink(tls=True)
    config = _configure(tmp_path, certificates, (dovecot.host, dovecot.port, imap_user[0], "wrong"), sink, None)
    result = _check(config)
    assert result.exit_code == 77, result.output
    assert _lines(result, "mailbox")[0].startswith("mailbox: FAILED") and "login refused" in result.output
    assert _lines(result, "smtp")[0].startswith("smtp: OK") and "no login configured" in result.output


def test_a_wrong_smtp_password_exits_77(
    tmp_path: Path,
    dovecot: Dovecot,
    imap_user: tuple[str, str],
    start_smtp_sink: Callable[..., SmtpSink],
    certificates: Certificates,
) -> None:
    sink = start_smtp_sink(tls=True, auth={SMTP_USER: SMTP_PASSWORD})
    config = _configure(tmp_path, certificates, (dovecot.host, dovecot.port, *imap_user), sink, "wrong")
    result = _check(config)
    assert result.exit_code == 77, result.output
    [smtp] = _lines(result, "smtp")
    assert smtp.startswith("smtp: FAILED") and "login refused: 535" in smtp
    assert _lines(result, "mailbox")[0].startswith("mailbox: OK")


def test_a_stopped_smtp_server_exits_69(
    tmp_path: Path,
    dovecot: Dovecot,
    imap_user: tuple[str, str],
    start_smtp_sink: Callable[..., SmtpSink],
    certificates: Certificates,
) -> None:
    sink = start_smtp_sink(tls=True)
    sink.stop()
    config = _configure(tmp_path, certificates, (dovecot.host, dovecot.port, *imap_user), sink, None)
    result = _check(config)
    assert result.exit_code == 69, result.output
    [smtp] = _lines(result, "smtp")
    assert smtp.startswith(f"smtp: FAILED — SMTP {sink.host}:{sink.port} (starttls): unavailable")


def test_a_stopped_imap_server_exits_69(
    tmp_path: Path,
    private_dovecot: Dovecot,
    start_smtp_sink: Callable[..., SmtpSink],
    certificates: Certificates,
) -> None:
    sink = start_smtp_sink(tls=True)
    imap = (private_dovecot.host, private_dovecot.port, "bot", "secret")
    config = _configure(tmp_path, certificates, imap, sink, None)
    assert _check(config).exit_code == 0
    private_dovecot.stop()
    result = _check(config)
    assert result.exit_code == 69, result.output
    [mailbox] = _lines(result, "mailbox")
    assert mailbox.startswith("mailbox: FAILED") and "retry in" not in mailbox


def test_local_folders_are_checked_for_writing(tmp_path: Path) -> None:
    space = make_workspace(tmp_path)
    result = space.cli("check", "--connect")
    assert result.exit_code == 0, result.output
    assert "mailbox: OK — Maildir" in result.output and "smtp: OK — outbox folder" in result.output
    (tmp_path / "var").write_text("a file where the folders should be\n", encoding="utf-8")
    blocked = space.cli("check", "--connect")
    assert blocked.exit_code == 73 and "cannot be made" in blocked.output
