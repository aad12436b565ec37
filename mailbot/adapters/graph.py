"""Exchange Online over Microsoft Graph (httpx, app-only tokens from msal): the Mailbox and the Sender ports.

Every request says `Prefer: IdType="ImmutableId"`, so a message keeps its id when it is moved within the
mailbox: the ledger's key is that id. What is new is decided by the ledger, never by isRead. The intake folder
is listed completely (following @odata.nextLink) before anything is moved; a message is fetched as MIME
(`/$value`), its size checked first and the download bounded; it is moved out with `/move` when done.

Replies go out with POST /users/{address}/sendMail as base64 MIME (our Message-ID, In-Reply-To and References
kept; Exchange saves the copy in Sent Items). 202 means accepted, not delivered. Before a reply is sent, Sent
Items is searched for its Message-ID: a reply interrupted after it was handed over is not sent twice.

Faults: 429/503 wait for Retry-After (up to `max_wait_seconds` in all per request, else the batch stops and the
next poll tries again); 401 gets one fresh token, then is a refused login (AuthError: exit 77, an alert);
403 is an AuthError naming the permissions and the application access policy; a dropped connection is
retried once (never a sendMail, which is checked against Sent Items at the next attempt instead).
Tokens and secrets never reach a log line or an exception message.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import functools
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mailbot.adapters.oauth2 import AuthError, MicrosoftClientCredentials, TokenProvider
from mailbot.config import read_secret
from mailbot.config_graph import AUTHORITY_HOST
from mailbot.config_graph import GraphMailbox as GraphSettings
from mailbot.errors import ServiceUnavailable
from mailbot.logs import get_logger
from mailbot.ports import Fetched, SendError

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PREFER = 'IdType="ImmutableId"'
SIZE_PROPERTY = "Integer 0x0E08"  # PidTagMessageSize: Graph v1.0 has no size property of its own
MAX_SENDMAIL_BASE64 = 4 * 1024 * 1024  # the request limit of sendMail; the raw MIME is 3/4 of it at most
MAX_HEADER_BYTES = 1_000_000  # what is kept of an oversized message: its header, up to this
THROTTLED = (429, 503)
WELL_KNOWN = {"inbox": "inbox", "junk email": "junkemail", "archive": "archive"}  # names that are localised
TOO_LARGE = "thư trả lời quá lớn để gửi qua Microsoft Graph"  # "the reply is too large to send over Microsoft Graph"
ACCESS_HINT = (
    "the Entra app needs the application permissions Mail.ReadWrite and Mail.Send with admin consent, and an"
    " application access policy (New-ApplicationAccessPolicy) that includes this mailbox"
)


class GraphUnavailable(ServiceUnavailable):
    """Microsoft Graph cannot be reached or used right now (throttled, down, a dropped connection)."""

    def __init__(self, message: str, *, server_down: bool = False) -> None:
        super().__init__(message)
        self.server_down = server_down


class GraphRefused(ServiceUnavailable):
    """A request Graph refused for a reason of its own (4xx other than 401/403/404/409/429)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class GraphAccessDenied(AuthError):
    """403: the app may not use this mailbox; a person must grant the permissions (never a tight loop)."""


def _error(response: httpx.Response) -> str:
    """ "ErrorItemNotFound: The specified object was not found in the store." from a Graph error body."""
    try:
        body = response.json()
        error = body.get("error", {}) if isinstance(body, dict) else {}
        text = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except ValueError:
        text = response.text
    lines = str(text or response.reason_phrase).strip().splitlines()
    return (lines[0] if lines else "")[:300]


def _retry_after(response: httpx.Response, attempt: int) -> float:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        with contextlib.suppress(TypeError, ValueError):  # not a date either: the default
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    return float(2**attempt)  # none given: 1, 2, 4 … seconds


class GraphClient:
    """One mailbox's requests: bearer token, Prefer ImmutableId, a timeout, Retry-After, one fresh token on 401."""

    def __init__(
        self,
        settings: GraphSettings,
        tokens: TokenProvider,
        *,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.Client | None = None,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.sleep = sleep
        self.http = http or httpx.Client(verify=_tls(settings.ca_file), timeout=settings.timeout_seconds)
        self.base = settings.graph_url
        self.user = f"{self.base}/users/{quote(settings.address)}"
        self._origin = urlsplit(self.base)[:2]

    def request(self, method: str, url: str, *, retry_dropped: bool = True, **options: Any) -> httpx.Response:
        """The response (2xx, 404 or 409, streamed when `stream=True`); anything else raises."""
        if urlsplit(url)[:2] != self._origin:  # a nextLink elsewhere would carry our token there
            raise GraphUnavailable(f"Graph pointed to another server: {urlsplit(url).netloc}")
        stream = options.pop("stream", False)
        waited, fresh, attempt = 0.0, False, 0
        while True:
            attempt += 1
            response = self._send(method, url, stream=stream, retry_dropped=retry_dropped, fresh=fresh, **options)
            status = response.status_code
            if status < 300 or status in (404, 409):
                return response
            response.read()
            response.close()
            if status == 401 and not fresh:
                fresh = True  # an expired or revoked token: one new one, then it is a refused login
                continue
            if status in THROTTLED:
                delay = _retry_after(response, attempt)
                if waited + delay > self.settings.max_wait_seconds or attempt > 5:
                    raise GraphUnavailable(f"Microsoft Graph throttled ({status}); retry after {delay:.0f} s")
                get_logger().warning("graph_throttled", status=status, retry_after=round(delay, 1))
                self.sleep(delay)
                waited += delay
                continue
            raise self._failure(response)

    def _send(
        self, method: str, url: str, *, stream: bool, retry_dropped: bool, fresh: bool, **options: Any
    ) -> httpx.Response:
        token = self.tokens.refresh() if fresh else self.tokens.token()
        headers = {"Authorization": f"Bearer {token}", "Prefer": PREFER, **options.pop("headers", {})}
        request = self.http.build_request(method, url, headers=headers, **options)
        for attempt in (1, 2):
            try:
                response: httpx.Response = self.http.send(request, stream=stream)
                return response
            except httpx.TransportError as exc:
                if attempt == 2 or not retry_dropped or isinstance(exc, httpx.ConnectError):
                    reason = f"{type(exc).__name__}: {exc}"[:300]
                    raise GraphUnavailable(
                        f"Microsoft Graph {urlsplit(url).netloc}: {reason}", server_down=True
                    ) from None
                get_logger().warning("graph_retrying", error=type(exc).__name__)
        raise AssertionError("unreachable")

    def _failure(self, response: httpx.Response) -> Exception:
        who = self.settings.address
        status, reason = response.status_code, _error(response)
        if status == 401:
            return AuthError(f"Microsoft Graph refused the app's token for {who}: {reason}")
        if status == 403:
            return GraphAccessDenied(f"Microsoft Graph denied access to {who} ({reason}): {ACCESS_HINT}")
        if status >= 500:
            return GraphUnavailable(f"Microsoft Graph error {status}: {reason}")
        return GraphRefused(f"Microsoft Graph refused the request ({status} {reason})", status)

    def json(self, method: str, url: str, **options: Any) -> dict[str, Any] | None:
        """The JSON body of a 2xx answer, None for a 404 (the item is not there)."""
        response = self.request(method, url, **options)
        if response.status_code == 404:
            return None
        if response.status_code == 409:
            raise GraphRefused(f"Microsoft Graph: conflict ({_error(response)})", 409)
        body = response.json() if response.content else {}
        return body if isinstance(body, dict) else {}

    def pages(self, url: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following @odata.nextLink to the end."""
        body = self.json("GET", url, params=params)
        while body is not None:
            yield from body.get("value", [])
            link = body.get("@odata.nextLink")
            body = self.json("GET", str(link)) if link else None

    def close(self) -> None:
        self.http.close()


def _dropped(url: str, exc: httpx.TransportError) -> GraphUnavailable:
    reason = f"{type(exc).__name__}: {exc}"[:300]
    return GraphUnavailable(f"Microsoft Graph {urlsplit(url).netloc}: {reason}", server_down=True)


def _tls(ca_file: Path | None) -> ssl.SSLContext:
    """The system's CAs, plus `ca_file` when set (not instead of them)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def client_for(settings: GraphSettings, config_path: Path, *, tokens: TokenProvider | None = None) -> GraphClient:
    """The client the settings describe; the secret is read now (a ConfigError names its key)."""
    if tokens is None:
        auth = settings.oauth2
        secret = read_secret(
            config_path, env=auth.client_secret_env, file=auth.client_secret_file, key="mailbox.oauth2.client_secret"
        )
        tokens = MicrosoftClientCredentials(
            tenant_id=auth.tenant_id,
            client_id=auth.client_id,
            client_secret=secret,
            scope=GRAPH_SCOPE,
            authority_host=auth.authority_host,
            app_factory=_msal_factory(settings),
        )
    return GraphClient(settings, tokens)


def _msal_factory(settings: GraphSettings) -> Callable[..., Any]:
    """msal on an httpx client of its own, with the same trust and timeout as Graph's."""
    import msal  # untyped (pyproject: ignore_missing_imports)

    http = httpx.Client(verify=_tls(settings.ca_file), timeout=settings.timeout_seconds)
    own_cloud = settings.oauth2.authority_host != AUTHORITY_HOST  # no instance discovery at Microsoft's
    return functools.partial(
        msal.ConfidentialClientApplication,
        http_client=http,
        validate_authority=not own_cloud,
        instance_discovery=not own_cloud,
    )


def _received(item: dict[str, Any]) -> dt.datetime:
    when = dt.datetime.fromisoformat(str(item["receivedDateTime"]).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _size(item: dict[str, Any]) -> int | None:
    for prop in item.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == SIZE_PROPERTY.lower() and str(prop.get("value", "")).isdigit():
            return int(prop["value"])
    return None


def _odata_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class GraphMailbox:
    """The Mailbox port over Microsoft Graph; keys are immutable message ids (case-sensitive)."""

    def __init__(self, client: GraphClient, *, max_message_bytes: int) -> None:
        self.client = client
        self.settings = client.settings
        self.max_message_bytes = max_message_bytes
        self._folders: dict[str, str] = {}  # name -> folder id (folder ids do not change)

    def folder_id(self, name: str, *, create: bool = True) -> str:
        """The folder's id: a well-known folder, or one of that display name under the top of the mailbox."""
        if name not in self._folders:
            self._folders[name] = self._resolve(name, create=create)
        return self._folders[name]

    def _resolve(self, name: str, *, create: bool) -> str:
        folders = f"{self.client.user}/mailFolders"
        well_known = WELL_KNOWN.get(name.lower())
        if well_known:
            found = self.client.json("GET", f"{folders}/{well_known}", params={"$select": "id"})
            if found is None:
                raise GraphUnavailable(f"the mailbox {self.settings.address} has no {name} folder")
            return str(found["id"])
        children = f"{folders}/msgfolderroot/childFolders"
        params = {"$filter": f"displayName eq {_odata_text(name)}", "$select": "id,displayName"}
        for _ in (1, 2):
            existing = next(self.client.pages(children, params), None)
            if existing is not None:
                return str(existing["id"])
            if not create:
                raise GraphUnavailable(f"the mailbox {self.settings.address} has no folder {name!r}")
            response = self.client.request("POST", children, json={"displayName": name})
            if response.status_code == 201 or response.status_code == 200:
                get_logger().info("graph_folder_created", folder=name)
                return str(response.json()["id"])
            # 409 ErrorFolderExists: made by someone else since we looked; look again
        raise GraphUnavailable(f"the folder {name!r} exists and cannot be found in {self.settings.address}")

    def list_new(self) -> list[str]:
        inbox = self.folder_id(self.settings.folder, create=False)
        for name in (self.settings.processed_folder, self.settings.quarantine_folder):
            self.folder_id(name)  # made now, before anything is moved
        url = f"{self.client.user}/mailFolders/{inbox}/messages"
        params = {"$select": "id,receivedDateTime", "$orderby": "receivedDateTime asc", "$top": "100"}
        return [str(item["id"]) for item in self.client.pages(url, params)]  # all pages first: nothing moves now

    def _message(self, key: str) -> str:
        return f"{self.client.user}/messages/{quote(key, safe='')}"

    def fetch(self, key: str) -> Fetched | None:
        params = {
            "$select": "id,receivedDateTime,parentFolderId",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{SIZE_PROPERTY}')",
        }
        item = self.client.json("GET", self._message(key), params=params)
        if item is None or item.get("parentFolderId") != self.folder_id(self.settings.folder, create=False):
            return None  # deleted, or moved out of the intake folder (by us or by a person)
        arrived, size = _received(item), _size(item)
        if size is not None and size > self.max_message_bytes:
            return Fetched(key, self._mime(key, header_only=True), arrived, size=size, complete=False)
        raw = self._mime(key, header_only=False)
        if raw is None:
            return None
        if len(raw) > self.max_message_bytes:  # the MIME outgrew the store's size (base64 adds a third)
            return Fetched(key, _header(raw), arrived, size=len(raw), complete=False)
        return Fetched(key, raw, arrived, size=len(raw))

    def _mime(self, key: str, *, header_only: bool) -> Any:
        """The message's MIME, stopped after its header, or after max_message_bytes + 1 (then cut by the caller)."""
        limit = MAX_HEADER_BYTES if header_only else self.max_message_bytes + 1
        response = self.client.request("GET", f"{self._message(key)}/$value", stream=True)
        try:
            if response.status_code == 404:
                return None
            chunks, total = [], 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                total += len(chunk)
                if total >= limit or (header_only and b"\r\n\r\n" in b"".join(chunks[-2:])):
                    break
        except httpx.TransportError as exc:  # dropped while the body came: nothing is blamed on the message
            raise _dropped(str(response.url), exc) from None
        finally:
            response.close()
        raw = b"".join(chunks)
        return _header(raw) if header_only else raw

    def mark_done(self, key: str, *, quarantine: bool = False) -> None:
        name = self.settings.quarantine_folder if quarantine else self.settings.processed_folder
        for _ in (1, 2):
            target = self.folder_id(name)
            response = self.client.request("POST", f"{self._message(key)}/move", json={"destinationId": target})
            if response.status_code != 404:
                return
            self._folders.pop(name, None)  # the message is gone (done), or the folder was deleted: look again
            if self.folder_id(name) == target:
                return

    def close(self) -> None:
        self.client.close()


def _header(raw: bytes) -> bytes:
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    return raw[: end + 2] if end >= 0 else raw[:MAX_HEADER_BYTES]


class GraphSender:
    """The Sender port: sendMail through the mailbox, after a look in Sent Items for the same Message-ID."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client

    def send(self, reply_id: str, recipient: str, raw: bytes) -> None:
        body = base64.b64encode(raw)
        if len(body) > MAX_SENDMAIL_BASE64:
            raise SendError(
                f"{TOO_LARGE}: {len(raw) / 1e6:.1f} MB, tối đa khoảng 3 MB (the reply is {len(raw)} bytes of MIME;"
                " Microsoft Graph sendMail takes about 3 MB at most)",
                permanent=True,
            )
        try:
            if self.already_sent(reply_id):
                get_logger().info("reply_found_in_sent_items", reply_id=reply_id)
                return
            response = self.client.request(
                "POST",
                f"{self.client.user}/sendMail",
                content=body,
                headers={"Content-Type": "text/plain"},
                retry_dropped=False,  # it may have gone out: the next attempt looks in Sent Items first
            )
        except GraphRefused as exc:
            raise SendError(f"Microsoft Graph refused the reply to {recipient}: {exc}", permanent=True) from exc
        except GraphUnavailable as exc:
            raise SendError(str(exc), permanent=False, server_down=exc.server_down) from exc
        except AuthError as exc:  # the pipeline sees the cause: the login was refused, the reply waits
            raise SendError(f"Microsoft Graph login refused: {exc}", permanent=False) from exc
        if response.status_code != 202:
            raise SendError(f"Microsoft Graph sendMail answered {response.status_code}", permanent=False)

    def already_sent(self, reply_id: str) -> bool:
        """Whether Sent Items holds a message with this Message-ID (a reply handed over before a crash)."""
        url = f"{self.client.user}/mailFolders/sentitems/messages"
        params = {"$filter": f"internetMessageId eq {_odata_text(reply_id)}", "$select": "id", "$top": "1"}
        found = self.client.json("GET", url, params=params)
        return bool(found and found.get("value"))

    def close(self) -> None:
        self.client.close()
