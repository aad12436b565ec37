"""The roster of expected units is read from an admin's .xlsx or .csv; a bad entry names the file and its row."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from mailbot.cli import main
from mailbot.errors import ConfigError
from mailbot.officer.roster import Unit, load_roster
from tests.office_fixtures import roster as office_roster

HEADER = ["STT", "Mã đơn vị", "Tên đơn vị", "Địa chỉ email", "Tên miền"]
ROWS = [
    [1, "VNL", "Viện Năng lượng", "vanthu@ievn.vn; Ke.Hoach@IEVN.vn", None],
    [2, 101, "Trường Đại học Bách khoa Hà Nội", "@hust.edu.vn", None],
    [3, None, "Viện Dệt May", None, "vietex.vn, textile.example.vn"],
]
EXPECTED = [
    Unit("VNL", "Viện Năng lượng", ("vanthu@ievn.vn", "ke.hoach@ievn.vn"), (), row=3),
    Unit("101", "Trường Đại học Bách khoa Hà Nội", (), ("hust.edu.vn",), row=4),
    Unit(None, "Viện Dệt May", (), ("vietex.vn", "textile.example.vn"), row=5),
]
OFFICE_ROSTER = Path(__file__).parent / "fixtures" / "office" / "roster" / "don-vi.xlsx"
CONFIG = '[mailbox]\nkind = "maildir"\n\n[smtp]\nkind = "outbox"\nfrom = "Vụ TKNL <nop-de-xuat@example.org>"\n'


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Danh sách đơn vị thuộc Bộ"])  # a title above the header row
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def write_csv(path: Path, rows: list[list[object]], *, bom: bool, delimiter: str = ",") -> Path:
    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return f'"{text}"' if delimiter in text or ";" in text else text

    text = "\r\n".join(delimiter.join(cell(v) for v in row) for row in rows) + "\r\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def test_a_roster_workbook_gives_every_unit_as_written(tmp_path: Path) -> None:
    roster = load_roster(write_xlsx(tmp_path / "don-vi.xlsx", [HEADER, *ROWS]))
    assert roster.units == EXPECTED


def test_a_roster_workbook_saved_by_libreoffice_gives_every_unit_as_written() -> None:
    assert load_roster(OFFICE_ROSTER).units == office_roster.EXPECTED


@pytest.mark.parametrize("bom", [True, False], ids=["excel-utf8-bom", "plain-utf8"])
def test_a_roster_csv_gives_every_unit_as_written(tmp_path: Path, bom: bool) -> None:
    roster = load_roster(write_csv(tmp_path / "don-vi.csv", [HEADER, *ROWS], bom=bom))
    assert roster.units == [Unit(u.code, u.name, u.addresses, u.domains, row=u.row - 1) for u in EXPECTED]


def test_a_semicolon_separated_csv_as_vietnamese_excel_writes_it_is_read(tmp_path: Path) -> None:
    roster = load_roster(write_csv(tmp_path / "don-vi.csv", [HEADER, *ROWS], bom=True, delimiter=";"))
    assert [u.name for u in roster.units] == [u.name for u in EXPECTED]
    assert roster.units[0].addresses == EXPECTED[0].addresses


def test_empty_rows_are_skipped_and_rows_keep_their_numbers(tmp_path: Path) -> None:
    roster = load_roster(write_csv(tmp_path / "r.csv", [HEADER, ROWS[0], [None] * 5, ROWS[1]], bom=False))
    assert [(u.name, u.row) for u in roster.units] == [("Viện Năng lượng", 2), ("Trường Đại học Bách khoa Hà Nội", 4)]


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ([4, "X", None, "x@x.vn", None], "no name"),
        ([4, "X", "Viện X", "vanthu@@", None], "not an address"),
        ([4, "X", "Viện X", "van thu@x.vn", None], "neither an email address nor a domain"),
        ([4, "X", "Viện X", None, "localhost"], "neither an email address nor a domain"),
        ([4, "VNL", "Viện X", None, None], "the code 'VNL' is also on row 3"),
        ([4, "X", "VIEN NANG LUONG", None, None], "also on row 3"),
        ([4, "X", "Viện X", "VanThu@ievn.vn", None], "the address 'vanthu@ievn.vn' is also on row 3"),
    ],
    ids=["no-name", "bad-address", "space-in-address", "bad-domain", "duplicate-code", "duplicate-name", "dup-address"],
)
def test_a_bad_entry_is_refused_naming_the_file_and_its_row(tmp_path: Path, bad_row: list[object], reason: str) -> None:
    path = write_xlsx(tmp_path / "don-vi.xlsx", [HEADER, *ROWS, bad_row])
    with pytest.raises(ConfigError) as caught:
        load_roster(path)
    assert caught.value.path == str(path)
    assert caught.value.reason.startswith("row 6: ") and reason in caught.value.reason


def test_a_roster_without_a_name_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Tên đơn vị"):
        load_roster(write_csv(tmp_path / "r.csv", [["Mã", "Email"], ["A", "a@a.vn"]], bom=False))


def test_a_roster_that_is_not_utf8_is_refused_saying_how_to_save_it(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes("Tên đơn vị\r\nViện Năng lượng\r\n".encode("cp1258", errors="replace") + b"\xff")
    with pytest.raises(ConfigError, match="CSV UTF-8"):
        load_roster(path)


def _check(tmp_path: Path, roster: str) -> Result:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG + f'\n[roster]\nfile = "{roster}"\n', encoding="utf-8")
    return CliRunner().invoke(main, ["--config", str(config), "check"])


def test_mailbot_check_names_the_row_of_a_bad_roster_entry_and_exits_78(tmp_path: Path) -> None:
    write_csv(tmp_path / "don-vi.csv", [HEADER, *ROWS, [4, "VNL", "Viện X", None, None]], bom=True)
    result = _check(tmp_path, "don-vi.csv")
    assert result.exit_code == 78
    assert str(tmp_path / "don-vi.csv") in result.output and "row 5:" in result.output and "'VNL'" in result.output


def test_mailbot_check_reports_a_good_roster_found_beside_the_config(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "don-vi.xlsx", [HEADER, *ROWS])
    result = _check(tmp_path, "don-vi.xlsx")
    assert result.exit_code == 0, result.output
    assert f"roster {tmp_path / 'don-vi.xlsx'}: OK — 3 unit(s)" in result.output


def test_a_roster_file_that_is_not_there_is_refused_naming_the_key(tmp_path: Path) -> None:
    result = _check(tmp_path, "missing.xlsx")
    assert result.exit_code == 78 and "[roster.file]" in result.output and "missing.xlsx" in result.output
