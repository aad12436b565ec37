"""The HTTP side of Microsoft Graph for mailbot.adapters.graph: httpx with an msal app-only token.

Every request carries the bearer token, `Prefer: IdType="ImmutableId"` and a timeout. 429/503 wait for
Retry-After (up to `max_wait_seconds` in all per request); 401 gets one fresh token, then is an AuthError;
403 is an AuthError naming the permissions and the application access policy; a dropped connection is retried
once when the caller allows it. Tokens and secrets never reach a log line or an exception message.
"""

from __future__ import annotations

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

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PREFER = 'IdType="ImmutableId"'
THROTTLED = (429, 503)
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
        try:
            token = self.tokens.refresh() if fresh else self.tokens.token()
        except httpx.TransportError as exc:  # msal on our httpx client: Entra cannot be reached
            reason = f"{type(exc).__name__}: {exc}"[:300]
            raise GraphUnavailable(f"Microsoft sign-in unreachable: {reason}", server_down=True) from None
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


def dropped(url: str, exc: httpx.TransportError) -> GraphUnavailable:
    reason = f"{type(exc).__name__}: {exc}"[:300]
    return GraphUnavailable(f"Microsoft Graph {urlsplit(url).netloc}: {reason}", server_down=True)


def _tls(ca_file: Path | None) -> ssl.SSLContext:
    """The system's CAs, plus `ca_file` when set (not instead of them)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def client_secret(settings: GraphSettings, config_path: Path) -> str:
    """The app's secret from client_secret_env or client_secret_file; a ConfigError names the key."""
    auth = settings.oauth2
    return read_secret(
        config_path, env=auth.client_secret_env, file=auth.client_secret_file, key="mailbox.oauth2.client_secret"
    )


def client_for(settings: GraphSettings, config_path: Path, *, tokens: TokenProvider | None = None) -> GraphClient:
    """The client the settings describe; the secret is read now (a ConfigError names its key)."""
    if tokens is None:
        auth, secret = settings.oauth2, client_secret(settings, config_path)
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
