"""On-premises Exchange over EWS: the real exchangelib against the EWS test server (HTTPS, NTLM or Basic, faults)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailbot.adapters.ews import EwsDisabled, EwsMailbox, EwsSender, EwsUnavailable, MessageUnreadable
from mailbot.adapters.oauth2 import AuthError
from mailbot.config_exchange import EwsMailbox as EwsSettings
from mailbot.config_exchange import EwsSender as EwsSenderSettings
from mailbot.demo import demo_mails
from mailbot.validation.schema import Rules
from tests.mailflow import EwsWorkspace
from tests.servers import Certificates
from tests.servers.ews import EwsServer
from tests.test_surviving_crashes import run_once

T0 = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
USER = "EXAMPLE\\bot"
Start = Callable[..., EwsServer]


def mail(n: int, body: bytes = b"Xin chao.") -> bytes:
    return f"Message-ID: <m{n}@unit.example.vn>\r\nFrom: a@unit.example.vn\r\nSubject: m{n}\r\n\r\n".encode() + body


def settings(server: EwsServer, certificates: Certificates, tmp_path: Path, **changes: Any) -> EwsSettings:
    (tmp_path / "pw").write_text(server.users[USER], encoding="utf-8")
    values = {
        "kind": "ews", "service_endpoint": server.url, "address": "nop-de-xuat@example.org", "username": USER,
        "password_file": tmp_path / "pw", "auth": server.auth, "ca_file": certificates.ca_file,
        "version": "Exchange2016", **changes,
    }  # fmt: skip
    return EwsSettings.model_validate(values)


@pytest.fixture
def server(start_ews: Start) -> EwsServer:
    return start_ews(users={USER: secrets.token_urlsafe(12)})


@pytest.fixture
def box(server: EwsServer, certificates: Certificates, tmp_path: Path) -> EwsMailbox:
    config = settings(server, certificates, tmp_path)
    return EwsMailbox(config, config.password(tmp_path / "config.toml"), max_message_bytes=10_000)


# --- listing, fetching, moving


def test_the_listing_pages_through_the_whole_folder_oldest_first_without_bodies(
    server: EwsServer, box: EwsMailbox
) -> None:
    keys = [server.store.deliver(mail(n), T0 + dt.timedelta(minutes=-n)) for n in range(5)]
    box.page_size = 2
    assert box.list_new() == list(reversed(keys))
    assert server.requests.count("FindItem") == 3 and "GetItem" not in server.requests
    assert all(len(k) > 100 and k != k.lower() for k in keys)  # Exchange-like ids: long and case-sensitive


def test_a_message_is_fetched_with_its_mime_and_received_time_and_moving_it_changes_its_id(
    server: EwsServer, box: EwsMailbox
) -> None:
    key = server.store.deliver(mail(1), T0)
    box.list_new()
    fetched = box.fetch(key)
    assert fetched is not None and fetched.raw == mail(1) and fetched.arrived_at == T0 and fetched.complete
    box.mark_done(key)
    [moved] = server.store.in_folder("Processed")
    assert moved.id != key and moved.mime == mail(1)
    assert box.fetch(key) is None  # the intake id is gone: vanished, not an error
    box.mark_done(key)  # already moved: success


def test_a_message_over_the_size_limit_gives_only_its_header(server: EwsServer, box: EwsMailbox) -> None:
    key = server.store.deliver(mail(1, b"x" * 20_000), T0)
    fetched = box.fetch(key)
    assert fetched is not None and not fetched.complete and fetched.size == len(mail(1, b"x" * 20_000))
    assert b"Message-ID: <m1@unit.example.vn>" in fetched.raw and b"xxx" not in fetched.raw


def test_a_message_exchange_cannot_convert_to_mime_is_unreadable(server: EwsServer, box: EwsMailbox) -> None:
    key = server.store.deliver(mail(1), T0, mime_broken=True)
    with pytest.raises(MessageUnreadable, match="ErrorMimeContentConversionFailed"):
        box.fetch(key)


def test_the_folders_are_made_once_and_a_concurrent_creation_is_fine(
    server: EwsServer, certificates: Certificates, tmp_path: Path
) -> None:
    config = settings(server, certificates, tmp_path)
    first = EwsMailbox(config, server.users[USER], max_message_bytes=10_000)
    first.list_new()
    first.list_new()
    assert server.requests.count("CreateFolder") == 2  # Processed and Quarantine, at the first listing only
    server.store.delete_folder("Quarantine")
    server.soap.hidden.add("Quarantine")  # another mailbot makes it between our FindFolder and CreateFolder
    second = EwsMailbox(config, server.users[USER], max_message_bytes=10_000)
    assert second.list_new() == []
    assert server.store.folder_named("Quarantine") is not None


def test_a_processed_folder_deleted_by_a_person_is_made_again(server: EwsServer, box: EwsMailbox) -> None:
    first, second = server.store.deliver(mail(1), T0), server.store.deliver(mail(2), T0)
    box.list_new()
    box.mark_done(first)
    server.store.delete_folder("Processed")
    box.mark_done(second)
    assert [i.mime for i in server.store.in_folder("Processed")] == [mail(2)]


# --- faults


def test_a_wrong_password_is_refused_at_once_not_retried_for_an_hour(
    server: EwsServer, certificates: Certificates, tmp_path: Path
) -> None:
    config = settings(server, certificates, tmp_path)
    box = EwsMailbox(config, "wrong", max_message_bytes=10_000)
    started = time.monotonic()
    with pytest.raises(AuthError, match="EWS login refused for EXAMPLE"):
        box.list_new()
    assert time.monotonic() - started < 5 and server.failed_logins == 1
    with pytest.raises(EwsUnavailable, match="next attempt in"):
        box.list_new()  # backing off: no second login attempt right away
    assert server.failed_logins == 1


def test_a_401_after_login_is_final_too(server: EwsServer, box: EwsMailbox) -> None:
    box.list_new()
    server.fault("401", times=5)
    with pytest.raises(AuthError):
        box.list_new()
    assert len(server.faults) == 4  # one request, not a retry loop


def test_http_403_says_ews_is_disabled_and_is_asked_again_only_after_an_hour(
    server: EwsServer, box: EwsMailbox
) -> None:
    server.forbidden = True
    with pytest.raises(EwsDisabled, match="EWS is disabled for this mailbox: use IMAP or Graph"):
        box.list_new()
    server.forbidden = False
    with pytest.raises(EwsUnavailable, match=r"next attempt in (3600|3599)s"):
        box.list_new()


@pytest.mark.parametrize(("fault", "seconds"), [("busy", 1.5), ("503", 1)], ids=["ErrorServerBusy", "Retry-After"])
def test_the_servers_request_to_back_off_is_honoured(
    server: EwsServer, box: EwsMailbox, fault: Any, seconds: float
) -> None:
    key = server.store.deliver(mail(1), T0)
    server.fault(fault, seconds)
    started = time.monotonic()
    assert box.list_new() == [key]
    assert time.monotonic() - started >= seconds and not server.faults


def test_a_back_off_longer_than_the_ceiling_ends_the_batch_and_is_kept_for_the_next_poll(
    server: EwsServer, box: EwsMailbox
) -> None:
    server.fault("busy", 3600)
    started = time.monotonic()
    with pytest.raises(EwsUnavailable, match="asks to wait 3600s"):
        box.list_new()
    assert time.monotonic() - started < 5
    asked = len(server.requests)
    with pytest.raises(EwsUnavailable, match="next attempt in"):
        box.list_new()
    assert len(server.requests) == asked


def test_a_dropped_connection_is_made_again(server: EwsServer, box: EwsMailbox) -> None:
    key = server.store.deliver(mail(1), T0)
    box.list_new()
    server.fault("drop")
    fetched = box.fetch(key)
    assert fetched is not None and fetched.raw == mail(1) and not server.faults


def test_a_certificate_that_does_not_match_is_final(
    start_ews: Start, certificates: Certificates, tmp_path: Path
) -> None:
    server = start_ews(users={USER: "secret"}, cert="wrong")
    box = EwsMailbox(settings(server, certificates, tmp_path), "secret", max_message_bytes=10_000)
    with pytest.raises(EwsUnavailable, match="TLS certificate of EWS server localhost"):
        box.list_new()
    assert server.requests == []


def test_no_password_reaches_the_logs(
    start_ews: Start, certificates: Certificates, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    password = secrets.token_urlsafe(12)
    server = start_ews(users={USER: password}, auth="basic")
    caplog.set_level(logging.DEBUG)
    config = settings(server, certificates, tmp_path)
    box = EwsMailbox(config, password, max_message_bytes=10_000)
    key = server.store.deliver(mail(1), T0)
    box.list_new()
    box.fetch(key)
    box.mark_done(key)
    EwsSender(EwsSenderSettings(kind="ews", sender="nop-de-xuat@example.org"), box.connection).send(
        "<r1@example.org>", "a@unit.example.vn", mail(9)
    )
    logged = caplog.text + "".join(capsys.readouterr())
    basic = base64.b64encode(f"{USER}:{password}".encode()).decode()
    assert logging.getLogger("exchangelib.util").getEffectiveLevel() == logging.INFO  # DEBUG has the headers
    assert password not in logged and basic not in logged


# --- sending


def test_a_reply_goes_out_byte_for_byte_and_a_copy_is_kept_in_sent_items(server: EwsServer, box: EwsMailbox) -> None:
    sender = EwsSender(EwsSenderSettings(kind="ews", sender="nop-de-xuat@example.org"), box.connection)
    raw = b"Message-ID: <mailbot.1@example.org>\r\nIn-Reply-To: <m1@x>\r\nReferences: <m0@x> <m1@x>\r\n\r\nOK"
    sender.send("<mailbot.1@example.org>", "a@unit.example.vn", raw)
    assert server.store.sent == [("SendAndSaveCopy", raw)]
    assert [i.message_id for i in server.store.in_folder("Sent Items")] == ["<mailbot.1@example.org>"]


def test_without_save_copy_the_reply_is_sent_only(server: EwsServer, box: EwsMailbox) -> None:
    sender = EwsSender(EwsSenderSettings(kind="ews", sender="a@example.org", save_copy=False), box.connection)
    sender.send("<mailbot.1@example.org>", "a@unit.example.vn", mail(1))
    assert server.store.sent == [("SendOnly", mail(1))] and server.store.in_folder("Sent Items") == []


def test_the_pinned_version_spares_the_guessing_request(
    server: EwsServer, certificates: Certificates, tmp_path: Path
) -> None:
    pinned = EwsMailbox(settings(server, certificates, tmp_path), server.users[USER], max_message_bytes=1000)
    pinned.list_new()
    assert "ConvertId" not in server.requests
    unpinned = settings(server, certificates, tmp_path, version=None)
    guessing = EwsMailbox(unpinned, server.users[USER], max_message_bytes=1)
    guessing.list_new()
    assert server.requests.count("ConvertId") == 1


# --- through the command line


@pytest.fixture
def space(server: EwsServer, certificates: Certificates, tmp_path: Path) -> EwsWorkspace:
    return EwsWorkspace(tmp_path / "work", server, (USER, server.users[USER]), certificates)


def test_a_wrong_password_makes_once_exit_77(space: EwsWorkspace) -> None:
    (space.root / "mailbox.password").write_text("wrong", encoding="utf-8")
    result = space.cli("once")
    assert result.exit_code == 77 and "EWS login refused" in result.output


def test_check_connect_logs_in_and_names_the_folder(space: EwsWorkspace) -> None:
    result = space.cli("check", "--connect")
    assert result.exit_code == 0, result.output
    assert "mailbox: OK" in result.output and "folder Inbox open" in result.output


def test_a_message_exchange_cannot_give_as_mime_is_quarantined_and_the_rest_go_on(
    space: EwsWorkspace, server: EwsServer, rules: Rules
) -> None:
    good = demo_mails(rules, "example.org")[0]
    server.store.deliver(b"Subject: broken\r\n\r\n", T0, mime_broken=True)
    space.deliver([good])
    assert space.cli("once").exit_code == 0
    assert sorted(m["action"] for m in space.export()["messages"]) == sorted(["failed", good.expect])
    assert space.folder_count("Quarantine") == 1 and space.folder_count("Processed") == 1


def test_the_ledger_keeps_the_intake_id_and_records_the_new_id_of_the_moved_item(
    space: EwsWorkspace, server: EwsServer, rules: Rules
) -> None:
    mails = demo_mails(rules, "example.org")[:2]
    space.deliver(mails)
    intake = sorted(i.id for i in server.store.in_folder("Inbox"))
    assert space.cli("once").exit_code == 0
    moved = sorted(i.id for i in server.store.in_folder("Processed"))
    with sqlite3.connect(space.root / "var" / "ledger.sqlite3") as db:
        rows = db.execute("SELECT mailbox_key, moved_key FROM messages ORDER BY id").fetchall()
    assert sorted(key for key, _ in rows) == intake
    assert sorted(new for _, new in rows) == moved and not set(moved) & set(intake)


@pytest.mark.parametrize("point", ["handed_over:2", "sending:3", "moved:1", "committed:3"])
def test_a_crash_is_recovered_and_an_interrupted_reply_found_in_sent_items_is_not_sent_again(
    space: EwsWorkspace, rules: Rules, point: str
) -> None:
    mails = demo_mails(rules, "example.org")
    space.deliver(mails)
    assert run_once(space, point).returncode != 0
    recovered = run_once(space)
    assert recovered.returncode == 0, recovered.stderr[-2000:]
    assert [m["action"] for m in space.export()["messages"]] == [m.expect for m in mails]
    answered = [m.message_id for m in mails if m.expect in ("acknowledged", "correction_sent")]
    assert sorted(r["In-Reply-To"] for r in space.replies()) == sorted(answered)
    assert space.inbox() == []


def test_ntlm_is_bound_to_the_tls_channel(server: EwsServer, box: EwsMailbox) -> None:
    server.binding = b"tls-server-end-point:" + bytes(32)  # what a TLS-intercepting proxy would present
    with pytest.raises(AuthError):
        box.list_new()


# --- the configuration

EWS_CONFIG = """[mailbox]
kind = "ews"
service_endpoint = "https://mail.example.org/EWS/Exchange.asmx"
address = "nop-de-xuat@example.org"
username = "EXAMPLE\\\\nop-de-xuat"
password_env = "MAILBOT_TEST_EWS_PASSWORD"
auth = "ntlm"
folder = "Inbox"
processed_folder = "Processed"
quarantine_folder = "Quarantine"

[smtp]
kind = "ews"
from = "Vụ TKNL <nop-de-xuat@example.org>"
save_copy = true
"""


def _check(tmp_path: Path, text: str) -> Any:
    from click.testing import CliRunner

    from mailbot.cli import main

    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["--config", str(tmp_path / "config.toml"), "check"])


def test_the_documented_ews_configuration_checks_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOT_TEST_EWS_PASSWORD", "secret")
    result = _check(tmp_path, EWS_CONFIG)
    assert result.exit_code == 0, result.output
    assert "mailbox ews, replies via ews" in result.output


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (('auth = "ntlm"', 'auth = "digest"'), "mailbox.auth", "ntlm"),
        (("https://mail", "http://mail"), "mailbox.service_endpoint", "https URL of EWS"),
        (('address = "nop-de-xuat@example.org"', 'address = "nop-de-xuat"'), "mailbox.address", "primary SMTP"),
        (('folder = "Inbox"', 'folder = "Inbox"\nautodiscover = true'), "mailbox.autodiscover", "unknown key"),
        (('password_env = "MAILBOT_TEST_EWS_PASSWORD"', 'password_env = "MAILBOT_UNSET_SECRET"'),
         "mailbox.password_env", "not set"),
        (('kind = "ews"\nservice', 'kind = "maildir"\n#'), "smtp.kind", 'needs [mailbox] kind = "ews"'),
    ],
    ids=["auth", "http", "address", "typo", "secret", "pairing"],
)  # fmt: skip
def test_check_names_a_bad_ews_key_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: tuple[str, str], key: str, reason: str
) -> None:
    monkeypatch.setenv("MAILBOT_TEST_EWS_PASSWORD", "secret")
    text = EWS_CONFIG.replace(*change)
    if change[1].startswith('kind = "maildir"'):
        text = '[mailbox]\nkind = "maildir"\n\n' + text[text.index("[smtp]") :]
    result = _check(tmp_path, text)
    assert result.exit_code == 78, result.output
    assert f"[{key}]" in result.output and reason in result.output
