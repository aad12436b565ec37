"""Numbers, months and orientations as Vietnamese submitters write them."""

from __future__ import annotations

import datetime as dt

import pytest

from mailbot.validation.schema import Column, Rules
from mailbot.validation.values import Bad, parse_enum, parse_integer, parse_month, parse_number


@pytest.mark.parametrize(
    ("written", "number"),
    [
        (1500, 1500.0),
        (2000.5, 2000.5),
        ("1.500", 1500.0),
        ("2.000,5", 2000.5),
        ("1 500", 1500.0),
        ("1\u00a0500", 1500.0),
        ("1.234.567", 1234567.0),
        ("1,5", 1.5),
        ("0,5", 0.5),
        ("12.75", 12.75),
        ("1,234,567", 1234567.0),
        ("1,234.5", 1234.5),
        ("-3", -3.0),
        (" 800 ", 800.0),
    ],
)
def test_a_number_written_the_vietnamese_way_is_read(written: object, number: float) -> None:
    assert parse_number(written) == number  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "written", ["khoảng 500", "500 triệu", "1,500", "1.5.0", "15 00", "", "abc", "1.2345,6", True, dt.date(2024, 1, 1)]
)
def test_an_ambiguous_or_wordy_number_is_a_finding_never_a_guess(written: object) -> None:
    result = parse_number(written)  # type: ignore[arg-type]
    assert isinstance(result, Bad) and result.code == "not_a_number" and result.hint


def test_an_integer_must_be_whole() -> None:
    assert parse_integer("3") == 3
    assert isinstance(parse_integer("3,5"), Bad)


@pytest.mark.parametrize(
    "written",
    ["01/2024", "1/2024", "T1/2024", "t1/2024", "Tháng 1/2024", "tháng 01 năm 2024", "THANG 1/2024", "2024-01",
     "15/01/2024", dt.datetime(2024, 1, 15), dt.date(2024, 1, 31)],
)  # fmt: skip
def test_a_month_in_any_usual_form_becomes_year_dash_month(written: object) -> None:
    assert parse_month(written) == "2024-01"  # type: ignore[arg-type]


@pytest.mark.parametrize("written", ["13/2024", "Quý I/2024", "2024", 2024, "đầu năm", "0/2024"])
def test_a_month_that_cannot_be_read_is_a_finding(written: object) -> None:
    result = parse_month(written)  # type: ignore[arg-type]
    assert isinstance(result, Bad) and result.code == "not_a_month"


@pytest.fixture
def orientation(rules: Rules) -> Column:
    column = rules.column("dinh_huong")
    assert column is not None
    return column


@pytest.mark.parametrize(
    ("written", "code"),
    [
        (3, 3),
        (3.0, 3),
        ("3", 3),
        ("3. Định mức tiêu hao", 3),
        ("Định mức tiêu hao", 3),
        ("DINH MUC TIEU HAO", 3),
        ("Xây dựng định mức tiêu hao nguyên vật liệu trong ngành thép", 3),
        ("Truyền thông", 1),
        ("Nâng cao nhận thức cộng đồng về tiêu dùng bền vững", 1),
        ("Sản xuất sạch hơn", 4),
        ("Xanh hoá nền sản xuất", 9),
        ("kinh te tuan hoan", 10),
        ("Định hướng 10", 10),
        ("Xây dựng và phát triển hệ thống dịch vụ phân phối xanh, bền vững", 7),
    ],
)
def test_an_orientation_as_code_name_paraphrase_or_without_marks_maps_to_its_code(
    orientation: Column, written: object, code: int
) -> None:
    assert parse_enum(written, orientation) == code  # type: ignore[arg-type]


@pytest.mark.parametrize("written", ["11", 0, "Năng lượng tái tạo", "3 - Truyền thông", 2.5, "bền vững"])
def test_an_unknown_orientation_lists_the_valid_codes(orientation: Column, written: object) -> None:
    result = parse_enum(written, orientation)  # type: ignore[arg-type]
    assert isinstance(result, Bad) and result.code == "unknown_orientation"
    assert "1 – Truyền thông" in result.hint and "10 – Kinh tế tuần hoàn" in result.hint
