"""OAuth2 access tokens for IMAP and SMTP (SASL XOAUTH2): Microsoft 365 app-only and Gmail.

Tokens and secrets never reach a log line or an exception message. A refused sign-in is an
`AuthError`: a human must act, so callers back off instead of retrying in a tight loop. Network
failures (requests' `ConnectionError`, timeouts) pass through unchanged: they are transient.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mailbot.errors import ConfigError, ServiceUnavailable
from mailbot.logs import get_logger

if TYPE_CHECKING:
    from mailbot.config import OAuth2Settings

OUTLOOK_SCOPE = "https://outlook.office365.com/.default"
EXPIRY_MARGIN_SECONDS = 60  # a cached token is used only while more than this remains
COMMAND_TIMEOUT_SECONDS = 30
_MICROSOFT_HINTS = {
    "invalid_client": "check client id/secret and that the app has IMAP.AccessAsApp / SMTP.SendAsApp "
    "and a service principal with mailbox access",
}
_MICROSOFT_HINTS["unauthorized_client"] = _MICROSOFT_HINTS["invalid_client"]


class AuthError(ServiceUnavailable):
    """A refused login or token refresh: a human must act; never retried in a tight loop."""


class TokenProvider(Protocol):
    def token(self) -> str:
        """A valid access token, cached until shortly before it expires."""
        ...

    def refresh(self) -> str:
        """A new token, bypassing every cache (called once after an AUTHENTICATIONFAILED)."""
        ...


def xoauth2_string(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response, not base64-encoded (callers encode as their library needs)."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


def _first_line(text: object, limit: int = 300) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0][:limit] if lines else ""


class MicrosoftClientCredentials:
    """Microsoft 365 app-only tokens (client credentials grant) through one msal application."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scope: str = OUTLOOK_SCOPE,
        authority_host: str = "https://login.microsoftonline.com",
        app_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._app_factory = app_factory
        self._clock = clock
        self._app: Any = None  # built on first use: msal contacts the authority when constructed
        self._cached: tuple[str, float] | None = None  # (token, clock value when it expires)
        self._lock = threading.Lock()
        self._log = get_logger(provider="microsoft")

    def token(self) -> str:
        with self._lock:
            if self._cached and self._cached[1] - self._clock() > EXPIRY_MARGIN_SECONDS:
                return self._cached[0]
            return self._acquire()

    def refresh(self) -> str:
        with self._lock:
            self._cached = None
            self._forget_msal_tokens()
            return self._acquire()

    def _application(self) -> Any:
        if self._app is None:
            factory = self._app_factory or _msal_application
            try:
                self._app = factory(self._client_id, client_credential=self._secret, authority=self._authority)
            except ValueError as exc:  # msal: an authority or tenant it cannot use
                raise AuthError(f"Microsoft sign-in: cannot use {self._authority}: {self._scrub(exc)}") from None
        return self._app

    def _forget_msal_tokens(self) -> None:
        """msal 1.39 refuses force_refresh for client credentials: drop its cached access tokens instead."""
        cache = getattr(self._app, "token_cache", None) if self._app is not None else None
        if cache is None:
            self._app = None  # no reachable cache: a new application starts with an empty one
            return
        kind = cache.CredentialType.ACCESS_TOKEN
        for item in list(cache.search(kind, target=[self._scope])):
            cache.remove_at(item)

    def _acquire(self) -> str:
        result = self._application().acquire_token_for_client(scopes=[self._scope])
        if not isinstance(result, dict) or not result.get("access_token"):
            raise AuthError(self._refusal(result if isinstance(result, dict) else {}))
        expires_in = float(result.get("expires_in") or 0)
        self._cached = (str(result["access_token"]), self._clock() + expires_in)
        if result.get("token_source") != "cache":
            self._log.info("oauth2_token_acquired", expires_in=int(expires_in))
        return self._cached[0]

    def _refusal(self, result: dict[str, Any]) -> str:
        error = str(result.get("error") or "no_access_token")
        message = f"Microsoft sign-in refused: {error}: {self._scrub(result.get('error_description'))}"
        hint = _MICROSOFT_HINTS.get(error)
        return f"{message} ({hint})" if hint else message

    def _scrub(self, text: object) -> str:
        return _first_line(text).replace(self._secret, "***") if self._secret else _first_line(text)


def _msal_application(client_id: str, **kwargs: Any) -> Any:
    import msal  # untyped (pyproject: ignore_missing_imports): Any at this boundary

    return msal.ConfidentialClientApplication(client_id, **kwargs)


def _run_command(argv: list[str]) -> str:
    """The command's stdout; a failure is an AuthError carrying the first line of its stderr."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise AuthError(f"token command {argv[0]} timed out after {COMMAND_TIMEOUT_SECONDS} s") from None
    except OSError as exc:
        raise AuthError(f"token command {argv[0]} cannot run: {exc.strerror}") from None
    if done.returncode != 0:
        raise AuthError(f"token command {argv[0]} exited {done.returncode}: {_first_line(done.stderr)}")
    return done.stdout


def _token_from_text(text: str, source: str) -> str:
    """A bare token, or the access_token field of a JSON object."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise AuthError(f"{source} holds malformed JSON") from None
        value = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise AuthError(f"{source} holds JSON without an access_token")
        text = value.strip()
    if not text:
        raise AuthError(f"{source} gave no token")
    return text


class GoogleToken:
    """Gmail tokens kept fresh by something else (a file it rewrites, or a command that prints one)."""

    def __init__(
        self,
        *,
        token_file: Path | None = None,
        token_command: str | None = None,
        cache_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
        runner: Callable[[list[str]], str] | None = None,
    ) -> None:
        if (token_file is None) == (token_command is None):
            raise ValueError("give exactly one of token_file or token_command")
        self._file = token_file
        self._argv = shlex.split(token_command) if token_command else []
        if token_command is not None and not self._argv:
            raise ValueError("token_command is empty")
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._runner = runner or _run_command
        self._cached: tuple[str, float, int | None] | None = None  # (token, read at, file mtime_ns)
        self._lock = threading.Lock()
        self._log = get_logger(provider="google")

    def token(self) -> str:
        with self._lock:
            mtime = self._mtime()
            if self._cached and self._cached[2] == mtime and self._clock() - self._cached[1] < self._cache_seconds:
                return self._cached[0]
            return self._load(mtime)

    def refresh(self) -> str:
        with self._lock:
            return self._load(self._mtime())

    def _mtime(self) -> int | None:
        if self._file is None:
            return None
        try:
            return os.stat(self._file).st_mtime_ns
        except OSError:
            return -1  # missing now: _load reports it

    def _load(self, mtime: int | None) -> str:
        self._cached = None
        if self._file is not None:
            source = f"token file {self._file}"
            try:
                text = self._file.read_text(encoding="utf-8")
            except OSError as exc:
                raise AuthError(f"cannot read {source}: {exc.strerror}") from None
        else:
            source = f"token command {self._argv[0]}"
            text = self._runner(self._argv)
        token = _token_from_text(text, source)
        self._cached = (token, self._clock(), mtime)
        self._log.info("oauth2_token_acquired", source="file" if self._file else "command")
        return token


def provider_from_settings(
    settings: OAuth2Settings, config_path: Path, *, section: str = "mailbox.oauth2"
) -> TokenProvider:
    """The provider the settings describe (load_settings has resolved their paths); a ConfigError names the key."""
    if settings.provider == "google":
        if (settings.token_file is None) == (not settings.token_command):
            raise ConfigError(
                config_path, "set exactly one of token_file or token_command", key=f"{section}.token_file"
            )
        return GoogleToken(token_file=settings.token_file, token_command=settings.token_command or None)
    tenant_id = _required(settings.tenant_id, config_path, f"{section}.tenant_id")
    client_id = _required(settings.client_id, config_path, f"{section}.client_id")
    from mailbot.config import read_secret

    secret = read_secret(
        config_path,
        env=settings.client_secret_env,
        file=settings.client_secret_file,
        key=f"{section}.client_secret",
    )
    return MicrosoftClientCredentials(
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=secret,
        scope=settings.scope or OUTLOOK_SCOPE,
    )


def _required(value: str | None, config_path: Path, key: str) -> str:
    if not value:
        raise ConfigError(config_path, "required for provider microsoft", key=key)
    return value
