"""The configuration: one typed object read from TOML, checked at start-up.

An unknown key is an error naming the key. Relative paths are relative to the config file's folder
(a rules file that is not there falls back to the shipped one of that name). What would fail at run time
fails here, naming the key: a `from` without an address, a rules file or a templates folder that is not there.
Secrets are never in the file: only `password_env = "NAME"` or `password_file = "PATH"`.
"""

from __future__ import annotations

import os
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal, NoReturn, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from mailbot.config_exchange import EwsMailbox, EwsSender
from mailbot.errors import ConfigError
from mailbot.shipped import shipped_folder
from mailbot.tomlfile import load_toml_model, locate


def _with_address(value: str) -> str:
    """`from` must carry an address: "Vụ TKNL <nop-de-xuat@example.org>" or "nop-de-xuat@example.org"."""
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not (at and local and domain) or any(c.isspace() for c in address):
        raise ValueError(f'needs an email address, e.g. "Vụ TKNL <nop-de-xuat@example.org>" (got {value!r})')
    return value


FromAddress = Annotated[str, AfterValidator(_with_address)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MaildirMailbox(Section):
    kind: Literal["maildir"]
    path: Path = Path("./var/mail")
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"


class OutboxSender(Section):
    kind: Literal["outbox"]
    path: Path = Path("./var/outbox")
    sender: FromAddress = Field(alias="from")
    resend_uncertain: bool = True  # a reply whose sending was interrupted goes again with the same Message-ID


Security = Literal["ssl", "starttls", "none"]


class OAuth2Settings(Section):
    """XOAUTH2: Microsoft 365 (client credentials with msal) or Gmail (a token from a file or a command)."""

    provider: Literal["microsoft", "google"]
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    client_secret_file: Path | None = None
    scope: str | None = None
    token_file: Path | None = None
    token_command: str | None = None


class Server(Section):
    """What IMAP and SMTP share: where, how encrypted, and how to log in (secrets only by reference)."""

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security
    tls_verify: bool = True  # turning this off is logged as a warning at every start
    ca_file: Path | None = None  # a private CA to trust, besides the system's
    timeout_seconds: float = Field(default=60, gt=0, le=600)
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    oauth2: OAuth2Settings | None = None

    @model_validator(mode="after")
    def _one_way_to_log_in(self) -> Server:
        ways = [w for w in (self.password_env, self.password_file, self.oauth2) if w is not None]
        if len(ways) > 1:
            raise ValueError("use only one of password_env, password_file and [oauth2]")
        if ways and not self.username:
            raise ValueError("username is needed to log in")
        return self


class ImapMailbox(Server):
    kind: Literal["imap"]
    security: Security = "ssl"
    username: str
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    sent_folder: str = "Sent"
    idle: bool = True
    idle_renew_seconds: int = Field(default=600, ge=10, le=600)  # RFC 2177 servers drop IDLE after 30 minutes

    @model_validator(mode="after")
    def _can_log_in(self) -> ImapMailbox:
        if self.password_env is None and self.password_file is None and self.oauth2 is None:
            raise ValueError("set password_env, password_file or an [mailbox.oauth2] table")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "ssl" else 143)


class SmtpSender(Server):
    kind: Literal["smtp"]
    security: Security = "starttls"
    sender: FromAddress = Field(alias="from")
    envelope_from: str | None = None  # MAIL FROM; default: the address in `from`
    copy_to_sent: bool = False  # Microsoft 365 and Gmail keep their own copy of what is sent
    resend_uncertain: bool = True
    #: Replies sent over one connection (one login) before it is closed and made again; 20 is the limit Exchange
    #: has long applied per connection by default, and within what Exchange Online, Gmail and Postfix accept.
    max_messages_per_connection: int = Field(default=20, ge=1, le=1000)

    @property
    def effective_port(self) -> int:
        return self.port or {"ssl": 465, "starttls": 587, "none": 25}[self.security]


class RulesSection(Section):
    file: Path = Path("rules/sxtdbv-2024.toml")


class Storage(Section):
    dir: Path = Path("./var")
    tracker: Path = Path("./var/tracker.xlsx")
    #: `run` rewrites the tracker at most once per this many seconds under load, and at the latest this long
    #: (plus a rebuild or two) after the ledger changed; `once` always leaves it current.
    tracker_max_lag_seconds: float = Field(default=30, gt=0, le=3600)


class Schedule(Section):
    interval_seconds: int = Field(default=60, ge=5, le=86_400)


class Limits(Section):
    max_message_bytes: int = Field(default=60_000_000, ge=1)
    max_attachment_bytes: int = Field(default=20_000_000, ge=1)
    max_zip_members: int = Field(default=200, ge=1)
    max_zip_uncompressed_bytes: int = Field(default=100_000_000, ge=1)
    max_zip_ratio: int = Field(default=100, ge=1)
    max_nesting: int = Field(default=3, ge=0, le=10)
    replies_per_sender: int = Field(default=10, ge=1)  # within rate_window_minutes
    replies_total: int = Field(default=500, ge=1)  # within rate_window_minutes
    rate_window_minutes: int = Field(default=60, ge=1)
    parse_memory_mb: int = Field(default=1024, ge=64)  # memory a child process may use to read one file
    parse_timeout_seconds: float = Field(default=120, gt=0)  # and the time
    #: Child processes reading attachments side by side (the next messages' files while one is answered)
    reader_processes: int = Field(default_factory=lambda: min(os.cpu_count() or 1, 8), ge=1, le=32)


def _program(value: str) -> str:
    if not value.strip() or "\0" in value or value != value.strip():
        raise ValueError(f'needs a program name or path, e.g. "soffice" or "/usr/bin/soffice" (got {value!r})')
    return value


class ConvertSection(Section):
    """LibreOffice, which converts .doc, .rtf, .odt and .ods attachments (and flat .fodt/.fods) so they can be read.

    Where it is not installed, or `enabled = false`, such a file gets a reply asking for .xlsx/.docx.
    """

    enabled: bool = True
    soffice: Annotated[str, AfterValidator(_program)] = "soffice"  # a name looked up on PATH, or a path
    timeout_seconds: float = Field(default=60, gt=0, le=600)  # per file; the parse timeout bounds it too


class Replies(Section):
    """What replies carry beside their text."""

    templates: Path | None = None  # default: the replies/ folder shipped with mailbot
    #: Blank templates with a correction: "when_needed" (an appendix is missing, or no marked copy of it could be
    #: attached), "always", "never". `attach_blank_forms = false` (the older key) means "never".
    blank_forms: Literal["when_needed", "always", "never"] = "when_needed"
    attach_blank_forms: bool = True
    marked_copies: bool = True  # the submitter's own file back, marked where to fix (<name>_can-sua.xlsx/.docx)
    max_reply_bytes: int = Field(default=10_000_000, ge=100_000)  # a reply's size as sent (base64 included)
    receipt_pdf: bool = True  # the acknowledgement attaches Phieu-tiep-nhan-<receipt>.pdf
    receipt_font: Path | None = None  # a TrueType font with Vietnamese glyphs; default: DejaVu Sans or Noto Sans found

    @property
    def blank_forms_policy(self) -> Literal["when_needed", "always", "never"]:
        return self.blank_forms if self.attach_blank_forms else "never"


class AlertSettings(Section):
    """Who is told when something needs a person, and after how long a condition counts."""

    to: list[str] = []  # admins' addresses; empty: conditions are still tracked (`mailbot status`), no mail
    min_interval_minutes: int = Field(default=60, ge=1)  # at most one mail per condition within this
    mailbox_minutes: int = Field(default=15, ge=0)  # mailbox unreachable this long
    smtp_minutes: int = Field(default=30, ge=0)  # replies waiting for an unreachable SMTP server this long
    tracker_minutes: int = Field(default=30, ge=0)  # tracker locked or unwritable this long
    bounces_per_hour: int = Field(default=5, ge=1)  # more undeliverable replies than this in an hour
    min_free_disk_mb: int = Field(default=500, ge=0)  # free space left in the storage folder


class ReprocessSettings(Section):
    notify: bool = False  # a reprocessed submission whose status changes gets a reply


class OfficerSettings(Section):
    """The officer who reads the workbook: a message whose words ask for something is forwarded to them once."""

    email: str | None = None  # e.g. "quangch@moit.gov.vn"; unset: such notes are only highlighted in the workbook

    @field_validator("email")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from mailbot.addresses import AddressError, parse_mailbox

        try:
            return parse_mailbox(value.strip())[1]
        except AddressError as exc:
            raise ValueError(f"not one e-mail address: {exc}") from exc


class TrustSettings(Section):
    """The CAs whose S/MIME signatures count as `valid` (e.g. the national government CA, VNPT-CA, Viettel-CA);
    PEM bundles or DER certificates. A signature that chains to none of them is recorded as `untrusted`."""

    ca_files: list[Path] = []

    def resolved(self, config: Path, base: Path) -> TrustSettings:
        """The files made absolute from the config's folder; one that does not load fails now, naming it."""
        from mailbot.intake.certificates import trusted_certificates

        files = [_resolve(base, file) for file in self.ca_files]
        try:
            trusted_certificates(tuple(files))
        except ValueError as exc:
            _fail_at(config, ("trust", "ca_files"), f"a trusted CA file does not load: {exc}")
        return TrustSettings(ca_files=files)


class RosterSettings(Section):
    """The units expected to submit (mailbot.officer.roster): an .xlsx or .csv file; none: no roster."""

    file: Path | None = None


def _clock_time(value: str) -> str:
    """ "08:00": a time of day, 24-hour, Viet Nam time."""
    hours, colon, minutes = value.partition(":")
    if not (colon and hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise ValueError(f'needs a time of day "HH:MM", e.g. "08:00" (got {value!r})')
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"no such time of day: {value!r}")
    return value


ClockTime = Annotated[str, AfterValidator(_clock_time)]


class ReminderSettings(Section):
    """Reminders to roster units (mailbot.officer.reminders), each sent exactly once per unit and reminder."""

    #: Units with no submission are reminded on each of these days before the deadline's day (none: no reminder).
    before_deadline_days: list[Annotated[int, Field(ge=1, le=365)]] = [7, 2]
    #: A latest version that needs correction and was not resubmitted this many days later (0: no reminder).
    correction_after_days: int = Field(default=5, ge=0, le=365)
    at: ClockTime = "08:00"  # the time of day (Viet Nam) a reminder becomes due on its day
    max_per_hour: int = Field(default=60, ge=1)  # reminders queued within an hour; the rest wait their turn


class DigestSettings(Section):
    """The officer's daily digest (mailbot.officer.digest): once a day, exactly once."""

    to: list[str] = []  # the officers' addresses; empty: no digest
    at: ClockTime = "08:00"  # Viet Nam time
    waiting_days: int = Field(default=5, ge=0)  # a correction waiting longer than this needs the officer
    max_attachment_mb: float = Field(default=5, ge=0)  # a larger workbook is named, not attached


from mailbot.config_graph import GraphMailbox, GraphSender  # noqa: E402  (they build on Section above)

Mailbox = Annotated[MaildirMailbox | ImapMailbox | EwsMailbox | GraphMailbox, Field(discriminator="kind")]
Sender = Annotated[OutboxSender | SmtpSender | EwsSender | GraphSender, Field(discriminator="kind")]


class Settings(Section):
    mailbox: Mailbox
    smtp: Sender
    rules: RulesSection = RulesSection()
    storage: Storage = Storage()
    schedule: Schedule = Schedule()
    limits: Limits = Limits()
    replies: Replies = Replies()
    alerts: AlertSettings = AlertSettings()
    reprocess: ReprocessSettings = ReprocessSettings()
    trust: TrustSettings = TrustSettings()
    officer: OfficerSettings = OfficerSettings()
    convert: ConvertSection = ConvertSection()
    roster: RosterSettings = RosterSettings()
    reminders: ReminderSettings = ReminderSettings()
    digest: DigestSettings = DigestSettings()
    _source: Path = PrivateAttr(default=Path("config.toml"))

    @model_validator(mode="after")
    def _graph_sends_through_its_mailbox(self) -> Settings:
        if self.smtp.kind == "graph" and self.mailbox.kind != "graph":
            raise ValueError('[smtp] kind = "graph" sends through the mailbox: it needs [mailbox] kind = "graph"')
        return self

    @property
    def source(self) -> Path:
        """The file these settings were read from (named in error messages)."""
        return self._source

    @property
    def ledger_path(self) -> Path:
        return self.storage.dir / "ledger.sqlite3"

    @property
    def archive_dir(self) -> Path:
        return self.storage.dir / "archive"

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2].lower() or "localhost"

    @property
    def sender_address(self) -> str:
        """The bare address of `from`."""
        return self.smtp.sender.rpartition("<")[2].strip(" >")


def _resolve(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else (base / path).resolve()


def _rules_file(path: Path, base: Path, wanted: Path) -> Path:
    """The rules file beside the config; a relative one that is not there: the shipped one of that name."""
    found = _resolve(base, wanted)
    if not found.is_file() and not wanted.is_absolute() and (shipped_folder("rules") / wanted.name).is_file():
        found = shipped_folder("rules") / wanted.name
    if not found.is_file():
        _fail_at(path, ("rules", "file"), f"no rules file at {found}")
    return found


def _fail_at(path: Path, loc: tuple[str, ...], reason: str) -> NoReturn:
    try:
        line = locate(path.read_text(encoding="utf-8"), loc)
    except (OSError, UnicodeDecodeError):
        line = None
    raise ConfigError(path, reason, key=".".join(loc), line=line)


def reply_templates() -> list[str]:
    """The template files every reply kind needs."""
    from mailbot.replies import ReplyKind

    return [f"{kind}.{ext}.j2" for kind in get_args(ReplyKind) for ext in ("txt", "html")]


def _check_templates(path: Path, folder: Path | None) -> None:
    """A templates folder that is missing, or lacks a template a reply needs, fails now, not at the first reply."""
    where = folder or shipped_folder("replies")
    if not where.is_dir():
        _fail_at(path, ("replies", "templates"), f"no templates folder at {where}")
    missing = [name for name in reply_templates() if not (where / name).is_file()]
    if missing:
        _fail_at(path, ("replies", "templates"), f"{where} lacks {', '.join(missing)}")


def load_settings(path: Path | str) -> Settings:
    """Read and check the configuration; relative paths become absolute from the file's folder."""
    path = Path(path)
    settings = load_toml_model(path, Settings)
    base = path.resolve().parent
    rules_file = _rules_file(path, base, settings.rules.file)
    if settings.smtp.kind == "ews" and settings.mailbox.kind != "ews":
        reason = 'kind = "ews" sends through the [mailbox] account: it needs [mailbox] kind = "ews"'
        _fail_at(path, ("smtp", "kind"), reason)
    templates = settings.replies.templates
    _check_templates(path, _resolve(base, templates) if templates else None)
    resolved = settings.model_copy(
        update={
            "mailbox": _resolve_paths(base, settings.mailbox),
            "smtp": _resolve_paths(base, settings.smtp),
            "rules": RulesSection(file=rules_file),
            "storage": settings.storage.model_copy(
                update={
                    "dir": _resolve(base, settings.storage.dir),
                    "tracker": _resolve(base, settings.storage.tracker),
                }
            ),
            "replies": settings.replies.model_copy(
                update={
                    "templates": _resolve(base, templates) if templates else None,
                    "receipt_font": _font(path, base, settings.replies.receipt_font),
                }
            ),
            "trust": settings.trust.resolved(path, base),
            "convert": _resolve_program(base, settings.convert),
            "roster": _roster(path, base, settings.roster),
        }
    )
    resolved._source = path
    return resolved


def _font(path: Path, base: Path, font: Path | None) -> Path | None:
    """The receipt's font made absolute; a configured font that is not there fails now, naming the key."""
    if font is None:
        return None
    found = _resolve(base, font)
    if not found.is_file():
        _fail_at(path, ("replies", "receipt_font"), f"no font file at {found}")
    return found


def _roster(path: Path, base: Path, section: RosterSettings) -> RosterSettings:
    """The roster file made absolute from the config's folder; one that is not there, or not readable, fails now."""
    if section.file is None:
        return section
    from mailbot.officer.roster import load_roster

    found = _resolve(base, section.file)
    if not found.is_file():
        _fail_at(path, ("roster", "file"), f"no roster file at {found}")
    load_roster(found)  # a bad entry fails now, naming the roster file and its row
    return RosterSettings(file=found)


def _resolve_program(base: Path, section: ConvertSection) -> ConvertSection:
    """A relative path to the converter ("bin/soffice") is relative to the config's folder; a bare name stays a name."""
    if "/" not in section.soffice:
        return section
    return section.model_copy(update={"soffice": str(_resolve(base, Path(section.soffice)))})


_S = TypeVar("_S", bound=BaseModel)  # config_exchange sections are BaseModels of their own


def _resolve_paths(base: Path, section: _S) -> _S:
    """Every Path field of a section (and of its oauth2 table) made absolute from the config's folder."""
    changes: dict[str, object] = {}
    for name, value in section:
        if isinstance(value, Path):
            changes[name] = _resolve(base, value)
        elif isinstance(value, BaseModel):  # [mailbox.oauth2]
            changes[name] = _resolve_paths(base, value)
    return section.model_copy(update=changes)


def read_secret(path: Path | str, *, env: str | None, file: Path | None, key: str) -> str:
    """A password from an environment variable or a file; a ConfigError names the key if missing."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigError(path, f"environment variable {env} is not set or empty", key=f"{key}_env")
        return value
    if file:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(path, f"cannot read {file}: {exc.strerror}", key=f"{key}_file") from exc
    raise ConfigError(path, f"set {key}_env or {key}_file", key=key)
