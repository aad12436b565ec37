"""`mailbot validate`, `mailbot template` and `mailbot check-rules` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mailbot.cli import main
from tests.builders.sheets import xlsx_bytes
from tests.builders.submissions import task_list
from tests.conftest import SEED_RULES
from tests.test_validating_submissions import descriptions_file


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _submission(tmp_path: Path, **layout: object) -> list[str]:
    name, data = descriptions_file()
    return [
        _write(tmp_path, "PhuLuc1.xlsx", xlsx_bytes(task_list(**layout).rows)),  # type: ignore[arg-type]
        _write(tmp_path, name, data),
    ]


def test_validate_exits_0_and_lists_the_tasks_when_there_is_no_error(tmp_path: Path) -> None:
    run = CliRunner().invoke(main, ["validate", *_submission(tmp_path)])
    assert run.exit_code == 0, run.output
    assert "Nhiệm vụ đọc được: 3" in run.output and "Viện Nghiên cứu Da - Giày" in run.output


def test_validate_exits_1_and_names_the_cell_when_there_is_an_error(tmp_path: Path) -> None:
    files = _submission(tmp_path, overrides={(1, "kinh_phi_tong"): "khoảng 500"})
    run = CliRunner().invoke(main, ["validate", *files])
    assert run.exit_code == 1
    assert "ô K7 (hàng 7, cột K)" in run.output and "khoảng 500" in run.output and "[LỖI]" in run.output


def test_validate_json_has_the_contracted_shape(tmp_path: Path) -> None:
    run = CliRunner().invoke(main, ["validate", "--json", "--rules", str(SEED_RULES), *_submission(tmp_path)])
    data = json.loads(run.output)
    assert set(data) == {"organization", "tasks", "findings"}
    assert data["tasks"][1]["kinh_phi_tong"] == 2000.5 and data["tasks"][0]["bat_dau"] == "2024-01"
    assert set(data["tasks"][0]) == {
        "stt", "ten_nhiem_vu", "dinh_huong", "muc_tieu", "noi_dung", "san_pham", "don_vi_chu_tri",
        "don_vi_phoi_hop", "bat_dau", "ket_thuc", "kinh_phi_tong", "kinh_phi_nsnn", "kinh_phi_khac",
        "ghi_chu", "loai",
    }  # fmt: skip


def test_validate_exits_2_for_a_path_that_cannot_be_read(tmp_path: Path) -> None:
    run = CliRunner().invoke(main, ["validate", str(tmp_path / "missing.xlsx")])
    assert run.exit_code == 2 and "missing.xlsx" in run.output


def test_validate_exits_2_without_files() -> None:
    assert CliRunner().invoke(main, ["validate"]).exit_code == 2


def test_check_rules_accepts_the_seed_rules() -> None:
    run = CliRunner().invoke(main, ["check-rules", str(SEED_RULES)])
    assert run.exit_code == 0 and "OK" in run.output


def test_check_rules_names_the_line_and_key_of_a_typo(tmp_path: Path) -> None:
    bad = SEED_RULES.read_text(encoding="utf-8").replace('late_policy = "accept_flagged"', 'late_polcy = "x"')
    path = _write(tmp_path, "bad.toml", bad.encode())
    run = CliRunner().invoke(main, ["check-rules", path])
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if text.startswith("late_polcy"))
    assert run.exit_code == 78
    assert f"bad.toml:{line}" in run.output and "call.late_polcy" in run.output and "unknown key" in run.output


def test_validate_refuses_to_run_with_broken_rules(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.toml", b"[call\n")
    run = CliRunner().invoke(main, ["validate", "--rules", path, *_submission(tmp_path)])
    assert run.exit_code == 78 and "bad.toml:1" in run.output


def test_template_writes_the_two_blank_forms(tmp_path: Path) -> None:
    run = CliRunner().invoke(main, ["template", "--out", str(tmp_path / "out")])
    assert run.exit_code == 0
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".docx", ".xlsx"]
