"""SMTP replies share one connection and one login, within a limit per connection; a connection the server dropped
is made again before the reply goes out, once; a refused reply leaves the connection to the next one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner

from mailbot.adapters.smtp import SmtpSender
from mailbot.adapters.tls import Login
from mailbot.cli import main
from mailbot.config import SmtpSender as SmtpSettings
from mailbot.ports import SendError
from tests.servers import Certificates, SmtpSink

USER, PASSWORD = "nop-de-xuat@example.org", "s3cret"
UNIT = "van-thu@vien.example.vn"


def _sender(sink: SmtpSink, ca: Certificates, security: str = "starttls", **settings: Any) -> SmtpSender:
    login = settings.pop("login", Login(USER, password=PASSWORD))
    values = {
        "kind": "smtp",
        "host": sink.host,
        "port": sink.port,
        "security": security,
        "ca_file": str(ca.ca_file),
        "from": USER,
        "username": USER,
        "password_env": "UNUSED",
    }
    return SmtpSender(SmtpSettings.model_validate(values | settings), login, envelope_from=USER)


def _reply(n: int) -> bytes:
    head = f"From: {USER}\r\nTo: {UNIT}\r\nSubject: reply {n}\r\nMessage-ID: <r.{n}@example.org>"
    return f"{head}\r\n\r\nbody {n}\r\n".encode()


def _send(sender: SmtpSender, *numbers: int) -> None:
    for n in numbers:
        sender.send(f"<r.{n}@example.org>", UNIT, _reply(n))


def _reconnections(logs: list[dict[str, Any]]) -> list[str]:
    return [entry["found_by"] for entry in logs if entry["event"] == "smtp_reconnected"]


def _subjects(sink: SmtpSink) -> list[str]:
    return [str(message["Subject"]) for message in sink.received()]


@pytest.fixture
def secure_sink(start_smtp_sink: Callable[..., SmtpSink]) -> SmtpSink:
    """STARTTLS, and a login required after it, as Microsoft 365 and Gmail ask."""
    return start_smtp_sink(tls=True, auth={USER: PASSWORD}, auth_require_tls=True)


def test_several_replies_go_over_one_connection_with_one_login(
    secure_sink: SmtpSink, certificates: Certificates
) -> None:
    before = secure_sink.connections
    sender = _sender(secure_sink, certificates)
    _send(sender, 1, 2, 3, 4, 5)
    sender.release()
    assert _subjects(secure_sink) == [f"reply {n}" for n in range(1, 6)]
    assert secure_sink.connections - before == 1
    assert secure_sink.logins == [USER] * 5


def test_a_connection_is_made_again_after_max_messages_per_connection(
    secure_sink: SmtpSink, certificates: Certificates
) -> None:
    before = secure_sink.connections
    sender = _sender(secure_sink, certificates, max_messages_per_connection=3)
    _send(sender, *range(1, 8))
    sender.close()
    assert len(secure_sink.received()) == 7
    assert secure_sink.connections - before == 3  # 3 + 3 + 1


def test_after_release_the_next_reply_opens_a_new_connection(secure_sink: SmtpSink, certificates: Certificates) -> None:
    before = secure_sink.connections
    sender = _sender(secure_sink, certificates)
    _send(sender, 1)
    sender.release()
    _send(sender, 2)
    sender.release()
    assert secure_sink.connections - before == 2 and len(secure_sink.received()) == 2


def test_a_connection_dropped_by_a_restarted_server_is_made_again_and_the_reply_goes_out_once(
    secure_sink: SmtpSink, certificates: Certificates
) -> None:
    sender = _sender(secure_sink, certificates)
    _send(sender, 1)
    secure_sink.stop()  # the kept connection is cut
    secure_sink.start()
    with structlog.testing.capture_logs() as logs:
        _send(sender, 2)  # found dropped at MAIL FROM, before anything of the reply was sent
    sender.release()
    assert _subjects(secure_sink) == ["reply 1", "reply 2"]
    assert _reconnections(logs) == ["mail_from"]


def test_an_idle_connection_the_server_dropped_is_found_by_noop_and_made_again(
    secure_sink: SmtpSink, certificates: Certificates
) -> None:
    sender = _sender(secure_sink, certificates)
    sender.idle_check_seconds = 0.0  # every reuse counts as after a pause
    _send(sender, 1)
    secure_sink.stop()
    secure_sink.start()
    before = secure_sink.connections
    with structlog.testing.capture_logs() as logs:
        _send(sender, 2)
    sender.release()
    assert _subjects(secure_sink) == ["reply 1", "reply 2"]
    assert secure_sink.connections - before == 1
    assert _reconnections(logs) == ["noop"]


def test_an_idle_connection_that_still_answers_noop_carries_the_next_reply(
    secure_sink: SmtpSink, certificates: Certificates
) -> None:
    before = secure_sink.connections
    sender = _sender(secure_sink, certificates)
    sender.idle_check_seconds = 0.0
    _send(sender, 1, 2, 3)
    sender.release()
    assert len(secure_sink.received()) == 3 and secure_sink.connections - before == 1


def test_a_connection_idle_past_the_drop_time_is_not_trusted(secure_sink: SmtpSink, certificates: Certificates) -> None:
    before = secure_sink.connections
    sender = _sender(secure_sink, certificates)
    sender.idle_drop_seconds = 0.0
    _send(sender, 1, 2)
    sender.release()
    assert len(secure_sink.received()) == 2 and secure_sink.connections - before == 2


def test_with_the_server_gone_a_kept_connection_gives_the_same_temporary_failure_as_before(
    secure_sink: SmtpSink, certificates: Certificates
) -> None:
    sender = _sender(secure_sink, certificates)
    _send(sender, 1)
    secure_sink.stop()
    with pytest.raises(SendError) as failed:
        _send(sender, 2)
    assert not failed.value.permanent and failed.value.server_down
    secure_sink.start()
    _send(sender, 3)
    sender.release()
    assert _subjects(secure_sink) == ["reply 1", "reply 3"]


def test_a_4xx_on_one_reply_leaves_the_next_one_sent_over_the_same_connection(
    secure_sink: SmtpSink, certificates: Certificates
) -> None:
    before = secure_sink.connections
    sender = _sender(secure_sink, certificates)
    secure_sink.fail_with = (451, "4.3.0 Temporary failure, try again later")
    with pytest.raises(SendError) as refused:
        _send(sender, 1)
    assert not refused.value.permanent and "451" in str(refused.value)
    secure_sink.fail_with = None
    _send(sender, 2)
    sender.release()
    assert _subjects(secure_sink) == ["reply 2"]
    assert secure_sink.attempts == 2  # refused after DATA, the reply is not tried again here: the outbox decides
    assert secure_sink.connections - before == 1


def test_a_5xx_recipient_refusal_leaves_the_next_reply_sent(start_smtp_sink: Callable[..., SmtpSink]) -> None:
    sink = start_smtp_sink()  # refuses MAIL … SMTPUTF8 and any non-ASCII command
    settings = SmtpSettings.model_validate(
        {"kind": "smtp", "host": sink.host, "port": sink.port, "security": "none", "from": USER}
    )
    sender = SmtpSender(settings, Login(None), envelope_from=USER)
    with pytest.raises(SendError) as refused:
        sender.send("<r.1@example.org>", "bad address@example.org", _reply(1))
    assert refused.value.permanent
    _send(sender, 2)
    sender.release()
    assert _subjects(sink) == ["reply 2"]


class _Tokens:
    def __init__(self) -> None:
        self.asked = 0

    def token(self) -> str:
        self.asked += 1
        return "the-token"

    def refresh(self) -> str:
        raise AssertionError("the token was accepted: no refresh")


def test_xoauth2_logs_in_once_for_several_replies(
    start_smtp_sink: Callable[..., SmtpSink], certificates: Certificates
) -> None:
    sink = start_smtp_sink(tls=True, auth={}, oauth_tokens={USER: "the-token"})
    tokens = _Tokens()
    oauth = {"oauth2": {"provider": "google", "token_command": "unused"}, "password_env": None}
    sender = _sender(sink, certificates, login=Login(USER, tokens=tokens), **oauth)
    _send(sender, 1, 2, 3)
    sender.release()
    assert len(sink.received()) == 3
    assert sink.oauth_attempts == [(USER, True)] and tokens.asked == 1


class _ImplicitTlsSink(SmtpSink):
    """The sink over implicit TLS (port 465 style) instead of STARTTLS."""

    def _smtp_options(self) -> dict[str, Any]:
        assert self.certificates is not None
        return super()._smtp_options() | {"ssl_context": self.certificates.server_context("good")}


def test_implicit_tls_keeps_one_connection_for_several_replies(tmp_path: Path, certificates: Certificates) -> None:
    sink = _ImplicitTlsSink(tmp_path / "smtps", certificates=certificates, auth={USER: PASSWORD}).start()
    try:
        before = sink.connections
        sender = _sender(sink, certificates, security="ssl")
        _send(sender, 1, 2, 3)
        sender.close()
        assert _subjects(sink) == ["reply 1", "reply 2", "reply 3"]
        assert sink.connections - before == 1 and sink.logins == [USER] * 3
    finally:
        sink.stop()


@pytest.mark.parametrize("value", ["0", "-1", '"many"'])
def test_a_bad_max_messages_per_connection_is_refused_naming_the_key(tmp_path: Path, value: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[mailbox]\nkind = "maildir"\n\n[smtp]\nkind = "smtp"\nhost = "smtp.example.org"\nfrom = "nop@example.org"\n'
        f"max_messages_per_connection = {value}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 78 and "[smtp.max_messages_per_connection]" in result.output
