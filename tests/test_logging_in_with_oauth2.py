"""XOAUTH2 logins: an expired token is refreshed once; a refused refresh is a clear error with backoff,
never a tight loop. SMTP runs against the real aiosmtpd (with an XOAUTH2 mechanism); here the IMAP side drives
the adapter with a scripted client to count its attempts exactly. The same logins against the real Dovecot and its
oauth2 passdb are in tests/test_logging_in_to_dovecot_with_oauth2.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from imapclient.exceptions import LoginError

from mailbot.adapters.imap import ImapConnection, MailboxUnavailable
from mailbot.adapters.oauth2 import AuthError
from mailbot.adapters.smtp import SmtpSender
from mailbot.adapters.tls import Login
from mailbot.config import ImapMailbox
from mailbot.config import SmtpSender as SmtpSettings
from mailbot.ports import SendError
from tests.servers import Certificates, SmtpSink

USER = "nop-de-xuat@example.org"


class Tokens:
    """A token provider whose cached token has expired on the server side."""

    def __init__(self, cached: str, fresh: str | None) -> None:
        self.cached, self.fresh = cached, fresh
        self.refreshes = 0

    def token(self) -> str:
        return self.cached

    def refresh(self) -> str:
        self.refreshes += 1
        if self.fresh is None:
            raise AuthError("Microsoft sign-in refused: invalid_client")
        self.cached = self.fresh
        return self.fresh


def _smtp(sink: SmtpSink, ca: Certificates, tokens: Tokens) -> SmtpSender:
    settings = SmtpSettings.model_validate(
        {
            "kind": "smtp",
            "host": sink.host,
            "port": sink.port,
            "security": "starttls",
            "ca_file": str(ca.ca_file),
            "from": f"Vụ TKNL <{USER}>",
            "username": USER,
            "oauth2": {"provider": "google", "token_command": "unused"},
        }
    )
    return SmtpSender(settings, Login(USER, tokens=tokens), envelope_from=USER)


def test_smtp_refreshes_an_expired_token_once_and_sends(
    start_smtp_sink: Callable[..., SmtpSink], certificates: Certificates
) -> None:
    sink = start_smtp_sink(tls=True, auth={}, oauth_tokens={USER: "fresh-token"})
    tokens = Tokens("expired-token", "fresh-token")
    _smtp(sink, certificates, tokens).send("<mailbot.1@example.org>", "a@vien.example.vn", b"Subject: x\r\n\r\nbody")
    assert tokens.refreshes == 1 and sink.oauth_attempts == [(USER, False), (USER, True)]
    assert len(sink.received()) == 1


def test_smtp_with_a_refused_refresh_keeps_the_reply_for_later(
    start_smtp_sink: Callable[..., SmtpSink], certificates: Certificates
) -> None:
    sink = start_smtp_sink(tls=True, auth={}, oauth_tokens={USER: "fresh-token"})
    tokens = Tokens("expired-token", None)
    with pytest.raises(SendError) as refused:
        _smtp(sink, certificates, tokens).send("<mailbot.1@example.org>", "a@vien.example.vn", b"x")
    assert not refused.value.permanent and "invalid_client" in str(refused.value)
    assert tokens.refreshes == 1 and sink.received() == []


class ScriptedImap:
    """Stands in for IMAPClient where the test server cannot: accepts only `accepted` tokens."""

    made: ClassVar[list[ScriptedImap]] = []

    def __init__(self, host: str, **options: Any) -> None:
        self.logins: list[str] = []
        ScriptedImap.made.append(self)

    def oauth2_login(self, user: str, token: str) -> None:
        self.logins.append(token)
        if token != "fresh-token":
            raise LoginError("[AUTHENTICATIONFAILED] Invalid credentials")

    def select_folder(self, folder: str) -> dict[bytes, int]:
        return {b"UIDVALIDITY": 7}

    def shutdown(self) -> None:
        return None


def _imap(tokens: Tokens, tmp_path: Path) -> ImapConnection:
    settings = ImapMailbox.model_validate(
        {
            "kind": "imap",
            "host": "imap.example.org",
            "username": USER,
            "oauth2": {"provider": "google", "token_file": "t"},
        }
    )
    ScriptedImap.made.clear()
    return ImapConnection(settings, Login(USER, tokens=tokens), client_factory=ScriptedImap)


def test_imap_refreshes_an_expired_token_once_and_logs_in(tmp_path: Path) -> None:
    tokens = Tokens("expired-token", "fresh-token")
    connection = _imap(tokens, tmp_path)
    connection.connected()
    assert tokens.refreshes == 1 and ScriptedImap.made[0].logins == ["expired-token", "fresh-token"]
    assert connection.uidvalidity == 7


def test_imap_with_a_refused_login_backs_off_instead_of_retrying_at_once(tmp_path: Path) -> None:
    tokens = Tokens("expired-token", "also-refused")
    connection = _imap(tokens, tmp_path)
    with pytest.raises(AuthError, match="IMAP login refused"):
        connection.connected()
    with pytest.raises(MailboxUnavailable, match="next attempt in"):
        connection.connected()  # within the backoff: no new connection, no new login
    assert len(ScriptedImap.made) == 1 and tokens.refreshes == 1
