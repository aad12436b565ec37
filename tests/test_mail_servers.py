"""The real servers the mail tests run against: a private Dovecot and an SMTP sink, started by the tests."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import imapclient
import pytest

from tests import servers
from tests.servers import Certificates, Dovecot, SmtpSink

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hello\r\nMessage-ID: <m1@example.org>\r\n\r\nbody\r\n"
HANOI = timezone(timedelta(hours=7))


def login(client: imapclient.IMAPClient, user: tuple[str, str]) -> None:
    client.login(*user)
    client.select_folder("INBOX", readonly=True)
    client.logout()


# --- Dovecot -----------------------------------------------------------------------------------------------


def test_dovecot_greets_and_accepts_a_login_in_plain_text(dovecot: Dovecot, imap_user: tuple[str, str]) -> None:
    client = imapclient.IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10)
    assert b"IMAP4REV1" in client.capabilities()
    login(client, imap_user)


def test_dovecot_accepts_a_login_after_starttls_verified_against_the_test_ca(
    dovecot: Dovecot, imap_user: tuple[str, str], certificates: Certificates
) -> None:
    client = imapclient.IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10)
    assert b"STARTTLS" in client.capabilities()
    client.starttls(certificates.client_context())
    login(client, imap_user)


def test_dovecot_accepts_a_login_over_implicit_tls_verified_against_the_test_ca(
    dovecot: Dovecot, imap_user: tuple[str, str], certificates: Certificates
) -> None:
    client = imapclient.IMAPClient(
        "localhost", dovecot.ssl_port, ssl=True, ssl_context=certificates.client_context(), timeout=10
    )
    login(client, imap_user)


def test_dovecot_advertises_idle_move_and_uidplus_by_default(dovecot: Dovecot) -> None:
    with dovecot.client() as client:
        assert {b"IDLE", b"MOVE", b"UIDPLUS"} <= set(client.capabilities())


def test_each_imap_user_starts_with_an_empty_mailbox_of_its_own(dovecot: Dovecot, imap_user: tuple[str, str]) -> None:
    name, _ = imap_user
    dovecot.append(MESSAGE, datetime(2024, 1, 1, tzinfo=HANOI), user=name)
    other = f"{name}-other"
    dovecot.add_user(other, "pw")
    assert dovecot.folder_uids(user=name) == [1]
    assert dovecot.folder_uids(user=other) == [] and dovecot.folders(user=other) == ["INBOX"]


def test_an_appended_message_keeps_its_bytes_and_internaldate(dovecot: Dovecot, imap_user: tuple[str, str]) -> None:
    name, _ = imap_user
    when = datetime(2024, 3, 15, 9, 30, 5, tzinfo=HANOI)
    uid = dovecot.append(MESSAGE, when, user=name)
    assert dovecot.folder_uids(user=name) == [uid]
    assert dovecot.messages(user=name) == [MESSAGE]
    assert dovecot.internal_dates(user=name) == {uid: when}


@pytest.mark.parametrize("folder", ["Đã xử lý", "A&B", "Entwürfe & Lỗi"])
def test_folders_with_non_ascii_and_ampersand_names_round_trip(
    dovecot: Dovecot, imap_user: tuple[str, str], folder: str
) -> None:
    name, _ = imap_user
    dovecot.create_folder(folder, user=name)
    assert folder in dovecot.folders(user=name)
    dovecot.append(MESSAGE, datetime(2024, 1, 1, tzinfo=HANOI), folder, user=name)
    assert dovecot.messages(folder, user=name) == [MESSAGE]
    dovecot.delete_folder(folder, user=name)
    assert folder not in dovecot.folders(user=name)


def test_the_capabilities_setting_hides_move_and_uidplus(start_dovecot: Callable[..., Dovecot]) -> None:
    server = start_dovecot(capabilities="IMAP4rev1 IDLE LITERAL+ SASL-IR")
    with server.client() as client:
        advertised = set(client.capabilities())
    assert b"IDLE" in advertised
    assert not advertised & {b"MOVE", b"UIDPLUS"}


def test_a_restarted_dovecot_keeps_its_ports_users_and_messages(private_dovecot: Dovecot) -> None:
    ports = private_dovecot.port, private_dovecot.ssl_port
    private_dovecot.append(MESSAGE, datetime(2024, 1, 1, tzinfo=HANOI))
    private_dovecot.restart()
    assert (private_dovecot.port, private_dovecot.ssl_port) == ports
    assert private_dovecot.messages() == [MESSAGE]


def test_a_stopped_dovecot_refuses_connections_and_leaves_no_process(private_dovecot: Dovecot) -> None:
    group = private_dovecot.pid
    assert group is not None
    with private_dovecot.client():
        private_dovecot.stop()
    assert servers.live_group_members(group) == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((private_dovecot.host, private_dovecot.port), timeout=5)


@pytest.mark.parametrize(("cert", "reason"), [("wrong", "mismatch"), ("expired", "expired")])
def test_a_certificate_for_another_host_or_out_of_date_fails_verification(
    start_dovecot: Callable[..., Dovecot], certificates: Certificates, cert: str, reason: str
) -> None:
    server = start_dovecot(cert=cert)
    with pytest.raises(ssl.SSLCertVerificationError, match=reason):
        imapclient.IMAPClient(
            server.host, server.ssl_port, ssl=True, ssl_context=certificates.client_context(), timeout=10
        )


def test_a_missing_dovecot_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.servers.common.shutil.which", lambda name: None)
    monkeypatch.setattr("tests.servers.common.os.access", lambda path, mode: False)
    with pytest.raises(RuntimeError, match="dovecot-imapd"):
        servers.ensure_dovecot()


# --- SMTP sink ---------------------------------------------------------------------------------------------


def test_the_sink_keeps_every_message_even_an_identical_repeat(smtp_sink: SmtpSink) -> None:
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.sendmail("a@example.org", ["b@example.org"], MESSAGE)
        client.sendmail("a@example.org", ["b@example.org"], MESSAGE)
    assert [p.name for p in smtp_sink.files()] == ["0001.eml", "0002.eml"]
    assert smtp_sink.raw() == [MESSAGE, MESSAGE]
    assert [m["Message-ID"] for m in smtp_sink.received()] == ["<m1@example.org>"] * 2
    assert smtp_sink.envelopes == [("a@example.org", ["b@example.org"])] * 2


@pytest.mark.parametrize("failure", [(451, "4.3.0 try later"), (550, "5.7.30 Basic authentication is not supported")])
def test_the_sink_rejects_data_with_the_reply_it_is_told_to_fail_with(
    smtp_sink: SmtpSink, failure: tuple[int, str]
) -> None:
    smtp_sink.fail_with = failure
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPDataError) as rejected:
            client.sendmail("a@example.org", ["b@example.org"], MESSAGE)
        assert (rejected.value.smtp_code, rejected.value.smtp_error) == (failure[0], failure[1].encode())
        smtp_sink.fail_with = None
        client.sendmail("a@example.org", ["b@example.org"], MESSAGE)
    assert smtp_sink.attempts == 2 and len(smtp_sink.received()) == 1


def test_the_sink_requires_auth_when_given_users_and_rejects_a_wrong_password(
    start_smtp_sink: Callable[..., SmtpSink],
) -> None:
    sink = start_smtp_sink(auth={"bot": "secret"})
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPSenderRefused):
            client.sendmail("bot@example.org", ["b@example.org"], MESSAGE)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("bot", "wrong")
        client.login("bot", "secret")
        client.sendmail("bot@example.org", ["b@example.org"], MESSAGE)
    assert sink.logins == ["bot"]


def test_the_sink_offers_auth_only_after_starttls_verified_against_the_test_ca(
    start_smtp_sink: Callable[..., SmtpSink], certificates: Certificates
) -> None:
    sink = start_smtp_sink(tls=True, auth={"bot": "secret"}, auth_require_tls=True)
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")
        client.starttls(context=certificates.client_context())
        client.ehlo()
        client.login("bot", "secret")
        client.sendmail("bot@example.org", ["b@example.org"], MESSAGE)
    assert len(sink.received()) == 1


def test_a_sink_without_users_does_not_offer_auth(smtp_sink: SmtpSink) -> None:
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.ehlo()
        assert not client.has_extn("auth") and not client.has_extn("starttls")


def test_a_stopped_sink_refuses_connections_and_restarts_on_the_same_port(smtp_sink: SmtpSink) -> None:
    port = smtp_sink.port
    smtp_sink.stop()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(smtp_sink.host, port, timeout=10)
    smtp_sink.start()
    assert smtp_sink.port == port
    with smtplib.SMTP(smtp_sink.host, port, timeout=10) as client:
        client.sendmail("a@example.org", ["b@example.org"], MESSAGE)
    assert len(smtp_sink.received()) == 1
