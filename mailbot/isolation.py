"""Untrusted files are read in a child process with a memory cap and a time limit.

A spreadsheet that expands to gigabytes or a PDF that loops forever must cost the bot one finding,
not its memory or its schedule (RELIABILITY #38, #51). One worker process (started once, kept)
reads one file at a time under RLIMIT_AS; when it runs out of memory, dies or overruns
its time, it is killed and replaced, and the file gets a finding that names it.

Legacy and OpenDocument files are converted by LibreOffice inside the worker (mailbot.readers.convert):
the converter is the worker's child, dies with it, and has the worker's time limit and memory cap. Each
worker keeps its converter profile in a folder of its own under this reader's folder, removed with it.

Ctrl-C is the parent's business: a terminal sends SIGINT to the whole process group, and the worker ignores
it (from birth: it is started with SIGINT blocked), so it never prints a traceback of its own; the parent
stops gracefully (`run`) or kills it (`once`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import resource
import shutil
import signal
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from mailbot.logs import get_logger
from mailbot.model import Finding, ReadResult
from mailbot.readers import read_file
from mailbot.readers.convert import ConvertSettings, configure
from mailbot.readers.sniff import kind_from_name

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def _vm_size() -> int:
    """This process's virtual memory size in bytes (Linux), 0 when unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when its parent, mailbot, exits (even on SIGKILL).

    Without this a worker would sleep on after a crash, holding mailbot's stdout and stderr open.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent is already gone
            os._exit(1)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread while a worker may be started: the child inherits the mask through exec."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _prepare_worker(headroom_bytes: int, settings: ConvertSettings, folder: Path) -> None:
    """Runs in the worker: ignore Ctrl-C; die with the parent; allow the memory it uses now plus the headroom."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a pending one is now discarded
    _die_with_parent()
    configure(settings, folder)
    limit = _vm_size() + headroom_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _read(name: str, data: bytes, max_bytes: int, max_uncompressed: int) -> ReadResult:
    return read_file(name, data, max_bytes=max_bytes, max_uncompressed=max_uncompressed)


def _mark(kind: str, name: str, data: bytes, converted: bytes | None, findings: Sequence[Finding]) -> bytes | None:
    from mailbot.marking.copies import mark_file

    return mark_file(kind, name, data, converted, findings)


class IsolatedReader:
    """`read(name, data)` like `mailbot.readers.read_file`, in a capped child process."""

    def __init__(
        self,
        *,
        memory_mb: int,
        timeout_seconds: float,
        max_bytes: int,
        max_uncompressed: int,
        convert: ConvertSettings | None = None,
    ) -> None:
        self.headroom = memory_mb * 1024 * 1024
        self.timeout = timeout_seconds
        self.limits = (max_bytes, max_uncompressed)
        self.convert = convert or _convert_settings(memory_mb, timeout_seconds)
        self._pool: cf.ProcessPoolExecutor | None = None
        self._folder: Path | None = None  # the workers' converter profiles, made with the first worker

    def _executor(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="mailbot-readers-"))
            # spawn: a fresh interpreter that is mailbot's own child (safe beside threads, and it dies with us)
            context = multiprocessing.get_context("spawn")
            self._pool = cf.ProcessPoolExecutor(
                max_workers=1,
                mp_context=context,
                initializer=_prepare_worker,
                initargs=(self.headroom, self.convert, self._folder),
            )
        return self._pool

    def read(self, name: str, data: bytes) -> ReadResult:
        with _sigint_blocked():  # submit() starts the worker when there is none
            future = self._executor().submit(_read, name, data, *self.limits)
        try:
            return future.result(timeout=self.timeout)
        except cf.TimeoutError:
            self._replace_worker()
            return _too_complex(name, f"quá {self.timeout:g} giây")
        except (BrokenProcessPool, MemoryError):
            self._replace_worker()
            return _too_complex(name, f"quá {self.headroom // 2**20} MB bộ nhớ")

    def mark(
        self, kind: str, name: str, data: bytes, converted: bytes | None, findings: Sequence[Finding]
    ) -> bytes | None:
        """The marked copy of a file already read (mailbot.marking.copies.mark_file), in the same capped child;
        None when it cannot be made, overruns its time or its memory."""
        with _sigint_blocked():
            future = self._executor().submit(_mark, kind, name, data, converted, list(findings))
        try:
            return future.result(timeout=self.timeout)
        except cf.TimeoutError:
            self._replace_worker()
        except (BrokenProcessPool, MemoryError):
            self._replace_worker()
        except Exception as exc:  # a marker's own bug costs the copy, never the reply
            get_logger().warning("marking_failed", file=name, error=type(exc).__name__)
        return None

    def _replace_worker(self) -> None:
        if self.kill():
            get_logger().warning("reader_worker_replaced")

    def kill(self) -> bool:
        """Kill the worker now, whatever it is reading (the next read starts a new one); False if there was none."""
        pool, self._pool = self._pool, None
        if pool is None:
            return False
        processes = list(getattr(pool, "_processes", {}).values())
        for process in processes:  # a stuck worker must not outlive its file (its converter dies with it)
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            self._forget_worker(process.pid)
        return True

    def _forget_worker(self, pid: int | None) -> None:
        """Remove a killed worker's converter folder (a new worker makes its own)."""
        if self._folder is not None and pid is not None:
            for leftover in self._folder.glob(f"converter-{pid}-*"):
                shutil.rmtree(leftover, ignore_errors=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _convert_settings(memory_mb: int, timeout_seconds: float) -> ConvertSettings:
    """The default converter within this reader's limits."""
    return ConvertSettings(timeout_seconds=min(60.0, timeout_seconds), memory_mb=memory_mb)


def _too_complex(name: str, why: str) -> ReadResult:
    finding = Finding(
        code="file_too_complex",
        severity="error",
        message=f"Không xử lý được tệp “{name}” trong giới hạn cho phép ({why}); tệp có thể quá lớn hoặc bị lỗi.",
        hint="Lưu lại tệp theo mẫu (chỉ giữ bảng cần thiết, không chèn hình ảnh lớn) rồi gửi lại.",
        file=name,
    )
    return ReadResult(file=name, kind=kind_from_name(name), findings=[finding])
