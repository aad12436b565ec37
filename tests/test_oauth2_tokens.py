"""OAuth2 access tokens for XOAUTH2: Microsoft 365 (client credentials with msal) and Gmail (file or command)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shlex
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msal
import pytest
import requests
import structlog
import trustme

from mailbot.adapters import oauth2
from mailbot.adapters.oauth2 import (
    AuthError,
    GoogleToken,
    MicrosoftClientCredentials,
    provider_from_settings,
    xoauth2_string,
)
from mailbot.config import OAuth2Settings
from mailbot.errors import ConfigError

SECRET = "s3cret-Value~never-shown"
INVALID_CLIENT = {
    "error": "invalid_client",
    "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1234\r\nCorrelation ID: 5678",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeEntra:
    """Stands in for msal.ConfidentialClientApplication: hands out the queued results in order."""

    def __init__(self, *results: dict[str, Any]) -> None:
        self.results = list(results)
        self.apps: list[dict[str, Any]] = []
        self.requests: list[list[str]] = []

    def __call__(self, client_id: str, **kwargs: Any) -> FakeEntra:
        self.apps.append({"client_id": client_id, **kwargs})
        return self

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        self.requests.append(scopes)
        if self.results:
            return self.results.pop(0)
        return {"access_token": f"at-{len(self.requests)}", "expires_in": 3600, "token_type": "Bearer"}


def microsoft(entra: FakeEntra, clock: Clock | None = None) -> MicrosoftClientCredentials:
    return MicrosoftClientCredentials(
        tenant_id="tenant-1", client_id="client-1", client_secret=SECRET, app_factory=entra, clock=clock or Clock()
    )


def test_the_xoauth2_string_is_user_then_bearer_token_separated_by_ctrl_a_and_not_base64() -> None:
    assert xoauth2_string("bot@example.org", "ya29.tok") == "user=bot@example.org\x01auth=Bearer ya29.tok\x01\x01"


# Microsoft 365 with a fake msal application


def test_building_the_provider_contacts_nobody_and_the_first_token_uses_the_tenant_authority_and_outlook_scope() -> (
    None
):
    entra = FakeEntra()
    provider = microsoft(entra)
    assert entra.apps == []
    assert provider.token() == "at-1"
    assert entra.apps == [
        {
            "client_id": "client-1",
            "client_credential": SECRET,
            "authority": "https://login.microsoftonline.com/tenant-1",
        }
    ]
    assert entra.requests == [["https://outlook.office365.com/.default"]]


def test_two_token_calls_ask_microsoft_once() -> None:
    entra = FakeEntra()
    provider = microsoft(entra)
    assert provider.token() == provider.token() == "at-1"
    assert len(entra.requests) == 1


def test_refresh_asks_microsoft_again_and_later_calls_get_the_new_token() -> None:
    entra = FakeEntra()
    provider = microsoft(entra)
    provider.token()
    assert provider.refresh() == "at-2"
    assert provider.token() == "at-2"
    assert len(entra.requests) == 2


def test_a_token_is_reused_while_more_than_a_minute_remains_and_acquired_again_after() -> None:
    entra, clock = FakeEntra(), Clock()
    provider = microsoft(entra, clock)
    provider.token()
    clock.now += 3600 - 61
    assert provider.token() == "at-1"
    clock.now += 2
    assert provider.token() == "at-2"
    assert len(entra.requests) == 2


def test_a_refused_sign_in_is_an_auth_error_with_the_code_first_line_and_hint_but_not_the_secret() -> None:
    entra = FakeEntra({**INVALID_CLIENT, "error_description": f"AADSTS7000215: bad secret {SECRET}\r\nTrace ID: 1"})
    with pytest.raises(AuthError) as caught:
        microsoft(entra).token()
    message = str(caught.value)
    assert "invalid_client" in message and "AADSTS7000215" in message
    assert "IMAP.AccessAsApp / SMTP.SendAsApp" in message and "service principal" in message
    assert SECRET not in message and "Trace ID" not in message


def test_an_unauthorized_client_gets_the_same_hint_and_other_errors_none() -> None:
    entra = FakeEntra({"error": "unauthorized_client", "error_description": "AADSTS700016"}, {"error": "invalid_scope"})
    provider = microsoft(entra)
    with pytest.raises(AuthError, match=r"unauthorized_client.*IMAP\.AccessAsApp"):
        provider.token()
    with pytest.raises(AuthError) as caught:
        provider.token()
    assert "invalid_scope" in str(caught.value) and "AccessAsApp" not in str(caught.value)


def test_a_refused_refresh_is_one_auth_error_without_retrying() -> None:
    entra = FakeEntra({"access_token": "at-1", "expires_in": 3600}, INVALID_CLIENT)
    provider = microsoft(entra)
    provider.token()
    with pytest.raises(AuthError, match="invalid_client"):
        provider.refresh()
    assert len(entra.requests) == 2


def test_a_token_acquisition_is_logged_with_provider_and_expiry_but_never_the_token_or_secret() -> None:
    with structlog.testing.capture_logs() as logs:
        microsoft(FakeEntra({"access_token": "at-visible?", "expires_in": 3599})).token()
    assert logs == [
        {"event": "oauth2_token_acquired", "provider": "microsoft", "expires_in": 3599, "log_level": "info"}
    ]
    assert "at-visible?" not in repr(logs) and SECRET not in repr(logs)


# Microsoft 365 with a real msal application against a local token endpoint


class EntraEndpoint(http.server.ThreadingHTTPServer):
    """The OpenID configuration and token endpoint of one tenant, over HTTPS with a test CA."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EntraHandler)
        self.posts: list[dict[str, list[str]]] = []
        self.refuse = False

    @property
    def host(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"


class EntraHandler(http.server.BaseHTTPRequestHandler):
    server: EntraEndpoint

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        base = f"{self.server.host}/tenant-1"
        if self.path != "/tenant-1/v2.0/.well-known/openid-configuration":
            return self.reply(404, {"error": "not_found"})
        endpoints = {"authorization_endpoint": f"{base}/oauth2/v2.0/authorize", "issuer": f"{base}/v2.0"}
        self.reply(200, {**endpoints, "token_endpoint": f"{base}/oauth2/v2.0/token"})

    def do_POST(self) -> None:
        from urllib.parse import parse_qs

        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.posts.append(parse_qs(body))
        if self.server.refuse:
            return self.reply(400, INVALID_CLIENT)
        n = len(self.server.posts)
        self.reply(200, {"access_token": f"real-at-{n}", "expires_in": 3600, "token_type": "Bearer"})

    def reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def entra_endpoint(tmp_path: Path) -> Iterator[tuple[EntraEndpoint, requests.Session]]:
    ca = trustme.CA()
    server = EntraEndpoint()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE and proxies from the environment would override `verify`
    session.verify = str(ca_file)
    yield server, session
    session.close()
    server.shutdown()
    server.server_close()
    thread.join()


def real_msal(server: EntraEndpoint, session: requests.Session, clock: Clock) -> MicrosoftClientCredentials:
    factory = functools.partial(
        msal.ConfidentialClientApplication, http_client=session, validate_authority=False, instance_discovery=False
    )
    return MicrosoftClientCredentials(
        tenant_id="tenant-1",
        client_id="client-1",
        client_secret=SECRET,
        authority_host=server.host,
        app_factory=factory,
        clock=clock,
    )


def test_real_msal_posts_client_credentials_for_the_outlook_scope_and_then_serves_its_own_cache(
    entra_endpoint: tuple[EntraEndpoint, requests.Session],
) -> None:
    server, session = entra_endpoint
    clock = Clock()
    provider = real_msal(server, session, clock)
    assert provider.token() == "real-at-1"
    clock.now += 3600  # past our own cache; msal's (wall clock) still holds the token
    assert provider.token() == "real-at-1"
    assert len(server.posts) == 1
    sent = server.posts[0]
    assert sent["grant_type"] == ["client_credentials"] and sent["client_id"] == ["client-1"]
    assert sent["client_secret"] == [SECRET] and sent["scope"] == ["https://outlook.office365.com/.default"]


def test_refresh_with_real_msal_bypasses_its_token_cache(
    entra_endpoint: tuple[EntraEndpoint, requests.Session],
) -> None:
    server, session = entra_endpoint
    provider = real_msal(server, session, Clock())
    assert provider.token() == "real-at-1"
    assert provider.refresh() == "real-at-2"
    assert provider.token() == "real-at-2"
    assert len(server.posts) == 2


def test_real_msal_given_a_400_invalid_client_raises_an_auth_error_with_the_hint(
    entra_endpoint: tuple[EntraEndpoint, requests.Session],
) -> None:
    server, session = entra_endpoint
    server.refuse = True
    with pytest.raises(AuthError, match=r"invalid_client: AADSTS7000215: Invalid client secret provided\. \(check"):
        real_msal(server, session, Clock()).token()


# Gmail: a token from a file or a command


def test_a_google_token_file_gives_its_stripped_contents(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("  ya29.plain\n", encoding="utf-8")
    assert GoogleToken(token_file=tmp_path / "token").token() == "ya29.plain"


def test_a_google_token_file_holding_json_gives_its_access_token_field(tmp_path: Path) -> None:
    (tmp_path / "token.json").write_text(json.dumps({"access_token": "ya29.json", "expires_in": 3599}), "utf-8")
    assert GoogleToken(token_file=tmp_path / "token.json").token() == "ya29.json"


def test_a_google_token_file_is_read_again_when_it_changes_and_not_before(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first", encoding="utf-8")
    os.utime(token_file, ns=(1_000_000_000, 1_000_000_000))
    provider = GoogleToken(token_file=token_file)
    assert provider.token() == "first"
    token_file.write_text("second", encoding="utf-8")
    os.utime(token_file, ns=(1_000_000_000, 1_000_000_000))  # same mtime: not noticed within cache_seconds
    assert provider.token() == "first"
    os.utime(token_file, ns=(2_000_000_000, 2_000_000_000))
    assert provider.token() == "second"


def test_a_google_token_file_is_read_again_after_cache_seconds_even_if_unchanged(tmp_path: Path) -> None:
    token_file, clock = tmp_path / "token", Clock()
    token_file.write_text("first", encoding="utf-8")
    provider = GoogleToken(token_file=token_file, cache_seconds=300, clock=clock)
    provider.token()
    stat = token_file.stat()
    token_file.write_text("second", encoding="utf-8")
    os.utime(token_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    clock.now += 299
    assert provider.token() == "first"
    clock.now += 1
    assert provider.token() == "second"


def test_a_missing_empty_or_json_without_access_token_file_is_an_auth_error(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="cannot read token file"):
        GoogleToken(token_file=tmp_path / "absent").token()
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(AuthError, match="gave no token"):
        GoogleToken(token_file=tmp_path / "empty").token()
    (tmp_path / "other.json").write_text('{"refresh_token": "1//x"}', encoding="utf-8")
    with pytest.raises(AuthError, match="without an access_token") as caught:
        GoogleToken(token_file=tmp_path / "other.json").token()
    assert "1//x" not in str(caught.value)


def python_command(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


def test_a_google_token_command_gives_its_stripped_stdout_or_the_access_token_of_its_json() -> None:
    assert GoogleToken(token_command=python_command("print('tok')")).token() == "tok"
    printed = python_command("import json; print(json.dumps({'access_token': 'ya29.cmd'}))")
    assert GoogleToken(token_command=printed).token() == "ya29.cmd"


def test_a_failing_token_command_is_an_auth_error_with_the_first_line_of_its_stderr() -> None:
    stderr = "invalid_grant: revoked\\nrefresh=1//secret\\n"
    code = f"import sys; print('half-a-token'); sys.stderr.write('{stderr}'); sys.exit(3)"
    with pytest.raises(AuthError) as caught:
        GoogleToken(token_command=python_command(code)).token()
    message = str(caught.value)
    assert "exited 3: invalid_grant: revoked" in message
    assert "1//secret" not in message and "half-a-token" not in message


def test_a_token_command_printing_nothing_is_an_auth_error() -> None:
    with pytest.raises(AuthError, match="gave no token"):
        GoogleToken(token_command=python_command("pass")).token()


def test_a_token_command_that_hangs_is_stopped_and_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oauth2, "COMMAND_TIMEOUT_SECONDS", 0.5)
    with pytest.raises(AuthError, match="timed out"):
        GoogleToken(token_command=python_command("import time; time.sleep(30)")).token()


def test_a_token_command_that_does_not_exist_is_an_auth_error(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="cannot run"):
        GoogleToken(token_command=str(tmp_path / "no-such-helper")).token()


def test_a_token_command_runs_without_a_shell_once_per_cache_period_and_again_on_refresh() -> None:
    calls: list[list[str]] = []

    def runner(argv: list[str]) -> str:
        calls.append(argv)
        return f"tok-{len(calls)}\n"

    clock = Clock()
    provider = GoogleToken(token_command="helper --account 'bot@example.org'", runner=runner, clock=clock)
    assert provider.token() == provider.token() == "tok-1"
    assert provider.refresh() == "tok-2"
    clock.now += 300
    assert provider.token() == "tok-3"
    assert calls[0] == ["helper", "--account", "bot@example.org"] and len(calls) == 3


# Building a provider from the settings


def test_settings_for_microsoft_build_a_provider_with_the_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entra = FakeEntra()
    monkeypatch.setattr(oauth2, "_msal_application", entra)
    monkeypatch.setenv("M365_SECRET", SECRET)
    settings = OAuth2Settings(
        provider="microsoft", tenant_id="tenant-1", client_id="client-1", client_secret_env="M365_SECRET"
    )
    provider = provider_from_settings(settings, tmp_path / "mailbot.toml")
    assert isinstance(provider, MicrosoftClientCredentials)
    assert provider.token() == "at-1"
    assert entra.apps[0]["client_credential"] == SECRET
    assert entra.requests == [["https://outlook.office365.com/.default"]]


def test_settings_for_microsoft_take_the_secret_from_a_file_and_a_scope_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entra = FakeEntra()
    monkeypatch.setattr(oauth2, "_msal_application", entra)
    (tmp_path / "secret").write_text(SECRET + "\n", encoding="utf-8")
    settings = OAuth2Settings(
        provider="microsoft",
        tenant_id="t",
        client_id="c",
        client_secret_file=tmp_path / "secret",
        scope="https://example.test/.default",
    )
    provider_from_settings(settings, tmp_path / "mailbot.toml").token()
    assert entra.apps[0]["client_credential"] == SECRET
    assert entra.requests == [["https://example.test/.default"]]


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"client_id": "c", "client_secret_env": "M365_SECRET"}, "mailbox.oauth2.tenant_id"),
        ({"tenant_id": "t", "client_secret_env": "M365_SECRET"}, "mailbox.oauth2.client_id"),
        ({"tenant_id": "t", "client_id": "c"}, "mailbox.oauth2.client_secret"),
        ({"tenant_id": "t", "client_id": "c", "client_secret_env": "UNSET_SECRET"}, "mailbox.oauth2.client_secret_env"),
    ],
)
def test_settings_for_microsoft_missing_a_value_are_a_config_error_naming_the_key(
    fields: dict[str, Any], key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("M365_SECRET", SECRET)
    monkeypatch.delenv("UNSET_SECRET", raising=False)
    with pytest.raises(ConfigError) as caught:
        provider_from_settings(OAuth2Settings(provider="microsoft", **fields), tmp_path / "mailbot.toml")
    assert caught.value.key == key


def test_settings_for_google_build_a_file_or_a_command_provider(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("ya29.file", encoding="utf-8")
    from_file = provider_from_settings(
        OAuth2Settings(provider="google", token_file=tmp_path / "token"), tmp_path / "c.toml"
    )
    from_command = provider_from_settings(
        OAuth2Settings(provider="google", token_command=python_command("print('ya29.cmd')")), tmp_path / "c.toml"
    )
    assert (from_file.token(), from_command.token()) == ("ya29.file", "ya29.cmd")


@pytest.mark.parametrize("both", [False, True])
def test_settings_for_google_need_exactly_one_of_token_file_and_token_command(both: bool, tmp_path: Path) -> None:
    fields: dict[str, Any] = {"token_file": tmp_path / "t", "token_command": "helper"} if both else {}
    with pytest.raises(ConfigError) as caught:
        provider_from_settings(OAuth2Settings(provider="google", **fields), tmp_path / "c.toml")
    assert caught.value.key == "mailbox.oauth2.token_file"


def test_the_key_named_in_a_config_error_follows_the_section_given(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        provider_from_settings(OAuth2Settings(provider="google"), tmp_path / "c.toml", section="smtp.oauth2")
    assert caught.value.key == "smtp.oauth2.token_file"
