"""An Exchange Web Services test server on loopback: HTTPS with the tests' CA, Basic or NTLM, SOAP as EWS speaks it.

The mailbox and its operations are in ews_store.py; this is the HTTP side: TLS, authentication (NTLM through
pyspnego's acceptor, bound to the TLS channel like Extended Protection, connection-based as on IIS) and the
faults a real server shows: ErrorServerBusy with BackOffMilliseconds, 401, 403, 503 with Retry-After and a
connection dropped without an answer. `faults` is a queue: each request takes the next one, if any.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.servers.certs import Certificates
from tests.servers.common import HOST, CertName, _running
from tests.servers.ews_store import Soap, Store

S = "http://schemas.xmlsoap.org/soap/envelope/"
NAMESPACES = (
    f'xmlns:s="{S}" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"'
    ' xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"'
)
VERSION_HEADER = (
    '<s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6"'
    ' Version="Exchange2016" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header>'
)
Fault = Literal["busy", "401", "403", "503", "drop"]
Auth = Literal["basic", "ntlm"]


class EwsServer:
    """`EwsServer(certs, users={"EXAMPLE\\\\bot": "secret"}, auth="ntlm").start()`; `.url` is the endpoint."""

    def __init__(
        self, certificates: Certificates, directory: Path, *, users: dict[str, str], auth: Auth = "ntlm",
        cert: CertName = "good",
    ) -> None:  # fmt: skip
        self.certificates, self.directory, self.users, self.auth, self.cert = certificates, directory, users, auth, cert
        self.store = Store()
        self.soap = Soap(self.store)
        self.faults: list[tuple[Fault, float]] = []  # (kind, seconds of back-off it asks for)
        self.forbidden = False  # every request gets 403, as when EWS is disabled for the mailbox
        self.requests: list[str] = []  # the operation of each request that reached the mailbox
        self.failed_logins = 0
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"https://localhost:{self._httpd.server_address[1]}/EWS/Exchange.asmx"

    def start(self) -> EwsServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        users = self.directory / "ntlm-users"
        users.write_text("".join(f"{_ntlm_line(u)}:{p}\n" for u, p in self.users.items()), encoding="utf-8")
        os.environ["NTLM_USER_FILE"] = str(users)  # pyspnego's NTLM acceptor reads its users from here
        cert_file, _ = self.certificates.pair(self.cert)
        leaf = x509.load_pem_x509_certificate(cert_file.read_bytes())
        self.binding = b"tls-server-end-point:" + hashlib.sha256(leaf.public_bytes(Encoding.DER)).digest()
        context = self.certificates.server_context(self.cert)
        httpd = ThreadingHTTPServer((HOST, 0), _handler(self))
        httpd.daemon_threads = True
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        _running.add(self)
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        _running.discard(self)

    def fault(self, kind: Fault, seconds: float = 0.0, times: int = 1) -> None:
        self.faults.extend([(kind, seconds)] * times)

    def sent(self) -> list[bytes]:
        with self.store.lock:
            return [raw for _, raw in self.store.sent]


def _ntlm_line(user: str) -> str:
    domain, _, name = user.rpartition("\\")
    return f"{domain}:{name}"


def _envelope(body: str, header: str = VERSION_HEADER) -> bytes:
    envelope = f"<s:Envelope {NAMESPACES}>{header}<s:Body>{body}</s:Body></s:Envelope>"
    return ('<?xml version="1.0" encoding="utf-8"?>' + envelope).encode()


def _busy_fault(milliseconds: int) -> bytes:
    text = "The server cannot service this request right now. Try again later."
    return _envelope(
        '<s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy'
        f'</faultcode><faultstring xml:lang="en-US">{text}</faultstring><detail>'
        '<e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy'
        f'</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{text}'
        '</e:Message><t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
        f'<t:Value Name="BackOffMilliseconds">{milliseconds}</t:Value></t:MessageXml></detail></s:Fault>',
        header="",
    )


def _handler(server: EwsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: NTLM authenticates the connection, not the request

        def setup(self) -> None:
            super().setup()
            self.authenticated: str | None = None
            self.ntlm: Any = None

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if server.forbidden:
                self._reply(403, b"<html><body>403 - Forbidden: Access is denied.</body></html>", "text/html")
                return
            if not self._authenticate():
                return
            fault = server.faults.pop(0) if server.faults else None
            if fault is not None and self._inject(*fault):
                return
            try:
                request = ET.fromstring(body).find(f"{{{S}}}Body")
                operation = next(iter(request)) if request is not None else None
            except ET.ParseError:
                operation = None
            if operation is None:
                self._reply(400, b"bad request", "text/plain")
                return
            server.requests.append(operation.tag.rpartition("}")[2])
            self._reply(200, _envelope(server.soap.handle(operation)))

        def _inject(self, kind: Fault, seconds: float) -> bool:
            if kind == "busy":
                self._reply(500, _busy_fault(int(seconds * 1000)))
            elif kind == "401":
                self._reply(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="EWS"'})
            elif kind == "403":
                self._reply(403, b"403 - Forbidden", "text/html")
            elif kind == "503":
                self._reply(503, b"Service Unavailable", "text/html", {"Retry-After": str(int(seconds))})
            else:  # drop: the connection goes away without an answer
                with contextlib.suppress(OSError):
                    self.connection.close()
                self.close_connection = True
            return True

        # --- authentication

        def _authenticate(self) -> bool:
            if self.authenticated is not None:
                return True
            header = self.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if server.auth == "basic" and scheme.lower() == "basic":
                user, _, password = base64.b64decode(token).decode().partition(":")
                if server.users.get(user) == password:
                    return True  # Basic is checked on every request
                server.failed_logins += 1
            elif server.auth == "ntlm" and scheme.upper() == "NTLM":
                return self._ntlm_step(base64.b64decode(token))
            self._challenge()
            return False

        def _ntlm_step(self, token: bytes) -> bool:
            import spnego
            from spnego.channel_bindings import GssChannelBindings

            if self.ntlm is None or token[8:12] == b"\x01\x00\x00\x00":  # a NEGOTIATE message starts a handshake
                bindings = GssChannelBindings(application_data=server.binding)
                self.ntlm = spnego.server(protocol="ntlm", channel_bindings=bindings)
            try:
                out = self.ntlm.step(token)
            except Exception:  # wrong password, wrong channel binding: a refused login
                server.failed_logins += 1
                self.ntlm = None
                self._challenge()
                return False
            if not self.ntlm.complete:
                self._reply(401, b"", "text/plain", {"WWW-Authenticate": f"NTLM {base64.b64encode(out).decode()}"})
                return False
            self.authenticated = self.ntlm.client_principal
            return True

        def _challenge(self) -> None:
            offer = 'Basic realm="EWS"' if server.auth == "basic" else "NTLM"
            self._reply(401, b"", "text/plain", {"WWW-Authenticate": offer})

        def _reply(self, status: int, body: bytes, kind: str = "text/xml; charset=utf-8", extra: Any = None) -> None:
            self.send_response_only(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def running(certificates: Certificates, directory: Path, **options: Any) -> Iterator[EwsServer]:
    server = EwsServer(certificates, directory, **options).start()
    try:
        yield server
    finally:
        server.stop()
