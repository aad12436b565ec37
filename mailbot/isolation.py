"""Untrusted files are read in a child process with a memory cap and a time limit.

A spreadsheet that expands to gigabytes or a PDF that loops forever must cost the bot one finding,
not its memory or its schedule (RELIABILITY #38, #51). Each worker process (started once, kept; `processes`
of them, each fed by a thread of its own) reads one file at a time under RLIMIT_AS; when it runs out of
memory, dies or overruns its time, it is killed and replaced, and the file gets a finding that names it.
The workers also make the marked copies of files already read and draw the receipts (`mark`, `receipt`), so
that work leaves this process too.

Legacy and OpenDocument files are converted by LibreOffice inside the worker (mailbot.readers.convert):
the converter is the worker's child, dies with it, and has the worker's time limit and memory cap. Each
worker keeps its converter profile in a folder of its own under this reader's folder, removed with it.

Ctrl-C is the parent's business: a terminal sends SIGINT to the whole process group, and the worker ignores
it from its initializer on (it is started from a thread with SIGINT blocked, though a spawned child does not
keep that mask: a Ctrl-C in its first moments may still end it with a traceback); the parent stops gracefully
(`run`) or kills it (`once`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import ctypes.util
import hashlib
import multiprocessing
import os
import pickle
import resource
import shutil
import signal
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

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


def _receipt(payload: bytes) -> bytes:
    """The receipt PDF of a pickled (content, files, rules, font): unpickled here, inside the job, so that
    anything that cannot be rebuilt costs this receipt, never the worker."""
    from mailbot.receipt import receipt_pdf

    content, files, rules, font = pickle.loads(payload)
    return receipt_pdf(content, files, rules, font)


class _Job:
    """One call for a worker: a read (with its key, for reading ahead), a marking or a receipt; `outcome` once
    done."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], key: tuple[str, str] | None = None) -> None:
        self.fn, self.args, self.key = fn, args, key
        self.started = False
        self.done = threading.Event()
        self.outcome: Any = None  # the value, TIMEOUT, MEMORY or the exception the call raised


TIMEOUT, MEMORY = object(), object()


class _Lane:
    """One capped worker process and the thread that feeds it one job at a time, enforcing the time limit from
    the moment the job starts; an overrun or a dead worker costs that job, and the worker is replaced."""

    def __init__(self, owner: IsolatedReader, number: int) -> None:
        self.owner = owner
        self.pool: cf.ProcessPoolExecutor | None = None
        self.thread = threading.Thread(target=self._loop, name=f"reader-{number}", daemon=True)
        self.thread.start()

    def _executor(self) -> cf.ProcessPoolExecutor:
        if self.pool is None:
            # spawn: a fresh interpreter that is mailbot's own child (safe beside threads, and it dies with us)
            owner = self.owner
            self.pool = cf.ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_prepare_worker,
                initargs=(owner.headroom, owner.convert, owner.folder()),
            )
        return self.pool

    def _loop(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # the workers this thread starts inherit it
        while (job := self.owner.next_job()) is not None:
            try:
                job.outcome = self._run(job)
            except BaseException as exc:  # whatever happens is the job's outcome, never the lane's end
                job.outcome = exc
            finally:
                job.done.set()

    def _run(self, job: _Job) -> Any:
        future = self._executor().submit(job.fn, *job.args)
        try:
            return future.result(timeout=self.owner.timeout)
        except cf.TimeoutError:
            self.replace()
            return TIMEOUT
        except (BrokenProcessPool, MemoryError):
            self.replace()
            return MEMORY

    def replace(self) -> None:
        if self.kill():
            get_logger().warning("reader_worker_replaced")

    def kill(self) -> bool:
        """Kill the worker now, whatever it is doing (the next job starts a new one); False if there was none."""
        pool, self.pool = self.pool, None
        if pool is None:
            return False
        processes = list(getattr(pool, "_processes", {}).values())
        for process in processes:  # a stuck worker must not outlive its file (its converter dies with it)
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            self.owner.forget_worker(process.pid)
        return True

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


class IsolatedReader:
    """`read(name, data)` like `mailbot.readers.read_file`, in capped child processes (`processes` of them).

    `ahead(name, data)` starts reading a file that a later `read` will ask for (the next message's attachments,
    while this one is answered); `read` then takes that result, or reads at once, ahead of everything queued.
    Each read has the time limit from the moment a worker starts it, and the memory cap of its worker."""

    def __init__(
        self,
        *,
        memory_mb: int,
        timeout_seconds: float,
        max_bytes: int,
        max_uncompressed: int,
        convert: ConvertSettings | None = None,
        processes: int = 1,
    ) -> None:
        self.headroom = memory_mb * 1024 * 1024
        self.timeout = timeout_seconds
        self.limits = (max_bytes, max_uncompressed)
        self.convert = convert or _convert_settings(memory_mb, timeout_seconds)
        self.processes = max(1, processes)
        self._folder: Path | None = None  # the workers' converter profiles, made with the first worker
        self._queue: deque[_Job | None] = deque()
        self._ready = threading.Condition()
        self._ahead: dict[tuple[str, str], _Job] = {}
        self._lanes: list[_Lane] = []

    def folder(self) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="mailbot-readers-"))
        return self._folder

    # ------------------------------------------------------------------ the queue the lanes take jobs from

    def _put(self, job: _Job, *, first: bool) -> None:
        with self._ready:
            if not self._lanes:
                self._lanes = [_Lane(self, n) for n in range(self.processes)]
            (self._queue.appendleft if first else self._queue.append)(job)
            self._ready.notify()

    def next_job(self) -> _Job | None:
        """For a lane: the next job (None: close)."""
        with self._ready:
            while not self._queue:
                self._ready.wait()
            job = self._queue.popleft()
            if job is not None:
                job.started = True
            return job

    def _first(self, job: _Job) -> None:
        """A queued job someone now waits for goes ahead of the others."""
        with self._ready:
            if not job.started and job in self._queue:
                self._queue.remove(job)
                self._queue.appendleft(job)

    # ------------------------------------------------------------------ reading and marking

    def ahead(self, name: str, data: bytes) -> None:
        """Start reading `name` in the background; a later `read(name, data)` takes the result."""
        key = (name, hashlib.sha256(data).hexdigest())
        if key in self._ahead:
            return
        job = _Job(_read, (name, data, *self.limits), key)
        self._ahead[key] = job
        self._put(job, first=False)
        self._bound_ahead()

    def _bound_ahead(self) -> None:
        """At most a few files read ahead per worker: the oldest not being read are dropped (read again if asked)."""
        limit = 8 * self.processes
        for key in list(self._ahead)[: max(0, len(self._ahead) - limit)]:
            self._drop(key)

    def _drop(self, key: tuple[str, str]) -> None:
        job = self._ahead.pop(key)
        with self._ready:
            if not job.started and job in self._queue:
                self._queue.remove(job)

    def forget_ahead(self) -> None:
        """Drop what was read ahead and not asked for (the batch ended); reads already started run out."""
        for key in list(self._ahead):
            self._drop(key)

    def read(self, name: str, data: bytes) -> ReadResult:
        key = (name, hashlib.sha256(data).hexdigest())
        job = self._ahead.pop(key, None)
        if job is None:
            job = _Job(_read, (name, data, *self.limits))
            self._put(job, first=True)
        else:
            self._first(job)
        job.done.wait()
        outcome = job.outcome
        if outcome is TIMEOUT:
            return _too_complex(name, f"quá {self.timeout:g} giây")
        if outcome is MEMORY:
            return _too_complex(name, f"quá {self.headroom // 2**20} MB bộ nhớ")
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, ReadResult)
        return outcome

    def mark(
        self, kind: str, name: str, data: bytes, converted: bytes | None, findings: Sequence[Finding]
    ) -> bytes | None:
        """The marked copy of a file already read (mailbot.marking.copies.mark_file), in a capped child;
        None when it cannot be made, overruns its time or its memory."""
        job = _Job(_mark, (kind, name, data, converted, list(findings)))
        self._put(job, first=True)
        job.done.wait()
        if isinstance(job.outcome, Exception):  # a marker's own bug costs the copy, never the reply
            get_logger().warning("marking_failed", file=name, error=type(job.outcome).__name__)
            return None
        if isinstance(job.outcome, BaseException):
            raise job.outcome
        return job.outcome if isinstance(job.outcome, bytes) else None

    def receipt(
        self,
        content: Any,
        files: Sequence[dict[str, str]],
        rules: Any,
        font: Path,
        *,
        meanwhile: Callable[[], None] | None = None,
    ) -> bytes:
        """The receipt PDF (mailbot.receipt.receipt_pdf) drawn in a worker, ahead of the reads queued, while
        `meanwhile` runs here; raises what drawing it raised, or RuntimeError when it overran its time or memory."""
        job = _Job(_receipt, (pickle.dumps((content, [dict(f) for f in files], rules, font)),))
        self._put(job, first=True)
        if meanwhile is not None:
            meanwhile()
        job.done.wait()
        outcome = job.outcome
        if outcome is TIMEOUT or outcome is MEMORY:
            limit = f"{self.timeout:g} s" if outcome is TIMEOUT else f"{self.headroom // 2**20} MB"
            raise RuntimeError(f"the receipt was not drawn within {limit}")
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, bytes)
        return outcome

    # ------------------------------------------------------------------ the workers

    def forget_worker(self, pid: int | None) -> None:
        """Remove a killed worker's converter folder (a new worker makes its own)."""
        if self._folder is not None and pid is not None:
            for leftover in self._folder.glob(f"converter-{pid}-*"):
                shutil.rmtree(leftover, ignore_errors=True)

    def kill(self) -> bool:
        """Kill every worker now, whatever it is reading (the next read starts new ones); False if there was none."""
        return any([lane.kill() for lane in self._lanes])

    def close(self) -> None:
        self.forget_ahead()
        lanes, self._lanes = self._lanes, []
        with self._ready:
            self._queue.extend([None] * len(lanes))  # after the jobs already queued
            self._ready.notify_all()
        for lane in lanes:
            lane.thread.join()
            lane.close()
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
