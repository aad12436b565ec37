"""Builds the app from settings: the one place that wires adapters to ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.archive import Archive
from mailbot.config import Settings
from mailbot.intake import ExtractLimits
from mailbot.isolation import IsolatedReader
from mailbot.officer.roster import Roster, load_roster
from mailbot.ports import Mailbox, Sender, Tracker
from mailbot.readers.convert import ConvertSettings

if TYPE_CHECKING:
    from mailbot.dispatch import Dispatcher
    from mailbot.readahead import ReadAhead
from mailbot.replies import ReplyRenderer
from mailbot.validation.rules_file import load_rules
from mailbot.validation.schema import Rules


@dataclass
class App:
    settings: Settings
    rules: Rules
    mailbox: Mailbox
    sender: Sender
    ledger: SqliteLedger
    archive: Archive
    tracker: Tracker
    renderer: ReplyRenderer
    extract_limits: ExtractLimits = field(default_factory=ExtractLimits)
    #: Reads untrusted attachments in a capped child process; None reads them in this process.
    reader: IsolatedReader | None = None
    #: Set when the sender's server could not be reached: no more attempts in this batch.
    sender_down: bool = False
    #: Set when the sender's server refused the login (or its token refresh) in this batch.
    sender_login_refused: bool = False
    #: Replies (and alerts) kept for a later batch because the server could not take them now.
    replies_deferred: int = 0
    #: The units expected to submit ([roster] file), read at start-up; None without a roster.
    roster: Roster | None = None
    #: The batch's reading ahead (mailbot.readahead), while a batch runs.
    ahead: ReadAhead | None = None
    #: Sends replies beside the next message's work (mailbot.dispatch): made once; `dispatch` while a batch runs.
    dispatcher: Dispatcher | None = None
    dispatch: Dispatcher | None = None

    @cached_property
    def blank_forms(self) -> list[tuple[str, bytes]]:
        from mailbot.forms import blank_forms

        return blank_forms(self.rules) if self.settings.replies.blank_forms_policy != "never" else []

    @cached_property
    def receipt_font(self) -> Path | None:
        """The TrueType font the receipt PDF embeds: `[replies] receipt_font`, else one found on the system."""
        from mailbot.receipt import find_font

        return find_font(self.settings.replies.receipt_font)

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()
        if self.reader is not None:
            self.reader.close()
        self.mailbox.close()
        self.sender.close()
        self.ledger.close()


def build_mailbox(settings: Settings) -> Mailbox:
    box = settings.mailbox
    if box.kind == "imap":
        from mailbot.adapters.imap import ImapMailbox
        from mailbot.adapters.tls import login_for

        login = login_for(box, settings.source, "mailbox")
        return ImapMailbox(box, login, max_message_bytes=settings.limits.max_message_bytes)
    if box.kind == "ews":
        from mailbot.adapters.ews import EwsMailbox

        password = box.password(settings.source)
        return EwsMailbox(box, password, max_message_bytes=settings.limits.max_message_bytes)
    if box.kind == "graph":
        from mailbot.adapters.graph import GraphMailbox
        from mailbot.adapters.graph_client import client_for

        return GraphMailbox(client_for(box, settings.source), max_message_bytes=settings.limits.max_message_bytes)
    from mailbot.adapters.maildir import MaildirMailbox

    return MaildirMailbox(box.path, processed_folder=box.processed_folder, quarantine_folder=box.quarantine_folder)


def build_sender(settings: Settings, mailbox: Mailbox) -> Sender:
    smtp = settings.smtp
    if smtp.kind == "smtp":
        from mailbot.adapters.smtp import SmtpSender
        from mailbot.adapters.tls import login_for

        append_sent = getattr(mailbox, "append_sent", None) if smtp.copy_to_sent else None
        return SmtpSender(
            smtp,
            login_for(smtp, settings.source, "smtp"),
            envelope_from=smtp.envelope_from or settings.sender_address,
            after_send=append_sent,
        )
    if smtp.kind == "ews":
        from mailbot.adapters.ews import EwsMailbox, EwsSender

        assert isinstance(mailbox, EwsMailbox)  # load_settings made sure [mailbox] is kind = "ews" too
        return EwsSender(smtp, mailbox.connection)
    if smtp.kind == "graph":
        from mailbot.adapters.graph import sender_for

        assert settings.mailbox.kind == "graph"  # checked by load_settings
        return sender_for(settings.mailbox, settings.source, mailbox)
    from mailbot.adapters.outbox_dir import OutboxDirSender

    return OutboxDirSender(smtp.path)


def build_app(settings: Settings) -> App:
    """Open the ledger first: a damaged one stops everything before the mailbox is touched."""
    from mailbot.adapters.xlsx_tracker import XlsxTracker

    settings.storage.dir.mkdir(parents=True, exist_ok=True)
    ledger = SqliteLedger(settings.ledger_path)
    rules = load_rules(settings.rules.file)
    limits = settings.limits
    mailbox = build_mailbox(settings)
    return App(
        settings=settings,
        rules=rules,
        mailbox=mailbox,
        sender=build_sender(settings, mailbox),
        ledger=ledger,
        archive=Archive(settings.archive_dir),
        tracker=XlsxTracker(settings.storage.tracker),
        renderer=ReplyRenderer(rules, settings.replies.templates),
        extract_limits=ExtractLimits(
            max_attachment_bytes=limits.max_attachment_bytes,
            max_total_bytes=limits.max_message_bytes,
            max_zip_members=limits.max_zip_members,
            max_zip_uncompressed=limits.max_zip_uncompressed_bytes,
            max_zip_ratio=limits.max_zip_ratio,
            max_depth=limits.max_nesting,
        ),
        reader=IsolatedReader(
            memory_mb=limits.parse_memory_mb,
            timeout_seconds=limits.parse_timeout_seconds,
            max_bytes=rules.limits.max_file_bytes,
            max_uncompressed=rules.limits.max_uncompressed_bytes,
            convert=convert_settings(settings),
            processes=limits.reader_processes,
        ),
        roster=load_roster(settings.roster.file) if settings.roster.file else None,
    )


def convert_settings(settings: Settings) -> ConvertSettings:
    """How the reading worker runs LibreOffice: within the parse limits, whatever [convert] says."""
    section, limits = settings.convert, settings.limits
    return ConvertSettings(
        enabled=section.enabled,
        soffice=section.soffice,
        timeout_seconds=min(section.timeout_seconds, limits.parse_timeout_seconds),
        memory_mb=limits.parse_memory_mb,
    )
