"""`mailbot check --connect`: can mailbot reach and log in to its mailbox and its SMTP server right now?

Nothing is read or sent. IMAP: connect, TLS, log in and select the folder (the same code the mailbox uses).
SMTP: connect, STARTTLS or SSL, EHLO and log in (the sender's own code), then QUIT. A Maildir or an
outbox folder: it exists and a file can be written in it (or it can be made). Each probe is one line.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mailbot.config import Settings

EX_UNAVAILABLE = getattr(os, "EX_UNAVAILABLE", 69)
EX_CANTCREAT = getattr(os, "EX_CANTCREAT", 73)
EX_NOPERM = getattr(os, "EX_NOPERM", 77)
_RETRY = re.compile(r"; retry in \d+s$")


@dataclass(frozen=True)
class Probe:
    """What was tried (`mailbox` or `smtp`), how it went in one line, and the exit code it calls for (0: works)."""

    key: str
    detail: str
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def line(self) -> str:
        return f"{self.key}: {'OK' if self.ok else 'FAILED'} — {self.detail}"


def probe_all(settings: Settings) -> list[Probe]:
    return [probe_mailbox(settings), probe_sender(settings)]


def exit_code(probes: list[Probe]) -> int:
    """0 when everything works, else the code of the first failure (the mailbox's before the SMTP server's)."""
    return next((p.exit_code for p in probes if not p.ok), 0)


def probe_mailbox(settings: Settings) -> Probe:
    box = settings.mailbox
    if box.kind == "maildir":
        return probe_folder("mailbox", "Maildir", box.path)
    if box.kind == "ews":
        return probe_ews(settings)
    if box.kind == "graph":
        return probe_graph("mailbox", settings)
    from mailbot.adapters.imap import ImapConnection, MailboxUnavailable
    from mailbot.adapters.oauth2 import AuthError
    from mailbot.adapters.tls import login_for

    where = f"IMAP {box.host}:{box.effective_port} ({box.security})"
    connection = ImapConnection(box, login_for(box, settings.source, "mailbox"))
    try:
        connection.connected()
    except AuthError as exc:
        return Probe("mailbox", f"{where}: login refused: {exc}", EX_NOPERM)
    except MailboxUnavailable as exc:
        return Probe("mailbox", f"{where}: {_RETRY.sub('', str(exc))}", EX_UNAVAILABLE)
    finally:
        connection.drop()
    return Probe("mailbox", f"{where}: logged in as {box.username}, folder {box.folder} selected")


def probe_sender(settings: Settings) -> Probe:
    smtp = settings.smtp
    if smtp.kind == "outbox":
        return probe_folder("smtp", "outbox folder", smtp.path)
    if smtp.kind == "ews":
        how = "SendAndSaveCopy" if smtp.save_copy else "SendOnly"
        return Probe("smtp", f"EWS through the [mailbox] account ({how}); nothing sent")
    if smtp.kind == "graph":
        return probe_graph("smtp", settings)
    from mailbot.adapters.oauth2 import AuthError
    from mailbot.adapters.smtp import SmtpSender
    from mailbot.adapters.tls import login_for

    where = f"SMTP {smtp.host}:{smtp.effective_port} ({smtp.security})"
    sender = SmtpSender(smtp, login_for(smtp, settings.source, "smtp"), envelope_from=settings.sender_address)
    try:
        client = sender._connect()
        try:
            client.ehlo_or_helo_if_needed()
            sender._log_in(client)
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):  # saying goodbye is a courtesy
                client.quit()
    except (smtplib.SMTPAuthenticationError, AuthError) as exc:
        return Probe("smtp", f"{where}: login refused: {_smtp_reason(exc)}", EX_NOPERM)
    except smtplib.SMTPNotSupportedError as exc:
        return Probe("smtp", f"{where}: cannot log in: {exc}", EX_NOPERM)
    except ssl.SSLCertVerificationError as exc:
        return Probe("smtp", f"{where}: TLS certificate rejected ({exc.verify_message or exc})", EX_UNAVAILABLE)
    except (OSError, smtplib.SMTPException) as exc:
        return Probe("smtp", f"{where}: unavailable: {_smtp_reason(exc)}", EX_UNAVAILABLE)
    who = f"logged in as {smtp.username}" if smtp.username else "no login configured"
    return Probe("smtp", f"{where}: EHLO accepted, {who}; nothing sent")


def probe_ews(settings: Settings) -> Probe:
    """Log in and open the intake folder and Sent Items (GetFolder): the same code the mailbox uses."""
    from mailbot.adapters.ews import EwsDisabled, EwsMailbox, EwsUnavailable
    from mailbot.adapters.oauth2 import AuthError

    box = settings.mailbox
    assert box.kind == "ews"
    where = f"EWS {box.service_endpoint} ({box.auth})"
    mailbox = EwsMailbox(box, box.password(settings.source), max_message_bytes=settings.limits.max_message_bytes)
    try:
        mailbox._run(lambda account: (mailbox._intake(account), account.sent))
    except AuthError as exc:
        return Probe("mailbox", f"{where}: login refused: {exc}", EX_NOPERM)
    except EwsDisabled as exc:
        return Probe("mailbox", f"{where}: {exc}", EX_NOPERM)
    except EwsUnavailable as exc:
        return Probe("mailbox", f"{where}: {exc}", EX_UNAVAILABLE)
    finally:
        mailbox.close()
    return Probe("mailbox", f"{where}: logged in as {box.username or 'the Kerberos ticket'}, folder {box.folder} open")


def probe_graph(key: str, settings: Settings) -> Probe:
    """A token from Entra and the folder found over Microsoft Graph (mailbot.adapters.graph)."""
    from mailbot.adapters.graph import check_connection
    from mailbot.adapters.oauth2 import AuthError
    from mailbot.errors import ServiceUnavailable

    assert settings.mailbox.kind == "graph"  # [smtp] kind = "graph" needs it (load_settings)
    try:
        return Probe(key, check_connection(settings.mailbox, settings.source, sending=key == "smtp"))
    except AuthError as exc:
        return Probe(key, f"Microsoft Graph: login refused: {exc}", EX_NOPERM)
    except ServiceUnavailable as exc:
        return Probe(key, f"Microsoft Graph: {exc}", EX_UNAVAILABLE)


def _smtp_reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text.splitlines()[0] if text else ''}".strip()
    return str(exc) or type(exc).__name__


def probe_folder(key: str, what: str, folder: Path) -> Probe:
    """A local folder works when a file can be written in it, or when it can be made (mailbot makes it)."""
    if folder.is_dir():
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            return Probe(key, f"{what} {folder}: cannot write: {exc.strerror or exc}", EX_CANTCREAT)
        return Probe(key, f"{what} {folder}: writable")
    parent = next((p for p in folder.parents if p.exists()), None)
    if folder.exists() or parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return Probe(key, f"{what} {folder}: not a folder, and cannot be made", EX_CANTCREAT)
    return Probe(key, f"{what} {folder}: not there yet; mailbot will make it")
