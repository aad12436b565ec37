"""XOAUTH2 against the real Dovecot: its `oauth2` passdb asks a local introspection endpoint (RFC 7662) about
every token mailbot presents. Tokens come from a local Microsoft-style token endpoint through the real msal
(Microsoft 365 app-only), or from a token file or command (Gmail), configured as the README says.

An expired token is refreshed once and the second login succeeds; a token still refused is a refused login
(`mailbot once` exits 77, the admin is told); no token reaches mailbot's logs.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shlex
import sys
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import msal
import pytest
import requests
import structlog

from mailbot.adapters import oauth2
from mailbot.adapters.imap import ImapMailbox, MailboxUnavailable
from mailbot.adapters.oauth2 import AuthError
from mailbot.adapters.tls import login_for
from mailbot.config import ImapMailbox as ImapSettings
from mailbot.demo_mail import VN, DemoMail, descriptions_docx, task, task_list_xlsx
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes
from tests.mailflow import ImapWorkspace
from tests.servers import Certificates, Dovecot, SmtpSink
from tests.servers.introspection import IdentityProvider, Introspection, OAuth2Passdb

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
OUTLOOK_SCOPE = "https://outlook.office365.com/.default"
SECRET_ENV = "MAILBOT_TEST_M365_SECRET"
ADMIN = "quan-tri@example.org"
WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)
MAX_BYTES = 25 * 1024 * 1024


@pytest.fixture
def address(oauth2_dovecot: Dovecot) -> str:
    """A new mailbox on the oauth2 Dovecot; its password serves only the tests' own PLAIN connections."""
    name = f"nop-de-xuat-{secrets.token_hex(4)}@example.org"
    oauth2_dovecot.add_user(name, secrets.token_urlsafe(12))
    return name


@pytest.fixture
def msal_session(certificates: Certificates) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE and proxies from the environment would override `verify`
    session.verify = str(certificates.ca_file)
    yield session
    session.close()


class Oauth2Section:
    """Writes the `[mailbox.oauth2]` values of one provider, as the README documents them."""

    def __init__(
        self,
        identity_provider: IdentityProvider,
        monkeypatch: pytest.MonkeyPatch,
        session: requests.Session,
        tmp_path: Path,
    ) -> None:
        self.idp, self.monkeypatch, self.session, self.tmp_path = identity_provider, monkeypatch, session, tmp_path
        self.client: dict[str, str] = {}

    def microsoft(self, address: str) -> dict[str, str]:
        """An Entra app for this mailbox at the local token endpoint; msal is told to go there, not to Microsoft."""
        tenant, client_id, secret = secrets.token_hex(4), secrets.token_hex(8), secrets.token_urlsafe(16)
        self.idp.register_client(tenant, client_id, secret, address)
        self.monkeypatch.setenv(SECRET_ENV, secret)
        self.monkeypatch.setattr(oauth2, "_msal_application", self._local_msal)
        self.client = {"tenant": tenant, "client_id": client_id, "secret": secret}
        return {"provider": "microsoft", "tenant_id": tenant, "client_id": client_id, "client_secret_env": SECRET_ENV}

    def google(self, *tokens: str) -> dict[str, str]:
        """One token: a token file (another tool keeps it fresh); several: a command handing out the next each run."""
        if len(tokens) == 1:
            token_file = self.tmp_path / f"gmail-token-{secrets.token_hex(3)}.json"
            token_file.write_text(f'{{"access_token": "{tokens[0]}", "expires_in": 3599}}\n', encoding="utf-8")
            return {"provider": "google", "token_file": str(token_file)}
        queue = self.tmp_path / f"gmail-tokens-{secrets.token_hex(3)}"
        queue.write_text("\n".join(tokens), encoding="utf-8")
        code = (
            "import pathlib, sys; queue = pathlib.Path(sys.argv[1]); tokens = queue.read_text().split();"
            " print(tokens[0]); queue.write_text(' '.join(tokens[1:]))"
        )
        return {"provider": "google", "token_command": shlex.join([sys.executable, "-c", code, str(queue)])}

    def token_requests(self) -> list[dict[str, str]]:
        return [r for r in self.idp.token_requests if r.get("client_id") == self.client.get("client_id")]

    def _local_msal(self, client_id: str, *, authority: str, **options: Any) -> Any:
        assert authority.startswith(MICROSOFT_LOGIN + "/"), authority  # what mailbot asked for
        return msal.ConfidentialClientApplication(
            client_id,
            authority=self.idp.base_url + authority.removeprefix(MICROSOFT_LOGIN),
            http_client=self.session,
            validate_authority=False,
            instance_discovery=False,
            **options,
        )


@pytest.fixture
def section(
    identity_provider: IdentityProvider, monkeypatch: pytest.MonkeyPatch, msal_session: requests.Session, tmp_path: Path
) -> Oauth2Section:
    return Oauth2Section(identity_provider, monkeypatch, msal_session, tmp_path)


def imap_settings(dovecot: Dovecot, certificates: Certificates, address: str, oauth: dict[str, str]) -> ImapSettings:
    return ImapSettings.model_validate(
        {
            "kind": "imap",
            "host": dovecot.host,
            "port": dovecot.ssl_port,
            "security": "ssl",
            "ca_file": str(certificates.ca_file),
            "username": address,
            "timeout_seconds": 10,
            "oauth2": oauth,
        }
    )


def mailbox(dovecot: Dovecot, certificates: Certificates, address: str, oauth: dict[str, str]) -> ImapMailbox:
    settings = imap_settings(dovecot, certificates, address, oauth)
    login = login_for(settings, Path("mailbot.toml"), "mailbox")
    return ImapMailbox(settings, login, max_message_bytes=MAX_BYTES)


@pytest.fixture
def own_provider(certificates: Certificates) -> Iterator[IdentityProvider]:
    """An identity provider of this test's own, free to stop (stopping is idempotent)."""
    provider = IdentityProvider(certificates).start()
    yield provider
    provider.stop()


def answers(asked: list[Introspection]) -> list[bool]:
    return [a.active for a in asked]


# --- the adapter against Dovecot ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["microsoft", "google"])
def test_mail_is_listed_and_fetched_from_dovecot_with_an_xoauth2_login(
    provider: str,
    oauth2_dovecot: Dovecot,
    identity_provider: IdentityProvider,
    certificates: Certificates,
    section: Oauth2Section,
    address: str,
) -> None:
    oauth = section.microsoft(address) if provider == "microsoft" else section.google(identity_provider.issue(address))
    raw = email_bytes(subject="Đề xuất qua XOAUTH2", to=address)
    oauth2_dovecot.append(raw, WHEN, user=address)
    box = mailbox(oauth2_dovecot, certificates, address, oauth)
    try:
        [key] = box.list_new()
        fetched = box.fetch(key)
    finally:
        box.close()
    assert fetched is not None and fetched.raw == raw and fetched.arrived_at == WHEN
    [asked] = identity_provider.introspections(username=address)  # one login, one question, by POST
    assert asked.active and asked.mode == "post" and asked.token in identity_provider.issued_to(address)
    if provider == "microsoft":
        [sent] = section.token_requests()
        assert sent["grant_type"] == "client_credentials" and sent["scope"] == OUTLOOK_SCOPE
        assert sent["client_secret"] == section.client["secret"]


@pytest.mark.parametrize("mode", ["get", "auth"])
def test_dovecot_asking_by_get_or_by_bearer_header_takes_the_token_too(
    mode: str,
    start_dovecot: Callable[..., Dovecot],
    identity_provider: IdentityProvider,
    certificates: Certificates,
    section: Oauth2Section,
) -> None:
    url = identity_provider.introspection_url_for(mode)
    passdb = OAuth2Passdb(url, certificates.ca_file, mode=mode)  # type: ignore[arg-type]  # parametrize gives a str
    dovecot = start_dovecot(users={}, oauth2=passdb)
    address = f"bot-{secrets.token_hex(4)}@example.org"
    box = mailbox(dovecot, certificates, address, section.google(identity_provider.issue(address)))
    try:
        assert box.list_new() == []
    finally:
        box.close()
    assert [(a.mode, a.active) for a in identity_provider.introspections(username=address)] == [(mode, True)]


def test_an_expired_microsoft_token_is_refreshed_once_and_the_second_login_succeeds(
    oauth2_dovecot: Dovecot,
    identity_provider: IdentityProvider,
    certificates: Certificates,
    section: Oauth2Section,
    address: str,
) -> None:
    box = mailbox(oauth2_dovecot, certificates, address, section.microsoft(address))
    tokens = box.connection.login.tokens
    assert tokens is not None
    cached = tokens.token()  # what mailbot holds from earlier ...
    identity_provider.expire(cached)  # ... has expired on the server's side since
    oauth2_dovecot.append(email_bytes(to=address), WHEN, user=address)
    with structlog.testing.capture_logs() as logs:
        try:
            assert len(box.list_new()) == 1
        finally:
            box.close()
    old, new = identity_provider.issued_to(address)
    assert old == cached
    asked = identity_provider.introspections(username=address)
    assert [(a.token, a.active) for a in asked] == [(old, False), (new, True)]
    assert len(section.token_requests()) == 2  # msal went back to the token endpoint, not to its cache
    assert {e["event"] for e in logs} >= {"oauth2_token_acquired"}
    assert old not in repr(logs) and new not in repr(logs) and section.client["secret"] not in repr(logs)


def test_an_expired_gmail_token_is_fetched_again_once_by_its_command_and_the_second_login_succeeds(
    oauth2_dovecot: Dovecot,
    identity_provider: IdentityProvider,
    certificates: Certificates,
    section: Oauth2Section,
    address: str,
) -> None:
    old, new = identity_provider.issue(address), identity_provider.issue(address)
    identity_provider.expire(old)
    box = mailbox(oauth2_dovecot, certificates, address, section.google(old, new, identity_provider.issue(address)))
    try:
        assert box.list_new() == []
    finally:
        box.close()
    asked = identity_provider.introspections(username=address)
    assert [(a.token, a.active) for a in asked] == [(old, False), (new, True)]  # the third was never needed


def test_a_token_still_inactive_after_the_refresh_is_a_refused_login_asked_about_twice_only(
    oauth2_dovecot: Dovecot,
    identity_provider: IdentityProvider,
    certificates: Certificates,
    section: Oauth2Section,
    address: str,
) -> None:
    first, second = identity_provider.issue(address), identity_provider.issue(address)
    for token in (first, second):
        identity_provider.expire(token)
    box = mailbox(oauth2_dovecot, certificates, address, section.google(first, second))
    with pytest.raises(AuthError, match=f"IMAP login refused for {address}") as refused:
        box.list_new()
    box.close()
    assert first not in str(refused.value) and second not in str(refused.value)
    asked = identity_provider.introspections(username=address)
    assert [(a.token, a.active) for a in asked] == [(first, False), (second, False)]


# --- mailbot once, end to end ------------------------------------------------------------------------------


def oauth2_workspace(
    root: Path, dovecot: Dovecot, address: str, sink: SmtpSink, certificates: Certificates, oauth: dict[str, str]
) -> ImapWorkspace:
    """tests/mailflow's IMAP workspace with `[mailbox.oauth2]` instead of a password, over IMAPS, and alerts."""
    space = ImapWorkspace(root, dovecot, (address, dovecot.users[address]), sink, certificates)
    (root / "mailbox.password").unlink()
    text = space.config.read_text(encoding="utf-8")
    text = text.replace('password_file = "mailbox.password"\n', "")
    text = text.replace(f'port = {dovecot.port}\nsecurity = "starttls"', f'port = {dovecot.ssl_port}\nsecurity = "ssl"')
    table = "[mailbox.oauth2]\n" + "".join(f'{key} = "{value}"\n' for key, value in oauth.items())
    text = text.replace("\n[smtp]\n", f"\n{table}\n[smtp]\n", 1)
    alerts = f'\n[alerts]\nto = ["{ADMIN}"]\nmailbox_minutes = 0\nsmtp_minutes = 0\ntracker_minutes = 0\n'
    space.config.write_text(text + alerts, encoding="utf-8")
    return space


def submission(rules: Rules, address: str) -> DemoMail:
    tasks = [task("Nhiệm vụ XOAUTH2", 2, "2024-01", "2024-06", 500, 500, "Viện Cơ khí")]
    files = [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, "Viện Cơ khí", tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]
    message_id = f"<p.{secrets.token_hex(4)}@vien.example.vn>"
    raw = email_bytes(to=address, attachments=files, message_id=message_id)
    return DemoMail("plan over XOAUTH2", raw, WHEN, "acknowledged", message_id=message_id)


def alert_kinds(replies: list[EmailMessage]) -> list[str]:
    return sorted(str(m["X-Mailbot-Alert"]) for m in replies if m.get("X-Mailbot-Alert"))


@pytest.mark.parametrize("provider", ["microsoft", "google"])
def test_mailbot_once_answers_a_submission_read_from_dovecot_over_xoauth2(
    provider: str,
    oauth2_dovecot: Dovecot,
    identity_provider: IdentityProvider,
    certificates: Certificates,
    section: Oauth2Section,
    address: str,
    start_smtp_sink: Callable[..., SmtpSink],
    rules: Rules,
    tmp_path: Path,
) -> None:
    oauth = section.microsoft(address) if provider == "microsoft" else section.google(identity_provider.issue(address))
    space = oauth2_workspace(tmp_path / "work", oauth2_dovecot, address, start_smtp_sink(tls=True), certificates, oauth)
    mail = submission(rules, address)
    space.deliver([mail])
    result = space.cli("once")
    assert result.exit_code == 0, result.output
    [reply] = space.replies()
    assert reply["In-Reply-To"] == mail.message_id and reply["To"] == "a@vien.example.vn"
    assert [m["action"] for m in space.export()["messages"]] == ["acknowledged"]
    assert space.inbox() == [] and space.folder_count("Processed") == 1
    assert answers(identity_provider.introspections(username=address)) == [True]
    assert "oauth2_token_acquired" in result.output  # mailbot's log lines are in the output ...
    for token in identity_provider.issued_to(address):
        assert token not in result.output  # ... and no token is
    if provider == "microsoft":
        assert section.client["secret"] not in result.output


def test_mailbot_once_with_a_token_dovecot_refuses_exits_77_and_tells_the_admin(
    oauth2_dovecot: Dovecot,
    identity_provider: IdentityProvider,
    certificates: Certificates,
    section: Oauth2Section,
    address: str,
    start_smtp_sink: Callable[..., SmtpSink],
    rules: Rules,
    tmp_path: Path,
) -> None:
    token = identity_provider.issue(address)
    identity_provider.expire(token)
    oauth = section.google(token)
    space = oauth2_workspace(tmp_path / "work", oauth2_dovecot, address, start_smtp_sink(tls=True), certificates, oauth)
    space.deliver([submission(rules, address)])
    result = space.cli("once")
    assert result.exit_code == 77, result.output
    assert f"login refused: IMAP login refused for {address}" in result.output
    assert token not in result.output
    assert answers(identity_provider.introspections(token)) == [False, False]  # the file was read again once
    assert alert_kinds(space.replies()) == ["mailbox_login_refused; alert"]
    assert len(space.inbox()) == 1  # the submission waits for a login that works


def test_mailbot_once_with_a_microsoft_secret_the_token_endpoint_refuses_exits_77_and_dovecot_is_not_asked(
    oauth2_dovecot: Dovecot,
    identity_provider: IdentityProvider,
    certificates: Certificates,
    section: Oauth2Section,
    address: str,
    start_smtp_sink: Callable[..., SmtpSink],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    oauth = section.microsoft(address)
    monkeypatch.setenv(SECRET_ENV, "not-the-secret")
    space = oauth2_workspace(tmp_path / "work", oauth2_dovecot, address, start_smtp_sink(tls=True), certificates, oauth)
    result = space.cli("once")
    assert result.exit_code == 77, result.output
    assert "invalid_client" in result.output and "IMAP.AccessAsApp" in result.output
    assert "not-the-secret" not in result.output
    assert identity_provider.issued_to(address) == [] and identity_provider.introspections(username=address) == []
    assert alert_kinds(space.replies()) == ["mailbox_login_refused; alert"]


def test_dovecot_unable_to_reach_its_introspection_endpoint_is_a_mailbox_unavailable_not_a_refused_login(
    start_dovecot: Callable[..., Dovecot],
    certificates: Certificates,
    own_provider: IdentityProvider,
    section: Oauth2Section,
) -> None:
    idp = own_provider
    dovecot = start_dovecot(users={}, oauth2=OAuth2Passdb(idp.introspection_url, certificates.ca_file))
    address = f"bot-{secrets.token_hex(4)}@example.org"
    first, second = idp.issue(address), idp.issue(address)
    tokens = section.google(first, second)
    idp.stop()  # Dovecot now answers NO [UNAVAILABLE]: it cannot check any token
    box = mailbox(dovecot, certificates, address, tokens)
    with pytest.raises(MailboxUnavailable, match=r"UNAVAILABLE") as unavailable:
        box.list_new()
    box.close()
    assert not isinstance(unavailable.value, AuthError)  # not exit 77 and "login refused": wait and try again
    assert Path(shlex.split(tokens["token_command"])[-1]).read_text().split() == [second]  # and no new token


def test_mailbot_once_while_dovecot_cannot_check_tokens_exits_69_and_says_the_mailbox_is_unreachable(
    start_dovecot: Callable[..., Dovecot],
    certificates: Certificates,
    own_provider: IdentityProvider,
    section: Oauth2Section,
    start_smtp_sink: Callable[..., SmtpSink],
    tmp_path: Path,
) -> None:
    idp = own_provider
    dovecot = start_dovecot(users={}, oauth2=OAuth2Passdb(idp.introspection_url, certificates.ca_file))
    address = f"bot-{secrets.token_hex(4)}@example.org"
    dovecot.add_user(address, secrets.token_urlsafe(12))
    oauth = section.google(idp.issue(address))
    space = oauth2_workspace(tmp_path / "work", dovecot, address, start_smtp_sink(tls=True), certificates, oauth)
    idp.stop()
    result = space.cli("once")
    assert result.exit_code == 69, result.output
    assert "cannot check logins now" in result.output and "login refused" not in result.output
    assert alert_kinds(space.replies()) == ["mailbox_unreachable; alert"]
