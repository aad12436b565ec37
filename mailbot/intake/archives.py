"""Zip archives and Outlook winmail.dat (TNEF) as the extractor opens them: members read by streaming with a
byte cap, never extracted by name; sizes, counts and ratios checked from the directory first."""

from __future__ import annotations

import re
import zipfile
from typing import TYPE_CHECKING

from tnefparse import TNEF  # untyped; the mypy override in pyproject.toml treats it as Any

from mailbot.model import Finding

if TYPE_CHECKING:
    from mailbot.intake.extract import ExtractLimits

ARCHIVE_HINT = "Hãy gửi trực tiếp các tệp Excel/Word đính kèm thư, không nén, hoặc nén lại với ít tệp hơn."
RTF_HINT = "Hãy gửi lại thư ở định dạng HTML hoặc văn bản thường, không dùng Rich Text."
JUNK_MEMBERS = frozenset({"__macosx", ".ds_store", "thumbs.db", "desktop.ini"})
_MIB = 1024 * 1024
_CHUNK = 64 * 1024


def is_document(archive: zipfile.ZipFile) -> bool:
    names = archive.namelist()
    return "[Content_Types].xml" in names or names[:1] == ["mimetype"]


def is_wanted(info: zipfile.ZipInfo) -> bool:
    parts = [p.lower() for p in re.split(r"[/\\]", info.filename) if p]
    return not info.is_dir() and bool(parts) and not JUNK_MEMBERS.intersection(parts)


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name; one stored as UTF-8 without the UTF-8 flag (macOS, Linux) is read as UTF-8."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return info.filename


def read_members(
    archive: zipfile.ZipFile, name: str, limits: ExtractLimits
) -> tuple[list[tuple[str, bytes]], list[Finding]]:
    """Every wanted member's (name, bytes), or none and a finding when a limit is crossed."""
    infos = archive.infolist()
    problem = zip_problem(infos, limits)
    if problem:
        return [], [archive_too_large(name, problem, limits)]
    wanted = [info for info in infos if is_wanted(info)]
    locked = [info for info in wanted if info.flag_bits & 0x1]
    findings = [encrypted(name)] if locked else []
    members: list[tuple[str, bytes]] = []
    budget = limits.max_zip_uncompressed
    for info in wanted:
        if info in locked:
            continue
        cap = min(limits.max_attachment_bytes, budget)
        content = read_capped(archive, info, cap)
        if content is None:
            problem = f"tệp “{member_name(info)}” khi giải nén vượt {mb(cap)} MB"
            return [], [*findings, archive_too_large(name, problem, limits)]
        budget -= len(content)
        members.append((member_name(info), content))
    return members, findings


def zip_problem(infos: list[zipfile.ZipInfo], limits: ExtractLimits) -> str | None:
    """What makes the archive too large or complex, judged from its directory before reading anything."""
    if len(infos) > limits.max_zip_members:
        return f"có {len(infos)} tệp bên trong"
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_zip_uncompressed:
        return f"giải nén ra {mb(declared)} MB"
    for info in infos:
        big = info.compress_size > _MIB or info.file_size > _MIB
        if big and info.file_size > limits.max_zip_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            return f"tệp “{member_name(info)}” có tỷ lệ nén {ratio}:1"
    return None


def read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes | None:
    """The member's bytes, or None as soon as more than `cap` come out (declared sizes can lie)."""
    chunks: list[bytes] = []
    size = 0
    with archive.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def tnef_files(data: bytes) -> list[tuple[str, bytes]] | None:
    """The files inside a winmail.dat, or None when tnefparse cannot read it."""
    try:
        parsed = TNEF(data)
        return [(tnef_name(item), bytes(item.data)) for item in parsed.attachments]
    except Exception:  # tnefparse raises assorted errors (ValueError, struct.error, …) on damaged input
        return None


def tnef_name(item: object) -> str:
    try:
        name = getattr(item, "long_filename", lambda: "")()
    except UnicodeDecodeError:  # tnefparse decodes the short name as UTF-8; Outlook may write it in a code page
        name = getattr(item, "_name", b"")
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return str(name).strip("\x00")


# ---------------------------------------------------------------- findings (Vietnamese, for the submitter)


# ---------------------------------------------------------------- what goes wrong, for the submitter


def mb(size: int) -> str:
    text = f"{size / 1_000_000:.1f}".replace(".", ",")
    return text.removesuffix(",0")


def archive_too_large(name: str, problem: str, limits: ExtractLimits) -> Finding:
    message = (
        f"Tệp “{name}”: tệp nén quá lớn hoặc quá phức tạp ({problem}). Giới hạn: tối đa {limits.max_zip_members} tệp, "
        f"{mb(limits.max_zip_uncompressed)} MB khi giải nén, {mb(limits.max_attachment_bytes)} MB mỗi tệp, "
        f"tỷ lệ nén {limits.max_zip_ratio}:1."
    )
    return Finding("archive_too_large", "error", message, ARCHIVE_HINT, file=name)


def encrypted(name: str) -> Finding:
    message = f"Tệp nén “{name}” có tệp được đặt mật khẩu nên không mở được."
    hint = "Hãy gửi lại tệp nén không đặt mật khẩu, hoặc đính kèm trực tiếp các tệp."
    return Finding("encrypted_file", "error", message, hint, file=name)


def unreadable_archive(name: str) -> Finding:
    message = f"Không mở được tệp nén “{name}”: tệp bị hỏng hoặc không đúng định dạng ZIP."
    return Finding("unreadable_file", "error", message, ARCHIVE_HINT, file=name)


def unreadable_tnef(name: str) -> Finding:
    message = f"Không đọc được tệp “{name}” do Outlook tạo khi gửi thư ở định dạng Rich Text."
    return Finding("unreadable_file", "error", message, RTF_HINT, file=name)
