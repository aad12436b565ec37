"""On-premises Exchange over EWS (exchangelib): the Mailbox and the Sender ports.

No autodiscover: the configured endpoint, delegate access always (exchangelib silently impersonates
otherwise), UTC, and the server version pinned when configured. Listing asks for ids, received times and
sizes only, oldest first, and pages through the whole folder before anything is moved. A message's MIME is
fetched alone, its size checked first; per-item errors come back as values (ErrorItemNotFound: vanished;
a MIME conversion failure: raised as MessageUnreadable, which the pipeline records and quarantines).
Keys are the item ids seen in the intake folder (moving changes an id; the new one is logged).

Faults: a retry policy whose HTTP 401 is final (exchangelib's FaultTolerance takes it for throttling and
retries for an hour), ErrorServerBusy's BackOffMilliseconds and Retry-After honoured up to BACKOFF_CEILING
seconds within one operation, HTTP 403 its own error (EWS is disabled for the mailbox), re-tried hourly,
TLS errors final, a dropped connection made again once. Every request has a timeout. exchangelib logs
request headers (Authorization) at DEBUG: its loggers are kept at INFO. There is no IDLE twin: mailbot polls
at [schedule] interval_seconds (streaming notifications were not built).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests.adapters
from exchangelib import BASIC, DELEGATE, GSSAPI, NTLM, UTC, Account, Build, Configuration, Credentials, Message, Version
from exchangelib import errors as ews_errors
from exchangelib.folders import SHALLOW, Folder
from exchangelib.folders.queryset import SingleFolderQuerySet
from exchangelib.properties import FolderId, ItemId
from exchangelib.protocol import BaseProtocol, FaultTolerance, Protocol
from exchangelib.services import CreateFolder

from mailbot.adapters.imap import Backoff
from mailbot.adapters.oauth2 import AuthError
from mailbot.config_exchange import EwsMailbox as EwsSettings
from mailbot.config_exchange import EwsSender as EwsSenderSettings
from mailbot.errors import MailbotError, ServiceUnavailable
from mailbot.logs import get_logger
from mailbot.ports import Fetched, SendError

T = TypeVar("T")
TIMEOUT = 60.0  # seconds, connect and read, for every request
BACKOFF_CEILING = 300.0  # seconds of server-requested waiting within one operation; more ends the batch
FORBIDDEN_RETRY = 3600.0  # EWS disabled (403): asked again after an hour, never in a tight loop
FORBIDDEN = "EWS is disabled for this mailbox: use IMAP or Graph"
VERSIONS = {
    "Exchange2013": Build(15, 0),
    "Exchange2013_SP1": Build(15, 0, 847),
    "Exchange2016": Build(15, 1),
    "Exchange2019": Build(15, 2),
}
AUTH = {"ntlm": NTLM, "basic": BASIC, "kerberos": GSSAPI}
GONE = (ews_errors.ErrorItemNotFound, ews_errors.ErrorInvalidIdMalformed)
UNREADABLE = (ews_errors.ErrorMimeContentConversionFailed, ews_errors.ErrorCorruptData, ews_errors.ErrorItemCorrupt)
NO_FOLDER = (ews_errors.ErrorFolderNotFound, ews_errors.ErrorToFolderNotFound)
TRANSIENT = (
    ews_errors.ErrorServerBusy,
    ews_errors.ErrorTimeoutExpired,
    ews_errors.ErrorInternalServerTransientError,
    ews_errors.ErrorInternalServerError,
    ews_errors.MalformedResponseError,
    ews_errors.SOAPError,
)

for _name in ("exchangelib", "requests_ntlm", "spnego"):  # exchangelib logs the Authorization header at DEBUG
    logging.getLogger(_name).setLevel(logging.INFO)


class EwsUnavailable(ServiceUnavailable):
    """The EWS server cannot be reached or used right now; the next attempt waits for the backoff."""


class EwsDisabled(EwsUnavailable):
    """HTTP 403: EWS is turned off for this mailbox (or the application)."""


class MessageUnreadable(MailbotError):
    """Exchange cannot give this message as MIME: the pipeline records it as failed and quarantines it."""


class _Forbidden(ews_errors.TransportError):  # type: ignore[misc] # exchangelib has no type information
    pass


class RetryPolicy(FaultTolerance):  # type: ignore[misc] # exchangelib has no type information
    """FaultTolerance with a final 401 and 403, and a ceiling on the waiting within one operation."""

    def __init__(self, ceiling: float = BACKOFF_CEILING) -> None:
        super().__init__(max_wait=ceiling)
        self.deadline: float | None = None

    def start(self) -> None:
        self.deadline = None
        self.back_off_until = None

    def back_off(self, seconds: float | None) -> None:
        wait = float(self.DEFAULT_BACKOFF if seconds is None else seconds)
        now = time.monotonic()
        self.deadline = self.deadline or now + self.max_wait
        if now + wait > self.deadline:
            raise ews_errors.RateLimitError("the server asks to wait longer than mailbot waits", wait=wait)
        super().back_off(wait)

    def raise_response_errors(self, response: Any) -> None:
        if response.status_code == 401:
            raise ews_errors.UnauthorizedError(f"HTTP 401: credentials refused by {response.url}")
        if response.status_code == 403:
            raise _Forbidden(f"HTTP 403 from {response.url}")
        super().raise_response_errors(response)


def _adapter_class(ca_file: Path | None) -> type[requests.adapters.HTTPAdapter]:
    """An HTTP adapter whose TLS context trusts the system's CAs and `ca_file` (exchangelib's adapter hook)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))

    class TrustingAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

    return TrustingAdapter


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


class EwsConnection:
    """One exchangelib Account, its retry policy, and mailbot's own backoff between attempts."""

    def __init__(self, settings: EwsSettings, password: str | None) -> None:
        self.settings = settings
        self.policy = RetryPolicy()
        self.backoff = Backoff()
        BaseProtocol.HTTP_ADAPTER_CLS = _adapter_class(settings.ca_file)  # process-wide: one EWS server per mailbot
        BaseProtocol.TIMEOUT = TIMEOUT
        if settings.auth == "kerberos":
            _needs_gssapi()
        version = VERSIONS[settings.version] if settings.version else None
        self.config = Configuration(
            service_endpoint=settings.service_endpoint,
            credentials=Credentials(settings.username, password) if password is not None else None,
            auth_type=AUTH[settings.auth],
            version=Version(build=version) if version else None,
            retry_policy=self.policy,
        )
        self._account: Account | None = None

    @property
    def account(self) -> Account:
        if self._account is None:  # makes no request
            with contextlib.suppress(KeyError):  # exchangelib caches protocols by endpoint and login: ours, our policy
                del Protocol[self.config]
            self._account = Account(
                self.settings.address,
                config=self.config,
                autodiscover=False,
                access_type=DELEGATE,
                default_timezone=UTC,
            )
        return self._account

    def run(self, operation: Callable[[Account], T]) -> T:
        """Run `operation(account)`; a dropped connection is tried once more, every failure says what to do."""
        host = self.settings.host
        wait = self.backoff.wait_left()
        if wait > 0:
            raise EwsUnavailable(f"EWS server {host} unavailable; next attempt in {wait:.0f}s at the earliest")
        for attempt in (1, 2):
            self.policy.start()
            try:
                result = operation(self.account)
            except ews_errors.ErrorTimeoutExpired as exc:  # a connection dropped, reset or timed out
                if attempt == 1:
                    get_logger().warning("ews_reconnecting", error=_first_line(exc))
                    continue
                raise self._unavailable(f"EWS server {host}: connection lost: {_first_line(exc)}") from exc
            except ews_errors.UnauthorizedError as exc:
                self.backoff.failed()
                who = self.settings.username
                raise AuthError(f"EWS login refused for {who} at {host}: {_first_line(exc)}") from exc
            except _Forbidden as exc:
                self.backoff.not_before = self.backoff.clock() + FORBIDDEN_RETRY
                raise EwsDisabled(f"{FORBIDDEN} ({host} answered HTTP 403); asked again in an hour") from exc
            except ews_errors.RateLimitError as exc:
                self.backoff.not_before = self.backoff.clock() + float(exc.wait)
                raise EwsUnavailable(f"EWS server {host} is busy and asks to wait {exc.wait:.0f}s") from exc
            except TRANSIENT as exc:
                raise self._unavailable(f"EWS server {host}: {type(exc).__name__}: {_first_line(exc)}") from exc
            except ews_errors.ResponseMessageError:
                raise  # the server refused this one request (a message too large, say): the caller decides
            except ews_errors.TransportError as exc:  # TLS above all: final, never retried in a loop
                raise self._unavailable(_transport_reason(host, exc)) from exc
            self.backoff.succeeded()
            return result
        raise AssertionError("unreachable")

    def _unavailable(self, reason: str) -> EwsUnavailable:
        delay = self.backoff.failed()
        return EwsUnavailable(f"{reason}; no new attempt for {delay:.0f}s (then at the next poll)")

    def close(self) -> None:
        if self._account is not None:
            self._account.protocol.close()
            with contextlib.suppress(KeyError):
                del Protocol[self.config]
            self._account = None


def _transport_reason(host: str, exc: BaseException) -> str:
    text = _first_line(exc)
    if "certificate" in text.lower() or "ssl" in text.lower():
        return f"TLS certificate of EWS server {host} rejected ({text}); not connecting"
    return f"EWS server {host}: {text}"


def _needs_gssapi() -> None:
    try:
        import requests_gssapi  # type: ignore[import-not-found] # noqa: F401 - only its presence matters
    except ImportError as exc:
        raise EwsUnavailable('auth = "kerberos" needs the requests_gssapi package (pip install it)') from exc


def _utc(value: dt.datetime) -> dt.datetime:
    return dt.datetime.fromtimestamp(value.timestamp(), dt.UTC)


class Folders:
    """The intake, processed and quarantine folders, resolved (or created) once and cached by id."""

    def __init__(self, settings: EwsSettings) -> None:
        self.settings = settings
        self.cache: dict[str, Any] = {}

    def get(self, account: Account, name: str) -> Any:
        if name not in self.cache:
            self.cache[name] = self._resolve(account, name)
        return self.cache[name]

    def forget(self) -> None:
        self.cache.clear()

    def _resolve(self, account: Account, name: str) -> Any:
        if name.lower() == "inbox":
            return account.inbox
        top = account.msg_folder_root
        found = self._child(account, top, name)
        if found is not None:
            return found
        if name == self.settings.folder:
            raise EwsUnavailable(f"the intake folder {name!r} does not exist in {self.settings.address}")
        try:
            created = CreateFolder(account=account).get(parent_folder=top, folders=[Folder(parent=top, name=name)])
        except ews_errors.ErrorFolderExists:  # made by a concurrent run a moment ago
            return self._child(account, top, name)
        get_logger().info("ews_folder_created", folder=name)
        return FolderId(id=created.id)

    @staticmethod
    def _child(account: Account, parent: Any, name: str) -> Any:
        query = SingleFolderQuerySet(account=account, folder=parent).depth(SHALLOW).only("name")
        match = next((f for f in query if not isinstance(f, Exception) and f.name == name), None)
        return None if match is None else FolderId(id=match.id)


class EwsMailbox:
    """The Mailbox port over EWS."""

    def __init__(self, settings: EwsSettings, password: str | None, *, max_message_bytes: int) -> None:
        self.settings = settings
        self.max_message_bytes = max_message_bytes
        self.connection = EwsConnection(settings, password)
        self.folders = Folders(settings)
        self.page_size = 100
        self._listed: dict[str, tuple[dt.datetime, int]] = {}

    def _run(self, operation: Callable[[Account], T]) -> T:
        try:
            return self.connection.run(operation)
        except ews_errors.EWSError as exc:  # refused by the server, not by this message: the batch stops
            raise EwsUnavailable(f"EWS server {self.settings.host}: {type(exc).__name__}: {_first_line(exc)}") from exc

    def _intake(self, account: Account) -> Any:
        for name in (self.settings.processed_folder, self.settings.quarantine_folder):
            self.folders.get(account, name)  # made at start-up, not at the first move
        folder = self.folders.get(account, self.settings.folder)
        return folder if not isinstance(folder, FolderId) else Folder(_id=folder, root=account.root)

    def list_new(self) -> list[str]:
        def listing(account: Account) -> list[str]:
            query = self._intake(account).filter().only("id", "changekey", "datetime_received", "size")
            query = query.order_by("datetime_received")
            query.page_size = self.page_size
            listed = [item for item in query if not isinstance(item, Exception)]  # all pages before any move
            self._listed = {i.id: (_utc(i.datetime_received), int(i.size or 0)) for i in listed}
            return [i.id for i in listed]

        return self._run(listing)

    def fetch(self, key: str) -> Fetched | None:
        def fetch(account: Account) -> Fetched | None:
            meta = self._listed.get(key) or self._meta(account, key)
            if meta is None:
                return None
            arrived, size = meta
            if size > self.max_message_bytes:
                head = self._one(account, key, "headers")
                return None if head is None else Fetched(key, _header_bytes(head), arrived, size=size, complete=False)
            item = self._one(account, key, "mime_content")
            return None if item is None else Fetched(key, bytes(item.mime_content), arrived, size=size)

        return self._run(fetch)

    def _meta(self, account: Account, key: str) -> tuple[dt.datetime, int] | None:
        item = self._one(account, key, "datetime_received", "size")
        return None if item is None else (_utc(item.datetime_received), int(item.size or 0))

    @staticmethod
    def _one(account: Account, key: str, *fields: str) -> Any:
        [item] = list(account.fetch(ids=[ItemId(id=key)], only_fields=list(fields)))
        if isinstance(item, GONE):
            return None  # moved or deleted by a person since it was listed
        if isinstance(item, UNREADABLE):
            raise MessageUnreadable(f"Exchange cannot give this message as MIME: {type(item).__name__}: {item}")
        if isinstance(item, Exception):
            raise item
        return item

    def mark_done(self, key: str, *, quarantine: bool = False) -> str | None:
        """Move the item; its new id (EWS gives a moved item a new one), None when it was already gone."""
        name = self.settings.quarantine_folder if quarantine else self.settings.processed_folder

        def move(account: Account) -> str | None:
            for attempt in (1, 2):
                try:
                    [moved] = list(account.bulk_move(ids=[ItemId(id=key)], to_folder=self.folders.get(account, name)))
                except NO_FOLDER:
                    moved = ews_errors.ErrorToFolderNotFound("gone")
                if isinstance(moved, NO_FOLDER) and attempt == 1:  # a person deleted the folder: made again
                    self.folders.forget()
                    continue
                break
            if isinstance(moved, GONE):
                return None  # already moved (by us before a crash, or by a person): done
            if isinstance(moved, Exception):
                raise EwsUnavailable(f"moving {key[:40]}… to {name} failed: {type(moved).__name__}: {moved}")
            self._listed.pop(key, None)
            get_logger().info("ews_moved", mailbox_key=key, folder=name, new_id=moved[0])
            return str(moved[0])

        return self._run(move)

    def close(self) -> None:
        self.connection.close()


def _header_bytes(item: Any) -> bytes:
    lines = [f"{h.name}: {h.value}" for h in item.headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")


class EwsSender:
    """The Sender port over EWS: the raw MIME through CreateItem, so our Message-ID and threading headers stay."""

    def __init__(self, settings: EwsSenderSettings, connection: EwsConnection) -> None:
        self.settings = settings
        self.connection = connection
        self._sent_folder: Any = None

    def send(self, reply_id: str, recipient: str, raw: bytes) -> None:
        try:
            self.connection.run(lambda account: self._send(account, reply_id, raw))
        except AuthError as exc:
            raise SendError(str(exc), permanent=False) from exc
        except EwsUnavailable as exc:
            raise SendError(str(exc), permanent=False, server_down=True) from exc
        except ews_errors.ResponseMessageError as exc:  # the server refused this message: size, recipients …
            raise SendError(f"EWS refused the reply: {type(exc).__name__}: {exc}", permanent=True) from exc

    def _send(self, account: Account, reply_id: str, raw: bytes) -> None:
        if not self.settings.save_copy:
            Message(account=account, mime_content=raw).send(save_copy=False)
            return
        if self._sent_folder is None:
            self._sent_folder = account.sent
        if self.already_sent(reply_id):
            get_logger().info("ews_reply_already_sent", reply_id=reply_id, note="found in Sent Items; not sent again")
            return
        Message(account=account, folder=self._sent_folder, mime_content=raw).send_and_save()

    def already_sent(self, reply_id: str) -> bool:
        """Is a message with this Message-ID in Sent Items (a reply handed over before a crash)?"""
        found = self._sent_folder.filter(message_id=reply_id).only("id")
        return any(not isinstance(item, Exception) for item in found)

    def release(self) -> None:
        return None  # the EWS session belongs to the connection the mailbox shares; nothing of the sender's

    def close(self) -> None:
        return None
