"""The `mailbot` command. Maps errors to sysexits-style exit codes."""

from __future__ import annotations

import datetime as dt
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
    from mailbot.officer.reminders import Reminder

EX_USAGE = 2  # click's own code for usage errors; `validate` uses it for unreadable paths too
EX_CONFIG = getattr(os, "EX_CONFIG", 78)
EX_IOERR = getattr(os, "EX_IOERR", 74)
EX_TEMPFAIL = getattr(os, "EX_TEMPFAIL", 75)
EX_UNAVAILABLE = getattr(os, "EX_UNAVAILABLE", 69)
EX_NOPERM = getattr(os, "EX_NOPERM", 77)
EX_REPLIES_WAITING = 3  # `once`: mail was processed, but replies wait for a mail server that cannot take them
EX_CANTCREAT = getattr(os, "EX_CANTCREAT", 73)
EX_INTERRUPTED = 128 + 2  # what a shell reports for a command ended by SIGINT (Ctrl-C)
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
    from mailbot import faults
    from mailbot.readers import ensure_safe_xml

    faults.reset()

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


def _writable(folder: Path) -> None:
    """Make `folder` and write a file in it, as a run would; else exit 73 naming the folder (no traceback)."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        who = f" (it must be writable by uid {os.getuid()})" if isinstance(exc, PermissionError) else ""
        _fail(f"mailbot: cannot write to {folder}: {exc.strerror or exc}{who}", EX_CANTCREAT)


@contextmanager
def _app(ctx: click.Context, *, log_json: bool | None = None) -> Iterator[App]:
    """The app for a mail command: logging, writable folders, the single-instance lock, the ledger's health check.

    Ctrl-C ends it with one line and exit 130: the reading child is killed, the message in progress is read
    again next time.
    """
    from mailbot.adapters.sqlite_ledger import LedgerError
    from mailbot.bootstrap import build_app
    from mailbot.logs import configure_logging
    from mailbot.scheduler import AlreadyRunning, single_instance

    settings = _settings(ctx)
    configure_logging(json_output=log_json)
    for folder in dict.fromkeys((settings.storage.dir, settings.storage.tracker.parent)):
        _writable(folder)
    interrupted = False
    try:
        with single_instance(settings.storage.dir):
            app = build_app(settings)
            try:
                yield app
            except KeyboardInterrupt:
                interrupted = True
                if app.reader is not None:
                    app.reader.kill()
            finally:
                app.close()
    except AlreadyRunning as exc:
        _fail(f"mailbot: {exc}", EX_TEMPFAIL)
    except LedgerError as exc:
        _fail(f"mailbot: refusing to run: {exc}", EX_IOERR)
    if interrupted:
        _fail("mailbot: interrupted; the message in progress will be processed again next time", EX_INTERRUPTED)


def _moment(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.datetime | None:
    """--at: an ISO 8601 moment; one without a zone is Viet Nam time."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not a moment such as 2023-04-23T08:00 or 2023-04-23T08:00+07:00: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=7)))


_at_option = click.option(
    "--at",
    "at",
    callback=_moment,
    default=None,
    help="Decide what is due as if it were this moment (ISO 8601; Viet Nam time without a zone). Default: now.",
)


@main.command()
@_at_option
@click.pass_context
def once(ctx: click.Context, at: dt.datetime | None) -> None:
    """Process the waiting messages once, rebuild the tracker, send the reminders and digest due, and exit."""
    from mailbot.adapters.oauth2 import AuthError
    from mailbot.pipeline import process_batch
    from mailbot.scheduler import run_due

    with _app(ctx) as app:
        try:
            report = process_batch(app)
            due = run_due(app, at)
        except AuthError as exc:
            _fail(f"mailbot: login refused: {exc}", EX_NOPERM)
        except MailbotError as exc:
            _fail(f"mailbot: {exc}", EX_UNAVAILABLE)
    click.echo(f"processed {report.processed} message(s): {report.actions or '{}'}; tracker: {report.tracker}")
    if due.reminders or due.digests:
        click.echo(f"due: {due.reminders} reminder(s), {due.digests} digest mail(s) queued")
    if report.replies_waiting:
        _fail(
            f"mailbot: {report.replies_waiting} reply(ies) waiting: the mail server cannot take them now;"
            " they are kept and sent by a later run",
            EX_REPLIES_WAITING,
        )


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run on a schedule until SIGTERM/SIGINT (the current message is finished first)."""
    from mailbot.scheduler import Runner

    with _app(ctx) as app:
        Runner(app).run()


@main.command()
@click.option("--dry-run", is_flag=True, help="List who would get which reminder; send nothing.")
@_at_option
@click.pass_context
def remind(ctx: click.Context, dry_run: bool, at: dt.datetime | None) -> None:
    """Send the reminders due now (or --at a moment): to roster units with no submission, and corrections waiting."""
    from mailbot.adapters.sqlite_state import now_utc

    moment = at or now_utc()
    if dry_run:
        due = _due_reminders(_settings(ctx), moment)
        for reminder in due:
            click.echo(reminder.line())
        click.echo(f"{len(due)} reminder(s) due at {_vn(moment)} (giờ Việt Nam); nothing sent (--dry-run)")
        return
    from mailbot.officer.reminders import queue_due
    from mailbot.pipeline import send_replies

    with _app(ctx) as app:
        try:
            with app.ledger.transaction():  # the lock is ours: a mail left `sending` was cut off by a crash
                app.ledger.interrupted_to_uncertain()
            queued = queue_due(app, moment)
            send_replies(app)
        except MailbotError as exc:
            _fail(f"mailbot: {exc}", EX_UNAVAILABLE)
        waiting = app.replies_deferred
    for reminder in queued:
        click.echo(reminder.line())
    click.echo(f"{len(queued)} reminder(s) queued at {_vn(moment)} (giờ Việt Nam)")
    if waiting:
        _fail(f"mailbot: {waiting} mail(s) waiting: the mail server cannot take them now", EX_REPLIES_WAITING)


def _vn(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=7))).strftime("%d/%m/%Y %H:%M")


def _due_reminders(settings: Settings, moment: dt.datetime) -> list[Reminder]:
    """The reminders due, read from the ledger without the lock (a running mailbot may hold it)."""
    from mailbot.adapters.sqlite_ledger import LedgerError, SqliteLedger
    from mailbot.alerts import LedgerTeller
    from mailbot.officer.reminders import due_reminders
    from mailbot.officer.roster import load_roster

    try:
        exists = settings.ledger_path.is_file()
        ledger = SqliteLedger(settings.ledger_path, read_only=exists) if exists else SqliteLedger(":memory:")
    except LedgerError as exc:
        _fail(f"mailbot: {exc}", EX_IOERR)
    try:
        roster = load_roster(settings.roster.file) if settings.roster.file else None
        return due_reminders(LedgerTeller(ledger, settings, load_rules(settings.rules.file)), roster, moment)
    except ConfigError as exc:
        _fail(f"mailbot: configuration error: {exc}", EX_CONFIG)
    finally:
        ledger.close()


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
        click.echo(
            json.dumps(export_document(ledger, settings.storage.tracker), ensure_ascii=False, indent=2, allow_nan=False)
        )
    finally:
        ledger.close()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Say how mailbot is doing; exit 0 healthy, 1 degraded (an open alert), 2 down (no recent successful batch)."""
    from mailbot.status import render, status_report

    code, report = status_report(_settings(ctx))
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else "\n".join(render(report)))
    sys.exit(code)


_dry_run_option = click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")


@main.command()
@click.option("--failed", is_flag=True, help="Messages recorded as failed.")
@click.option("--quarantined", is_flag=True, help="Messages recorded as quarantined.")
@click.option("--receipt", default=None, help="The messages of one submission (its receipt number).")
@click.option("--message-id", default=None, help="The messages with this Message-ID (with its <>).")
@_dry_run_option
@click.pass_context
def reprocess(
    ctx: click.Context, failed: bool, quarantined: bool, receipt: str | None, message_id: str | None, dry_run: bool
) -> None:
    """Run recorded messages again from the archive (after a fix, a rule change or a release)."""
    actions = [a for a, chosen in (("failed", failed), ("quarantined", quarantined)) if chosen]
    if not (actions or receipt or message_id):
        _fail("mailbot: say which messages: --failed, --quarantined, --receipt R or --message-id M", EX_USAGE)
    with _app(ctx) as app:
        rows = app.ledger.messages_to_rerun(actions=actions, receipt=receipt, message_id=message_id)
        _rerun_and_report(app, rows, dry_run)


@main.command()
@_dry_run_option
@click.pass_context
def revalidate(ctx: click.Context, dry_run: bool) -> None:
    """Validate every submission's latest version again against the current rules; print before and after."""
    with _app(ctx) as app:
        _rerun_and_report(app, app.ledger.messages_to_rerun(latest_versions=True), dry_run)


def _rerun_and_report(app: App, rows: list[dict[str, object]], dry_run: bool) -> None:
    from mailbot.reprocess import rerun

    changes = rerun(app, rows, dry_run=dry_run, notify=app.settings.reprocess.notify)
    for change in changes:
        click.echo(change.line())
    changed = sum(c.changed for c in changes)
    click.echo(f"{len(changes)} message(s), {changed} {'would change' if dry_run else 'changed'}")


@main.command()
@click.option(
    "--connect", is_flag=True, help="Also log in to the mailbox and the SMTP server (reads and sends nothing)."
)
@click.pass_context
def check(ctx: click.Context, connect: bool) -> None:
    """Validate the configuration and the rules; exit 78 naming the key and the reason.

    With --connect, also try the servers: exit 69 when one cannot be reached, 77 when a login is refused.
    """
    from mailbot.adapters.tls import login_for

    settings = _settings(ctx)
    try:
        for key, server in (("mailbox", settings.mailbox), ("smtp", settings.smtp)):
            if server.kind in ("imap", "smtp"):
                login_for(server, settings.source, key)  # reads the secrets; connects to nothing
            elif server.kind == "ews" and key == "mailbox":
                server.password(settings.source)  # type: ignore[union-attr] # only [mailbox] ews has one
            elif settings.mailbox.kind == "graph" and key == "mailbox":
                from mailbot.adapters.graph_client import client_secret

                client_secret(settings.mailbox, settings.source)
    except ConfigError as exc:
        _fail(f"mailbot: configuration error: {exc}", EX_CONFIG)
    click.echo(f"{ctx.obj}: OK — mailbox {settings.mailbox.kind}, replies via {settings.smtp.kind}")
    click.echo(f"rules {settings.rules.file}: OK")
    if settings.roster.file:  # already read by load_settings: a bad row has exited 78 naming it
        click.echo(f"roster {settings.roster.file}: OK — {_roster_size(settings.roster.file)} unit(s)")
    click.echo(_converter_line(settings))
    click.echo(_receipt_line(settings))
    if connect:
        from mailbot.logs import configure_logging
        from mailbot.probe import exit_code, probe_all

        configure_logging(json_output=None)
        probes = probe_all(settings)
        for probe in probes:
            click.echo(probe.line())
        sys.exit(exit_code(probes))


def _roster_size(path: Path) -> int:
    from mailbot.officer.roster import load_roster

    return len(load_roster(path).units)


def _converter_line(settings: Settings) -> str:
    """LibreOffice, which reads .doc/.rtf/.odt/.ods: present, turned off or missing (a warning, not a failure)."""
    from mailbot.readers.convert import ConvertSettings, program

    section = settings.convert
    formats = ".doc, .rtf, .odt and .ods attachments"
    if not section.enabled:
        return f"convert: off ([convert] enabled = false): {formats} get a reply asking for .xlsx/.docx"
    found = program(ConvertSettings(soffice=section.soffice))
    if found is None:
        return (
            f"warning: LibreOffice not found ([convert] soffice = {section.soffice!r}): {formats} cannot be read "
            "and get a reply asking for .xlsx/.docx; install libreoffice-writer-nogui and libreoffice-calc-nogui"
        )
    return f"convert: LibreOffice {found}: OK"


def _receipt_line(settings: Settings) -> str:
    """The font the receipt PDF embeds: a configured font that is missing is an error; none found, a warning."""
    from mailbot.receipt import find_font

    replies = settings.replies
    if not replies.receipt_pdf:
        return "receipt: off ([replies] receipt_pdf = false)"
    font = find_font(replies.receipt_font)  # a configured one that is missing has failed in load_settings
    if font is None:
        return (
            "warning: no font with Vietnamese glyphs found for the receipt PDF: acknowledgements go without it;"
            " install fonts-dejavu-core or set [replies] receipt_font"
        )
    return f"receipt: PDF with the font {font}: OK"


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


@main.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, dest: Path) -> None:
    """Copy the ledger (consistently, even while mailbot runs) and the archive's new files into DEST.

    To restore: stop mailbot, put DEST/ledger.sqlite3 and DEST/archive/ back into the storage folder
    (deleting any ledger.sqlite3-wal and -shm there) and DEST/tracker.xlsx where the tracker goes.
    """
    from mailbot.backup import BackupError, backup_storage

    settings = _settings(ctx)
    try:
        report = backup_storage(settings.ledger_path, settings.archive_dir, dest, settings.storage.tracker)
    except BackupError as exc:
        _tell_backup(settings, failed=str(exc))
        _fail(f"mailbot: backup failed: {exc}", exc.exit_code)
    _tell_backup(settings, failed=None)
    click.echo(f"ledger: {report.ledger} ({report.ledger_bytes:,} bytes, integrity ok)")
    click.echo(f"archive: {report.blobs_copied} file(s) copied, {report.blobs_present} already there")
    click.echo(f"tracker: {report.tracker or 'none yet'}")


def _tell_backup(settings: Settings, *, failed: str | None) -> None:
    """The `backup_failed` condition, recorded in the ledger; the running mailbot sends its mail."""
    import sqlite3

    from mailbot.adapters.sqlite_ledger import SqliteLedger
    from mailbot.alerts import LedgerTeller, observe
    from mailbot.logs import get_logger

    if not settings.ledger_path.is_file():
        return
    try:
        ledger = SqliteLedger(settings.ledger_path)
        try:
            with ledger.transaction():
                teller = LedgerTeller(ledger, settings, load_rules(settings.rules.file))
                observe(teller, "backup_failed", failed is not None, failed or "")
        finally:
            ledger.close()
    except (MailbotError, OSError, sqlite3.Error) as exc:  # the ledger itself may be what failed: the log is left
        get_logger().warning("backup_alert_not_recorded", error=str(exc)[:300])


@main.command("compile")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def compile_plan(ctx: click.Context, out_dir: Path) -> None:
    """Write the compiled plan ("Tổng hợp đề xuất nhiệm vụ") of every latest version, as .xlsx and .docx, into OUT.

    Reads the ledger without changing it (no lock: it can run beside `mailbot run`).
    """
    import datetime as dt

    from mailbot.adapters.sqlite_ledger import LedgerError, SqliteLedger
    from mailbot.model import TrackerData
    from mailbot.officer.compiled import write_compiled
    from mailbot.readmodel import submission_views

    settings = _settings(ctx)
    if not settings.ledger_path.is_file():
        _fail(f"mailbot: no ledger yet at {settings.ledger_path}: nothing has been processed", EX_IOERR)
    try:
        ledger = SqliteLedger(settings.ledger_path, read_only=True)
    except LedgerError as exc:
        _fail(f"mailbot: {exc}", EX_IOERR)
    try:
        data = TrackerData(submission_views(ledger), [], {}, dt.datetime.now(dt.UTC))
    finally:
        ledger.close()
    _writable(out_dir)
    for path in write_compiled(data, load_rules(settings.rules.file), out_dir):
        click.echo(str(path))
