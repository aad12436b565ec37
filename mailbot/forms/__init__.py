"""Blank templates generated from the rules of a call, attached to correction replies.

A new call's rules file gives new templates with no code change.
"""

from __future__ import annotations

from pathlib import Path

from mailbot.forms.docx import description_template
from mailbot.forms.xlsx import task_list_template
from mailbot.validation.schema import Rules

# ASCII names: they travel as mail attachments.
TASK_LIST_NAME = "PhuLuc1_DanhMucNhiemVu.xlsx"
DESCRIPTION_NAME = "PhuLuc2_ThuyetMinhNhiemVu.docx"

__all__ = [
    "DESCRIPTION_NAME",
    "TASK_LIST_NAME",
    "blank_forms",
    "description_template",
    "task_list_template",
    "write_blank_forms",
]


def blank_forms(rules: Rules) -> list[tuple[str, bytes]]:
    """Both templates as (file name, bytes), named after the call, e.g. "SXTDBV-2024_PhuLuc1_….xlsx"."""
    prefix = rules.call.receipt_prefix
    return [
        (f"{prefix}_{TASK_LIST_NAME}", task_list_template(rules)),
        (f"{prefix}_{DESCRIPTION_NAME}", description_template(rules)),
    ]


def write_blank_forms(rules: Rules, out_dir: Path) -> list[Path]:
    """Write both templates into `out_dir` (created if missing); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, content in blank_forms(rules):
        path = out_dir / name
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(content)
        partial.replace(path)
        written.append(path)
    return written
