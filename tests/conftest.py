"""Shared fixtures: the seed call's rules, and real mail servers (Dovecot, an SMTP sink) on loopback."""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailbot.validation.rules_file import load_rules
from mailbot.validation.schema import Rules
from tests.servers import Certificates, Dovecot, SmtpSink, ensure_dovecot, short_tempdir
from tests.servers.ews import EwsServer
from tests.servers.graph import GraphServer
from tests.servers.introspection import IdentityProvider, OAuth2Passdb

ROOT = Path(__file__).resolve().parents[1]
SEED_RULES = ROOT / "rules" / "sxtdbv-2024.toml"


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules(SEED_RULES)


# --- real mail servers on loopback (tests/servers/) ------------------------------------------------------


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A private CA and server certificates (`good`, `wrong` host, `expired`); trust it via `.client_context()`."""
    return Certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture(scope="session")
def dovecot_binary() -> str:
    try:
        return ensure_dovecot()
    except RuntimeError as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="session")
def dovecot(dovecot_binary: str, certificates: Certificates) -> Iterator[Dovecot]:
    """One Dovecot for the whole run, user `bot`/`secret`; use `imap_user` for an empty mailbox of your own."""
    with _dovecot_folder() as folder:
        server = Dovecot(certificates).start(folder)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def identity_provider(certificates: Certificates) -> Iterator[IdentityProvider]:
    """A local OAuth2 provider (HTTPS, the test CA): a Microsoft-style token endpoint and RFC 7662 introspection."""
    provider = IdentityProvider(certificates).start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="module")
def oauth2_dovecot(
    dovecot_binary: str, certificates: Certificates, identity_provider: IdentityProvider
) -> Iterator[Dovecot]:
    """A Dovecot of its own that also takes XOAUTH2/OAUTHBEARER, each token checked by `identity_provider`
    (its `oauth2` passdb, introspection by POST); passwords still work for PLAIN/LOGIN (`add_user`)."""
    passdb = OAuth2Passdb(identity_provider.introspection_url, certificates.ca_file)
    with _dovecot_folder() as folder:
        server = Dovecot(certificates).start(folder, users={}, oauth2=passdb)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def imap_user(dovecot: Dovecot) -> tuple[str, str]:
    """A new login on the shared Dovecot, with an empty mailbox: (name, password)."""
    name, password = f"user-{secrets.token_hex(6)}", secrets.token_urlsafe(12)
    dovecot.add_user(name, password)
    return name, password


@pytest.fixture
def start_dovecot(dovecot_binary: str, certificates: Certificates) -> Iterator[Callable[..., Dovecot]]:
    """Start private Dovecots: `start_dovecot(users=..., capabilities=..., cert="good"|"wrong"|"expired")`."""
    with contextlib.ExitStack() as cleanup:

        def start(**options: Any) -> Dovecot:
            folder = cleanup.enter_context(_dovecot_folder())
            server = Dovecot(certificates)
            cleanup.callback(server.stop)  # registered after the folder, so it runs before the folder is removed
            return server.start(folder, **options)

        yield start


@pytest.fixture
def private_dovecot(start_dovecot: Callable[..., Dovecot]) -> Dovecot:
    """A Dovecot of this test's own (default config, user `bot`/`secret`), free to restart or stop."""
    return start_dovecot()


@pytest.fixture
def start_smtp_sink(tmp_path: Path, certificates: Certificates) -> Iterator[Callable[..., SmtpSink]]:
    """Start SMTP sinks: `start_smtp_sink(tls=..., auth={user: password}, auth_require_tls=...)`."""
    sinks: list[SmtpSink] = []

    def start(**options: Any) -> SmtpSink:
        sink = SmtpSink(tmp_path / f"smtp-{len(sinks) + 1}", certificates=certificates, **options)
        sinks.append(sink)
        return sink.start()

    yield start
    for sink in sinks:
        sink.stop()


@pytest.fixture
def smtp_sink(start_smtp_sink: Callable[..., SmtpSink]) -> SmtpSink:
    """A plain SMTP server without AUTH that keeps every message in `<tmp_path>/smtp-1/NNNN.eml`."""
    return start_smtp_sink()


@pytest.fixture
def start_ews(tmp_path: Path, certificates: Certificates) -> Iterator[Callable[..., EwsServer]]:
    """Start EWS test servers: `start_ews(users={"EXAMPLE\\\\bot": "secret"}, auth="ntlm"|"basic", cert=...)`."""
    servers: list[EwsServer] = []

    def start(**options: Any) -> EwsServer:
        server = EwsServer(certificates, tmp_path / f"ews-{len(servers) + 1}", **options)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@contextlib.contextmanager
def _dovecot_folder() -> Iterator[Path]:
    folder = short_tempdir("mailbot-dovecot-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def graph_server(certificates: Certificates) -> Iterator[GraphServer]:
    """A Microsoft Graph mailbox (nop-de-xuat@example.org) and its Entra tenant, over HTTPS with the test CA."""
    server = GraphServer(certificates).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def font() -> Path:
    """The receipt's font found on this machine; a test that needs one fails without it (`make test` installs it)."""
    from mailbot.receipt import find_font

    found = find_font(None)
    if found is None:
        pytest.fail("no DejaVu Sans or Noto Sans on this machine: install fonts-dejavu-core (make test does)")
    return found
