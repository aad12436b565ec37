"""Content-addressed storage of raw messages and attachments: blobs/ab/abcdef….bin, fsynced.

`put` returns once the blob is durable. `put_soon` (reading ahead, mailbot.readahead) writes it on a thread of
its own, so the fsyncs of the next messages' blobs overlap this one's work; a `put` of the same bytes then
waits for that write to be durable before it returns, so the ledger never refers to a blob not yet on disk.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import os
import threading
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file, fsync, rename, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class Archive:
    """Blobs named by their SHA-256; writing the same bytes twice stores them once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._writer: cf.ThreadPoolExecutor | None = None
        self._soon: dict[str, cf.Future[None]] = {}
        self._lock = threading.Lock()

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.bin"

    def put(self, data: bytes) -> str:
        """Store `data` durably (once); its SHA-256. A write of the same bytes under way is waited for."""
        sha256 = hashlib.sha256(data).hexdigest()
        with self._lock:
            soon = self._soon.pop(sha256, None)
        if soon is not None:
            with contextlib.suppress(OSError):  # written again below, and a failure this time is the caller's
                soon.result()
        self._store(sha256, data)
        return sha256

    def put_soon(self, data: bytes) -> None:
        """Start storing `data` on the archive's own thread; a later `put(data)` waits for it."""
        sha256 = hashlib.sha256(data).hexdigest()
        with self._lock:
            if sha256 in self._soon or self.path_of(sha256).exists():
                return
            if self._writer is None:
                self._writer = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive")
            self._soon[sha256] = self._writer.submit(self._store, sha256, data)

    def _store(self, sha256: str, data: bytes) -> None:
        path = self.path_of(sha256)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_durably(path, data)

    def settle(self) -> None:
        """Wait for the writes started by `put_soon` (their failures are left to a later `put`)."""
        with self._lock:
            pending, self._soon = list(self._soon.values()), {}
        cf.wait(pending)

    def get(self, sha256: str) -> bytes:
        return self.path_of(sha256).read_bytes()
