"""A template from `mailbot template`, filled in correctly, validates with no finding."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import openpyxl
from click.testing import CliRunner

from mailbot.cli import main
from mailbot.forms.xlsx import FIRST_CONTACT_ROW, FIRST_DATA_ROW
from mailbot.text import fold
from mailbot.validation.schema import Rules
from mailbot.validation.validate import validate_files
from tests.builders.submissions import ORGANIZATION, TASKS


def _fill_task_list(path: Path, rules: Rules) -> bytes:
    book = openpyxl.load_workbook(path)
    sheet = book["Phụ lục 1"]
    sheet.cell(FIRST_CONTACT_ROW, 1).value = f"Tên đơn vị: {ORGANIZATION}"
    for i, task in enumerate(TASKS):
        for c, column in enumerate(rules.columns, start=1):
            value = task[column.key]
            if column.type == "month":
                year, month = value.split("-")
                value = f"{month}/{year}"
            elif column.type == "enum":
                value = f"{value}. {column.values[[v.code for v in column.values].index(value)].name}"
            sheet.cell(FIRST_DATA_ROW + i, c).value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _fill_description(path: Path, task: dict[str, object]) -> bytes:
    """Write the task's answer into the empty paragraph after each numbered heading."""
    document = docx.Document(str(path))
    paragraphs = document.paragraphs
    for n, paragraph in enumerate(paragraphs):
        heading = fold(paragraph.text)
        if not heading[:1].isdigit():
            continue
        blank = next(p for p in paragraphs[n + 1 :] if not p.text.strip())
        if "ten nhiem vu" in heading:
            answer = str(task["ten_nhiem_vu"])
        elif "kinh phi" in heading:
            answer = f"Tổng kinh phí: {task['kinh_phi_tong']:.1f} triệu đồng".replace(".", ",")
        else:
            answer = "Nội dung do đơn vị ghi."
        blank.text = answer
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_filled_in_template_validates_with_no_finding(rules: Rules, tmp_path: Path) -> None:
    run = CliRunner().invoke(main, ["template", "--out", str(tmp_path)])
    assert run.exit_code == 0, run.output
    xlsx_path, docx_path = (Path(line) for line in run.output.split())
    files = [("PhuLuc1.xlsx", _fill_task_list(xlsx_path, rules))]
    files += [(f"ThuyetMinh{n}.docx", _fill_description(docx_path, task)) for n, task in enumerate(TASKS)]
    result = validate_files(files, rules)
    assert result.findings == []
    assert result.organization == ORGANIZATION
    assert [t.to_dict() for t in result.tasks] == TASKS


def test_an_empty_template_is_answered_with_no_tasks_not_a_crash(rules: Rules, tmp_path: Path) -> None:
    CliRunner().invoke(main, ["template", "--out", str(tmp_path)])
    files = [(p.name, p.read_bytes()) for p in sorted(tmp_path.iterdir())]
    codes = {f.code for f in validate_files(files, rules).findings}
    assert "no_tasks" in codes
