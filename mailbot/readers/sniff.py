"""Recognise what an attachment really is from its bytes; the file name's extension is only a hint.

Word 97-2003, RTF and OpenDocument files (zipped or flat XML) are recognised by their content and
read after conversion (`CONVERTED`, see mailbot.readers.convert); an encrypted one is said to be encrypted.

Also home of the findings every reader reports about a whole file, so that the wording stays alike.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO

from mailbot.model import FileKind, Finding, Severity

MAX_MEMBERS = 10_000
#: Members smaller than this cannot exhaust memory, whatever their compression ratio.
RATIO_FLOOR = 1 << 20
#: A DOCTYPE must come before the root element, so the head of each XML part is enough to look at.
XML_HEAD = 65_536
CFB_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")

#: Contents read as they are.
READABLE: frozenset[str] = frozenset({"xlsx", "xlsm", "xls", "docx", "docm", "pdf"})
#: Contents read after LibreOffice converts them, and what they become.
CONVERTED: dict[str, str] = {"doc": "docx", "rtf": "docx", "odt": "docx", "fodt": "docx", "ods": "xlsx", "fods": "xlsx"}
MACRO_KINDS: frozenset[str] = frozenset({"xlsm", "docm"})
#: Extensions of one family name the same format: no note when one holds the other (Word saved RTF as .doc).
_FAMILY = {
    "xlsx": "xlsx",
    "xlsm": "xlsx",
    "xls": "xls",
    "docx": "docx",
    "docm": "docx",
    "pdf": "pdf",
    "doc": "doc",
    "rtf": "doc",
    "odt": "odt",
    "fodt": "odt",
    "ods": "ods",
    "fods": "ods",
}
#: Contents we recognise but never read: asking for a proper format beats calling them a mismatch.
_UNSUPPORTED = frozenset({"odf", "xlsb", "office"})

LABELS = {
    "xlsx": "bảng tính Excel (.xlsx)",
    "xlsm": "bảng tính Excel có macro (.xlsm)",
    "xls": "bảng tính Excel 97-2003 (.xls)",
    "xlsb": "bảng tính Excel nhị phân (.xlsb)",
    "docx": "văn bản Word (.docx)",
    "docm": "văn bản Word có macro (.docm)",
    "doc": "văn bản Word 97-2003 (.doc)",
    "pdf": "tệp PDF",
    "ods": "bảng tính OpenDocument (.ods)",
    "odt": "văn bản OpenDocument (.odt)",
    "rtf": "văn bản RTF (.rtf)",
    "fods": "bảng tính OpenDocument dạng XML (.fods)",
    "fodt": "văn bản OpenDocument dạng XML (.fodt)",
    "odf": "tài liệu OpenDocument",
    "office": "tệp Office đời cũ",
    "html": "trang web (HTML)",
    "xml": "tệp XML",
    "exe": "tệp chương trình chạy được",
    "archive": "tệp nén",
    "image": "hình ảnh",
}

_HINT_RESAVE = (
    "Vui lòng mở tệp bằng Excel (hoặc Word), chọn Lưu thành (Save As) › Excel Workbook (.xlsx) "
    "hoặc Word Document (.docx), rồi gửi lại tệp vừa lưu."
)


@dataclass(frozen=True)
class Limits:
    """How much a zip container may expand before we refuse to open it."""

    max_uncompressed: int = 200_000_000
    max_ratio: int = 200


@dataclass
class Sniffed:
    """The verdict on one file: the kind to report, the kind to read it as (None: do not read)."""

    kind: FileKind
    read_as: FileKind | None
    findings: list[Finding] = field(default_factory=list)


# --- findings -------------------------------------------------------------------------------------


def problem(code: str, name: str, message: str, hint: str, severity: Severity = "error") -> Finding:
    """A finding about the whole file `name`."""
    return Finding(code=code, severity=severity, message=message, hint=hint, file=name)


def unreadable(name: str, detail: str) -> Finding:
    return problem("unreadable_file", name, f"Không mở được tệp “{name}”: {detail}.", _HINT_RESAVE)


def encrypted(name: str) -> Finding:
    return problem(
        "encrypted_file",
        name,
        f"Tệp “{name}” được đặt mật khẩu (mã hoá) nên hệ thống không đọc được nội dung.",
        "Lưu lại tệp không đặt mật khẩu (trong Excel/Word: Tệp › Thông tin › Bảo vệ › Mã hoá bằng "
        "mật khẩu, xoá mật khẩu rồi lưu) và gửi lại tệp đó.",
    )


def megabytes(size: int) -> str:
    """`size` bytes as Vietnamese-written megabytes: 20 000 000 → "20", 1 500 000 → "1,5"."""
    return f"{size / 1_000_000:.3g}".replace(".", ",")


def too_large(name: str, size: int, limit: int) -> Finding:
    return problem(
        "file_too_large",
        name,
        f"Tệp “{name}” có dung lượng {megabytes(size)} MB, vượt giới hạn {megabytes(limit)} MB.",
        f"Vui lòng xoá hình ảnh, trang tính không cần thiết hoặc chia thành nhiều tệp, mỗi tệp dưới "
        f"{megabytes(limit)} MB, rồi gửi lại.",
    )


def too_complex(name: str, detail: str) -> Finding:
    """The file would cost too much to open or to read (its zip expands too far, its sheets are too big)."""
    return problem(
        "file_too_complex",
        name,
        f"Tệp “{name}” quá lớn hoặc quá phức tạp ({detail}) nên hệ thống không mở.",
        "Vui lòng chỉ giữ lại các bảng cần gửi, lưu thành một tệp .xlsx mới rồi gửi lại.",
    )


def _macro(name: str) -> Finding:
    return problem(
        "macro_file",
        name,
        f"Tệp “{name}” có chứa macro. Hệ thống chỉ đọc dữ liệu, không giữ và không chạy macro.",
        "Lần sau vui lòng lưu dưới dạng .xlsx hoặc .docx (không có macro).",
        "warning",
    )


def _mismatch(name: str, ext: str, content: str, severity: Severity) -> Finding:
    label = LABELS.get(content, content)
    if severity == "warning":
        message = f"Tệp “{name}” có đuôi .{ext} nhưng nội dung là {label}; hệ thống đã đọc theo nội dung."
        hint = f"Lần sau vui lòng đặt đúng đuôi tệp ({_extension_of(content)})."
    else:
        expected = LABELS.get(ext, f".{ext}")
        message = f"Tệp “{name}” có đuôi .{ext} nhưng nội dung là {label}, không phải {expected}."
        hint = _HINT_RESAVE
    return problem("type_mismatch", name, message, hint, severity)


def _unsupported(name: str, content: str) -> Finding:
    label = LABELS.get(content, "định dạng lạ")
    return problem(
        "unsupported_format",
        name,
        f"Tệp “{name}” là {label}, định dạng hệ thống không đọc được.",
        "Vui lòng lưu lại bảng dưới dạng Excel (.xlsx) hoặc văn bản dưới dạng Word (.docx) rồi gửi lại.",
    )


# --- the verdict ----------------------------------------------------------------------------------


def extension(name: str) -> str:
    """The lower-case extension of `name` without the dot ("" when there is none)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().rstrip(".")
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def _extension_of(content: str) -> str:
    return f".{content}" if content in READABLE or content in CONVERTED else ".xlsx"


_KINDS: tuple[FileKind, ...] = (
    *("xlsx", "xlsm", "xls", "docx", "docm", "pdf"),
    *("doc", "rtf", "odt", "ods", "fodt", "fods"),
)


def kind_of(ext: str) -> FileKind:
    """The FileKind named `ext` ("unknown" for any other)."""
    for kind in _KINDS:
        if ext == kind:
            return kind
    return "unknown"


def kind_from_name(name: str) -> FileKind:
    """The kind the file name claims ("unknown" for any other extension)."""
    return kind_of(extension(name))


def sniff(name: str, data: bytes, limits: Limits | None = None) -> Sniffed:
    """Decide from `data` what `name` is, whether to read it, and what to tell the submitter."""
    ext = extension(name)
    content, findings = detect(name, data, limits or Limits())
    if findings:
        return Sniffed(kind_of(ext), None, findings)
    if (content in READABLE or content in CONVERTED) and not _pdf_in_disguise(ext, content):
        kind = kind_of(content)
        return Sniffed(kind, kind, _notes(name, ext, content))
    return Sniffed(kind_of(ext), None, [_rejection(name, ext, content)])


def _pdf_in_disguise(ext: str, content: str) -> bool:
    """A PDF named as a spreadsheet or document: we would read nothing from it, so it is an error."""
    return content == "pdf" and ext in _FAMILY and ext != "pdf"


def _notes(name: str, ext: str, content: str) -> list[Finding]:
    notes = []
    if ext and _FAMILY.get(ext) != _FAMILY[content]:
        notes.append(_mismatch(name, ext, content, "warning"))
    if content in MACRO_KINDS:
        notes.append(_macro(name))
    return notes


def _rejection(name: str, ext: str, content: str) -> Finding:
    if content == "empty":
        return unreadable(name, "tệp rỗng (0 byte)")
    if content == "encrypted":
        return encrypted(name)
    if content == "unknown":
        return unreadable(name, "không nhận ra định dạng, có thể tệp đã bị hỏng")
    if content not in _UNSUPPORTED and ext in _FAMILY:
        return _mismatch(name, ext, content, "error")
    return _unsupported(name, content)


# --- content detection ----------------------------------------------------------------------------


def detect(name: str, data: bytes, limits: Limits) -> tuple[str, list[Finding]]:
    """The content's kind ("xlsx", "doc", "html", "unknown", …) and any finding that stops reading."""
    if not data:
        return "empty", []
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _inspect_zip(name, data, limits)
    if data.startswith(CFB_MAGIC):
        return _cfb_kind(data), []
    kind = _plain_kind(data)
    if kind in ("fods", "fodt") and _declares_doctype(data[:XML_HEAD]):
        return kind, [unreadable(name, "tài liệu bị lỗi định dạng (có khai báo DOCTYPE)")]
    return kind, []


def _plain_kind(data: bytes) -> str:
    head = data[:1024]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
        return "rtf"
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"MZ", b"\x7fELF")):
        return "exe"
    if head.startswith((b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b")):
        return "archive"
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8")):
        return "image"
    kind = _markup_kind(head)
    return _flat_odf_kind(data) if kind == "xml" else kind


def _markup_kind(head: bytes) -> str:
    text = head.replace(b"\x00", b"").lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n").lower()
    if b"<html" in text or text.startswith(b"<!doctype html"):
        return "html"
    if text.startswith(b"<?xml"):
        return "xml"
    return "unknown"


def _flat_odf_kind(data: bytes) -> str:
    """A flat OpenDocument file (one XML document, .fods/.fodt) says its kind in `office:mimetype`."""
    head = data[:16_384]
    if b"<office:document" not in head:
        return "xml"
    if b'office:mimetype="application/vnd.oasis.opendocument.spreadsheet"' in head:
        return "fods"
    if b'office:mimetype="application/vnd.oasis.opendocument.text"' in head:
        return "fodt"
    return "xml"


def _declares_doctype(head: bytes) -> bool:
    return b"<!doctype" in head.replace(b"\x00", b"").lower()


# --- legacy Office (Compound File Binary) ---------------------------------------------------------

_CFB_STREAMS: Sequence[tuple[str, str]] = (
    ("EncryptionInfo", "encrypted"),
    ("EncryptedPackage", "encrypted"),
    ("WordDocument", "doc"),
    ("Workbook", "xls"),
    ("Book", "xls"),
)


def _cfb_kind(data: bytes) -> str:
    for stream, kind in _CFB_STREAMS:
        entry = _directory_entry(data, stream)
        if entry != -1:
            return "encrypted" if kind == "doc" and _word_encrypted(data, entry) else kind
    # No root entry: the directory is missing (a truncated file), so the container is broken.
    return "office" if _directory_entry(data, "Root Entry") != -1 else "unknown"


def _directory_entry(data: bytes, stream: str) -> int:
    """The offset of the CFB directory entry named `stream`, -1 when there is none.

    Directory entries are 128-byte records aligned on 128 bytes, the name in UTF-16LE with its byte
    length (terminator included) at offset 64; the same text inside a document's body will not
    line up like that.
    """
    needle = (stream + "\0").encode("utf-16-le")
    at = data.find(needle, 512)
    while at != -1:
        if at % 128 == 0 and int.from_bytes(data[at + 64 : at + 66], "little") == len(needle):
            return at
        at = data.find(needle, at + 1)
    return -1


#: The Word binary format's File Information Block: its magic, and the fEncrypted / fObfuscated flags.
_FIB_IDENT, _FIB_ENCRYPTED = 0xA5EC, 0x0100 | 0x8000


def _word_encrypted(data: bytes, entry: int) -> bool:
    """True when the WordDocument stream's FIB says the document is password-protected ([MS-DOC] 2.5.2).

    That stream is at least 4096 bytes, so it lives in regular sectors: its first sector is the FIB's.
    """
    shift = int.from_bytes(data[30:32], "little")
    start = int.from_bytes(data[entry + 116 : entry + 120], "little")
    if not 9 <= shift <= 12 or start >= 0xFFFFFFFA:
        return False
    at = (start + 1) << shift
    fib = data[at : at + 12]
    if len(fib) < 12 or int.from_bytes(fib[0:2], "little") != _FIB_IDENT:
        return False
    return bool(int.from_bytes(fib[10:12], "little") & _FIB_ENCRYPTED)


# --- zip containers (OOXML, OpenDocument) ---------------------------------------------------------

#: What a corrupt or hostile zip raises while its directory or a member is read.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,  # a member encrypted with a zip password
    NotImplementedError,  # an unknown compression method
    KeyError,
)


def _inspect_zip(name: str, data: bytes, limits: Limits) -> tuple[str, list[Finding]]:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            infos = archive.infolist()
            excess = _excess(infos, limits)
            if excess:
                return "archive", [too_complex(name, excess)]
            kind = _zip_kind(archive, infos)
            if (kind in READABLE or kind in CONVERTED) and _has_doctype(archive, infos):
                return kind, [unreadable(name, "tài liệu bị lỗi định dạng (có khai báo DOCTYPE)")]
            return kind, []
    except _ZIP_ERRORS:
        return "unknown", [unreadable(name, "tệp bị hỏng hoặc không đầy đủ (có thể bị cắt khi đính kèm)")]


def _excess(infos: list[zipfile.ZipInfo], limits: Limits) -> str:
    """Why the zip directory promises too much ("" when it does not); nothing is decompressed."""
    if len(infos) > MAX_MEMBERS:
        return f"có {len(infos)} thành phần, giới hạn là {MAX_MEMBERS}"
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed:
        return f"giải nén ra {megabytes(total)} MB, giới hạn là {megabytes(limits.max_uncompressed)} MB"
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > limits.max_ratio:
            return f"thành phần “{info.filename}” nén với tỉ lệ {ratio:.0f}:1, giới hạn là {limits.max_ratio}:1"
    return ""


def _zip_kind(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> str:
    names = {info.filename for info in infos}
    if "xl/workbook.xml" in names:
        return "xlsm" if _excel_macros(archive, names) else "xlsx"
    if "word/document.xml" in names:
        macro = "word/vbaProject.bin" in names or _content_types_say_macro(archive, names)
        return "docm" if macro else "docx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "mimetype" in names:
        return _odf_kind(archive)
    return "archive"


def _excel_macros(archive: zipfile.ZipFile, names: set[str]) -> bool:
    if "xl/vbaProject.bin" in names or any(n.startswith("xl/macrosheets/") for n in names):
        return True
    return _content_types_say_macro(archive, names)


def _content_types_say_macro(archive: zipfile.ZipFile, names: set[str]) -> bool:
    part = "[Content_Types].xml"
    if part not in names:
        return False
    with archive.open(part) as stream:
        return b"macroenabled" in stream.read(XML_HEAD * 16).lower()


def _odf_kind(archive: zipfile.ZipFile) -> str:
    with archive.open("mimetype") as stream:
        mimetype = stream.read(200)
    if _odf_encrypted(archive):
        return "encrypted"
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return "ods"
    if mimetype.startswith(b"application/vnd.oasis.opendocument.text"):
        return "odt"
    return "odf"


def _odf_encrypted(archive: zipfile.ZipFile) -> bool:
    """A password-protected OpenDocument file lists `encryption-data` for its parts in the manifest."""
    try:
        with archive.open("META-INF/manifest.xml") as stream:
            return b"encryption-data" in stream.read(XML_HEAD * 16)
    except KeyError:
        return False


def _has_doctype(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> bool:
    """True when an XML part declares a DOCTYPE (entities, external references): never legitimate."""
    for info in infos:
        if info.filename.lower().endswith((".xml", ".rels", ".vml")):
            with archive.open(info) as stream:
                head = stream.read(XML_HEAD)
            if _declares_doctype(head):
                return True
    return False
