"""The `mailbot` command. Maps errors to sysexits-style exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from mailbot.errors import ConfigError, MailbotError
from mailbot.validation.rules_file import default_rules_path, load_rules
from mailbot.validation.schema import Rules

if TYPE_CHECKING:
    from mailbot.bootstrap import App
    from mailbot.config import Settings

EX_USAGE = 2  # click's own code for usage errors; `validate` uses it for unreadable paths too
EX_CONFIG = getattr(os, "EX_CONFIG", 78)
EX_IOERR = getattr(os, "EX_IOERR", 74)
EX_TEMPFAIL = getattr(os, "EX_TEMPFAIL", 75)
EX_UNAVAILABLE = getattr(os, "EX_UNAVAILABLE", 69)
EX_NOPERM = getattr(os, "EX_NOPERM", 77)
DEFAULT_CONFIG = "config.toml"

_rules_option = click.option(
    "--rules",
    "rules_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The call's rules file (default: rules/sxtdbv-2024.toml).",
)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _load(rules_path: Path | None) -> Rules:
    try:
        return load_rules(rules_path or default_rules_path())
    except ConfigError as exc:
        _fail(f"mailbot: rules error: {exc}", EX_CONFIG)


@click.group()
@click.version_option(package_name="mailbot")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Configuration file (default: $MAILBOT_CONFIG or ./{DEFAULT_CONFIG}).",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """mailbot: reads, validates and answers the submissions of a call for proposals."""
    from mailbot.readers import ensure_safe_xml

    try:
        ensure_safe_xml()
    except RuntimeError as exc:
        _fail(f"mailbot: {exc}", EX_CONFIG)
    ctx.obj = config_path or Path(os.environ.get("MAILBOT_CONFIG", DEFAULT_CONFIG))


def _settings(ctx: click.Context) -> Settings:
    from mailbot.config import load_settings

    try:
        settings = load_settings(ctx.obj)
        load_rules(settings.rules.file)
    except ConfigError as exc:
        _fail(f"mailbot: configuration error: {exc}", EX_CONFIG)
    return settings


@contextmanager
def _app(ctx: click.Context, *, log_json: bool | None = None) -> Iterator[App]:
    """The app for a mail command: logging, the single-instance lock, the ledger's health check."""
    from mailbot.adapters.sqlite_ledger import LedgerError
    from mailbot.bootstrap import build_app
    from mailbot.logs import configure_logging
    from mailbot.scheduler import AlreadyRunning, single_instance

    settings = _settings(ctx)
    configure_logging(json_output=log_json)
    try:
        with single_instance(settings.storage.dir):
            app = build_app(settings)
            try:
                yield app
            finally:
                app.close()
    except AlreadyRunning as exc:
        _fail(f"mailbot: {exc}", EX_TEMPFAIL)
    except LedgerError as exc:
        _fail(f"mailbot: refusing to run: {exc}", EX_IOERR)


@main.command()
@click.pass_context
def once(ctx: click.Context) -> None:
    """Process the waiting messages once, rebuild the tracker, and exit."""
    from mailbot.adapters.oauth2 import AuthError
    from mailbot.pipeline import process_batch

    with _app(ctx) as app:
        try:
            report = process_batch(app)
        except AuthError as exc:
            _fail(f"mailbot: login refused: {exc}", EX_NOPERM)
        except MailbotError as exc:
            _fail(f"mailbot: {exc}", EX_UNAVAILABLE)
    click.echo(f"processed {report.processed} message(s): {report.actions or '{}'}; tracker: {report.tracker}")


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run on a schedule until SIGTERM/SIGINT (the current message is finished first)."""
    from mailbot.scheduler import Runner

    with _app(ctx) as app:
        Runner(app).run()


@main.command()
@click.option("--json", "as_json", is_flag=True, required=True, help="Print the ledger as JSON.")
@click.pass_context
def export(ctx: click.Context, as_json: bool) -> None:
    """Print every submission and message as JSON (a contract other tools rely on)."""
    from mailbot.adapters.sqlite_ledger import LedgerError, SqliteLedger
    from mailbot.readmodel import export_document

    settings = _settings(ctx)
    try:
        ledger = SqliteLedger(settings.ledger_path)
    except LedgerError as exc:
        _fail(f"mailbot: {exc}", EX_IOERR)
    try:
        click.echo(json.dumps(export_document(ledger), ensure_ascii=False, indent=2, allow_nan=False))
    finally:
        ledger.close()


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the configuration and the rules; exit 78 naming the key and the reason."""
    from mailbot.adapters.tls import login_for

    settings = _settings(ctx)
    try:
        for key, server in (("mailbox", settings.mailbox), ("smtp", settings.smtp)):
            if server.kind in ("imap", "smtp"):
                login_for(server, settings.source, key)  # reads the secrets; connects to nothing
    except ConfigError as exc:
        _fail(f"mailbot: configuration error: {exc}", EX_CONFIG)
    click.echo(f"{ctx.obj}: OK — mailbox {settings.mailbox.kind}, replies via {settings.smtp.kind}")
    click.echo(f"rules {settings.rules.file}: OK")


@main.command()
@click.option("--dir", "workspace", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"))
def demo(workspace: Path) -> None:
    """Make a demo workspace with realistic submissions, process them, and print a summary."""
    from mailbot.demo import run_demo

    run_demo(workspace, echo=click.echo)


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
            _fail(f"mailbot: cannot read {path}: {exc.strerror or exc}", EX_USAGE)
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
