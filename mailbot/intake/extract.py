"""Take the attachments out of a received message, in memory, within limits.

Forwarded messages (message/rfc822), zip archives, Outlook winmail.dat (TNEF) and opaque S/MIME (smime.p7m) are
unpacked, each level counting towards `max_depth`; a multipart/signed is read through its signed part, and the
message's signature is verified (mailbot.intake.signed). Nothing is written to disk; zip members are read by
streaming with a byte cap, never extracted by name. What goes wrong becomes a `Finding` (Vietnamese, for the
submitter), never an exception.
"""

from __future__ import annotations

import email
import email.policy
import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message

from cryptography import x509

from mailbot.intake import archives, signed, smime
from mailbot.intake.encoded import inner_messages
from mailbot.intake.headers import bounded
from mailbot.intake.mime import decode_words, repair
from mailbot.model import Attachment, Extraction, Finding, Inbound, SignatureInfo

_UNTRUSTED_DEFECTS = frozenset(
    {
        "StartBoundaryNotFoundDefect",
        "CloseBoundaryNotFoundDefect",
        "MultipartInvariantViolationDefect",
        "MissingHeaderBodySeparatorDefect",
    }
)
_TYPE_EXTENSIONS = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": "xlsm",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-word.document.macroenabled.12": "docm",
    "application/msword": "doc",
    "application/pdf": "pdf",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/ms-tnef": "dat",
}
_EXTENSION_TYPES = {ext: ctype for ctype, ext in reversed(_TYPE_EXTENSIONS.items())}
_ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})
_ZIP_MAGIC = b"PK\x03\x04"
_TNEF_MAGIC = b"\x78\x9f\x3e\x22"
_JUNK_MEMBERS = frozenset({"__macosx", ".ds_store", "thumbs.db", "desktop.ini"})
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)})
_CONTROL = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_MAX_NAME = 150
_MIB = 1024 * 1024
_CHUNK = 64 * 1024
_SMALLER_HINT = "Hãy gửi tệp nhỏ hơn (nén ảnh, bỏ phần không cần thiết) hoặc chia thành nhiều thư."


@dataclass(frozen=True)
class ExtractLimits:
    max_attachment_bytes: int = 20_000_000
    max_total_bytes: int = 60_000_000
    max_zip_members: int = 200
    max_zip_uncompressed: int = 100_000_000
    max_zip_ratio: int = 100
    max_depth: int = 3  # forwarded message/rfc822 and zip-in-zip nesting


DEFAULT_LIMITS = ExtractLimits()


def extract_attachments(
    inbound: Inbound, limits: ExtractLimits = DEFAULT_LIMITS, trusted: Sequence[x509.Certificate] = ()
) -> Extraction:
    """The files in `inbound`, unpacked within `limits`; a quarantine reason when its MIME cannot be trusted.

    A signature chaining to one of the `trusted` CA certificates is `valid`; to none of them, `untrusted`."""
    try:
        return _extract(inbound, limits, trusted)
    except Exception as exc:  # a fault here must leave the message quarantined for a human, not lost
        return Extraction([], [], quarantine=f"attachments could not be taken out: {type(exc).__name__}")


def safe_name(name: str, fallback: str) -> str:
    """`name` fit for display: NFC, last path component, no control characters, no device name, ≤150 chars."""
    name = unicodedata.normalize("NFC", repair(name))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _CONTROL)
    name = name.strip().rstrip(". ")
    if not name:
        return fallback
    if name.split(".")[0].strip().upper() in _RESERVED:
        name = f"_{name}"
    return _capped(name)


def _capped(name: str) -> str:
    if len(name) <= _MAX_NAME:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 10:
        return name[:_MAX_NAME].rstrip(". ")
    return f"{stem[: _MAX_NAME - len(ext) - 1].rstrip('. ')}.{ext}"


def _extract(inbound: Inbound, limits: ExtractLimits, trusted: Sequence[x509.Certificate]) -> Extraction:
    if inbound.parse_error:
        return Extraction([], [], quarantine=f"message could not be parsed: {inbound.parse_error}")
    raw = bounded(inbound.raw)[0]
    msg = inbound.tree if inbound.tree is not None else email.message_from_bytes(raw, policy=email.policy.default)
    taker = _Taker(limits, trusted, raw)
    taker.broken = _broken_structure(msg)
    if not taker.broken:
        taker.part(msg, depth=0)
    if taker.broken:
        return Extraction([], [], quarantine=f"MIME structure cannot be trusted: {taker.broken}")
    copies = signed.signed_copies(taker.attachments)
    return Extraction(taker.attachments, taker.findings, signature=taker.signature, signed_copies=copies)


def _broken_structure(msg: Message) -> str | None:
    for part in msg.walk():
        if part.get_content_maintype() != "multipart":
            continue
        for defect in part.defects:
            if type(defect).__name__ in _UNTRUSTED_DEFECTS:
                return type(defect).__name__
    return None


class _Taker:
    """Walks one message, collecting attachments and findings."""

    def __init__(self, limits: ExtractLimits, trusted: Sequence[x509.Certificate] = (), source: bytes | None = None):
        self.limits = limits
        self.trusted, self.source = trusted, source  # the CAs to trust; the bytes the message was parsed from
        self.attachments: list[Attachment] = []
        self.findings: list[Finding] = []
        self.signature: SignatureInfo | None = None
        self.broken: str | None = None
        self.total = 0
        self.over_total = False
        self.unnamed = 0

    def part(self, part: Message, depth: int) -> None:
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            self._forwarded(part, depth)
        elif content_type == "multipart/signed":
            children = _children(part)
            signature = _payload(children[1]) if len(children) > 1 else None
            signed.read_signed(self, part, signature, depth)
        elif part.is_multipart():
            for child in _children(part):
                self.part(child, depth)
        elif smime.is_pkcs7_mime(content_type, _filename(part)):
            self._pkcs7(part, depth)
        else:
            self._leaf(part, depth)

    def entity(self, data: bytes, depth: int) -> None:
        """A MIME entity taken out of a signed message, read like a message of its own."""
        inner = email.message_from_bytes(data, policy=email.policy.default)
        self.broken = self.broken or _broken_structure(inner)
        if not self.broken:
            self.part(inner, depth)

    def take(self, name: str, data: bytes, content_type: str, depth: int) -> None:
        """Keep one file, or unpack it when it is an archive or a winmail.dat."""
        if len(data) > self.limits.max_attachment_bytes:
            self.findings.append(_too_large(name, len(data), self.limits.max_attachment_bytes))
        elif _is_zip(name, data, content_type):
            self._zip(name, data, content_type, depth)
        elif _is_tnef(name, data, content_type):
            self._tnef(name, data, depth)
        else:
            self._keep(Attachment(name, data, content_type))

    def _forwarded(self, part: Message, depth: int) -> None:
        name = _filename(part)
        if self._too_deep(name, depth):
            return
        inner = inner_messages(part, self.limits.max_attachment_bytes)
        if inner is None:
            self.findings.append(_unreadable_forwarded(name))
        for message in inner or []:
            self.part(message, depth + 1)

    def _pkcs7(self, part: Message, depth: int) -> None:
        name = safe_name(_filename(part) or "", "smime.p7m")
        data = _payload(part)
        if len(data) > self.limits.max_attachment_bytes:
            self.findings.append(_too_large(name, len(data), self.limits.max_attachment_bytes))
        elif not self._too_deep(name, depth):
            signed.read_pkcs7(self, name, data, depth)

    def _leaf(self, part: Message, depth: int) -> None:
        content_type = part.get_content_type()
        raw_name = _filename(part)
        extension = _TYPE_EXTENSIONS.get(content_type)
        if raw_name is None and extension is None:
            return  # the text or HTML body, or an unnamed inline image: not a submitted file
        name = safe_name(raw_name or "", "")
        if not name:
            self.unnamed += 1
            name = f"tệp-đính-kèm-{self.unnamed}" + (f".{extension}" if extension else "")
        self.take(name, _payload(part), content_type, depth)

    def _keep(self, attachment: Attachment) -> None:
        size = len(attachment.data)
        if self.over_total or self.total + size > self.limits.max_total_bytes:
            self.over_total = True
            self.findings.append(_total_too_large(attachment.name, size, self.limits.max_total_bytes))
            return
        self.total += size
        self.attachments.append(attachment)

    def _too_deep(self, name: str | None, depth: int) -> bool:
        if depth + 1 <= self.limits.max_depth:
            return False
        self.findings.append(_nesting_too_deep(name, self.limits.max_depth))
        return True

    def _zip(self, name: str, data: bytes, content_type: str, depth: int) -> None:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if archives.is_document(archive):  # an .xlsx/.docx/.odt is a zip too: keep it whole
                    self._keep(Attachment(name, data, content_type))
                    return
                if self._too_deep(name, depth):
                    return
                members, findings = archives.read_members(archive, name, self.limits)
        except Exception:  # damaged zips raise BadZipFile, EOFError, zlib.error, NotImplementedError, …
            self.findings.append(archives.unreadable_archive(name))
            return
        self.findings.extend(findings)
        for number, (member, content) in enumerate(members, start=1):
            fallback = f"tệp-đính-kèm-{number}"
            self.take(safe_name(member, fallback), content, _guess_type(member), depth + 1)

    def _tnef(self, name: str, data: bytes, depth: int) -> None:
        if self._too_deep(name, depth):
            return
        files = archives.tnef_files(data)
        if files is None:
            self.findings.append(archives.unreadable_tnef(name))
            return
        for number, (member, content) in enumerate(files, start=1):
            self.take(safe_name(member, f"tệp-đính-kèm-{number}"), content, _guess_type(member), depth + 1)


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [child for child in payload if isinstance(child, Message)] if isinstance(payload, list) else []


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # a hostile Content-Disposition can make the header parser raise
        return None
    if name is None:
        return None
    name = repair(name)
    if "=?" in name and "?=" in name:
        name = decode_words(name.strip().strip('"'))
    return name.strip().strip('"')


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a damaged transfer encoding: an empty file, which the readers report
        return b""
    return data if isinstance(data, bytes) else b""


def _guess_type(name: str) -> str:
    return _EXTENSION_TYPES.get(name.rpartition(".")[2].lower(), "application/octet-stream")


def _is_zip(name: str, data: bytes, content_type: str) -> bool:
    return name.lower().endswith(".zip") or (data.startswith(_ZIP_MAGIC) and content_type in _ZIP_TYPES)


def _is_tnef(name: str, data: bytes, content_type: str) -> bool:
    return content_type == "application/ms-tnef" or name.lower() == "winmail.dat" or data.startswith(_TNEF_MAGIC)


def _too_large(name: str, size: int, limit: int) -> Finding:
    size_mb, limit_mb = archives.mb(size), archives.mb(limit)
    message = f"Tệp “{name}” có dung lượng {size_mb} MB, vượt giới hạn {limit_mb} MB cho mỗi tệp đính kèm."
    return Finding("attachment_too_large", "error", message, _SMALLER_HINT, file=name)


def _total_too_large(name: str, size: int, limit: int) -> Finding:
    message = (
        f"Tổng dung lượng các tệp đính kèm vượt giới hạn {archives.mb(limit)} MB cho một thư; "
        f"tệp “{name}” ({archives.mb(size)} MB) không được xử lý."
    )
    return Finding("attachment_too_large", "error", message, _SMALLER_HINT, file=name)


def _unreadable_forwarded(name: str | None) -> Finding:
    what = f"“{name}”" if name else "được chuyển tiếp"
    message = f"Không đọc được thư {what}: thư bị hỏng hoặc quá lớn."
    hint = "Hãy đính kèm trực tiếp các tệp vào thư, không chuyển tiếp thư dưới dạng tệp đính kèm."
    return Finding("unreadable_file", "error", message, hint, file=name)


def _nesting_too_deep(name: str | None, max_depth: int) -> Finding:
    what = f"“{name}”" if name else "thư chuyển tiếp"
    message = f"Thư chuyển tiếp hoặc tệp nén lồng nhau quá {max_depth} cấp; phần bên trong {what} không được xử lý."
    hint = "Hãy đính kèm trực tiếp các tệp vào thư, không chuyển tiếp nhiều lần hoặc nén lồng nhau."
    return Finding("nesting_too_deep", "warning", message, hint, file=name)
