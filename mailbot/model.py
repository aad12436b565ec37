"""The data that flows through mailbot: findings, tasks, and what readers hand to validation.

Nothing here imports a mail, Excel or Word library; readers translate those formats into these types.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the roster's state is built from SubmissionView: a runtime import would be circular
    from mailbot.officer.matching import RosterState

Severity = Literal["error", "warning"]

#: A cell value exactly as a reader found it (text keeps its spelling; numbers and dates keep their type).
CellValue = str | int | float | bool | dt.datetime | dt.date | dt.time | None

#: The task field keys: a contract other parts and tools rely on.
TASK_FIELDS: tuple[str, ...] = (
    "stt",
    "ten_nhiem_vu",
    "dinh_huong",
    "muc_tieu",
    "noi_dung",
    "san_pham",
    "don_vi_chu_tri",
    "don_vi_phoi_hop",
    "bat_dau",
    "ket_thuc",
    "kinh_phi_tong",
    "kinh_phi_nsnn",
    "kinh_phi_khac",
    "ghi_chu",
    "loai",
)


@dataclass(frozen=True)
class Finding:
    """One problem at one place. `message` and `hint` are Vietnamese, for the submitter."""

    code: str
    severity: Severity
    message: str
    hint: str = ""
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    cell: str | None = None
    field: str | None = None
    task_index: int | None = None
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Place:
    """Where a value was read: a sheet cell (xlsx/xls) or a Word table cell ('Bảng 1')."""

    file: str
    sheet: str
    row: int  # 1-based
    column: str  # letter, "A", "B", …

    @property
    def cell(self) -> str:
        return f"{self.column}{self.row}"


@dataclass(frozen=True)
class Grid:
    """A rectangle of cells: one worksheet, or one Word table.

    `rows[r][c]` is 0-based; the sheet's row r+1, column letter of c+1. A merged range keeps its
    value in its top-left cell and None elsewhere; `merges` lists the ranges as 0-based inclusive
    (first_row, first_col, last_row, last_col).
    """

    file: str
    sheet: str
    rows: list[list[CellValue]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: Text found above or around the table that belongs to no cell (Word paragraphs before a table).
    preamble: list[str] = field(default_factory=list)
    #: Font names of cells whose font stands for an old Vietnamese encoding (".VnTime", "VNI-Times"), 0-based
    #: (row, col); spreadsheet readers fill it so text typed in those fonts can be converted to Unicode.
    fonts: dict[tuple[int, int], str] = field(default_factory=dict)
    #: 0-based rows and columns the sheet hides (not part of the table).
    hidden_rows: frozenset[int] = frozenset()
    hidden_cols: frozenset[int] = frozenset()
    #: 0-based (row, column) of formula cells stored without a computed value (never opened in a spreadsheet).
    uncached: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class TextDocument:
    """The text of a document in reading order: paragraphs, and each table row as one line."""

    file: str
    paragraphs: list[str]


#: What an attachment is; doc, rtf, odt, ods, fodt and fods are read after conversion (mailbot.readers.convert).
FileKind = Literal["xlsx", "xlsm", "xls", "docx", "docm", "pdf", "doc", "rtf", "odt", "ods", "fodt", "fods", "unknown"]


@dataclass
class ReadResult:
    """What one attached file yielded: its tables, its text, and what was wrong with it."""

    file: str
    kind: FileKind
    grids: list[Grid] = field(default_factory=list)
    text: TextDocument | None = None
    findings: list[Finding] = field(default_factory=list)
    #: True when a PDF had extractable text (a converted document), False for a scan or no PDF.
    has_text: bool = False
    #: The .xlsx/.docx LibreOffice made of a legacy or OpenDocument file (.ods, .doc, .odt, …) and read in its place;
    #: a correction's marked copy is made from it. None for a file read as it came.
    converted: bytes | None = None


@dataclass
class Task:
    """One proposed task, every field as written (typed where the rules give a type)."""

    stt: int | None = None
    ten_nhiem_vu: str | None = None
    dinh_huong: int | None = None
    muc_tieu: str | None = None
    noi_dung: str | None = None
    san_pham: str | None = None
    don_vi_chu_tri: str | None = None
    don_vi_phoi_hop: str | None = None
    bat_dau: str | None = None
    ket_thuc: str | None = None
    kinh_phi_tong: float | None = None
    kinh_phi_nsnn: float | None = None
    kinh_phi_khac: float | None = None
    ghi_chu: str | None = None
    loai: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Description:
    """One Phụ lục 2 task description (thuyết minh), by section."""

    file: str
    index: int  # 0-based within the file
    sections: dict[str, str]  # folded section key -> text, e.g. "ten_nhiem_vu", "kinh_phi"
    ten_nhiem_vu: str | None = None
    kinh_phi_tong: float | None = None
    kinh_phi_text: str | None = None


@dataclass
class ValidationResult:
    """One submission read as a whole: the organisation, every task, every finding."""

    organization: str | None
    tasks: list[Task]
    findings: list[Finding]
    descriptions: list[Description] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "organization": self.organization,
            "tasks": [t.to_dict() for t in self.tasks],
            "findings": [f.to_dict() for f in self.findings],
        }


# ---------------------------------------------------------------- mail


@dataclass(frozen=True)
class Attachment:
    """One file taken out of a message (after zip, forwarded-message and TNEF unpacking)."""

    name: str  # NFC display name, sanitised (no path, no control characters)
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass
class Inbound:
    """A received message, parsed. Header values are decoded, NFC, CR/LF stripped."""

    raw: bytes
    sha256: str
    message_id: str | None  # "<id@host>" as written, or None
    from_addr: str | None  # the bare address; None when From is missing or cannot be parsed strictly
    from_name: str
    reply_to: str | None
    subject: str
    in_reply_to: str | None
    references: list[str]
    headers: dict[str, list[str]]  # lower-case name -> every value, decoded
    content_type: str  # of the whole message, e.g. "multipart/mixed"
    defects: list[str]  # names of MIME defects (e.g. "StartBoundaryNotFoundDefect")
    parse_error: str | None = None  # set when the bytes could not be parsed at all
    #: The parsed message (email.policy.default) when it is exactly `raw` parsed (no header cut): parsed once, reused
    tree: Any = field(default=None, repr=False, compare=False)


SignatureResult = Literal["valid", "untrusted", "invalid"]


@dataclass(frozen=True)
class SignatureInfo:
    """An S/MIME signature on a message: who signed, and whether it holds.

    `valid`: it verifies and the signer's certificate chains to a configured trusted CA; `untrusted`: it verifies
    but chains to no trusted CA (an unknown CA); `invalid`: the content or the signature was altered or is unreadable.
    """

    result: SignatureResult
    form: Literal["detached", "opaque"]
    subject: str | None = None  # the signer's subject, RFC 4514
    organization: str | None = None  # O
    common_name: str | None = None  # CN
    email: str | None = None  # emailAddress, or the certificate's rfc822Name
    issuer: str | None = None  # RFC 4514
    detail: str = ""  # why it is not valid (English, for the officer)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Extraction:
    """The attachments of a message, with what was wrong taking them out."""

    attachments: list[Attachment]
    findings: list[Finding]
    quarantine: str | None = None  # why the MIME cannot be trusted; None when it can
    signature: SignatureInfo | None = None  # the message's S/MIME signature (the outermost one)
    signed_copies: list[str] = field(default_factory=list)  # attached PDFs that carry a signature of their own


# ---------------------------------------------------------------- the tracker's read model

#: Correctness of a version; lateness is a fact of its own (`late`) beside it.
SubmissionStatus = Literal["accepted", "needs_correction"]


@dataclass
class ArchivedFile:
    name: str
    path: str  # absolute path of the archived copy (content-addressed)


@dataclass
class SubmissionView:
    """The latest version of one submission, as the officer sees it."""

    receipt: str
    organization: str | None
    sender: str
    status: SubmissionStatus
    version: int
    first_received_at: dt.datetime
    last_received_at: dt.datetime
    tasks: list[dict[str, Any]]  # Task.to_dict()
    findings: list[dict[str, Any]]  # Finding.to_dict()
    files: list[ArchivedFile] = field(default_factory=list)
    signature: dict[str, Any] | None = None  # SignatureInfo.to_dict() of the version's message
    signed_copies: list[str] = field(default_factory=list)  # names of its digitally signed PDFs
    late: bool = False  # received after the deadline (whatever its status)
    note: str | None = None  # the submitter's own words with the latest version (quotes and signature cut)
    note_asks: bool = False  # the note asks for something (mailbot.notes.asks_for_something)
    decision: str | None = None  # the officer's "Quyết định", read back from the workbook (export only)


@dataclass
class VersionFile:
    """One attachment of one version, for the tracker's folder of files (ho-so/<receipt>/v<N>/)."""

    receipt: str
    version: int
    received_at: dt.datetime
    name: str  # the attachment's name as received (sanitised at extraction)
    source: str  # absolute path of the archived copy


@dataclass
class MessageView:
    """One received message and what was done with it."""

    message_id: str | None
    sender: str | None
    subject: str
    received_at: dt.datetime
    action: str  # acknowledged | correction_sent | noted | ignored | duplicate | quarantined | rate_limited | failed
    reason: str | None
    receipt: str | None
    reply_state: str | None = None  # pending | sent | failed | uncertain, when a reply was made
    reply_error: str | None = None  # why the reply failed or waits
    error_id: str | None = None  # for a failed message: the id its log lines carry
    reprocessed_at: str | None = None  # when `mailbot reprocess` last ran it again (UTC, ISO 8601)
    note: str | None = None  # the sender's own words: the version's note, or the text of a `noted` message
    note_asks: bool = False


@dataclass
class TrackerData:
    submissions: list[SubmissionView]
    messages: list[MessageView]
    orientations: dict[int, str]  # code -> short name, for the statistics sheet
    generated_at: dt.datetime
    files: list[VersionFile] = field(default_factory=list)  # every version's attachments, oldest first
    call: str = ""  # the call's short title, for the printed header
    roster: RosterState | None = None  # each roster unit's state; None without a [roster] file
