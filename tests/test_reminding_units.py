"""Reminders, end to end on the Maildir workspace with a roster: before the deadline to units that sent nothing,
after N days to units whose correction waits; exactly once per unit and reminder, across runs and a SIGKILL.

The call's deadline is 30/4/2023 23:59 (Viet Nam); reminders are due at 08:00 on their day.
"""

from __future__ import annotations

import signal
from pathlib import Path

import openpyxl
import pytest

from mailbot.officer.notices import notice_id
from mailbot.validation.schema import Rules
from tests.officer_workspace import ENERGY, jobs, mails, officer_workspace, outbox_rows, own_mail, run_mailbot

LEATHER, WRONG, RESUBMISSION = "valid xlsx + docx", "row errors", "a resubmission answering the correction"


def remind(space: object, at: str, *extra: str) -> str:
    result = space.cli("remind", "--at", at, *extra)  # type: ignore[attr-defined]  # a Workspace
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_units_without_a_submission_are_reminded_seven_and_two_days_before_the_deadline_once_each(
    tmp_path: Path, rules: Rules
) -> None:
    space = officer_workspace(tmp_path)
    space.deliver(mails(rules, LEATHER, WRONG, RESUBMISSION))
    assert space.cli("once", "--at", "2023-04-21T09:00").exit_code == 0

    remind(space, "2023-04-23T07:59")
    assert own_mail(space) == []  # nothing before 08:00 on the seventh day before

    remind(space, "2023-04-23T08:00")
    remind(space, "2023-04-23T16:00")  # a second run the same day
    seven = own_mail(space, "reminder:before-7:")
    assert sorted(str(m["To"]) for m in seven) == sorted(ENERGY)  # the energy institute, at both its addresses
    assert {str(m["X-Mailbot-Job"]) for m in seven} == {"reminder:before-7:NL"}

    remind(space, "2023-04-27T08:00")
    assert len(own_mail(space)) == 2  # nothing between the offsets
    remind(space, "2023-04-28T08:00")
    remind(space, "2023-04-29T08:00")
    two = own_mail(space, "reminder:before-2:")
    assert sorted(str(m["To"]) for m in two) == sorted(ENERGY)
    assert "còn 2 ngày" in str(two[0]["Subject"])

    remind(space, "2023-05-01T08:00")
    assert len(own_mail(space)) == 4  # nothing after the deadline
    assert jobs(space) == ["reminder:before-2:NL", "reminder:before-7:NL"]


def test_a_reminder_is_auto_generated_vietnamese_and_carries_the_deterministic_id(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path)
    remind(space, "2023-04-23T08:00")
    first = own_mail(space, "reminder:before-7:NL")[0]
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["X-Auto-Response-Suppress"] == "All"
    assert first["X-Mailbot-Loop"] == "example.org"
    assert first["Message-ID"] == notice_id("reminder:before-7:NL", str(first["To"]), "example.org")
    assert first["Subject"] == "Nhắc nộp hồ sơ đề xuất nhiệm vụ năm 2024 – hạn 30/04/2023 (còn 7 ngày)"
    text = first.get_body(("plain",)).get_content()  # type: ignore[union-attr]  # it has a text part
    html = first.get_body(("html",)).get_content()  # type: ignore[union-attr]  # and an HTML one
    assert "Kính gửi Quý đơn vị Viện Năng lượng" in text and "còn 7 ngày" in text
    assert "chưa nhận được hồ sơ đề xuất nhiệm vụ năm 2024" in html and "nop-de-xuat@example.org" in html


def test_a_unit_known_only_by_its_domain_is_listed_but_never_guessed_at(tmp_path: Path) -> None:
    space = officer_workspace(tmp_path)
    output = remind(space, "2023-04-23T08:00", "--dry-run")
    assert "reminder:before-7:TT\tTT – Trung tâm Tiết kiệm năng lượng\t(không có địa chỉ thư" in output
    remind(space, "2023-04-23T08:00")
    assert not any("ttnl" in str(m["To"]) for m in own_mail(space))
    assert "reminder:before-7:TT" not in jobs(space)  # once the roster gains an address, it is reminded


def test_remind_dry_run_lists_who_would_get_which_reminder_and_sends_nothing(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path)
    space.deliver(mails(rules, LEATHER, WRONG))
    assert space.cli("once", "--at", "2023-04-15T09:00").exit_code == 0

    output = remind(space, "2023-04-23T08:00", "--dry-run")
    lines = output.splitlines()
    assert lines[0] == (
        "reminder:before-7:NL\tNL – Viện Năng lượng\tvan-thu@vnl.example.vn, nl@vnl.example.vn"
        "\tNhắc nộp hồ sơ (7 ngày trước hạn; còn 7 ngày)"
    )
    assert lines[1].startswith("reminder:before-7:TT\t")
    assert lines[2] == (
        "reminder:correction:DM:SXTDBV-2024-0002:v1\tDM – Viện Dệt May (SXTDBV-2024-0002)"
        "\ttextile@textile.example.vn\tNhắc gửi lại hồ sơ SXTDBV-2024-0002 lần 1 (chờ chỉnh sửa 9 ngày)"
    )
    assert lines[3] == "3 reminder(s) due at 23/04/2023 08:00 (giờ Việt Nam); nothing sent (--dry-run)"
    assert own_mail(space) == [] and jobs(space) == []
    assert remind(space, "2023-04-22T08:00", "--dry-run").splitlines()[0].startswith("reminder:correction:DM:")


def test_the_correction_reminder_comes_n_days_after_and_not_after_a_resubmission(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path, "\n[reminders]\nbefore_deadline_days = []\n")
    wrong, resubmission = mails(rules, WRONG, RESUBMISSION)
    space.deliver([wrong])
    assert space.cli("once", "--at", "2023-04-14T10:00").exit_code == 0  # received 14/4 09:00

    remind(space, "2023-04-19T07:59")
    assert own_mail(space) == []
    remind(space, "2023-04-19T08:00")
    remind(space, "2023-04-19T18:00")
    (reminder,) = own_mail(space)
    assert str(reminder["To"]) == "textile@textile.example.vn"
    assert str(reminder["Subject"]) == (
        "[SXTDBV-2024-0001] Nhắc gửi lại hồ sơ đã chỉnh sửa – đề xuất nhiệm vụ năm 2024 – Viện Dệt May"
    )
    text = reminder.get_body(("plain",)).get_content()  # type: ignore[union-attr]  # it has a text part
    assert "số tiếp nhận SXTDBV-2024-0001 (lần nộp thứ 1" in text and "sau 5 ngày" in text

    space.deliver([resubmission])  # 20/4: corrected, accepted
    assert space.cli("once", "--at", "2023-04-20T10:00").exit_code == 0
    remind(space, "2023-04-26T08:00")
    assert len(own_mail(space)) == 1
    assert [s["status"] for s in space.export()["submissions"]] == ["accepted"]


def test_a_resubmission_before_n_days_gets_no_correction_reminder(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path, "\n[reminders]\ncorrection_after_days = 7\nbefore_deadline_days = []\n")
    space.deliver(mails(rules, WRONG, RESUBMISSION))
    assert space.cli("once", "--at", "2023-04-20T10:00").exit_code == 0
    remind(space, "2023-04-28T08:00")
    assert own_mail(space) == []


def test_without_a_roster_nobody_is_reminded(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path)
    space.config.write_text(
        space.config.read_text(encoding="utf-8").replace('[roster]\nfile = "don-vi.csv"\n', ""), encoding="utf-8"
    )
    space.deliver(mails(rules, WRONG))
    assert space.cli("once", "--at", "2023-04-25T10:00").exit_code == 0
    assert "0 reminder(s) due" in remind(space, "2023-04-25T10:00", "--dry-run")
    assert own_mail(space) == []


def test_reminders_over_the_hourly_limit_wait_and_are_still_due(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path, "\n[reminders]\nmax_per_hour = 2\n")
    space.deliver(mails(rules, WRONG))
    assert space.cli("once", "--at", "2023-04-15T09:00").exit_code == 0
    output = remind(space, "2023-04-23T08:00")
    assert "1 reminder(s) queued" in output  # the leather institute; the energy one's two addresses would pass it
    assert jobs(space) == ["reminder:before-7:DG"]
    waiting = remind(space, "2023-04-23T08:00", "--dry-run")
    assert "reminder:before-7:NL\t" in waiting and "reminder:correction:DM:" in waiting
    assert "1 reminder(s) queued" not in remind(space, "2023-04-23T08:30")  # the hour is not over: still waiting
    assert jobs(space) == ["reminder:before-7:DG"]


def test_sent_reminders_are_shown_in_the_log_sheet(tmp_path: Path, rules: Rules) -> None:
    space = officer_workspace(tmp_path)
    space.deliver(mails(rules, LEATHER))
    assert space.cli("once", "--at", "2023-04-23T08:00").exit_code == 0  # `once` runs what is due
    assert space.cli("once", "--at", "2023-04-23T09:00").exit_code == 0  # and rebuilds the tracker after
    book = openpyxl.load_workbook(space.tracker, read_only=True)
    rows = [r for r in book["Nhật ký"].iter_rows(min_row=2, values_only=True) if r[0] is not None]
    book.close()
    reminders = [r for r in rows if r[3] == "Đã gửi nhắc nhở"]
    to = sorted(f"Gửi đến: {a}" for a in [*ENERGY, "textile@textile.example.vn"])
    assert sorted(str(r[1]) for r in reminders) == to  # the units that sent nothing
    assert all(r[4] == "Nhắc nộp hồ sơ (7 ngày trước hạn; còn 7 ngày)" and r[7] == "Đã gửi" for r in reminders)
    assert all(str(r[2]).startswith("Nhắc nộp hồ sơ đề xuất nhiệm vụ năm 2024") for r in reminders)
    assert len(rows) == 4  # the submission and the three reminders
    assert [m["action"] for m in space.export()["messages"]] == ["acknowledged"]  # the export lists received mail


ALL_SEVEN = ["reminder:before-7:DG", "reminder:before-7:DM", "reminder:before-7:NL"]
CRASHES = {  # where the kill falls: after the first reminder's commit, as its sending starts, once one was handed over
    "notice_committed:1": ALL_SEVEN[:1],
    "sending:1": ALL_SEVEN,
    "handed_over:2": ALL_SEVEN,
}


@pytest.mark.parametrize("crash_at", list(CRASHES))
def test_a_sigkill_between_commit_and_send_sends_each_reminder_once_with_the_same_id(
    tmp_path: Path, crash_at: str
) -> None:
    space = officer_workspace(tmp_path)
    crashed = run_mailbot(space, "remind", "--at", "2023-04-23T08:00", crash_at=crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert jobs(space) == CRASHES[crash_at]  # committed before the kill

    recovered = run_mailbot(space, "remind", "--at", "2023-04-23T08:05")
    assert recovered.returncode == 0, recovered.stderr[-2000:]
    again = run_mailbot(space, "remind", "--at", "2023-04-24T08:00")
    assert again.returncode == 0, again.stderr[-2000:]

    to = {"DG": ["leather@leather.example.vn"], "DM": ["textile@textile.example.vn"], "NL": ENERGY}
    expected = sorted(notice_id(f"reminder:before-7:{u}", a, "example.org") for u, addrs in to.items() for a in addrs)
    assert sorted(str(m["Message-ID"]) for m in own_mail(space)) == expected  # one file per id, four ids
    assert sorted(r[0] for r in outbox_rows(space, "reminder")) == expected  # and no other row queued
    assert {r[2] for r in outbox_rows(space, "reminder")} == {"sent"}
    assert jobs(space) == ALL_SEVEN
