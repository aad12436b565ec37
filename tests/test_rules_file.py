"""A rules file with a typo or a bad value is rejected with the file, line and key."""

from __future__ import annotations

import pytest

from mailbot.errors import ConfigError
from mailbot.validation.rules_file import parse_rules
from tests.conftest import SEED_RULES

SEED = SEED_RULES.read_text(encoding="utf-8")


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_rules(text, "call.toml")
    return caught.value


def _line_of(text: str, start: str, nth: int = 0) -> int:
    return [n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(start)][nth]


def test_the_seed_rules_describe_the_2024_call() -> None:
    rules = parse_rules(SEED)
    assert rules.call.receipt_prefix == "SXTDBV-2024" and rules.call.plan_year == 2024
    assert rules.call.deadline.isoformat() == "2023-04-30T23:59:59+07:00"
    assert [v.code for v in rules.column("dinh_huong").values] == list(range(1, 11))  # type: ignore[union-attr]


def test_a_misspelt_key_in_the_fifth_column_is_named_with_its_line() -> None:
    text = SEED.replace('key = "muc_tieu"\nlabel', 'key = "muc_tieu"\nlabl', 1)
    error = _error(text)
    assert error.key == "columns[3].labl" and error.line == _line_of(text, "labl")
    assert "unknown key" in error.reason and "call.toml" in str(error)


def test_a_bad_type_in_an_enum_value_is_named_with_its_line() -> None:
    text = SEED.replace("code = 7", 'code = "seven"', 1)
    error = _error(text)
    assert error.key == "columns[2].values[6].code" and error.line == _line_of(text, 'code = "seven"')


def test_a_deadline_without_a_time_zone_is_rejected() -> None:
    error = _error(SEED.replace("2023-04-30T23:59:59+07:00", "2023-04-30T23:59:59"))
    assert error.key == "call" and "time zone" in error.reason


def test_an_unknown_column_type_is_rejected_naming_the_allowed_ones() -> None:
    error = _error(SEED.replace('type = "month"', 'type = "date"', 1))
    assert error.key == "columns[8].type" and "month" in error.reason


def test_a_column_key_that_is_not_a_task_field_is_rejected() -> None:
    error = _error(SEED.replace('key = "ghi_chu"', 'key = "notes"'))
    assert "not a task field" in error.reason


def test_broken_toml_names_its_line() -> None:
    text = SEED.replace("plan_year = 2024", "plan_year = = 2024")
    assert _error(text).line == _line_of(text, "plan_year")
