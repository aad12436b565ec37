"""The CLI over a Maildir with every kind of message the demo sends: what each becomes, what is answered."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from mailbot.demo import demo_mails
from mailbot.demo_mail import DemoMail
from mailbot.validation.schema import Rules
from tests.mailflow import EwsWorkspace, GraphWorkspace, ImapWorkspace, Workspace, make_workspace
from tests.servers import Certificates, Dovecot, SmtpSink
from tests.servers.ews import EwsServer
from tests.servers.graph import GraphServer


@pytest.fixture(scope="module")
def mails(rules: Rules) -> list[DemoMail]:
    return demo_mails(rules, "example.org")


@pytest.fixture(scope="module", params=["maildir", "imap", "ews", "graph"])
def processed(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    mails: list[DemoMail],
    dovecot: Dovecot,
    certificates: Certificates,
) -> Iterator[Workspace]:
    """The demo's messages processed once, from a Maildir, a real IMAP account, the EWS test server or an Exchange
    Online mailbox on the Graph test server."""
    root = tmp_path_factory.mktemp(request.param)
    sink: SmtpSink | EwsServer | GraphServer | None = None
    space: Workspace
    if request.param == "maildir":
        space = make_workspace(root)
    elif request.param == "ews":
        user = ("EXAMPLE\\e2e", secrets.token_urlsafe(10))
        sink = EwsServer(certificates, root / "ews", users=dict([user])).start()
        space = EwsWorkspace(root / "work", sink, user, certificates)
    elif request.param == "graph":
        sink = GraphServer(certificates).start()
        space = GraphWorkspace(root / "work", sink, certificates)
    else:
        user = (f"e2e-{secrets.token_hex(4)}", secrets.token_urlsafe(10))
        dovecot.add_user(*user)
        sink = SmtpSink(root / "smtp", certificates=certificates, tls=True).start()
        space = ImapWorkspace(root / "work", dovecot, user, sink, certificates)
    space.deliver(mails)
    run = space.cli("once")
    assert run.exit_code == 0, run.output
    yield space
    if sink is not None:
        sink.stop()


def test_every_message_gets_the_action_its_kind_calls_for(processed: Workspace, mails: list[DemoMail]) -> None:
    actions = [m["action"] for m in processed.export()["messages"]]
    assert actions == [m.expect for m in mails]


def test_the_inbox_is_emptied_into_the_processed_folder(processed: Workspace, mails: list[DemoMail]) -> None:
    assert processed.inbox() == []
    assert processed.folder_count("Processed") == len(mails)


def test_each_answered_message_gets_one_reply_in_its_thread(processed: Workspace, mails: list[DemoMail]) -> None:
    answered = [m for m in mails if m.expect in ("acknowledged", "correction_sent")]
    replies = processed.replies()
    assert sorted(r["In-Reply-To"] for r in replies) == sorted(m.message_id for m in answered)
    for reply in replies:
        assert len(reply.get_all("To")) == 1 and "," not in reply["To"]
        assert reply["Auto-Submitted"] == "auto-replied" and reply["X-Auto-Response-Suppress"] == "All"
        assert reply["Subject"].startswith("[SXTDBV-2024-00")
        assert reply["Message-ID"].startswith("<mailbot.") and reply["Message-ID"].endswith("@example.org>")
        assert reply["References"].split()[-1] == reply["In-Reply-To"]


def test_the_reply_goes_to_the_sender_of_the_message(processed: Workspace, mails: list[DemoMail]) -> None:
    by_thread = {r["In-Reply-To"]: r for r in processed.replies()}
    first = mails[0]
    assert by_thread[first.message_id]["To"] == "leather@leather.example.vn"


def test_a_duplicate_delivery_gets_no_second_reply(processed: Workspace, mails: list[DemoMail]) -> None:
    duplicate = next(m for m in mails if m.expect == "duplicate")
    assert [r["In-Reply-To"] for r in processed.replies()].count(duplicate.message_id) == 1


def test_statuses_and_tasks_are_recorded_per_submission(processed: Workspace) -> None:
    submissions = {s["receipt"]: s for s in processed.export()["submissions"]}
    assert {r: s["status"] for r, s in submissions.items()} == {
        "SXTDBV-2024-0001": "accepted",
        "SXTDBV-2024-0002": "accepted",
        "SXTDBV-2024-0003": "accepted",
        "SXTDBV-2024-0004": "accepted",
        "SXTDBV-2024-0005": "accepted",
    }
    assert [r for r, s in submissions.items() if s["late"]] == ["SXTDBV-2024-0005"]  # lateness beside the status
    leather = submissions["SXTDBV-2024-0001"]
    assert leather["organization"] == "Viện Nghiên cứu Da - Giày" and leather["sender"] == "leather@leather.example.vn"
    assert [t["kinh_phi_tong"] for t in leather["tasks"]] == [1500.0, 2000.5]
    assert [t["bat_dau"] for t in leather["tasks"]] == ["2024-01", "2024-03"]
    assert submissions["SXTDBV-2024-0002"]["tasks"][0]["dinh_huong"] == 4  # read from a Word table
    assert submissions["SXTDBV-2024-0004"]["tasks"][0]["kinh_phi_nsnn"] == 800.0  # read from inside a zip


def test_a_resubmission_answering_a_correction_becomes_version_2_of_the_same_receipt(processed: Workspace) -> None:
    textile = next(s for s in processed.export()["submissions"] if s["receipt"] == "SXTDBV-2024-0003")
    assert textile["version"] == 2 and textile["status"] == "accepted" and textile["findings"] == []
    assert textile["first_received_at"] < textile["last_received_at"]
    receipts = [m["receipt"] for m in processed.export()["messages"]]
    assert receipts.count("SXTDBV-2024-0003") == 2


def test_the_correction_reply_names_the_cells_to_fix_and_attaches_the_marked_copy(processed: Workspace) -> None:
    correction = next(r for r in processed.replies() if "chỉnh sửa" in r["Subject"])
    text = correction.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "ô K11" in text and "khoảng 800" in text and "ô C11" in text
    names = [p.get_filename() for p in correction.iter_attachments()]
    assert names == ["PhuLuc1_can-sua.xlsx"]  # no appendix is missing: no blank templates


def test_the_late_submission_is_acknowledged_and_flagged(processed: Workspace) -> None:
    late = next(m for m in processed.export()["messages"] if m["receipt"] == "SXTDBV-2024-0005")
    assert late["action"] == "acknowledged" and late["reason"] == "late"


def test_the_tracker_is_written_with_its_sheets(processed: Workspace) -> None:
    book = openpyxl.load_workbook(processed.tracker)
    assert book.sheetnames[:6] == ["Hồ sơ", "Nhiệm vụ", "Tệp hồ sơ", "Nhật ký", "Thống kê", "Biểu đồ"]
    assert book["Hồ sơ"].max_row == 1 + 5 and book["Nhiệm vụ"].max_row == 1 + 6


def test_running_again_changes_nothing(processed: Workspace) -> None:
    before = processed.export()
    replies = len(processed.replies())
    assert processed.cli("once").exit_code == 0
    assert processed.export() == before and len(processed.replies()) == replies


def test_a_new_email_with_the_receipt_tag_and_files_from_the_same_sender_is_a_new_version(
    tmp_path: Path, rules: Rules, mails: list[DemoMail]
) -> None:
    from mailbot.demo_mail import email
    from mailbot.forms import blank_forms

    space = make_workspace(tmp_path)
    space.deliver([mails[0]])
    space.cli("once")
    raw, _ = email(
        "Viện Da Giày <leather@leather.example.vn>",
        "[SXTDBV-2024-0001] bổ sung hồ sơ",
        "Gửi lại.",
        blank_forms(rules)[:1],
        date=mails[0].arrives,
    )
    space.deliver([DemoMail("follow-up", raw, mails[0].arrives.replace(day=11), "correction_sent")])
    space.cli("once")
    assert [s["version"] for s in space.export()["submissions"]] == [2]


def test_the_export_has_exactly_the_contracted_keys(processed: Workspace) -> None:
    document = processed.export()
    assert set(document) == {"submissions", "messages"}
    assert {frozenset(s) for s in document["submissions"]} == {
        frozenset(
            {"receipt", "sender", "organization", "status", "version", "first_received_at", "last_received_at",
             "tasks", "findings", "signature", "signed_copies", "late", "note", "note_asks", "decision"}
        )
    }  # fmt: skip
    assert all(s["signature"] is None and s["signed_copies"] == [] for s in document["submissions"])  # none signed
    assert {s["status"] for s in document["submissions"]} <= {"accepted", "needs_correction"}
    assert all(isinstance(s["late"], bool) and s["decision"] is None for s in document["submissions"])
    assert {frozenset(m) for m in document["messages"]} == {
        frozenset(
            {"message_id", "from", "subject", "received_at", "action", "reason", "receipt", "error_id",
             "reprocessed_at"}
        )
    }  # fmt: skip
    assert {m["action"] for m in document["messages"]} <= {
        "acknowledged", "correction_sent", "noted", "ignored", "duplicate", "quarantined", "rate_limited", "failed"
    }  # fmt: skip
