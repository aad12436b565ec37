"""The compiled plan beside the tracker is rebuilt after a batch that changed a submission, and left as it is
after a batch that changed none (its fingerprint says so), so an idle poll costs nothing."""

from __future__ import annotations

from pathlib import Path

from mailbot.demo import demo_mails
from mailbot.validation.schema import Rules
from tests.mailflow import make_workspace

PLAN = "tong-hop-de-xuat-nhiem-vu-2024"


def test_the_plan_is_written_again_only_when_a_submission_changed(tmp_path: Path, rules: Rules) -> None:
    mails = demo_mails(rules, "example.org")
    space = make_workspace(tmp_path)
    space.deliver(mails[:2])
    assert space.cli("once").exit_code == 0
    plan = space.tracker.parent / f"{PLAN}.xlsx"
    first = plan.stat().st_mtime_ns, plan.stat().st_ino

    assert space.cli("once").exit_code == 0  # nothing new: the same file
    assert (plan.stat().st_mtime_ns, plan.stat().st_ino) == first

    space.deliver(mails[2:3])
    assert space.cli("once").exit_code == 0  # a new submission: a new file swapped in
    assert (plan.stat().st_mtime_ns, plan.stat().st_ino) != first
    assert (space.tracker.parent / f"{PLAN}.docx").is_file()
