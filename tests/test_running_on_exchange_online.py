"""`mailbot` with [mailbox] and [smtp] kind = "graph": checking, refusals, crashes and a reply too large for Graph."""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from mailbot.demo import demo_mails
from mailbot.demo_mail import DemoMail
from mailbot.validation.schema import Rules
from tests.mailflow import GraphWorkspace
from tests.officer_workspace import run_mailbot
from tests.servers import Certificates
from tests.servers.graph import GraphServer


@pytest.fixture(scope="module")
def mails(rules: Rules) -> list[DemoMail]:
    return demo_mails(rules, "example.org")


@pytest.fixture
def space(graph_server: GraphServer, certificates: Certificates, tmp_path: Path) -> Iterator[GraphWorkspace]:
    yield GraphWorkspace(tmp_path / "work", graph_server, certificates)


def replace_in_config(space: GraphWorkspace, old: str, new: str) -> None:
    text = space.config.read_text(encoding="utf-8")
    assert old in text
    space.config.write_text(text.replace(old, new), encoding="utf-8")


def test_check_connect_gets_a_token_and_finds_the_folders_without_reading_or_sending(space: GraphWorkspace) -> None:
    result = space.cli("check", "--connect")
    assert result.exit_code == 0, result.output
    assert "mailbox graph, replies via graph" in result.output
    assert (
        "mailbox: OK — Microsoft Graph 127.0.0.1" in result.output
        and "folder Inbox found; nothing read" in result.output
    )
    assert "smtp: OK" in result.output and "nothing sent" in result.output
    assert not any("/messages" in r.path or r.path.endswith("/sendMail") for r in space.server.requests)


def test_check_connect_with_a_wrong_secret_is_a_refused_login_exit_77(space: GraphWorkspace) -> None:
    (space.root / "graph.secret").write_text("wrong", encoding="utf-8")
    result = space.cli("check", "--connect")
    assert result.exit_code == 77, result.output
    assert "login refused" in result.output and "invalid_client" in result.output and "wrong" not in result.output


def test_check_names_a_missing_secret_file_and_a_misspelt_key(space: GraphWorkspace) -> None:
    (space.root / "graph.secret").unlink()
    result = space.cli("check")
    assert result.exit_code == 78 and "mailbox.oauth2.client_secret_file" in result.output
    (space.root / "graph.secret").write_text(space.server.secret, encoding="utf-8")
    replace_in_config(space, "graph_url =", "grap_url =")
    result = space.cli("check")
    assert result.exit_code == 78 and "grap_url" in result.output


def test_check_refuses_a_plain_http_graph_url_and_sending_over_graph_without_a_graph_mailbox(
    space: GraphWorkspace,
) -> None:
    replace_in_config(space, 'graph_url = "https://', 'graph_url = "http://')
    result = space.cli("check")
    assert result.exit_code == 78 and "graph_url" in result.output and "https://" in result.output
    space.config.write_text(
        '[mailbox]\nkind = "maildir"\n[smtp]\nkind = "graph"\nfrom = "Vụ TKNL <nop-de-xuat@example.org>"\n',
        encoding="utf-8",
    )
    result = space.cli("check")
    assert result.exit_code == 78 and 'it needs [mailbox] kind = "graph"' in result.output


def test_access_denied_by_the_application_access_policy_stops_the_batch_with_exit_77_and_is_recorded(
    space: GraphWorkspace, mails: list[DemoMail]
) -> None:
    space.deliver(mails[:1])
    space.server.deny = True
    assert space.cli("once").exit_code == 77
    status = json.loads(space.cli("status", "--json").output)
    assert status["last_error"].startswith("GraphAccessDenied") and "Mail.ReadWrite" in status["last_error"]
    space.server.deny = False
    assert space.cli("once").exit_code == 0
    assert [m["action"] for m in space.export()["messages"]] == [mails[0].expect]


@pytest.mark.parametrize(("point", "nth"), [("handed_over", 2), ("sending", 3), ("moved", 1), ("fetched", 5)])
def test_a_crash_at_any_step_is_recovered_with_no_reply_sent_twice(
    space: GraphWorkspace, mails: list[DemoMail], point: str, nth: int
) -> None:
    space.deliver(mails)
    crashed = run_mailbot(space, "once", crash_at=f"{point}:{nth}")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    recovered = run_mailbot(space, "once")
    assert recovered.returncode == 0, recovered.stderr[-2000:]
    assert [m["action"] for m in space.export()["messages"]] == [m.expect for m in mails]
    assert space.inbox() == [] and space.folder_count("Processed") == len(mails)
    threads = [r["In-Reply-To"] for r in space.replies()]
    answered = [m.message_id for m in mails if m.expect in ("acknowledged", "correction_sent")]
    assert sorted(threads) == sorted(answered)  # one reply per answered message: Sent Items was looked at


def test_a_reply_too_large_for_graph_is_failed_and_the_log_sheet_says_why_in_vietnamese(
    space: GraphWorkspace, mails: list[DemoMail]
) -> None:
    space.deliver(mails[:1])
    assert space.cli("once").exit_code == 0
    with sqlite3.connect(space.root / "var" / "ledger.sqlite3") as db:  # a correction with large marked copies, say
        row, submission = db.execute("SELECT id, submission_id FROM messages").fetchone()
        raw = b"Message-ID: <mailbot.big@example.org>\r\nTo: leather@leather.example.vn\r\n\r\n" + b"x" * 3_300_000
        db.execute(
            "INSERT INTO outbox (kind, message_row, submission_id, reply_id, recipient, raw, state, created_at)"
            " VALUES ('reply', ?, ?, '<mailbot.big@example.org>', 'leather@leather.example.vn', ?, 'pending',"
            " '2024-01-10T09:00:00+00:00')",
            (row, submission, raw),
        )
    assert space.cli("once").exit_code == 0
    with sqlite3.connect(space.root / "var" / "ledger.sqlite3") as db:
        state, error = db.execute(
            "SELECT state, last_error FROM outbox WHERE reply_id = '<mailbot.big@example.org>'"
        ).fetchone()
    assert state == "failed" and "quá lớn" in error
    book = openpyxl.load_workbook(space.tracker, read_only=True)
    cells = [str(c) for r in book["Nhật ký"].iter_rows(values_only=True) for c in r if c]
    book.close()
    assert any("thư trả lời quá lớn để gửi qua Microsoft Graph" in c and "tối đa khoảng 3 MB" in c for c in cells)
    assert len(space.replies()) == 1  # the acknowledgement only
