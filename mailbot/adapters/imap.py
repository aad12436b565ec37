"""An IMAP mailbox (imapclient): TLS verified, timeouts on every socket, reconnect with backoff.

What is new is decided by the ledger (keys are "UIDVALIDITY/UID", plus Message-ID and SHA-256),
never by \\Seen or custom flags. Messages are fetched with BODY.PEEK[] (nothing is marked read), their
size checked first, and moved out of the inbox only when done: MOVE, else COPY + \\Deleted + UID
EXPUNGE with UIDPLUS, and never a bare EXPUNGE.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import random
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from mailbot.adapters.oauth2 import AuthError
from mailbot.adapters.tls import Login, client_context
from mailbot.config import ImapMailbox as ImapSettings
from mailbot.errors import ServiceUnavailable
from mailbot.logs import get_logger
from mailbot.ports import Fetched

T = TypeVar("T")
KEPT_BODIES, KEPT_BYTES = 4, 32_000_000  # bodies kept between the read-ahead's fetch and the message's turn
DELETED = b"\\Deleted"
SEEN = b"\\Seen"
#: What a dropped, reset, timed-out or refused connection raises.
CONNECTION_ERRORS = (OSError, socket.timeout, imaplib.IMAP4.abort, ssl.SSLError)


class MailboxUnavailable(ServiceUnavailable):
    """The IMAP server cannot be reached or used right now; the next attempt waits for the backoff."""


class Backoff:
    """Exponential backoff with jitter, on the monotonic clock (immune to clock jumps)."""

    def __init__(self, base: float = 2.0, cap: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.base, self.cap, self.clock = base, cap, clock
        self.failures = 0
        self.not_before = 0.0

    def failed(self) -> float:
        self.failures += 1
        delay: float = min(self.cap, self.base * 2.0 ** (self.failures - 1)) * random.uniform(0.5, 1.5)  # jitter
        self.not_before = self.clock() + delay
        return delay

    def succeeded(self) -> None:
        self.failures, self.not_before = 0, 0.0

    def wait_left(self) -> float:
        return max(0.0, self.not_before - self.clock())


class ImapConnection:
    """One logged-in connection with its folder selected, made again after a failure."""

    def __init__(self, settings: ImapSettings, login: Login, *, client_factory: Callable[..., Any] = IMAPClient):
        self.settings = settings
        self.login = login
        self.client_factory = client_factory
        self.context = client_context(settings, "imap") if settings.security != "none" else None
        self.client: Any = None
        self.uidvalidity = 0
        self.backoff = Backoff()
        if settings.security == "none":
            get_logger().warning("imap_without_tls", host=settings.host)

    def _open(self) -> Any:
        s = self.settings
        client = self.client_factory(
            s.host,
            port=s.effective_port,
            ssl=s.security == "ssl",
            ssl_context=self.context,
            timeout=s.timeout_seconds,
        )
        client.normalise_times = False  # INTERNALDATE with its zone, not local naive time
        if s.security == "starttls":
            client.starttls(self.context)
        self._log_in(client)
        return client

    def _log_in(self, client: Any) -> None:
        login = self.login
        if login.tokens is None:
            client.login(login.username, login.password)
            return
        try:
            client.oauth2_login(login.username, login.tokens.token())
        except LoginError as exc:
            if _temporary(exc):
                raise  # the server cannot check any token now: a new one would not help
            client.oauth2_login(login.username, login.tokens.refresh())  # an expired token: refreshed once

    def connected(self) -> Any:
        if self.client is not None:
            return self.client
        wait = self.backoff.wait_left()
        if wait > 0:
            raise MailboxUnavailable(
                f"IMAP server {self.settings.host} unavailable; next attempt in {wait:.0f}s at the earliest"
                " (the first poll after that)"
            )
        try:
            self.client = self._open()
            self.uidvalidity = int(self.client.select_folder(self.settings.folder)[b"UIDVALIDITY"])
        except LoginError as exc:
            delay = self._failed()
            if _temporary(exc):
                raise MailboxUnavailable(
                    f"IMAP server {self.settings.host} cannot check logins now ({_first_line(exc)});"
                    f" no new attempt for {delay:.0f}s (then at the next poll)"
                ) from exc
            raise AuthError(f"IMAP login refused for {self.login.username}: {_first_line(exc)}") from exc
        except ssl.SSLCertVerificationError as exc:
            delay = self._failed()
            reason = exc.verify_message or _first_line(exc)
            raise MailboxUnavailable(
                f"TLS certificate of IMAP server {self.settings.host} rejected ({reason}); not connecting;"
                f" no new attempt for {delay:.0f}s (then at the next poll)"
            ) from exc
        except (*CONNECTION_ERRORS, IMAPClientError) as exc:
            delay = self._failed()
            raise MailboxUnavailable(
                f"IMAP server {self.settings.host}: {_first_line(exc)};"
                f" no new attempt for {delay:.0f}s (then at the next poll)"
            ) from exc
        self.backoff.succeeded()
        return self.client

    def _failed(self) -> float:
        self.drop()
        return self.backoff.failed()

    def drop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):  # the connection is already broken; closing is best effort
                self.client.shutdown()
        self.client = None

    def run(self, operation: Callable[[Any], T]) -> T:
        """Run `operation(client)`; a broken connection is made again once (e.g. the server restarted)."""
        for attempt in (1, 2):
            client = self.connected()
            try:
                return operation(client)
            except CONNECTION_ERRORS as exc:
                self.drop()
                if attempt == 2:
                    delay = self.backoff.failed()
                    raise MailboxUnavailable(
                        f"IMAP connection lost: {_first_line(exc)};"
                        f" no new attempt for {delay:.0f}s (then at the next poll)"
                    ) from exc
                get_logger().warning("imap_reconnecting", error=_first_line(exc))
        raise AssertionError("unreachable")


def _temporary(exc: LoginError) -> bool:
    """NO [UNAVAILABLE] (RFC 5530): the server cannot authenticate anyone right now; the credentials may be fine."""
    return "[UNAVAILABLE]" in str(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def _plain_zone(moment: dt.datetime) -> dt.datetime:
    """INTERNALDATE in a standard `datetime.timezone` of the same offset: imapclient's own zone class cannot be
    rebuilt from a pickle (the receipt is drawn in a child process)."""
    offset = moment.utcoffset()
    return moment.replace(tzinfo=dt.timezone(offset)) if offset is not None else moment


class ImapMailbox:
    """The Mailbox port over IMAP."""

    def __init__(self, settings: ImapSettings, login: Login, *, max_message_bytes: int, **connection: Any) -> None:
        self.settings = settings
        self.max_message_bytes = max_message_bytes
        self.connection = ImapConnection(settings, login, **connection)
        self._folders_ready = False
        self._bodies: dict[str, bytes] = {}  # bodies fetched ahead (mailbot.readahead), taken on their turn

    def _ready(self, client: Any) -> Any:
        if not self._folders_ready:
            for name in (self.settings.processed_folder, self.settings.quarantine_folder):
                if not client.folder_exists(name):
                    client.create_folder(name)
                    get_logger().info("imap_folder_created", folder=name)
            self._folders_ready = True
        return client

    def list_new(self) -> list[str]:
        def search(client: Any) -> list[str]:
            self._ready(client)
            client.noop()  # take in what arrived since the folder was selected
            uids = sorted(client.search(["NOT", "DELETED"]))  # \Deleted ones were moved already (no UIDPLUS)
            return [f"{self.connection.uidvalidity}/{uid}" for uid in uids]

        return self.connection.run(search)

    def _uid(self, key: str) -> int | None:
        validity, _, uid = key.partition("/")
        return int(uid) if int(validity) == self.connection.uidvalidity else None

    def fetch(self, key: str) -> Fetched | None:
        def fetch(client: Any) -> tuple[Fetched, bool] | None:
            uid = self._uid(key)
            if uid is None:
                return None
            meta = client.fetch([uid], [b"RFC822.SIZE", b"INTERNALDATE"]).get(uid)
            if not meta:
                return None  # moved or deleted by a person since it was listed
            size, arrived = int(meta[b"RFC822.SIZE"]), _plain_zone(meta[b"INTERNALDATE"])
            kept = self._bodies.pop(key, None)
            if kept is not None and len(kept) == size:  # a UID's message never changes: still there, same bytes
                return Fetched(key, kept, arrived, size=size, complete=True), True
            if size > self.max_message_bytes:
                header = client.fetch([uid], [b"BODY.PEEK[HEADER]"]).get(uid, {}).get(b"BODY[HEADER]", b"")
                return Fetched(key, bytes(header), arrived, size=size, complete=False), False
            body = client.fetch([uid], [b"BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
            if body is None or len(body) != size:
                raise MailboxUnavailable(f"FETCH of {key} returned {'no body' if body is None else 'a short body'}")
            return Fetched(key, bytes(body), arrived, size=size), False

        found = self.connection.run(fetch)
        if found is None:
            return None
        fetched, taken = found
        if fetched.complete and not taken:
            self._keep(key, fetched.raw)
        return fetched

    def _keep(self, key: str, raw: bytes) -> None:
        """Keep the body a moment: the read-ahead fetches a message before its turn fetches it again, and then
        only its size and date are asked for (which also shows it is still there). At most KEPT_BYTES."""
        self._bodies[key] = raw
        while len(self._bodies) > KEPT_BODIES or sum(len(b) for b in self._bodies.values()) > KEPT_BYTES:
            self._bodies.pop(next(iter(self._bodies)))

    def mark_done(self, key: str, *, quarantine: bool = False) -> None:
        target = self.settings.quarantine_folder if quarantine else self.settings.processed_folder

        def move(client: Any) -> None:
            uid = self._uid(key)
            if uid is None:
                return
            self._ready(client)
            if client.has_capability("MOVE"):
                client.move([uid], target)
            elif client.has_capability("UIDPLUS"):
                client.copy([uid], target)
                client.add_flags([uid], [DELETED])
                client.uid_expunge([uid])
            else:  # no UIDPLUS: a bare EXPUNGE would also remove what others marked deleted
                client.copy([uid], target)
                client.add_flags([uid], [DELETED])
                get_logger().warning("imap_left_deleted", key=key, note="server lacks MOVE and UIDPLUS")

        self.connection.run(move)

    def append_sent(self, raw: bytes) -> None:
        """Keep a copy of a sent reply in the Sent folder (copy_to_sent)."""

        def append(client: Any) -> None:
            if not client.folder_exists(self.settings.sent_folder):
                client.create_folder(self.settings.sent_folder)
            client.append(self.settings.sent_folder, raw, flags=[SEEN])

        self.connection.run(append)

    def close(self) -> None:
        self.connection.drop()


class ImapWatcher:
    """Waits in IDLE on its own connection and says when the server announces new mail."""

    def __init__(self, settings: ImapSettings, login: Login, **connection: Any) -> None:
        self.connection = ImapConnection(settings, login, **connection)

    def wait(self, seconds: float, stop: Callable[[], bool]) -> bool:
        """IDLE for up to `seconds` (the caller renews it); True when new mail was announced."""

        def idle(client: Any) -> bool:
            if not client.has_capability("IDLE"):
                end = time.monotonic() + seconds
                while not stop() and time.monotonic() < end:
                    time.sleep(1)
                return False
            client.idle()
            try:
                end = time.monotonic() + seconds
                while not stop() and time.monotonic() < end:
                    for response in client.idle_check(timeout=min(5.0, max(0.1, end - time.monotonic()))):
                        if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                            return True
                return False
            finally:
                client.idle_done()

        return self.connection.run(idle)

    def close(self) -> None:
        self.connection.drop()
