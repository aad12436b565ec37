"""PDF attachments: recognised, not read. We only tell a converted document from a scan."""

from __future__ import annotations

from io import BytesIO

from pypdf import PdfReader
from pypdf.errors import DependencyError

from mailbot.model import ReadResult
from mailbot.readers.sniff import encrypted, unreadable

#: Enough pages to tell a text PDF from a scan; hostile PDFs are costly per page.
MAX_PAGES = 5


class _Locked(Exception):
    """The PDF needs a password to be opened."""


def read_pdf(name: str, data: bytes) -> ReadResult:
    """A pdf ReadResult whose `has_text` says whether one of the first pages has extractable text."""
    try:
        has_text = _has_text(data)
    except _Locked:
        return ReadResult(file=name, kind="pdf", findings=[encrypted(name)])
    # The reader's boundary: pypdf raises many unrelated exception types on broken or hostile
    # files, and a broken attachment must become a finding, never a crash.
    except MemoryError:  # the isolation's memory cap: reported as such, not as a corrupt file
        raise
    except Exception:
        return ReadResult(file=name, kind="pdf", findings=[unreadable(name, "tệp PDF bị hỏng")])
    return ReadResult(file=name, kind="pdf", has_text=has_text)


def _has_text(data: bytes) -> bool:
    reader = PdfReader(BytesIO(data), strict=False)
    if reader.is_encrypted and not _opens_without_password(reader):
        raise _Locked
    return any(reader.pages[index].extract_text().strip() for index in range(min(len(reader.pages), MAX_PAGES)))


def _opens_without_password(reader: PdfReader) -> bool:
    """Many PDFs are encrypted with an empty user password (an owner password only restricts editing)."""
    try:
        return bool(reader.decrypt(""))
    except (DependencyError, NotImplementedError):  # AES without the cryptography package, odd handlers
        return False
