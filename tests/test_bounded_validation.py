"""Every check works on bounded text, and one submission's checking has a time budget of its own:
when it is spent, checking stops with one error finding and the submitter is asked to correct."""

from __future__ import annotations

from pathlib import Path

from mailbot.demo_mail import DemoMail
from mailbot.validation.schema import Rules
from mailbot.validation.validate import validate_files
from mailbot.validation.values import DEFAULT_MAX_TEXT, QUOTE_CHARS
from tests.builders.emails import DEFAULT_DATE, email_bytes
from tests.builders.sheets import long_text, long_text_workbook, part_xlsx_bytes
from tests.builders.submissions import task_list
from tests.conftest import SEED_RULES
from tests.mailflow import make_workspace


def test_a_cell_of_32000_characters_is_a_too_long_finding_and_what_is_kept_and_quoted_is_bounded(
    rules: Rules,
) -> None:
    result = validate_files([("PhuLuc1.xlsx", long_text_workbook(3))], rules)
    codes = {f.code for f in result.findings}
    assert {"too_long", "unknown_orientation", "not_a_month", "not_a_number", "not_an_integer"} <= codes
    assert "validation_cut_short" not in codes
    assert len(result.tasks) == 3
    for task in result.tasks:
        texts = [v for v in task.to_dict().values() if isinstance(v, str)]
        assert texts and all(len(t) <= DEFAULT_MAX_TEXT for t in texts)
    assert all(len(f.value or "") <= QUOTE_CHARS and len(f.message) < 1000 for f in result.findings)


def test_a_long_name_is_limited_by_its_column_and_text_columns_without_a_limit_by_the_default(rules: Rules) -> None:
    name, content = "Tên " * 200, "x" * (DEFAULT_MAX_TEXT + 1)
    layout = task_list(overrides={(0, "ten_nhiem_vu"): name, (1, "noi_dung"): content})
    result = validate_files([("PhuLuc1.xlsx", part_xlsx_bytes(layout.rows))], rules)
    too_long = {f.cell for f in result.findings if f.code == "too_long"}
    assert too_long == {layout.cells[(0, "ten_nhiem_vu")], layout.cells[(1, "noi_dung")]}
    assert len(result.tasks[1].noi_dung or "") == DEFAULT_MAX_TEXT


def test_an_ordinary_long_content_cell_is_no_finding(rules: Rules) -> None:
    layout = task_list(overrides={(0, "noi_dung"): long_text(3000)})
    result = validate_files([("PhuLuc1.xlsx", part_xlsx_bytes(layout.rows))], rules)
    assert not [f for f in result.findings if f.code == "too_long"]
    assert result.tasks[0].noi_dung == long_text(3000)


def _tiny_budget(rules: Rules) -> Rules:
    return rules.model_copy(update={"limits": rules.limits.model_copy(update={"max_validation_seconds": 1e-9})})


def test_when_the_time_budget_is_spent_checking_stops_with_one_error_finding(rules: Rules) -> None:
    result = validate_files([("PhuLuc1.xlsx", long_text_workbook(40))], _tiny_budget(rules))
    cut = [f for f in result.findings if f.code == "validation_cut_short"]
    assert len(cut) == 1 and cut[0].severity == "error" and "dừng kiểm tra" in cut[0].message and cut[0].hint
    assert result.has_errors


def test_with_the_default_budget_a_normal_submission_is_not_cut_short(rules: Rules) -> None:
    assert rules.limits.max_validation_seconds == 20
    result = validate_files([("PhuLuc1.xlsx", part_xlsx_bytes(task_list().rows))], rules)
    assert "validation_cut_short" not in {f.code for f in result.findings}


def test_a_submission_cut_short_gets_a_correction_reply_not_an_acknowledgement(tmp_path: Path) -> None:
    space = make_workspace(tmp_path / "ws")
    (space.root / "rules").mkdir()
    seed = SEED_RULES.read_text(encoding="utf-8")
    assert "max_uncompressed_bytes = 200_000_000\n" in seed
    limited = seed.replace(
        "max_uncompressed_bytes = 200_000_000\n",
        "max_uncompressed_bytes = 200_000_000\nmax_validation_seconds = 1e-9\n",
    )
    (space.root / "rules" / SEED_RULES.name).write_text(limited, encoding="utf-8")
    raw = email_bytes(attachments=[("PhuLuc1.xlsx", part_xlsx_bytes(task_list().rows))])
    space.deliver([DemoMail("cut short", raw, DEFAULT_DATE, "correction_sent")])
    run = space.cli("once")
    assert run.exit_code == 0, run.output
    assert [m["action"] for m in space.export()["messages"]] == ["correction_sent"]
    (reply,) = space.replies()
    assert "dừng kiểm tra" in reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
