"""The `mailbot` command. Maps errors to sysexits-style exit codes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from mailbot.errors import ConfigError
from mailbot.validation.rules_file import default_rules_path, load_rules
from mailbot.validation.schema import Rules

EX_USAGE = 2  # click's own code for usage errors; `validate` uses it for unreadable paths too
EX_CONFIG = getattr(os, "EX_CONFIG", 78)

_rules_option = click.option(
    "--rules",
    "rules_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The call's rules file (default: rules/sxtdbv-2024.toml).",
)


def _load(rules_path: Path | None) -> Rules:
    try:
        return load_rules(rules_path or default_rules_path())
    except ConfigError as exc:
        click.echo(f"mailbot: rules error: {exc}", err=True)
        sys.exit(EX_CONFIG)


@click.group()
@click.version_option(package_name="mailbot")
def main() -> None:
    """mailbot: reads, validates and answers the submissions of a call for proposals."""
    from mailbot.readers import ensure_safe_xml

    try:
        ensure_safe_xml()
    except RuntimeError as exc:
        click.echo(f"mailbot: {exc}", err=True)
        sys.exit(EX_CONFIG)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_rules_option
@click.option("--json", "as_json", is_flag=True, help="Print {organization, tasks, findings} as JSON.")
def validate(files: tuple[Path, ...], rules_path: Path | None, as_json: bool) -> None:
    """Read FILES as one submission and report its tasks and findings.

    Exit 0 with no error finding, 1 with error findings, 2 for usage or unreadable paths.
    """
    from mailbot.validation.validate import validate_files

    rules = _load(rules_path)
    contents: list[tuple[str, bytes]] = []
    for path in files:
        try:
            contents.append((path.name, path.read_bytes()))
        except OSError as exc:
            click.echo(f"mailbot: cannot read {path}: {exc.strerror or exc}", err=True)
            sys.exit(EX_USAGE)
    result = validate_files(contents, rules)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        from mailbot.report import render_report

        click.echo(render_report(result))
    sys.exit(1 if result.has_errors else 0)


@main.command()
@_rules_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def template(rules_path: Path | None, out_dir: Path) -> None:
    """Write the blank Phụ lục 1 workbook and Phụ lục 2 document, generated from the rules."""
    from mailbot.forms import write_blank_forms

    rules = _load(rules_path)
    for path in write_blank_forms(rules, out_dir):
        click.echo(str(path))


@main.command("check-rules")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def check_rules(path: Path) -> None:
    """Validate a rules file; exit 78 naming the line and key of the first problem."""
    rules = _load(path)
    click.echo(f"{path}: OK — {rules.call.id}, {len(rules.columns)} columns, deadline {rules.call.deadline}")
