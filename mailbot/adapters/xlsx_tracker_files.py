"""The submitted files beside the workbook: `<tracker folder>/ho-so/<receipt>/v<N>/<name>`, copied from the archive.

Each version's attachments keep their original names, made safe for Windows, macOS and Linux file systems and
for a hyperlink (no `<>:"/\\|?*#%`, no control characters, no trailing dot or space, no reserved device name,
a length a Windows path can carry); two attachments of one version with the same name become "a.xlsx" and
"a (2).xlsx". A file is written through a temp file and renamed (never seen half-written) and only when
missing or of another size, so rebuilding the tracker copies nothing twice. The links are relative to the
workbook, so they open from a share, a copied folder or a USB stick alike.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections import defaultdict
from contextlib import suppress
from pathlib import Path, PurePosixPath

from mailbot.model import VersionFile

FOLDER = "ho-so"
MAX_NAME = 100  # characters of a file name (the whole path must stay under Windows' 260)
_UNSAFE = re.compile(r'[<>:"/\\|?*#%\x00-\x1f\x7f]')
_RESERVED = re.compile(r"(con|prn|aux|nul|com\d|lpt\d)(\..*)?", re.IGNORECASE)

#: (receipt, version) → [(the attachment's name, its path relative to the tracker's folder, or None)]
Placed = dict[tuple[str, int], list[tuple[str, str | None]]]


def safe_name(name: str) -> str:
    """A file name every file system and a hyperlink accept, as close to `name` as can be."""
    text = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip().rstrip(". ")
    text = text or "tep"
    if _RESERVED.fullmatch(text):
        text = f"_{text}"
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        ext = ext if dot and len(ext) <= 10 else ""
        keep = MAX_NAME - len(ext) - (1 if ext else 0)
        text = (stem if ext else text)[:keep].rstrip(". ") + (f".{ext}" if ext else "")
    return text


def distinct(names: list[str]) -> list[str]:
    """The names made safe and distinct within one folder (compared without case, as Windows does)."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, stem, ext, n = safe_name(name), *os.path.splitext(safe_name(name)), 1
        while candidate.casefold() in seen:
            n += 1
            candidate = f"{stem} ({n}){ext}"
        seen.add(candidate.casefold())
        out.append(candidate)
    return out


def link_target(relative: PurePosixPath) -> str:
    """The hyperlink's target: the relative path with spaces encoded (names hold no other URL character)."""
    return str(relative).replace(" ", "%20")


def place_files(root: Path, files: list[VersionFile]) -> Placed:
    """Copy every version's files under `root/ho-so`, returning where each one is (None when not archived)."""
    groups: dict[tuple[str, int], list[VersionFile]] = defaultdict(list)
    for item in files:
        groups[(item.receipt, item.version)].append(item)
    placed: Placed = {}
    for (receipt, version), items in groups.items():
        folder = PurePosixPath(FOLDER, safe_name(receipt), f"v{version}")
        placed[(receipt, version)] = [
            (item.name, link_target(folder / name) if copy_once(Path(item.source), root / folder / name) else None)
            for item, name in zip(items, distinct([i.name for i in items]), strict=True)
        ]
    return placed


def folder_target(receipt: str, version: int) -> str:
    return link_target(PurePosixPath(FOLDER, safe_name(receipt), f"v{version}")) + "/"


def copy_once(source: Path, target: Path) -> bool:
    """`target` as a copy of `source`, atomically; False when the source is missing (the file cannot be shown)."""
    try:
        size = source.stat().st_size
    except OSError:
        return False
    with suppress(OSError):
        if target.stat().st_size == size:
            return True
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
    return True
