"""The 14-task plan laid out the office way (national header block, two-row header, sections with sub-totals,
totals by formula, signature block), saved by LibreOffice as .xlsx, .xls, .ods, .fods and as a Word table in
.docx, .doc, .odt, .rtf, .fodt, reads identically from every format, and equals what was written."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mailbot.model import ValidationResult
from mailbot.validation.rules_file import default_rules_path, load_rules
from mailbot.validation.validate import validate_files
from tests.converter import needs_libreoffice
from tests.office_fixtures.plan14 import CONTINUING, ORGANIZATION, SECTIONS, TASKS

FIXTURES = Path(__file__).parent / "fixtures" / "office" / "plan14"
DIRECT = ["plan14.xlsx", "plan14.xls", "plan14.docx"]
CONVERTED = ["plan14.ods", "plan14.fods", "plan14.doc", "plan14.odt", "plan14.rtf", "plan14.fodt"]
FORMATS = [*DIRECT, *(pytest.param(name, marks=needs_libreoffice) for name in CONVERTED)]


@cache
def _read(name: str) -> ValidationResult:
    return validate_files([(name, (FIXTURES / name).read_bytes())], load_rules(default_rules_path()))


def _findings(result: ValidationResult) -> list[tuple[Any, ...]]:
    """What a finding says, whatever the file's format (Word tables and sheets name their places apart)."""
    return [(f.code, f.severity, f.task_index, f.field) for f in result.findings]


@pytest.mark.parametrize("name", [n for n in FORMATS if n != "plan14.xlsx"])
def test_the_plan_reads_from_every_format_exactly_as_from_the_xlsx(name: str) -> None:
    reference, result = _read("plan14.xlsx"), _read(name)
    assert result.organization == reference.organization
    assert [t.to_dict() for t in result.tasks] == [t.to_dict() for t in reference.tasks]
    assert _findings(result) == _findings(reference)


@pytest.mark.parametrize("name", FORMATS)
def test_the_plan_read_from_every_format_is_what_was_written(name: str) -> None:
    result = _read(name)
    assert (result.organization or "").casefold() == ORGANIZATION.casefold()
    got = [t.to_dict() for t in result.tasks]
    assert [{k: t[k] for k in TASKS[0]} for t in got] == TASKS
    assert all(
        SECTIONS[0 if i < CONTINUING else 1].casefold() in (t["loai"] or "").casefold() for i, t in enumerate(got)
    )
    assert [f for f in _findings(result) if f[1] == "error"] == [("missing_document", "error", None, None)]
