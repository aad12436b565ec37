"""One contract per port, run against the in-memory fake and the real adapter alike."""

from __future__ import annotations

import datetime as dt
import mailbox
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mailbot.adapters.maildir import MaildirMailbox
from mailbot.adapters.outbox_dir import OutboxDirSender, eml_name
from mailbot.ports import Mailbox, Sender
from mailbot.testing import FakeMailbox, FakeSender
from tests.servers.ews import EwsServer

T0 = dt.datetime(2023, 4, 20, 9, 0, tzinfo=dt.UTC)
Deliver = Callable[[bytes, dt.datetime], str]


def _maildir(tmp_path: Path) -> tuple[Mailbox, Deliver]:
    box = MaildirMailbox(tmp_path / "mail")
    raw_box = mailbox.Maildir(str(tmp_path / "mail"))

    def deliver(raw: bytes, at: dt.datetime) -> str:
        key = raw_box.add(raw)
        os.utime(tmp_path / "mail" / "new" / key, (at.timestamp(), at.timestamp()))
        return key

    return box, deliver


def _fake(tmp_path: Path) -> tuple[Mailbox, Deliver]:
    box = FakeMailbox()
    counter = iter(range(1000))

    def deliver(raw: bytes, at: dt.datetime) -> str:
        key = f"k{next(counter)}"
        box.deliver(key, raw, at)
        return key

    return box, deliver


def _ews(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Mailbox, EwsServer]:
    from mailbot.adapters.ews import EwsMailbox
    from mailbot.config_exchange import EwsMailbox as EwsSettings

    certificates = request.getfixturevalue("certificates")
    server: EwsServer = request.getfixturevalue("start_ews")(users={"EXAMPLE\\bot": "secret"})
    (tmp_path / "pw").write_text("secret", encoding="utf-8")
    config = EwsSettings(
        kind="ews", service_endpoint=server.url, address="bot@example.org", username="EXAMPLE\\bot",
        password_file=tmp_path / "pw", ca_file=certificates.ca_file, version="Exchange2016",
    )  # fmt: skip
    return EwsMailbox(config, "secret", max_message_bytes=1_000_000), server


def _graph(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Mailbox, Deliver]:
    from mailbot.adapters.graph import GraphMailbox
    from mailbot.adapters.graph_client import client_for
    from tests.servers.graph import graph_settings

    server, ca = request.getfixturevalue("graph_server"), request.getfixturevalue("certificates").ca_file
    box = GraphMailbox(client_for(graph_settings(server, ca, tmp_path / "secret"), tmp_path), max_message_bytes=10**6)
    request.addfinalizer(box.close)
    return box, server.deliver


@pytest.fixture(params=["fake", "maildir", "ews", "graph"])
def mailbox_port(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Mailbox, Deliver]:
    if request.param == "ews":
        box, server = _ews(tmp_path, request)
        return box, lambda raw, at: server.store.deliver(raw, at)
    if request.param == "graph":
        return _graph(request, tmp_path)
    return {"fake": _fake, "maildir": _maildir}[request.param](tmp_path)


def test_new_messages_are_listed_oldest_first_with_their_bytes_and_arrival(
    mailbox_port: tuple[Mailbox, Deliver],
) -> None:
    box, deliver = mailbox_port
    later = deliver(b"Subject: b\r\n\r\nB", T0 + dt.timedelta(hours=1))
    earlier = deliver(b"Subject: a\r\n\r\nA", T0)
    assert box.list_new() == [earlier, later]
    fetched = box.fetch(earlier)
    assert fetched is not None and fetched.raw == b"Subject: a\r\n\r\nA" and fetched.arrived_at == T0


def test_a_done_message_leaves_the_inbox_and_marking_it_again_is_harmless(
    mailbox_port: tuple[Mailbox, Deliver],
) -> None:
    box, deliver = mailbox_port
    key = deliver(b"Subject: a\r\n\r\nA", T0)
    box.mark_done(key)
    box.mark_done(key)
    assert box.list_new() == [] and box.fetch(key) is None


def test_a_quarantined_message_leaves_the_inbox_too(mailbox_port: tuple[Mailbox, Deliver]) -> None:
    box, deliver = mailbox_port
    key = deliver(b"broken", T0)
    box.mark_done(key, quarantine=True)
    assert box.list_new() == []


def test_a_vanished_message_is_none_not_an_error(mailbox_port: tuple[Mailbox, Deliver]) -> None:
    box, _ = mailbox_port
    assert box.fetch("no-such-key") is None


@pytest.fixture(params=["fake", "outbox", "ews", "graph"])
def sender_port(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Sender, Callable[[], dict[str, bytes]]]:
    if request.param == "ews":
        from mailbot.adapters.ews import EwsMailbox, EwsSender
        from mailbot.config_exchange import EwsSender as EwsSenderSettings

        box, server = _ews(tmp_path, request)
        assert isinstance(box, EwsMailbox)
        sender = EwsSender(EwsSenderSettings(kind="ews", sender="bot@example.org"), box.connection)
        return sender, lambda: {str(n): raw for n, raw in enumerate(server.sent())}
    if request.param == "graph":
        from mailbot.adapters.graph import GraphSender
        from mailbot.adapters.graph_client import client_for
        from tests.servers.graph import graph_settings

        server, ca = request.getfixturevalue("graph_server"), request.getfixturevalue("certificates").ca_file
        graph = GraphSender(client_for(graph_settings(server, ca, tmp_path / "secret"), tmp_path))
        request.addfinalizer(graph.close)
        return graph, lambda: {m.immutable_id: m.mime for m in server.in_folder("sentitems")}
    if request.param == "fake":
        fake = FakeSender()
        return fake, lambda: {k: v[1] for k, v in fake.sent.items()}
    outbox = OutboxDirSender(tmp_path / "outbox")
    return outbox, lambda: {p.name: p.read_bytes() for p in (tmp_path / "outbox").iterdir()}


def test_sending_the_same_reply_twice_delivers_it_once(
    sender_port: tuple[Sender, Callable[[], dict[str, bytes]]],
) -> None:
    sender, delivered = sender_port
    reply = b"Message-ID: <mailbot.1@example.org>\r\nTo: a@example.vn\r\n\r\nreply"  # the reply id is its Message-ID
    other = b"Message-ID: <mailbot.2@example.org>\r\nTo: b@example.vn\r\n\r\nother"
    sender.send("<mailbot.1@example.org>", "a@example.vn", reply)
    sender.send("<mailbot.1@example.org>", "a@example.vn", reply)
    sender.send("<mailbot.2@example.org>", "b@example.vn", other)
    assert sorted(delivered().values()) == sorted([reply, other])


def test_an_outbox_file_is_named_by_the_reply_id_without_unsafe_characters() -> None:
    assert eml_name("<mailbot.ab/../c@example.org>") == "mailbot.ab_.._c@example.org.eml"
