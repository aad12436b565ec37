"""Exchange Online over Microsoft Graph: the real httpx and msal against the Graph test server (tests/servers)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from mailbot.adapters.graph import GraphMailbox, GraphSender
from mailbot.adapters.graph_client import GraphAccessDenied, GraphClient, GraphUnavailable, client_for
from mailbot.adapters.oauth2 import AuthError
from mailbot.ports import SendError
from tests.servers import Certificates
from tests.servers.graph import CUT, DROP, LOSE_ANSWER, GraphServer, graph_settings

T0 = dt.datetime(2023, 4, 20, 9, 0, tzinfo=dt.UTC)
REPLY = b"Message-ID: <mailbot.1@example.org>\r\nTo: a@example.vn\r\nSubject: re\r\n\r\nXin cam on.\r\n"


def mail(n: int, body: bytes = b"body") -> bytes:
    return b"Message-ID: <m%d@example.vn>\r\nSubject: %d\r\n\r\n%s\r\n" % (n, n, body)


class Graph:
    """A mailbox and a sender over the test server, sharing one token, with the waits they asked for recorded."""

    def __init__(self, server: GraphServer, certificates: Certificates, tmp_path: Path, **settings: Any) -> None:
        self.server = server
        limit = settings.pop("max_message_bytes", 100_000)
        self.settings = graph_settings(server, certificates.ca_file, tmp_path / "graph.secret", **settings)
        self.config = tmp_path / "config.toml"
        self.waits: list[float] = []
        client = client_for(self.settings, self.config)
        client.sleep = self.waits.append
        self.client = client
        self.box = GraphMailbox(client, max_message_bytes=limit)
        self.sender = GraphSender(client)

    def deliver(self, *raws: bytes) -> list[str]:
        return [self.server.deliver(raw, T0 + dt.timedelta(minutes=i)) for i, raw in enumerate(raws)]

    def requests(self, method: str, part: str) -> int:
        return sum(1 for r in self.server.requests if r.method == method and part in r.path)


@pytest.fixture
def graph(graph_server: GraphServer, certificates: Certificates, tmp_path: Path) -> Iterator[Graph]:
    space = Graph(graph_server, certificates, tmp_path)
    yield space
    space.client.close()


# --- reading the mailbox -----------------------------------------------------------------------------------


def test_every_graph_request_asks_for_immutable_ids_and_carries_the_apps_bearer_token(graph: Graph) -> None:
    (key,) = graph.deliver(mail(1))
    graph.box.list_new()
    graph.box.fetch(key)
    graph.box.mark_done(key)
    graph.sender.send("<mailbot.1@example.org>", "a@example.vn", REPLY)
    assert len(graph.server.requests) >= 8
    assert {r.headers["prefer"] for r in graph.server.requests} == {'IdType="ImmutableId"'}
    assert all(r.headers["authorization"].startswith("Bearer graph-at-") for r in graph.server.requests)
    (post,) = graph.server.token_posts
    assert post["scope"] == ["https://graph.microsoft.com/.default"] and post["grant_type"] == ["client_credentials"]


def test_a_moved_message_keeps_its_immutable_id_as_its_key_in_the_processed_folder(graph: Graph) -> None:
    (key,) = graph.deliver(mail(1))
    rest_id = graph.server.in_folder("inbox")[0].rest_id
    assert graph.box.list_new() == [key] and key != rest_id
    graph.box.mark_done(key)
    (moved,) = graph.server.in_folder("Processed")
    assert moved.immutable_id == key and moved.rest_id != rest_id  # a client without the header sees a new id
    assert graph.box.fetch(key) is None and graph.box.list_new() == []


def test_the_whole_folder_is_listed_page_by_page_oldest_first_before_anything_moves(graph: Graph) -> None:
    graph.server.page_size_cap = 2
    keys = graph.deliver(*(mail(n) for n in range(5)))
    graph.server.state.messages[keys[0]].received = T0 + dt.timedelta(hours=1)  # arrived last after all
    assert graph.box.list_new() == [*keys[1:], keys[0]]
    assert graph.requests("GET", "/messages") == 3  # three pages: 2 + 2 + 1, through @odata.nextLink


def test_inbox_is_the_well_known_folder_whatever_its_name_and_the_others_are_made_once_at_the_top(
    graph: Graph,
) -> None:
    assert graph.server.folder("inbox").name == "Hộp thư đến"  # a Vietnamese mailbox
    graph.deliver(mail(1))
    assert len(graph.box.list_new()) == 1
    graph.box.list_new()
    root = graph.server.folder("msgfolderroot").id
    assert graph.server.folder("Processed").parent == root and graph.server.folder("Quarantine").parent == root
    assert graph.requests("POST", "/childFolders") == 2 and graph.requests("GET", "/childFolders") == 2


def test_a_folder_made_by_someone_else_while_mailbot_made_it_is_found_after_error_folder_exists(graph: Graph) -> None:
    graph.server.fail(
        409,
        path="/childFolders",
        method="POST",
        code="ErrorFolderExists",
        then=lambda: graph.server.add_folder("Processed"),
    )
    graph.deliver(mail(1))
    graph.box.list_new()
    assert graph.box.folder_id("Processed") == graph.server.folder("Processed").id


def test_a_processed_folder_deleted_by_a_person_is_made_again_when_a_message_is_moved(graph: Graph) -> None:
    first, second = graph.deliver(mail(1), mail(2))
    graph.box.list_new()
    graph.box.mark_done(first)
    graph.server.delete_folder("Processed")
    graph.box.mark_done(second)
    assert [m.immutable_id for m in graph.server.in_folder("Processed")] == [second]
    assert graph.server.in_folder("inbox") == []


def test_a_message_is_fetched_as_its_mime_with_its_arrival_and_size(graph: Graph) -> None:
    (key,) = graph.deliver(mail(1, b"xin chao"))
    fetched = graph.box.fetch(key)
    assert fetched is not None and fetched.raw == mail(1, b"xin chao") and fetched.complete
    assert fetched.arrived_at == T0 and fetched.size == len(mail(1, b"xin chao"))


def test_an_oversized_message_is_fetched_as_its_header_only_and_not_downloaded_whole(
    graph_server: GraphServer, certificates: Certificates, tmp_path: Path
) -> None:
    space = Graph(graph_server, certificates, tmp_path, max_message_bytes=1000)
    (key,) = space.deliver(mail(1, b"x" * 5_000_000))
    fetched = space.box.fetch(key)
    assert fetched is not None and not fetched.complete
    assert (
        fetched.raw == b"Message-ID: <m1@example.vn>\r\nSubject: 1\r\n\r\n" and fetched.size == len(mail(1)) + 4_999_996
    )


def test_a_vanished_message_is_none_and_marking_it_done_is_success(graph: Graph) -> None:
    first, second = graph.deliver(mail(1), mail(2))
    graph.box.list_new()
    graph.server.remove(first)
    assert graph.box.fetch(first) is None
    graph.box.mark_done(first)
    graph.server.state.messages[second].folder = graph.server.add_folder("Của tôi")  # a person moved it away
    assert graph.box.fetch(second) is None


# --- faults ---------------------------------------------------------------------------------------------------


def test_429_and_503_wait_for_retry_after_and_then_the_request_goes_through(graph: Graph) -> None:
    graph.deliver(mail(1))
    graph.server.fail(429, path="/messages", retry_after="7")
    graph.server.fail(503, path="/messages", retry_after="3")
    assert len(graph.box.list_new()) == 1
    assert graph.waits == [7.0, 3.0]


def test_a_retry_after_beyond_the_ceiling_stops_the_batch_at_once_for_the_next_poll(graph: Graph) -> None:
    graph.server.fail(429, path="/mailFolders", retry_after="3600")
    with pytest.raises(GraphUnavailable, match=r"throttled \(429\); retry after 3600 s"):
        graph.box.list_new()
    assert graph.waits == []


def test_a_dropped_connection_is_tried_again_once_then_the_mailbox_is_unavailable(graph: Graph) -> None:
    graph.deliver(mail(1))
    graph.server.fail(DROP, path="/messages")
    assert len(graph.box.list_new()) == 1
    graph.server.fail(DROP, path="/messages", times=2)
    with pytest.raises(GraphUnavailable, match=r"Microsoft Graph 127\.0\.0\.1"):
        graph.box.list_new()


def test_an_expired_token_is_replaced_once_and_the_request_goes_through(graph: Graph) -> None:
    graph.deliver(mail(1))
    graph.box.list_new()
    graph.server.expire_tokens()
    assert len(graph.box.list_new()) == 1
    assert len(graph.server.token_posts) == 2


def test_a_token_refused_even_when_fresh_is_a_refused_login(graph: Graph) -> None:
    graph.server.refuse_tokens = True
    with pytest.raises(AuthError, match="refused the app's token"):
        graph.box.list_new()
    assert len(graph.server.token_posts) == 2  # one fresh token, not a loop


def test_403_says_which_permissions_and_access_policy_the_app_needs(graph: Graph) -> None:
    graph.server.deny = True
    with pytest.raises(GraphAccessDenied) as denied:
        graph.box.list_new()
    text = str(denied.value)
    assert "ErrorAccessDenied" in text and "Mail.ReadWrite" in text and "Mail.Send" in text
    assert "New-ApplicationAccessPolicy" in text and isinstance(denied.value, AuthError)


def test_a_wrong_client_secret_is_a_refused_login_that_does_not_show_the_secret(
    graph_server: GraphServer, certificates: Certificates, tmp_path: Path
) -> None:
    space = Graph(graph_server, certificates, tmp_path)
    graph_server.secret = "the-right-one"
    with pytest.raises(AuthError, match="invalid_client") as refused:
        space.box.list_new()
    assert graph_server.secret not in str(refused.value) and "graph-secret" not in str(refused.value)


def test_no_token_or_secret_reaches_a_log_line_even_at_debug(
    graph_server: GraphServer,
    certificates: Certificates,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mailbot.logs import configure_logging

    configure_logging(json_output=True, level=logging.DEBUG)  # before the loggers are bound
    caplog.set_level(logging.DEBUG)  # httpx, httpcore and msal too
    graph = Graph(graph_server, certificates, tmp_path)
    try:
        graph.deliver(mail(1))
        graph.box.list_new()
        graph.server.expire_tokens()
        graph.server.fail(429, path="/messages", retry_after="1")
        for key in graph.box.list_new():
            graph.box.mark_done(key)
        graph.sender.send("<mailbot.1@example.org>", "a@example.vn", REPLY)
    finally:
        structlog.reset_defaults()
        graph.client.close()
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "oauth2_token_acquired" in logs and "graph_throttled" in logs
    tokens = {r.headers["authorization"].removeprefix("Bearer ") for r in graph.server.requests}
    assert len(tokens) == 2
    for secret in (*tokens, graph.server.secret):
        assert secret not in logs


# --- sending --------------------------------------------------------------------------------------------------


def test_a_reply_is_posted_to_send_mail_as_base64_mime_and_kept_in_sent_items(graph: Graph) -> None:
    graph.sender.send("<mailbot.1@example.org>", "a@example.vn", REPLY)
    (post,) = [r for r in graph.server.requests if r.path.endswith("/sendMail")]
    assert post.headers["content-type"] == "text/plain" and base64.b64decode(post.body) == REPLY
    (copy,) = graph.server.in_folder("sentitems")
    assert copy.mime == REPLY and copy.internet_message_id == "<mailbot.1@example.org>"


def test_a_reply_already_in_sent_items_is_not_sent_again(graph: Graph) -> None:
    graph.server.deliver(REPLY, T0, folder="sentitems")  # handed over before a crash: the ledger says uncertain
    graph.sender.send("<mailbot.1@example.org>", "a@example.vn", REPLY)
    assert graph.requests("POST", "/sendMail") == 0 and len(graph.server.in_folder("sentitems")) == 1


def test_a_send_whose_answer_was_lost_is_not_repeated_and_the_next_attempt_finds_it_sent(graph: Graph) -> None:
    graph.server.fail(LOSE_ANSWER, path="/sendMail")
    with pytest.raises(SendError) as lost:
        graph.sender.send("<mailbot.1@example.org>", "a@example.vn", REPLY)
    assert not lost.value.permanent and lost.value.server_down
    graph.sender.send("<mailbot.1@example.org>", "a@example.vn", REPLY)
    assert graph.requests("POST", "/sendMail") == 1 and len(graph.server.in_folder("sentitems")) == 1


def test_a_reply_over_3_mb_is_refused_for_good_in_vietnamese_and_english_without_a_request(graph: Graph) -> None:
    big = REPLY + b"x" * 3_200_000
    with pytest.raises(SendError) as refused:
        graph.sender.send("<mailbot.1@example.org>", "a@example.vn", big)
    assert refused.value.permanent
    assert "quá lớn" in str(refused.value) and "about 3 MB" in str(refused.value)
    assert graph.server.requests == []
    graph.sender.send("<mailbot.1@example.org>", "a@example.vn", REPLY + b"x" * 3_000_000)  # just under: sent
    assert graph.requests("POST", "/sendMail") == 1


def test_a_throttled_send_waits_and_goes_once_and_a_refused_one_fails_for_good(graph: Graph) -> None:
    graph.server.fail(429, path="/sendMail", retry_after="2")
    graph.sender.send("<mailbot.1@example.org>", "a@example.vn", REPLY)
    assert graph.waits == [2.0] and len(graph.server.in_folder("sentitems")) == 1
    graph.server.fail(400, path="/sendMail", code="ErrorMimeContentInvalid")
    with pytest.raises(SendError, match="ErrorMimeContentInvalid") as refused:
        graph.sender.send("<mailbot.2@example.org>", "b@example.vn", REPLY.replace(b".1@", b".2@"))
    assert refused.value.permanent


def test_a_refused_login_while_sending_keeps_the_reply_waiting_and_says_why(graph: Graph) -> None:
    graph.server.refuse_tokens = True
    with pytest.raises(SendError) as refused:
        graph.sender.send("<mailbot.1@example.org>", "a@example.vn", REPLY)
    assert not refused.value.permanent and isinstance(refused.value.__cause__, AuthError)


def test_a_next_link_to_another_server_is_not_followed_with_the_token(graph: Graph) -> None:
    client: GraphClient = graph.client
    with pytest.raises(GraphUnavailable, match="another server"):
        client.json("GET", "https://evil.example/v1.0/users/x/messages")


def test_an_unreachable_sign_in_endpoint_is_an_unavailable_mailbox_not_a_crash(
    graph_server: GraphServer, certificates: Certificates, tmp_path: Path
) -> None:
    from tests.servers import free_port

    space = Graph(graph_server, certificates, tmp_path)
    closed = f"https://127.0.0.1:{free_port()}"
    space.settings = space.settings.model_copy(
        update={"oauth2": space.settings.oauth2.model_copy(update={"authority_host": closed})}
    )
    client = client_for(space.settings, space.config)
    with pytest.raises(GraphUnavailable, match="sign-in unreachable: ConnectError"):
        GraphMailbox(client, max_message_bytes=1000).list_new()
    assert graph_server.requests == []


# --- opt-in: a real tenant --------------------------------------------------------------------------------------

LIVE = ("MAILBOT_LIVE_GRAPH_TENANT_ID", "MAILBOT_LIVE_GRAPH_CLIENT_ID", "MAILBOT_LIVE_GRAPH_SECRET")
LIVE_MISSING = [name for name in (*LIVE, "MAILBOT_LIVE_GRAPH_ADDRESS") if not os.environ.get(name)]


@pytest.mark.skipif(bool(LIVE_MISSING), reason=f"live Graph test: set {', '.join(LIVE_MISSING)} (a test mailbox)")
def test_live_a_real_mailbox_lists_fetches_and_searches_sent_items_without_changing_a_message(tmp_path: Path) -> None:
    from mailbot.config_graph import GraphMailbox as GraphSettings
    from mailbot.config_graph import GraphOAuth2

    oauth2 = GraphOAuth2(
        provider="microsoft",
        tenant_id=os.environ["MAILBOT_LIVE_GRAPH_TENANT_ID"],
        client_id=os.environ["MAILBOT_LIVE_GRAPH_CLIENT_ID"],
        client_secret_env="MAILBOT_LIVE_GRAPH_SECRET",
    )
    settings = GraphSettings(kind="graph", address=os.environ["MAILBOT_LIVE_GRAPH_ADDRESS"], oauth2=oauth2)
    client = client_for(settings, tmp_path / "config.toml")
    try:
        box = GraphMailbox(client, max_message_bytes=60_000_000)
        keys = box.list_new()
        if keys:
            fetched = box.fetch(keys[0])
            assert fetched is not None and fetched.key == keys[0] and fetched.raw
        assert GraphSender(client).already_sent("<mailbot.never-sent@example.invalid>") is False
    finally:
        client.close()


def test_a_connection_cut_halfway_through_a_message_gives_no_partial_message(graph: Graph) -> None:
    (key,) = graph.deliver(mail(1, b"y" * 60_000))
    graph.server.fail(CUT, path="/$value")
    with pytest.raises(GraphUnavailable):
        graph.box.fetch(key)
    fetched = graph.box.fetch(key)  # the next poll
    assert fetched is not None and fetched.raw == mail(1, b"y" * 60_000)


def test_a_server_that_never_answers_is_given_up_after_the_timeout(
    graph_server: GraphServer, certificates: Certificates, tmp_path: Path
) -> None:
    import socket
    import time

    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(8)  # connections wait in the backlog: no TLS handshake, no answer
        url = f"https://127.0.0.1:{blackhole.getsockname()[1]}/v1.0"
        space = Graph(graph_server, certificates, tmp_path, graph_url=url, timeout_seconds=0.5)
        started = time.monotonic()
        with pytest.raises(GraphUnavailable, match="Timeout"):
            space.box.list_new()
        assert time.monotonic() - started < 5
        space.client.close()


def test_a_certificate_from_an_unknown_ca_is_refused_with_a_clear_error(
    graph_server: GraphServer, certificates: Certificates, tmp_path: Path
) -> None:
    space = Graph(graph_server, certificates, tmp_path)
    untrusting = graph_settings(graph_server, None, tmp_path / "s2")  # the system CAs only
    client = client_for(untrusting, space.config)
    with pytest.raises(GraphUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        GraphMailbox(client, max_message_bytes=1000).list_new()
    assert graph_server.token_posts == [] and graph_server.requests == []
    client.close()
    space.client.close()
