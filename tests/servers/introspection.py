"""A local OAuth2 identity provider on loopback, over HTTPS with the tests' CA, started by the tests.

It issues access tokens (a Microsoft-style tenant: the OpenID configuration and a client-credentials token
endpoint that the real msal talks to; or `issue()` for a Gmail-style token another tool would fetch) and
answers RFC 7662 token introspection for Dovecot's `oauth2` passdb: `{"active": true, "username": ...}` for a
token it issued and has not expired, `{"active": false}` for any other. Every call is recorded.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from tests.servers.certs import Certificates
from tests.servers.common import HOST, STOP_TIMEOUT, _running

INTROSPECTION_PATH = "/introspect"


@dataclass(frozen=True)
class Introspection:
    """One question Dovecot asked: how it sent the token (post, get or auth), the token, and the answer."""

    mode: str
    token: str
    active: bool


@dataclass
class _Client:
    """A registered app: its secret, and the mailbox its client-credentials tokens are for."""

    secret: str
    username: str


@dataclass
class _State:
    issued: dict[str, str] = field(default_factory=dict)  # token -> username, every token ever issued
    expired: set[str] = field(default_factory=set)
    clients: dict[tuple[str, str], _Client] = field(default_factory=dict)  # (tenant, client id) -> client
    introspections: list[Introspection] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, username: str) -> str:
        token = f"at-{secrets.token_urlsafe(24)}"
        with self.lock:
            self.issued[token] = username
        return token

    def active_user(self, token: str) -> str | None:
        with self.lock:
            return None if token in self.expired else self.issued.get(token)


class IdentityProvider:
    """`start()`, then `issue(user)` or `register_client(...)`; `introspection_url` for Dovecot; `stop()`."""

    host = HOST

    def __init__(self, certificates: Certificates) -> None:
        self.certificates = certificates
        self.state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> IdentityProvider:
        server = _Server(self.state)
        server.socket = self.certificates.server_context("good").wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="identity-provider", daemon=True)
        self._thread.start()
        _running.add(self)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        _running.discard(self)
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the identity provider has not been started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Also msal's authority host: the tenant is the first path segment, as at login.microsoftonline.com."""
        return f"https://{self.host}:{self.port}"

    @property
    def introspection_url(self) -> str:
        return self.base_url + INTROSPECTION_PATH

    def introspection_url_for(self, mode: str) -> str:
        """The URL for Dovecot's `introspection_mode`: `get` appends the token to it, so it ends in `?token=`."""
        return self.introspection_url + ("?token=" if mode == "get" else "")

    # tokens

    def issue(self, username: str) -> str:
        """A new access token, active for `username` until `expire`d."""
        return self.state.issue(username)

    def expire(self, token: str) -> None:
        """The token is no longer active (as when its lifetime is over); introspection says so."""
        with self.state.lock:
            self.state.expired.add(token)

    def register_client(self, tenant: str, client_id: str, secret: str, username: str) -> None:
        """An app whose client-credentials tokens (from the tenant's token endpoint) are for mailbox `username`."""
        with self.state.lock:
            self.state.clients[(tenant, client_id)] = _Client(secret, username)

    def issued_to(self, username: str) -> list[str]:
        """Every token issued for `username` (active or not), oldest first."""
        with self.state.lock:
            return [token for token, user in self.state.issued.items() if user == username]

    def introspections(self, *tokens: str, username: str | None = None) -> list[Introspection]:
        """What Dovecot asked about these tokens, or about any token issued to `username`, in order."""
        wanted = set(tokens) | set(self.issued_to(username) if username else ())
        with self.state.lock:
            return [asked for asked in self.state.introspections if asked.token in wanted]

    @property
    def token_requests(self) -> list[dict[str, str]]:
        """The form fields of every token request (grant_type, client_id, client_secret, scope)."""
        with self.state.lock:
            return list(self.state.token_requests)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        super().__init__((HOST, 0), _Handler)
        self.state = state


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # Dovecot's http-client keeps connections open

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == INTROSPECTION_PATH:
            bearer = self.headers.get("Authorization", "")
            if bearer.startswith("Bearer "):
                return self._introspect("auth", bearer.removeprefix("Bearer "))
            return self._introspect("get", parse_qs(url.query).get("token", [""])[0])
        parts = url.path.strip("/").split("/")
        if parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return self._openid_configuration(parts[0])
        self._reply(404, {"error": "not_found"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        form = {key: values[0] for key, values in parse_qs(self._body().decode("utf-8", "replace")).items()}
        if url.path == INTROSPECTION_PATH:
            return self._introspect("post", form.get("token", ""))
        parts = url.path.strip("/").split("/")
        if parts[1:] == ["oauth2", "v2.0", "token"]:
            return self._token(parts[0], form)
        self._reply(404, {"error": "not_found"})

    def _introspect(self, mode: str, token: str) -> None:
        state = self.server.state
        username = state.active_user(token)
        with state.lock:
            state.introspections.append(Introspection(mode, token, username is not None))
        self._reply(200, {"active": False} if username is None else {"active": True, "username": username})

    def _openid_configuration(self, tenant: str) -> None:
        base = f"https://{HOST}:{self.server.server_address[1]}/{tenant}"
        self._reply(
            200,
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
            },
        )

    def _token(self, tenant: str, form: dict[str, str]) -> None:
        state = self.server.state
        with state.lock:
            state.token_requests.append(form)
            client = state.clients.get((tenant, form.get("client_id", "")))
        if form.get("grant_type") != "client_credentials":
            return self._reply(400, {"error": "unsupported_grant_type"})
        if client is None or not secrets.compare_digest(client.secret, form.get("client_secret", "")):
            return self._reply(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client"})
        token = state.issue(client.username)
        self._reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3599})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        with contextlib.suppress(OSError):  # the client hung up: nothing to tell it
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


# --- what Dovecot needs to ask it -------------------------------------------------------------------------

#: The Dovecot config's placeholders when no oauth2 passdb is wanted: the config is exactly as it always was.
WITHOUT_OAUTH2 = {
    "extra_mechanisms": "",
    "passwd_key": "%Ln",
    "passwd_mechanisms": "",
    "oauth2_passdb": "",
    "anvil_penalty": "",
}

_PASSDB = """\
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = %s
}
"""

# Anvil delays every login from an address after a failed one (2 s, doubling up to 15 s): the oauth2 tests refuse
# tokens on purpose, and the logins after must not wait. Dovecot's documented switch: no anvil-auth-penalty socket.
_NO_AUTH_PENALTY = """\
  unix_listener anvil-auth-penalty {
    mode = 0
  }
"""

_ARGS = """\
# Written by tests/servers: Dovecot asks the tests' introspection endpoint (RFC 7662) about every token.
introspection_url = {url}
introspection_mode = {mode}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = {ca}
timeout_msecs = 10000
"""


@dataclass(frozen=True)
class OAuth2Passdb:
    """Dovecot's `oauth2` passdb for XOAUTH2/OAUTHBEARER, asking `introspection_url` about each token.

    `mode`: post (`token=...` as the body), get (the token appended to the URL: see `introspection_url_for`) or
    auth (a Bearer header). With it, the passwd-file passdb serves PLAIN/LOGIN only (a token is never taken for a
    password) and is keyed by the whole user name, so the tests' own password connections work for `user@domain`.
    """

    introspection_url: str
    ca_file: Path
    mode: Literal["post", "get", "auth"] = "post"

    def placeholders(self, root: Path) -> dict[str, str]:
        """Dovecot's config placeholders; writes `<root>/dovecot-oauth2.conf.ext` and a copy of the CA beside it
        (the auth process reads both; the original CA may sit in a folder it cannot enter)."""
        ca, args = root / "oauth2-ca.pem", root / "dovecot-oauth2.conf.ext"
        ca.write_bytes(self.ca_file.read_bytes())
        args.write_text(_ARGS.format(url=self.introspection_url, mode=self.mode, ca=ca), encoding="utf-8")
        for path in (ca, args):
            path.chmod(0o644)
        return {
            "extra_mechanisms": " xoauth2 oauthbearer",
            "passwd_key": "%Lu",
            "passwd_mechanisms": "\n  mechanisms = plain login",
            "oauth2_passdb": _PASSDB % args,
            "anvil_penalty": _NO_AUTH_PENALTY,
        }
