"""Dead letters and second thoughts: `mailbot reprocess` reruns recorded messages from the archive, and
`mailbot revalidate` checks every latest version against the current rules; each exactly once, with a new
version only when the outcome changes, and a reply only when `[reprocess] notify = true`."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import pytest

from mailbot.demo_mail import VN, DemoMail, descriptions_docx, task, task_list_xlsx
from mailbot.validation.schema import Rules
from tests.builders.emails import email_bytes
from tests.conftest import SEED_RULES
from tests.mailflow import Workspace, make_workspace

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)


def submission(rules: Rules, n: int = 1) -> DemoMail:
    tasks = [task(f"Nhiệm vụ {n}", 2, "2024-01", "2024-06", 500, 500, "Viện Cơ khí")]
    files = [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, "Viện Cơ khí", tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]
    message_id = f"<plan{n}@vien.example.vn>"
    raw = email_bytes(attachments=files, message_id=message_id)
    return DemoMail(f"plan {n}", raw, WHEN + dt.timedelta(minutes=n), "acknowledged", message_id=message_id)


@pytest.fixture
def failed(tmp_path: Path, rules: Rules, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A workspace where the only message hit a bug while it was validated: recorded failed, quarantined."""
    space = make_workspace(tmp_path)
    space.deliver([submission(rules)])
    monkeypatch.setenv("MAILBOT_CRASH_AT", "validated:1:raise")
    assert space.cli("once").exit_code == 0
    monkeypatch.delenv("MAILBOT_CRASH_AT")
    assert space.export()["messages"][0]["action"] == "failed"
    return space


def test_a_dry_run_says_what_would_change_and_changes_nothing(failed: Workspace) -> None:
    before = failed.export()
    result = failed.cli("reprocess", "--failed", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "failed → acknowledged / accepted (changed)" in result.output
    assert "1 message(s), 1 would change" in result.output
    assert failed.export() == before and failed.replies() == []


def test_a_failed_message_is_reprocessed_once_into_a_submission_without_a_reply(failed: Workspace) -> None:
    result = failed.cli("reprocess", "--failed")
    assert result.exit_code == 0, result.output
    document = failed.export()
    [message] = document["messages"]
    assert message["action"] == "acknowledged" and message["error_id"] is None and message["reprocessed_at"]
    [submission] = document["submissions"]
    assert submission["status"] == "accepted" and submission["version"] == 1
    assert failed.replies() == []  # notify is off by default

    again = failed.cli("reprocess", "--failed")
    assert "0 message(s)" in again.output and failed.export()["submissions"] == document["submissions"]
    same = failed.cli("reprocess", "--receipt", submission["receipt"])
    assert "(unchanged)" in same.output and failed.export()["submissions"] == document["submissions"]
    log = openpyxl.load_workbook(failed.tracker)["Nhật ký"]
    assert any("xử lý lại lúc" in str(c.value) for row in log.iter_rows(min_row=2) for c in row)


def test_with_notify_the_reprocessed_submitter_gets_a_reply_of_its_own(failed: Workspace, rules: Rules) -> None:
    failed.config.write_text(failed.config.read_text() + "\n[reprocess]\nnotify = true\n", encoding="utf-8")
    assert failed.cli("reprocess", "--failed").exit_code == 0
    [reply] = failed.replies()
    assert reply["In-Reply-To"] == "<plan1@vien.example.vn>"
    assert "SXTDBV-2024-0001" in reply["Subject"]


def test_reprocess_needs_to_be_told_which_messages(failed: Workspace) -> None:
    result = failed.cli("reprocess")
    assert result.exit_code == 2 and "--failed" in result.output


def test_a_message_that_still_fails_stays_failed_with_a_new_error_id(
    failed: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = failed.export()["messages"][0]["error_id"]
    monkeypatch.setenv("MAILBOT_CRASH_AT", "validated:1:raise")
    result = failed.cli("reprocess", "--failed")
    monkeypatch.delenv("MAILBOT_CRASH_AT")
    assert result.exit_code == 0, result.output
    [message] = failed.export()["messages"]
    assert message["action"] == "failed" and message["error_id"] not in (None, first)


def test_revalidate_applies_a_changed_rule_to_every_latest_version(tmp_path: Path, rules: Rules) -> None:
    space = make_workspace(tmp_path)
    (tmp_path / "rules").mkdir()
    shutil.copy(SEED_RULES, tmp_path / "rules" / "sxtdbv-2024.toml")
    space.deliver([submission(rules, 1), submission(rules, 2)])
    assert space.cli("once").exit_code == 0
    assert [s["status"] for s in space.export()["submissions"]] == ["accepted", "accepted"]

    rules_file = tmp_path / "rules" / "sxtdbv-2024.toml"
    text = rules_file.read_text(encoding="utf-8")
    marker = 'key = "kinh_phi_tong"'
    head, _, tail = text.partition(marker)
    rules_file.write_text(head + marker + tail.replace("min = 0\n", "min = 0\nmax = 100\n", 1), encoding="utf-8")

    dry = space.cli("revalidate", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.count("acknowledged / accepted → correction_sent / needs_correction (changed)") == 2
    assert [s["status"] for s in space.export()["submissions"]] == ["accepted", "accepted"]

    done = space.cli("revalidate")
    assert done.exit_code == 0, done.output
    submissions = space.export()["submissions"]
    assert [(s["status"], s["version"]) for s in submissions] == [("needs_correction", 2)] * 2
    assert len(space.replies()) == 2  # the two first acknowledgements; no new reply without notify
    again = space.cli("revalidate")
    assert "2 message(s), 0 changed" in again.output
    assert [s["version"] for s in space.export()["submissions"]] == [2, 2]
