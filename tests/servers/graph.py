"""A Microsoft Graph mail server and its Entra token endpoint, on loopback over HTTPS (the tests' CA).

It speaks the part of Graph v1.0 mailbot uses, with Microsoft's documented semantics: immutable ids that
survive a move when the request says `Prefer: IdType="ImmutableId"` (a new REST id otherwise), folders by
well-known name or id, childFolders with a displayName $filter and ErrorFolderExists (409), messages listed
with $select/$orderby/$top and @odata.nextLink ($skip) paging, the size as PidTagMessageSize
(singleValueExtendedProperties), MIME from /$value, /move answering 201 with the moved message, sendMail
taking base64 MIME as text/plain (202, the copy kept in Sent Items with its internetMessageId), and the
client credentials grant of one tenant (OpenID configuration + token endpoint).

Faults are injected: any status with Retry-After for the next requests matching a path, a connection
dropped without an answer, every token refused (401), access denied (403), the token endpoint refusing.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import io
import itertools
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.servers.certs import Certificates
from tests.servers.common import HOST, _running

TENANT = "tenant-graph"
CLIENT_ID = "client-graph"
MAX_REQUEST = 4 * 1024 * 1024
WELL_KNOWN = ("msgfolderroot", "inbox", "sentitems", "drafts", "deleteditems", "junkemail", "archive")


@dataclass
class Folder:
    id: str
    name: str
    parent: str | None
    well_known: str | None = None


@dataclass
class Message:
    immutable_id: str
    rest_id: str
    folder: str
    mime: bytes
    received: dt.datetime

    @property
    def internet_message_id(self) -> str:
        head = email.message_from_bytes(self.mime.partition(b"\r\n\r\n")[0] + b"\r\n\r\n")
        return str(head.get("Message-ID", "")).strip()


DROP, LOSE_ANSWER, CUT = 0, -1, -2  # fault statuses: drop unanswered; work, then drop; drop halfway through the body


@dataclass
class Fault:
    status: int  # an HTTP status, DROP or LOSE_ANSWER
    times: int
    path: str = ""  # only requests whose path contains this
    retry_after: str | None = None
    method: str = ""
    then: Callable[[], None] | None = None  # run when the fault fires, before the answer (a concurrent change)
    code: str = "ErrorInjected"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class _State:
    folders: dict[str, Folder] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    token_posts: list[dict[str, list[str]]] = field(default_factory=list)


class GraphServer(http.server.ThreadingHTTPServer):
    """One tenant and one mailbox (`address`), client `CLIENT_ID` with `secret`; start() and stop()."""

    daemon_threads = True

    def __init__(
        self, certificates: Certificates, *, address: str = "nop-de-xuat@example.org", secret: str = "graph-secret"
    ) -> None:
        super().__init__((HOST, 0), GraphHandler)
        self.socket = certificates.server_context().wrap_socket(self.socket, server_side=True)
        self.address, self.secret = address, secret
        self.state = _State()
        self.lock = threading.RLock()
        self.ids = itertools.count(1)
        self.refuse_tokens = False  # every bearer token is refused (401), even a fresh one
        self.deny = False  # 403 ErrorAccessDenied, as an application access policy that leaves the mailbox out
        self.entra_refuses = False  # the token endpoint answers invalid_client
        self.page_size_cap = 100
        self._thread: threading.Thread | None = None
        root = self._add_folder("Top of Information Store", None, "msgfolderroot")
        self._add_folder("Hộp thư đến", root.id, "inbox")  # the mailbox's language: the name is not the key
        self._add_folder("Mục đã gửi", root.id, "sentitems")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that closes a streamed answer early (as mailbot does past the size limit) is no error."""

    # --- what tests use ------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"https://{HOST}:{self.server_address[1]}"

    @property
    def graph_url(self) -> str:
        return f"{self.host}/v1.0"

    def start(self) -> GraphServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        _running.add(self)
        return self

    def stop(self) -> None:
        _running.discard(self)
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def deliver(self, raw: bytes, at: dt.datetime, folder: str = "inbox") -> str:
        """A message arrives in a folder (well-known name or display name); its immutable id."""
        with self.lock:
            n = next(self.ids)
            message = Message(f"AAkALgImm{n:04d}=", f"AAMkRest{n:04d}=", self.folder(folder).id, raw, at)
            self.state.messages[message.immutable_id] = message
            return message.immutable_id

    def folder(self, name: str) -> Folder:
        with self.lock:
            for f in self.state.folders.values():
                if name in (f.id, f.well_known) or f.name.lower() == name.lower():
                    return f
        raise KeyError(name)

    def in_folder(self, name: str) -> list[Message]:
        try:
            wanted = self.folder(name).id
        except KeyError:
            return []
        with self.lock:
            return sorted((m for m in self.state.messages.values() if m.folder == wanted), key=lambda m: m.received)

    def sent(self) -> list[EmailMessage]:
        """What sendMail took, in order, parsed (the copies in Sent Items)."""
        return [
            email.message_from_bytes(m.mime, policy=email.policy.default)  # type: ignore[misc]
            for m in self.in_folder("sentitems")
        ]

    def delete_folder(self, name: str) -> None:
        """A person deletes a folder with what is in it."""
        with self.lock:
            gone = self.folder(name).id
            del self.state.folders[gone]
            self.state.messages = {k: m for k, m in self.state.messages.items() if m.folder != gone}

    def remove(self, immutable_id: str) -> None:
        with self.lock:
            del self.state.messages[immutable_id]

    def fail(self, status: int, *, times: int = 1, path: str = "", method: str = "", **options: Any) -> None:
        """The next `times` requests whose path contains `path` get `status` (DROP, LOSE_ANSWER or an HTTP status);
        options: `retry_after`, `code` (the Graph error code), `then` (a change made as the fault fires)."""
        with self.lock:
            self.state.faults.append(Fault(status, times, path, method=method, **options))

    def add_folder(self, name: str, under: str = "msgfolderroot") -> str:
        """A person (or another client) makes a folder; its id."""
        with self.lock:
            return self._add_folder(name, self.folder(under).id).id

    def expire_tokens(self) -> None:
        """Every token handed out so far is no longer valid (as after a revocation or a key roll-over)."""
        with self.lock:
            self.state.tokens.clear()

    @property
    def requests(self) -> list[Seen]:
        with self.lock:
            return list(self.state.requests)

    @property
    def token_posts(self) -> list[dict[str, list[str]]]:
        with self.lock:
            return list(self.state.token_posts)

    # --- state -----------------------------------------------------------------------------------------

    def _add_folder(self, name: str, parent: str | None, well_known: str | None = None) -> Folder:
        folder = Folder(f"AAMkFolder{next(self.ids):04d}", name, parent, well_known)
        self.state.folders[folder.id] = folder
        return folder

    def _fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.state.faults:
                if fault.path in path and fault.method in ("", method) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


class GraphHandler(http.server.BaseHTTPRequestHandler):
    server: GraphServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    # --- plumbing ------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        path, query = unquote(url.path), {k: v[0] for k, v in parse_qs(url.query).items()}
        if path.startswith(f"/{TENANT}/"):
            return self._entra(method, path, body)
        seen = Seen(method, path, {k.lower(): v for k, v in self.headers.items()}, body)
        with self.server.lock:
            self.server.state.requests.append(seen)
        fault = self.server._fault(method, path)
        if fault is not None and fault.then is not None:
            fault.then()
        if fault is not None and fault.status == DROP:
            return self._drop()
        if fault is not None and fault.status not in (LOSE_ANSWER, CUT):
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return self._error(fault.status, fault.code, f"injected {fault.status}", headers)
        if fault is not None:  # the request is carried out, but its answer (or its second half) never arrives
            real, self.wfile = self.wfile, io.BytesIO()
            self._serve(method, path, query, body)
            if fault.status == CUT:
                answer = self.wfile.getvalue()  # type: ignore[attr-defined]  # the BytesIO put there above
                real.write(answer[: len(answer) // 2])
                real.flush()
            return self._drop()
        return self._serve(method, path, query, body)

    def _drop(self) -> None:
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _serve(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        if self.headers.get("Authorization", "").removeprefix("Bearer ") not in self.server.state.tokens:
            return self._error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        if self.server.refuse_tokens:
            return self._error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        prefix = f"/v1.0/users/{self.server.address}/"
        if self.server.deny or not path.lower().startswith(prefix.lower()):
            return self._error(403, "ErrorAccessDenied", "Access to OData is disabled: application access policy.")
        immutable = 'IdType="ImmutableId"' in self.headers.get("Prefer", "")
        with self.server.lock:
            from tests.servers.graph_routes import GraphRoutes  # it builds on the classes here

            return GraphRoutes(self, immutable).route(method, path[len(prefix) :].split("/"), query, body)

    def reply(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        kind = "application/json" if not isinstance(payload, bytes) else "text/plain"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.reply(status, {"error": {"code": code, "message": message}}, headers)

    # --- Entra -------------------------------------------------------------------------------------------------

    def _entra(self, method: str, path: str, body: bytes) -> None:
        base = f"{self.server.host}/{TENANT}"
        if method == "GET" and path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            endpoints = {"authorization_endpoint": f"{base}/oauth2/v2.0/authorize", "issuer": f"{base}/v2.0"}
            return self.reply(200, {**endpoints, "token_endpoint": f"{base}/oauth2/v2.0/token"})
        if method != "POST" or path != f"/{TENANT}/oauth2/v2.0/token":
            return self.reply(404, {"error": "not_found"})
        form = parse_qs(body.decode())
        with self.server.lock:
            self.server.state.token_posts.append(form)
        good = form.get("client_id") == [CLIENT_ID] and form.get("client_secret") == [self.server.secret]
        if self.server.entra_refuses or not good:
            return self.reply(400, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret."})
        token = f"graph-at-{next(self.server.ids)}"
        with self.server.lock:
            self.server.state.tokens.add(token)
        self.reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})


def graph_settings(server: GraphServer, ca_file: Path | None, secret_file: Path, **changes: Any) -> Any:
    """[mailbox] kind = "graph" settings for this server (the secret written to `secret_file`)."""
    from mailbot.config_graph import GraphMailbox, GraphOAuth2

    secret_file.write_text(server.secret, encoding="utf-8")
    oauth2 = GraphOAuth2(
        provider="microsoft",
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret_file=secret_file,
        authority_host=server.host,
    )
    values: dict[str, Any] = {
        "graph_url": server.graph_url,
        "ca_file": ca_file,
        "timeout_seconds": 5,
        "max_wait_seconds": 10,
        **changes,
    }
    return GraphMailbox(kind="graph", address=server.address, oauth2=oauth2, **values)
