"""An SMTP server on loopback (aiosmtpd) that keeps every message it accepts, and the envelope it came in."""

from __future__ import annotations

import email
import email.policy
import threading
import warnings
from base64 import b64decode
from email.message import EmailMessage
from pathlib import Path
from typing import Any, NamedTuple

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.certs import Certificates
from tests.servers.common import (
    HOST,
    START_TIMEOUT,
    STOP_TIMEOUT,
    _running,
    free_port,
)


class Delivery(NamedTuple):
    """The envelope of one accepted message; compares equal to a plain (mail_from, rcpt_tos) tuple."""

    mail_from: str
    rcpt_tos: list[str]


class SmtpEnvelope(NamedTuple):
    """One accepted transaction as the client wrote it: the MAIL FROM and RCPT TO paths character for
    character (aiosmtpd's own `Delivery` addresses went through the email package, which decodes
    "=?…?=" even inside a quoted local part), and the MAIL and RCPT parameters (upper-cased by aiosmtpd)."""

    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    rcpt_options: list[str]
    smtputf8: bool


def _path(arg: str | None, keyword: str) -> str:
    """The path in a MAIL or RCPT argument as written: `FROM:<a@b> SIZE=1` → `a@b`."""
    text = (arg or "")[len(keyword) :].lstrip() if (arg or "").upper().startswith(keyword) else (arg or "")
    if not text.startswith("<"):
        return text.split(" ", 1)[0]
    quoted, escaped = False, False
    for n, ch in enumerate(text[1:], start=1):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ">" and not quoted:
            return text[1:n]
    return text[1:]


class _Paths:
    """The paths of the transaction under way on one connection."""

    def __init__(self, mail_from: str = "") -> None:
        self.mail_from = mail_from
        self.rcpt_tos: list[str] = []


class _RecordingSMTP(SMTP):
    """aiosmtpd's SMTP, also keeping each accepted MAIL FROM and RCPT TO path exactly as the client sent it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.paths = _Paths()

    def connection_made(self, transport: Any) -> None:
        sink = getattr(self.event_handler, "sink", None)
        if isinstance(sink, SmtpSink) and self._original_transport is None:  # not the TLS layer STARTTLS adds
            with sink._lock:
                sink.connections += 1
        super().connection_made(transport)

    async def smtp_MAIL(self, arg: str | None) -> None:
        before = self.envelope.mail_from
        await super().smtp_MAIL(arg)
        if before is None and self.envelope.mail_from is not None:
            self.paths = _Paths(_path(arg, "FROM:"))

    async def smtp_RCPT(self, arg: str | None) -> None:
        count = len(self.envelope.rcpt_tos)
        await super().smtp_RCPT(arg)
        if len(self.envelope.rcpt_tos) > count:
            self.paths.rcpt_tos.append(_path(arg, "TO:"))


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.sink.auth is None:
            return [line for line in responses if not line[4:].startswith("AUTH")]
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        paths = server.paths if isinstance(server, _RecordingSMTP) else _Paths()
        return self.sink._accept(session, envelope, paths)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """XOAUTH2 (RFC 7628 style, as Microsoft 365 and Gmail): accepted when the bearer token is the user's."""
        try:
            fields = dict(part.split("=", 1) for part in b64decode(args[1]).decode().split("\x01") if "=" in part)
        except (IndexError, ValueError):
            return AuthResult(success=False, handled=False, message="501 5.5.2 Cannot decode XOAUTH2")
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        accepted = (self.sink.oauth_tokens or {}).get(user) == token
        self.sink.oauth_attempts.append((user, accepted))
        if not accepted:
            return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")
        return AuthResult(success=True, auth_data=user)


class _Controller(Controller):
    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # AUTH without TLS is what the plain-text tests ask for; aiosmtpd warns about it on every connection
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
            return _RecordingSMTP(self.handler, **self.SMTP_kwargs)


class SmtpSink:
    """An SMTP server on loopback that keeps every message it accepts as `<directory>/<n:04d>.eml`."""

    host = HOST

    def __init__(
        self,
        directory: Path,
        *,
        certificates: Certificates | None = None,
        tls: bool = False,
        auth: dict[str, str] | None = None,
        auth_require_tls: bool = False,
        port: int | None = None,
        oauth_tokens: dict[str, str] | None = None,
        smtputf8: bool = False,
    ) -> None:
        """`tls`: offer STARTTLS (needs `certificates`, not required by the server). `auth`: AUTH PLAIN/LOGIN
        with these users, required before MAIL; `auth_require_tls`: advertise and accept AUTH only after
        STARTTLS. `smtputf8`: offer SMTPUTF8 (RFC 6531) and accept UTF-8 addresses; without it the server
        refuses MAIL ... SMTPUTF8 and any command that is not ASCII."""
        if tls and certificates is None:
            raise ValueError("tls=True needs the test certificates")
        if auth_require_tls and not tls:
            raise ValueError("auth_require_tls=True needs tls=True")
        self.directory = directory
        self.certificates = certificates
        self.tls = tls
        self.auth = auth
        self.auth_require_tls = auth_require_tls
        self.smtputf8 = smtputf8
        self.port = port or free_port()
        self.fail_with: tuple[int, str] | None = None
        self.oauth_tokens = oauth_tokens  # user -> the access token XOAUTH2 accepts (needs `auth`, may be {})
        self.oauth_attempts: list[tuple[str, bool]] = []
        self.attempts = 0
        self.envelopes: list[Delivery] = []
        self.smtp_envelopes: list[SmtpEnvelope] = []  # the same transactions, paths and options as sent
        self.logins: list[str | None] = []
        self.connections = 0  # connections accepted (each a greeting, and a login where auth is required)
        self._count = len(list(directory.glob("*.eml"))) if directory.exists() else 0
        self._lock = threading.Lock()
        self._controller: _Controller | None = None

    def start(self) -> SmtpSink:
        """Listen on `port` (the same one after a stop); bounded by aiosmtpd's ready timeout."""
        if self._controller is not None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        controller = _Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            ready_timeout=START_TIMEOUT,
            server_hostname="localhost",
            **self._smtp_options(),
        )
        controller.start()
        self._controller = controller
        _running.add(self)
        return self

    def stop(self) -> None:
        """Stop listening and drop open connections; bounded, idempotent."""
        controller, self._controller = self._controller, None
        _running.discard(self)
        if controller is None:
            return
        stopper = threading.Thread(target=controller.stop, daemon=True)
        stopper.start()
        stopper.join(STOP_TIMEOUT)
        if stopper.is_alive():
            raise RuntimeError(f"the SMTP sink on port {self.port} did not stop within {STOP_TIMEOUT:.0f} s")

    @property
    def running(self) -> bool:
        return self._controller is not None

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))

    def raw(self) -> list[bytes]:
        return [path.read_bytes() for path in self.files()]

    def received(self) -> list[EmailMessage]:
        """Every accepted message, parsed with `policy.default`, in the order received."""
        return [email.message_from_bytes(data, policy=email.policy.default) for data in self.raw()]

    def _smtp_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"auth_require_tls": self.auth_require_tls, "enable_SMTPUTF8": self.smtputf8}
        if self.tls:
            assert self.certificates is not None
            options["tls_context"] = self.certificates.server_context("good")
            options["require_starttls"] = False
        if self.auth is not None:
            options["authenticator"] = self._authenticate
            options["auth_required"] = True
        return options

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        users = self.auth or {}
        if mechanism not in ("PLAIN", "LOGIN") or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = data.login.decode("utf-8", "replace")
        ok = login in users and users[login].encode() == data.password
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    def _accept(self, session: Session, envelope: Envelope, paths: _Paths) -> str:
        with self._lock:
            self.attempts += 1
            if self.fail_with is not None:
                code, text = self.fail_with
                return f"{code} {text}"
            self._count += 1
            content = envelope.original_content or envelope.content or b""
            data = content if isinstance(content, bytes) else content.encode()
            (self.directory / f"{self._count:04d}.eml").write_bytes(data)
            self.envelopes.append(Delivery(str(envelope.mail_from), list(envelope.rcpt_tos)))
            options = list(envelope.mail_options), list(envelope.rcpt_options)
            seen = SmtpEnvelope(paths.mail_from, list(paths.rcpt_tos), *options, smtputf8=envelope.smtp_utf8)
            self.smtp_envelopes.append(seen)
            login = session.auth_data if isinstance(session.auth_data, str) else None
            self.logins.append(login)
        return "250 OK"
