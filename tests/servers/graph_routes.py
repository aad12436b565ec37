"""The Graph resources of the test server (tests/servers/graph.py) under /users/{address}/."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from tests.servers.graph import MAX_REQUEST, Folder, Message

if TYPE_CHECKING:
    from tests.servers.graph import GraphHandler


class GraphRoutes:
    """The Graph resources under /users/{address}/, with the server's lock held."""

    def __init__(self, handler: GraphHandler, immutable: bool) -> None:
        self.h, self.immutable = handler, immutable
        self.state = handler.server.state
        self.applied = {"Preference-Applied": 'IdType="ImmutableId"'} if immutable else {}

    def route(self, method: str, parts: list[str], query: dict[str, str], body: bytes) -> None:
        match method, parts:
            case "GET", ["mailFolders", folder]:
                return self._folder(folder)
            case "GET", ["mailFolders", folder, "childFolders"]:
                return self._children(folder, query)
            case "POST", ["mailFolders", folder, "childFolders"]:
                return self._create_folder(folder, body)
            case "GET", ["mailFolders", folder, "messages"]:
                return self._list(folder, query)
            case "GET", ["messages", key]:
                return self._message(key, query)
            case "GET", ["messages", key, "$value"]:
                return self._mime(key)
            case "POST", ["messages", key, "move"]:
                return self._move(key, body)
            case "POST", ["sendMail"]:
                return self._send_mail(body)
        return self.h._error(400, "BadRequest", f"unsupported {method} {'/'.join(parts)}")

    def _find_folder(self, key: str) -> Folder | None:
        return next((f for f in self.state.folders.values() if key in (f.id, f.well_known)), None)

    def _find_message(self, key: str) -> Message | None:
        return next((m for m in self.state.messages.values() if key in (m.immutable_id, m.rest_id)), None)

    def _folder_json(self, folder: Folder) -> dict[str, Any]:
        return {"id": folder.id, "displayName": folder.name, "parentFolderId": folder.parent}

    def _message_json(self, message: Message, query: dict[str, str]) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": message.immutable_id if self.immutable else message.rest_id,
            "receivedDateTime": message.received.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "parentFolderId": message.folder,
            "internetMessageId": message.internet_message_id,
        }
        if "$select" in query:
            item = {k: v for k, v in item.items() if k in query["$select"].split(",") or k == "id"}
        if "0x0E08" in query.get("$expand", ""):
            item["singleValueExtendedProperties"] = [{"id": "Integer 0xe08", "value": str(len(message.mime))}]
        return item

    def _not_found(self) -> None:
        self.h._error(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def _folder(self, key: str) -> None:
        folder = self._find_folder(key)
        return self.h.reply(200, self._folder_json(folder)) if folder else self._not_found()

    def _children(self, key: str, query: dict[str, str]) -> None:
        parent = self._find_folder(key)
        if parent is None:
            return self._not_found()
        children = [f for f in self.state.folders.values() if f.parent == parent.id]
        wanted = query.get("$filter", "")
        if wanted:
            assert wanted.startswith("displayName eq '") and wanted.endswith("'"), wanted
            name = wanted[len("displayName eq '") : -1].replace("''", "'")
            children = [f for f in children if f.name.lower() == name.lower()]
        self.h.reply(200, {"value": [self._folder_json(f) for f in children]})

    def _create_folder(self, key: str, body: bytes) -> None:
        parent = self._find_folder(key)
        if parent is None:
            return self._not_found()
        name = str(json.loads(body)["displayName"])
        if any(f.parent == parent.id and f.name.lower() == name.lower() for f in self.state.folders.values()):
            return self.h._error(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        self.h.reply(201, self._folder_json(self.h.server._add_folder(name, parent.id)))

    def _list(self, key: str, query: dict[str, str]) -> None:
        folder = self._find_folder(key)
        if folder is None:
            return self._not_found()
        items = [m for m in self.state.messages.values() if m.folder == folder.id]
        if query.get("$orderby", "").startswith("receivedDateTime"):
            items.sort(key=lambda m: m.received, reverse=query["$orderby"].endswith(" desc"))
        wanted = query.get("$filter", "")
        if wanted:
            assert wanted.startswith("internetMessageId eq '") and wanted.endswith("'"), wanted
            items = [m for m in items if m.internet_message_id == wanted[len("internetMessageId eq '") : -1]]
        top, skip = min(int(query.get("$top", "10")), self.h.server.page_size_cap), int(query.get("$skip", "0"))
        page: dict[str, Any] = {"value": [self._message_json(m, query) for m in items[skip : skip + top]]}
        if skip + top < len(items):
            rest = {**query, "$skip": str(skip + top)}
            link = "&".join(f"{k}={quote(v, safe='')}" for k, v in rest.items())
            page["@odata.nextLink"] = f"{self.h.server.host}{urlsplit(self.h.path).path}?{link}"
        self.h.reply(200, page, self.applied)

    def _message(self, key: str, query: dict[str, str]) -> None:
        message = self._find_message(key)
        if message is None:
            return self._not_found()
        self.h.reply(200, self._message_json(message, query), self.applied)

    def _mime(self, key: str) -> None:
        message = self._find_message(key)
        return self.h.reply(200, message.mime) if message else self._not_found()

    def _move(self, key: str, body: bytes) -> None:
        message = self._find_message(key)
        target = self._find_folder(str(json.loads(body).get("destinationId", "")))
        if message is None or target is None:
            return self._not_found()
        if message.folder != target.id:
            message.folder = target.id
            message.rest_id = f"AAMkRest{next(self.h.server.ids):04d}="  # a REST id changes with every move
        self.h.reply(201, self._message_json(message, {}), self.applied)

    def _send_mail(self, body: bytes) -> None:
        if len(body) > MAX_REQUEST:
            return self.h._error(413, "ErrorRequestEntityTooLarge", "The request is larger than 4 MB.")
        if not self.h.headers.get("Content-Type", "").startswith("text/plain"):
            return self.h._error(400, "ErrorInvalidRequest", "Only JSON or base64 MIME in text/plain.")
        try:
            raw = base64.b64decode(body, validate=True)
        except binascii.Error:
            return self.h._error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
        self.h.server.deliver(raw, dt.datetime.now(dt.UTC), folder="sentitems")
        self.h.reply(202)
