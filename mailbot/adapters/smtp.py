"""An SMTP server as the Sender (smtplib): TLS with a verifying context, password or XOAUTH2.

A temporary failure (4xx, a dropped or refused connection) raises a non-permanent SendError, so the
reply stays in the outbox and is retried with backoff; a permanent one (5xx) marks it failed.

Internationalised addresses (RFC 6531): the envelope carries domains as A-labels, so an IDN domain works
on any server. A local part that is not ASCII (or a reply with UTF-8 headers) needs SMTPUTF8: it is asked
for when the server offers it, and the reply fails permanently, saying so in Vietnamese, when it does not.
Nothing that cannot be encoded escapes as anything but a permanent SendError.

One connection (one STARTTLS, one login) serves many replies: it is kept between sends until `release()`, until
`max_messages_per_connection` replies went over it, or until a transaction fails in a way that leaves its state in
doubt (after a refused transaction it is kept if it answers RSET). Before a connection idle for
IDLE_CHECK_SECONDS is used again it is asked NOOP; one idle for IDLE_DROP_SECONDS is not trusted at all (servers
drop idle clients after 5 minutes or so, RFC 5321 4.5.3.2.7). A reused connection found dropped before the
transaction began (NOOP fails; the server is gone at MAIL FROM) is made again once and the reply sent over the new
one; a failure once DATA was sent is never retried here: the outbox decides (pending, uncertain), as before.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from collections.abc import Callable

from mailbot import addresses
from mailbot.adapters.oauth2 import AuthError, xoauth2_string
from mailbot.adapters.tls import Login, client_context
from mailbot.config import SmtpSender as SmtpSettings
from mailbot.logs import get_logger
from mailbot.ports import SendError

IDLE_CHECK_SECONDS = 10.0  # a kept connection idle this long is asked NOOP before it carries a reply
IDLE_DROP_SECONDS = 240.0  # and one idle this long is closed and made again, unasked
NOOP_TIMEOUT_SECONDS = 10.0  # how long a NOOP may take before the connection is taken for dead
OAUTH_HINT = " (the server refuses password login: configure [smtp.oauth2])"
NO_SMTPUTF8 = "máy chủ thư không hỗ trợ địa chỉ có dấu"  # "the mail server does not support accented addresses"


def _wire(address: str, role: str) -> str:
    try:
        return addresses.wire_address(address)
    except addresses.AddressError as exc:
        raise SendError(f"cannot send, the {role} address is not usable: {exc}", permanent=True) from exc


class _Envelope:
    """MAIL FROM and RCPT TO as they go on the wire, and whether they (or the headers) need SMTPUTF8."""

    def __init__(self, sender: str, recipient: str, raw: bytes) -> None:
        self.sender, self.recipient = _wire(sender, "MAIL FROM"), _wire(recipient, "RCPT TO")
        own = addresses.needs_smtputf8(sender) and not addresses.needs_smtputf8(recipient)
        self.shown = sender if own else recipient  # the address the officer must look at
        head = raw.partition(b"\r\n\r\n")[0]
        self.utf8 = not (self.sender.isascii() and self.recipient.isascii() and head.isascii())
        self.eight_bit = not raw.isascii()

    def mail_options(self, smtp: smtplib.SMTP) -> list[str]:
        """SMTPUTF8 (and BODY=8BITMIME) when needed; a permanent SendError when the server cannot take them."""
        if not self.utf8:
            return ["BODY=8BITMIME"] if self.eight_bit and smtp.has_extn("8bitmime") else []
        if not smtp.has_extn("smtputf8"):
            reason = f"{NO_SMTPUTF8}: {self.shown} (the server does not offer SMTPUTF8)"
            raise SendError(reason, permanent=True)
        return ["SMTPUTF8", "BODY=8BITMIME"] if smtp.has_extn("8bitmime") else ["SMTPUTF8"]


def _why(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    hint = OAUTH_HINT if "5.7.30" in text or "5.7.139" in text else ""
    return f"{exc.smtp_code} {text.splitlines()[0] if text else ''}{hint}"


class _Smtp(smtplib.SMTP):
    """smtplib's SMTP, remembering the last command it wrote (so a failure can be placed before or after DATA)."""

    last_command = ""

    def putcmd(self, cmd: str, args: str = "") -> None:
        self.last_command = cmd.lower()
        super().putcmd(cmd, args)


class _SmtpSsl(smtplib.SMTP_SSL):
    """smtplib's SMTP_SSL, remembering the last command it wrote."""

    last_command = ""

    def putcmd(self, cmd: str, args: str = "") -> None:
        self.last_command = cmd.lower()
        super().putcmd(cmd, args)


class _Dropped(Exception):
    """A kept connection turned out dead before the transaction began: make it again and send."""


class SmtpSender:
    def __init__(
        self,
        settings: SmtpSettings,
        login: Login,
        *,
        envelope_from: str,
        after_send: Callable[[bytes], None] | None = None,
    ) -> None:
        self.settings = settings
        self.login = login
        self.envelope_from = envelope_from
        self.after_send = after_send
        self.context = client_context(settings, "smtp") if settings.security != "none" else None
        if settings.security == "none":
            get_logger().warning("smtp_without_tls", host=settings.host)
        self.idle_check_seconds = IDLE_CHECK_SECONDS
        self.idle_drop_seconds = IDLE_DROP_SECONDS
        self._smtp: _Smtp | _SmtpSsl | None = None
        self._carried = 0  # replies handed over on the kept connection
        self._last_used = 0.0  # time.monotonic() of its last use
        self._lock = threading.Lock()  # one transaction at a time on the kept connection

    def _connect(self) -> _Smtp | _SmtpSsl:
        s = self.settings
        if s.security == "ssl":
            return _SmtpSsl(s.host, s.effective_port, timeout=s.timeout_seconds, context=self.context)
        smtp = _Smtp(s.host, s.effective_port, timeout=s.timeout_seconds)
        if s.security == "starttls":
            smtp.starttls(context=self.context)
            smtp.ehlo()  # SMTP.auth() (XOAUTH2) does not say EHLO again after STARTTLS by itself; login() does
        return smtp

    def _log_in(self, smtp: smtplib.SMTP) -> None:
        login = self.login
        if login.username is None or (login.password is None and login.tokens is None):
            return
        if login.tokens is None:
            assert login.password is not None
            smtp.login(login.username, login.password)
            return
        tokens, user = login.tokens, login.username
        try:
            smtp.auth("XOAUTH2", lambda _challenge=None: xoauth2_string(user, tokens.token()))
        except smtplib.SMTPAuthenticationError:
            smtp.auth("XOAUTH2", lambda _challenge=None: xoauth2_string(user, tokens.refresh()))

    def send(self, reply_id: str, recipient: str, raw: bytes) -> None:
        envelope = _Envelope(self.envelope_from, recipient, raw)
        try:
            with self._lock:
                self._deliver(envelope, raw)
        except AuthError as exc:  # a refused token refresh: a person must act; the reply waits, backing off
            raise SendError(f"SMTP login refused: {exc}", permanent=False) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            message = f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
            raise SendError(f"recipient refused: {message}", permanent=code >= 500) from exc
        except smtplib.SMTPResponseException as exc:
            raise SendError(f"SMTP {_why(exc)}", permanent=500 <= exc.smtp_code < 600) from exc
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or str(exc)
            message = f"TLS certificate of SMTP server {self.settings.host} rejected ({reason})"
            raise SendError(message, permanent=False) from exc
        except (OSError, smtplib.SMTPException) as exc:
            message = f"SMTP server {self.settings.host} unavailable: {exc}"
            raise SendError(message, permanent=False, server_down=isinstance(exc, OSError)) from exc
        if self.after_send is not None:
            self._copy_to_sent(reply_id, raw)

    def _deliver(self, envelope: _Envelope, raw: bytes) -> None:
        """One transaction over the kept connection (made if there is none), or over a new one, once, when the
        kept one turns out dropped before the transaction began."""
        smtp, reused = self._connection()
        try:
            self._transaction(smtp, envelope, raw, reused=reused)
        except _Dropped:
            get_logger().info("smtp_reconnected", host=self.settings.host, found_by="mail_from")
            smtp, _ = self._connection()
            self._transaction(smtp, envelope, raw, reused=False)

    def _connection(self) -> tuple[_Smtp | _SmtpSsl, bool]:
        """The kept connection (True), asked NOOP first when it was idle a while; else a new one, logged in."""
        smtp = self._smtp
        if smtp is not None:
            idle = time.monotonic() - self._last_used
            if idle >= self.idle_drop_seconds:
                self._drop()
            elif idle < self.idle_check_seconds or _answers(smtp, "noop"):
                return smtp, True
            else:
                get_logger().info("smtp_reconnected", host=self.settings.host, found_by="noop", idle_s=round(idle, 1))
                self._drop()
        smtp = self._connect()
        try:
            self._log_in(smtp)
        except BaseException:
            _close(smtp)
            raise
        self._smtp, self._carried, self._last_used = smtp, 0, time.monotonic()
        return smtp, False

    def _transaction(self, smtp: _Smtp | _SmtpSsl, envelope: _Envelope, raw: bytes, *, reused: bool) -> None:
        smtp.last_command = ""
        self._carried += 1  # a refused transaction counts toward the server's limit too
        try:
            self._hand_over(smtp, envelope, raw)
        except BaseException as exc:
            began_with = smtp.last_command
            self._after_failure(smtp)
            if reused and began_with == "mail" and _gone(exc):  # dropped before the transaction began
                raise _Dropped from exc
            raise
        finally:
            self._last_used = time.monotonic()
            if self._smtp is smtp and self._carried >= self.settings.max_messages_per_connection:
                self._release()

    def _after_failure(self, smtp: _Smtp | _SmtpSsl) -> None:
        """Keep the connection when nothing was written on it, or when it answers RSET; else close it."""
        if smtp.last_command and (smtp.sock is None or not _answers(smtp, "rset")):
            self._drop()

    def release(self) -> None:
        """Close the connection kept between sends (QUIT); the next send opens a new one."""
        with self._lock:
            self._release()

    def _release(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                _close(smtp)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            _close(smtp)

    @staticmethod
    def _hand_over(smtp: smtplib.SMTP, envelope: _Envelope, raw: bytes) -> None:
        smtp.ehlo_or_helo_if_needed()
        smtp.command_encoding = "ascii"  # smtplib leaves it "utf-8" after an SMTPUTF8 transaction on this connection
        options = envelope.mail_options(smtp)
        try:
            smtp.sendmail(envelope.sender, [envelope.recipient], raw, mail_options=options)
        except (UnicodeError, smtplib.SMTPNotSupportedError) as exc:  # no retry can encode it better
            message = f"the reply to {envelope.shown!r} cannot be encoded for SMTP: {exc}"
            raise SendError(message, permanent=True) from exc

    def _copy_to_sent(self, reply_id: str, raw: bytes) -> None:
        assert self.after_send is not None
        try:
            self.after_send(raw)
        except Exception as exc:  # the reply went out; a missing copy in Sent is worth a warning, not a resend
            get_logger().warning("copy_to_sent_failed", reply_id=reply_id, error=str(exc)[:300])

    def close(self) -> None:
        self.release()


def _answers(smtp: smtplib.SMTP, command: str) -> bool:
    """Whether the connection answers `command` (NOOP or RSET) with 250 within NOOP_TIMEOUT_SECONDS."""
    sock = smtp.sock
    if sock is None:
        return False
    timeout = sock.gettimeout()
    try:
        sock.settimeout(min(NOOP_TIMEOUT_SECONDS, timeout) if timeout else NOOP_TIMEOUT_SECONDS)
        code, _ = smtp.docmd(command)
        sock.settimeout(timeout)
    except (OSError, smtplib.SMTPException):
        return False
    return code == 250


def _gone(exc: BaseException) -> bool:
    """The server was not there (any more) when the command was written: disconnected, or 421 closing."""
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return exc.smtp_code == 421
    return isinstance(exc, smtplib.SMTPServerDisconnected)


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except OSError:
        return
