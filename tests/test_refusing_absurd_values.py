"""Absurd values are findings, never numbers: NaN, infinities, a negative zero, 400-digit budgets and
any magnitude of 10^15 or more; and `export --json` is strict JSON whatever a submission held."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mailbot.demo_mail import DemoMail
from mailbot.readmodel import strictly_json
from mailbot.validation.schema import Rules
from mailbot.validation.validate import validate_files
from mailbot.validation.values import MAX_MAGNITUDE, Bad, parse_enum, parse_integer, parse_number
from tests.builders.emails import DEFAULT_DATE, email_bytes
from tests.builders.sheets import part_xlsx_bytes, with_member, zip_members
from tests.builders.submissions import task_list
from tests.mailflow import make_workspace


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("9" * 400, "absurd_number"),
        ("1.000.000.000.000.000", "absurd_number"),
        ("1e20", "absurd_number"),
        (10**400, "absurd_number"),
        (1e300, "absurd_number"),
        (-(10**16), "absurd_number"),
        ("-0", "negative_zero"),
        ("-0,0", "negative_zero"),
        ("NaN", "not_finite_number"),
        ("nan", "not_finite_number"),
        ("Infinity", "not_finite_number"),
        ("-Infinity", "not_finite_number"),
        ("inf", "not_finite_number"),
        ("1e999", "not_finite_number"),
        (math.inf, "not_finite_number"),
        (-math.inf, "not_finite_number"),
        (math.nan, "not_finite_number"),
    ],
)
def test_an_absurd_number_is_a_finding_with_a_vietnamese_message_and_hint(written: object, code: str) -> None:
    result = parse_number(written)  # type: ignore[arg-type]
    assert isinstance(result, Bad) and result.code == code
    assert result.message and result.hint and len(result.message) < 300


def test_the_bound_is_ten_to_the_fifteen_million_dong() -> None:
    assert parse_number(999_999_999_999_999) == 999_999_999_999_999.0
    assert isinstance(parse_number(MAX_MAGNITUDE), Bad)
    assert isinstance(parse_number(-MAX_MAGNITUDE), Bad)


def test_a_stored_negative_zero_is_plain_zero_and_a_finite_exponent_is_still_not_a_number() -> None:
    zero = parse_number(-0.0)
    assert zero == 0.0 and math.copysign(1.0, zero) == 1.0  # type: ignore[arg-type]
    result = parse_number("1e3")
    assert isinstance(result, Bad) and result.code == "not_a_number"


def test_an_integer_column_keeps_the_reason_an_absurd_value_was_refused() -> None:
    assert isinstance(bad := parse_integer("9" * 400), Bad) and bad.code == "absurd_number"
    assert isinstance(bad := parse_integer("-0"), Bad) and bad.code == "negative_zero"
    assert isinstance(bad := parse_integer("2,5"), Bad) and bad.code == "not_an_integer"


def absurd_workbook() -> tuple[bytes, dict[str, str]]:
    """Phụ lục 1 whose three tasks' budgets are a 400-digit number, NaN and a real numeric cell holding ∞."""
    overrides = {(0, "kinh_phi_tong"): "9" * 400, (1, "kinh_phi_nsnn"): "NaN", (2, "kinh_phi_khac"): 0.0}
    layout = task_list(overrides=overrides)  # type: ignore[arg-type]
    rows = layout.rows
    data = part_xlsx_bytes(rows)
    infinite_at = layout.cells[(2, "kinh_phi_khac")]
    sheet = zip_members(data)["xl/worksheets/sheet1.xml"]
    sheet = sheet.replace(f'<c r="{infinite_at}"><v>0.0</v>'.encode(), f'<c r="{infinite_at}"><v>1e999</v>'.encode())
    data = with_member(data, "xl/worksheets/sheet1.xml", sheet)
    return data, {
        "absurd_number": layout.cells[(0, "kinh_phi_tong")],
        "not_finite_number": layout.cells[(1, "kinh_phi_nsnn")],
        "infinite": infinite_at,
    }


def test_absurd_budgets_in_a_workbook_are_findings_at_their_cells_and_never_task_values(rules: Rules) -> None:
    data, cells = absurd_workbook()
    result = validate_files([("PhuLuc1.xlsx", data)], rules)
    found = {(f.code, f.cell) for f in result.findings}
    assert ("absurd_number", cells["absurd_number"]) in found
    assert ("not_finite_number", cells["not_finite_number"]) in found
    assert ("not_finite_number", cells["infinite"]) in found
    values = [v for t in result.tasks for v in (t.kinh_phi_tong, t.kinh_phi_nsnn, t.kinh_phi_khac) if v is not None]
    assert values and all(math.isfinite(v) and abs(v) < MAX_MAGNITUDE for v in values)
    quoted = next(f for f in result.findings if f.code == "absurd_number")
    assert quoted.value is not None and len(quoted.value) <= 200


def _refuse_constant(name: str) -> None:
    raise ValueError(f"not strict JSON: {name}")


def test_export_json_is_strict_after_a_submission_full_of_absurd_numbers(tmp_path: Path) -> None:
    space = make_workspace(tmp_path / "ws")
    data, _ = absurd_workbook()
    raw = email_bytes(attachments=[("PhuLuc1.xlsx", data)])
    space.deliver([DemoMail("absurd", raw, DEFAULT_DATE, "correction_sent")])
    run = space.cli("once")
    assert run.exit_code == 0, run.output
    exported = space.cli("export", "--json")
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.output, parse_constant=_refuse_constant)
    assert [m["action"] for m in document["messages"]] == ["correction_sent"]
    assert len(document["submissions"]) == 1


def test_a_non_finite_number_left_by_an_older_version_is_exported_as_null() -> None:
    document = strictly_json({"tasks": [{"kinh_phi_tong": math.nan, "kinh_phi_nsnn": math.inf, "stt": 1}], "x": 1.5})
    text = json.dumps(document, allow_nan=False)
    assert json.loads(text) == {"tasks": [{"kinh_phi_tong": None, "kinh_phi_nsnn": None, "stt": 1}], "x": 1.5}


@pytest.mark.parametrize("written", [10**400, math.nan, math.inf, -math.inf, 1e300])
def test_an_absurd_numeric_cell_in_the_orientation_column_is_unknown_not_a_crash(rules: Rules, written: float) -> None:
    column = rules.column("dinh_huong")
    assert column is not None
    result = parse_enum(written, column)
    assert isinstance(result, Bad) and result.code == "unknown_orientation"
