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
import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mailbot.adapters.graph_client import GraphClient, GraphRefused, GraphUnavailable, client_for, dropped
from mailbot.adapters.oauth2 import AuthError
from mailbot.config_graph import GraphMailbox as GraphSettings
from mailbot.logs import get_logger
from mailbot.ports import Fetched, SendError

SIZE_PROPERTY = "Integer 0x0E08"  # PidTagMessageSize: Graph v1.0 has no size property of its own
MAX_SENDMAIL_BASE64 = 4 * 1024 * 1024  # the request limit of sendMail; the raw MIME is 3/4 of it at most
MAX_HEADER_BYTES = 1_000_000  # what is kept of an oversized message: its header, up to this
WELL_KNOWN = {"inbox": "inbox", "junk email": "junkemail", "archive": "archive"}  # names that are localised
TOO_LARGE = "thư trả lời quá lớn để gửi qua Microsoft Graph"  # "the reply is too large to send over Microsoft Graph"


def _received(item: dict[str, Any]) -> dt.datetime:
    when = dt.datetime.fromisoformat(str(item["receivedDateTime"]).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _size(item: dict[str, Any]) -> int | None:
    for prop in item.get("singleValueExtendedProperties") or []:
        kind, _, tag = str(prop.get("id", "")).partition(" ")  # Graph answers "Integer 0xe08"
        if kind.lower() == "integer" and _hex(tag) == 0x0E08 and str(prop.get("value", "")).isdigit():
            return int(prop["value"])
    return None


def _hex(text: str) -> int | None:
    try:
        return int(text, 16)
    except ValueError:
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
            return Fetched(key, _header(raw), arrived, size=size, complete=False)
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
            raise dropped(str(response.url), exc) from None
        finally:
            response.close()
        raw = b"".join(chunks)
        return _header(raw) if header_only else raw

    def mark_done(self, key: str, *, quarantine: bool = False) -> str | None:
        """Move the message; its id as /move returns it (the same immutable id), None when it was already gone."""
        name = self.settings.quarantine_folder if quarantine else self.settings.processed_folder
        for _ in (1, 2):
            target = self.folder_id(name)
            response = self.client.request("POST", f"{self._message(key)}/move", json={"destinationId": target})
            if response.status_code != 404:
                moved = response.json().get("id") if response.content else None
                return str(moved) if moved else None
            self._folders.pop(name, None)  # the message is gone (done), or the folder was deleted: look again
            if self.folder_id(name) == target:
                return None
        return None

    def close(self) -> None:
        self.client.close()


def _header(raw: bytes) -> bytes:
    end = raw.find(b"\r\n\r\n")
    if end >= 0:
        return raw[: end + 4]
    end = raw.find(b"\n\n")
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

    def release(self) -> None:
        return None  # HTTPS requests through the client, which keeps (and renews) its own connections

    def close(self) -> None:
        self.client.close()


def sender_for(settings: GraphSettings, config_path: Path, mailbox: object) -> GraphSender:
    """The sender through the mailbox of [mailbox]; it shares the mailbox's tokens when that is a Graph one."""
    tokens = mailbox.client.tokens if isinstance(mailbox, GraphMailbox) else None
    return GraphSender(client_for(settings, config_path, tokens=tokens))


def check_connection(settings: GraphSettings, config_path: Path, *, sending: bool) -> str:
    """`check --connect`: a token, then the intake folder (or Sent Items) found; nothing is read or sent."""
    client = client_for(settings, config_path)
    try:
        folder = "sentitems" if sending else WELL_KNOWN.get(settings.folder.lower())
        if folder is None:
            GraphMailbox(client, max_message_bytes=1).folder_id(settings.folder, create=False)
        elif client.json("GET", f"{client.user}/mailFolders/{folder}", params={"$select": "id"}) is None:
            raise GraphUnavailable(f"no folder {folder} in {settings.address}")
    finally:
        client.close()
    what = (
        "Sent Items found; sendMail (Mail.Send) is not tried: nothing sent"
        if sending
        else (f"folder {settings.folder} found; nothing read")
    )
    return f"Microsoft Graph {urlsplit(settings.graph_url).netloc} as the app for {settings.address}: {what}"
