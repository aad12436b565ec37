"""How the attachment extractor reads signed and encrypted mail (RELIABILITY #74, #75).

A `multipart/signed` is read through its first part; an opaque `application/pkcs7-mime` is unwrapped and its
content read as a MIME entity, one level deeper. The first (outermost) signature is verified and kept; one that
does not hold is a warning, never a rejection. Encrypted mail, which mailbot cannot decrypt, is an error with
its own code, so that the reply asks for the message again without encryption.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.message import Message
from typing import Protocol

from cryptography import x509

from mailbot.intake import smime
from mailbot.model import Attachment, Finding, SignatureInfo

ENCRYPTED_MAIL = "encrypted_mail"
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]")
_MIME_HEADER = re.compile(rb"[!-9;-~]+:")  # a header field name, then a colon (RFC 5322)


class Walker(Protocol):
    """What of the extractor's walker these need: the parts below, the findings, the signature found."""

    findings: list[Finding]
    signature: SignatureInfo | None
    trusted: Sequence[x509.Certificate]
    source: bytes | None

    def part(self, part: Message, depth: int) -> None: ...

    def entity(self, data: bytes, depth: int) -> None: ...

    def take(self, name: str, data: bytes, content_type: str, depth: int) -> None: ...


def read_signed(walker: Walker, part: Message, signature: bytes | None, depth: int) -> None:
    """A multipart/signed: its S/MIME signature checked (once, the outermost), then its first part read."""
    children = part.get_payload()
    if not isinstance(children, list) or not children or not isinstance(children[0], Message):
        return
    if walker.signature is None and smime.is_smime_signed(part):
        if signature is None:
            found = SignatureInfo("invalid", "detached", detail="the signature part is missing")
        else:
            found = smime.verify_detached(part, signature, walker.source, walker.trusted)
        _record(walker, found)
    walker.part(children[0], depth)


def read_pkcs7(walker: Walker, name: str, data: bytes, depth: int) -> None:
    """An application/pkcs7-mime part (smime.p7m): signed content unwrapped and read, encrypted content refused."""
    opened = smime.open_pkcs7(data, walker.trusted)
    if opened.kind == "encrypted":
        walker.findings.append(_encrypted())
    elif opened.kind == "unreadable":
        walker.findings.append(_unreadable())
    elif opened.kind == "signed" and opened.content is not None:
        if walker.signature is None and opened.signature is not None:
            _record(walker, opened.signature)
        if _MIME_HEADER.match(opened.content.lstrip(b"\r\n")):
            walker.entity(opened.content, depth + 1)
        else:  # a signed file rather than a signed message ("report.pdf.p7m"): the file itself
            inner = name[: -len(".p7m")] if name.lower().endswith(".p7m") and len(name) > 4 else name
            walker.take(inner, opened.content, "application/octet-stream", depth + 1)


def _record(walker: Walker, found: SignatureInfo) -> None:
    walker.signature = found
    if found.result == "invalid":
        walker.findings.append(_invalid(found))


def signed_copies(attachments: Sequence[Attachment]) -> list[str]:
    """The attached PDFs that carry a digital signature of their own (a "Đã ký số" copy)."""
    return [
        a.name
        for a in attachments
        if (a.name.lower().endswith(".pdf") or a.content_type == "application/pdf") and is_signed_pdf(a.data)
    ]


def is_signed_pdf(data: bytes) -> bool:
    """A PDF with a signature dictionary: /ByteRange [0 a b c] around a hex /Contents gap, as signing tools write."""
    if b"%PDF-" not in data[:1024] or b"/Sig" not in data:
        return False
    for match in _BYTE_RANGE.finditer(data):
        start, first, second, length = (int(n) for n in match.groups())
        inside = start == 0 and first < second and second + length <= len(data)
        if inside and data[first : first + 1] == b"<" and data[second - 1 : second] == b">":
            return True
    return False


def is_encrypted(findings: Sequence[Finding]) -> bool:
    return any(f.code == ENCRYPTED_MAIL for f in findings)


# ---------------------------------------------------------------- findings (Vietnamese, for the submitter)


def _encrypted() -> Finding:
    message = "Thư được mã hóa; mailbot không thể đọc nội dung thư và các tệp đính kèm."
    hint = (
        "Xin gửi lại không mã hóa (có thể vẫn ký số): khi soạn thư, bỏ chọn «Mã hóa» (Encrypt), "
        "giữ «Ký số» (Sign) nếu cần."
    )
    return Finding(ENCRYPTED_MAIL, "error", message, hint)  # the whole message, not a file the sender named


def _unreadable() -> Finding:
    message = "Không đọc được thư đã ký số (S/MIME): cấu trúc chữ ký bị hỏng nên không lấy được nội dung thư."
    hint = "Xin gửi lại thư; nếu lỗi lặp lại, có thể gửi thư không ký số."
    return Finding("unreadable_signed_mail", "error", message, hint)


def _invalid(found: SignatureInfo) -> Finding:
    who = ", ".join(p for p in (found.organization, found.common_name) if p)
    message = (
        f"Chữ ký số của thư{f' ({who})' if who else ''} không hợp lệ: nội dung thư đã bị thay đổi sau khi ký "
        "hoặc chữ ký bị hỏng. Hồ sơ vẫn được tiếp nhận và kiểm tra như thư không ký."
    )
    hint = "Nếu cần hồ sơ có chữ ký số hợp lệ, xin ký số và gửi lại thư."
    return Finding("signature_invalid", "warning", message, hint)
