"""For bench/deadline_rush.py: the measurements (the floor, timed `mailbot once`, IDLE latency, peak RSS)."""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docx
import openpyxl

from bench.rush_mail import ARRIVES
from tests.mailflow import ImapWorkspace
from tests.servers import Dovecot, SmtpSink


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


def mailbot(config: Path, *args: str, profile: Path | None = None) -> list[str]:
    """The command line of `mailbot`; under cProfile (statistics written to `profile`) when one is given."""
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    return [sys.executable, *profiler, "-m", "mailbot", "--config", str(config), *args]


# ------------------------------------------------------------------------------------------ the floor


def floor(dovecot: Dovecot, user: str, chunk: int = 100) -> tuple[float, int]:
    """Seconds to fetch every message of INBOX (one login, UID FETCH of `chunk` at a time), parse the MIME and
    open each attachment with openpyxl / python-docx, reading every cell and paragraph; single process."""
    started = time.perf_counter()
    client = dovecot.client(user, timeout=300)
    opened = 0
    try:
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        for at in range(0, len(uids), chunk):
            part = uids[at : at + chunk]
            fetched = client.fetch(part, [b"BODY.PEEK[]"])
            for uid in part:
                opened += _open_attachments(bytes(fetched[uid][b"BODY[]"]))
    finally:
        client.logout()
    return time.perf_counter() - started, opened


def _open_attachments(raw: bytes) -> int:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    opened = 0
    for part in message.iter_attachments():  # type: ignore[attr-defined]  # policy.default gives EmailMessage
        name, data = (part.get_filename() or "").lower(), part.get_content()
        if name.endswith(".xlsx"):
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=False, data_only=True, keep_links=False)
            for sheet in book.worksheets:
                for _row in sheet.iter_rows(values_only=True):
                    pass
            opened += 1
        elif name.endswith(".docx"):
            document = docx.Document(io.BytesIO(data))
            _ = [p.text for p in document.paragraphs]
            _ = [c.text for t in document.tables for r in t.rows for c in r.cells]
            opened += 1
    return opened


# ------------------------------------------------------------------------------------------ mailbot once


@dataclass
class OnceRun:
    seconds: float
    rounds: int
    output: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)  # each round's log (stderr: JSON lines)
    cpu_mailbot: float = 0.0  # CPU seconds (user + system) of `mailbot` and the reading children it reaped
    cpu_here: float = 0.0  # CPU seconds of this process meanwhile: the SMTP sink's thread, nearly all of it


def once(config: Path, timeout: float, left: object = None, profile: Path | None = None) -> OnceRun:
    """`mailbot once`, again while `left()` says messages are still waiting (at most 5 rounds); wall time of all,
    and the CPU time it and this process (the SMTP sink) used meanwhile."""
    started, outputs, logs = time.perf_counter(), [], []
    children, here = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
    for rounds in range(1, 6):
        where = profile.with_suffix(f".{rounds}.prof") if profile else None
        output, log = _run_once(config, timeout, where)
        outputs.append(output)
        logs.append(log)
        if left is None or not left():  # type: ignore[operator]  # a callable returning the count waiting
            cpu = _cpu(resource.RUSAGE_CHILDREN) - children, _cpu(resource.RUSAGE_SELF) - here
            return OnceRun(time.perf_counter() - started, rounds, outputs, logs, *cpu)
    raise BenchError(f"`mailbot once` left messages waiting after 5 rounds: {outputs}")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _run_once(config: Path, timeout: float, profile: Path | None) -> tuple[str, str]:
    command = mailbot(config, "once", profile=profile)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`mailbot once` ({config}) did not finish within {timeout:g} s") from exc
    if done.returncode != 0:
        raise BenchError(f"`mailbot once` ({config}) exited {done.returncode}:\n{done.stdout}\n{done.stderr[-3000:]}")
    return done.stdout.strip(), done.stderr


# ------------------------------------------------------------------------------------------ latency with IDLE


def latency(
    space: ImapWorkspace, sink: SmtpSink, raws: list[tuple[str, bytes]], every: float, timeout: float
) -> list[float]:
    """`mailbot run` (IDLE, poll interval one hour); a message APPENDed every `every` s on a schedule of its own;
    seconds from the start of each APPEND to its reply's arrival at the SMTP sink (matched by recipient); a message
    still unanswered `timeout` s after the last APPEND counts as `timeout` s."""
    (space.root / "var" / "heartbeat").unlink(missing_ok=True)
    log = open(space.root / "run.log", "ab")  # noqa: SIM115  # closed below, after the service
    service = subprocess.Popen(mailbot(space.config, "run"), stdout=log, stderr=log, start_new_session=True)
    try:
        _wait_started(space, service, timeout)
        return _appended_and_answered(space, sink, raws, every, timeout, service)
    finally:
        stop(service)
        log.close()


def _wait_started(space: ImapWorkspace, service: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not (space.root / "var" / "heartbeat").exists():  # the first cycle is done: waiting in IDLE
        if service.poll() is not None:
            raise BenchError(f"`mailbot run` exited {service.returncode}; see {space.root / 'run.log'}")
        if time.monotonic() > deadline:
            raise BenchError(f"`mailbot run` did not finish its first cycle within {timeout:g} s")
        time.sleep(0.05)
    time.sleep(1)


def _appended_and_answered(
    space: ImapWorkspace,
    sink: SmtpSink,
    raws: list[tuple[str, bytes]],
    every: float,
    timeout: float,
    service: subprocess.Popen[bytes],
) -> list[float]:
    sent: dict[str, float] = {}
    errors: list[BaseException] = []
    appender = threading.Thread(target=_append_on_schedule, args=(space, raws, every, sent, errors), daemon=True)
    seen, answered, wanted = len(sink.envelopes), {}, {address for address, _ in raws}
    appender.start()
    deadline = time.monotonic() + every * len(raws) + timeout
    while len(answered) < len(raws):
        while len(sink.envelopes) > seen:
            now = time.perf_counter()
            for rcpt in sink.envelopes[seen].rcpt_tos:
                if rcpt.lower() in wanted:
                    answered.setdefault(rcpt.lower(), now)
            seen += 1
        if errors:
            raise BenchError(f"APPEND failed: {errors[0]!r}")
        if service.poll() is not None:
            raise BenchError(f"`mailbot run` exited {service.returncode}; see {space.root / 'run.log'}")
        if time.monotonic() > deadline:  # the unanswered count as `timeout` s: the quantiles are lower bounds
            break
        time.sleep(0.002)
    appender.join(10)
    return [answered[a] - sent[a] if a in answered else float(timeout) for a, _ in raws]


def _append_on_schedule(
    space: ImapWorkspace, raws: list[tuple[str, bytes]], every: float, sent: dict[str, float], errors: list
) -> None:
    try:
        client = space.dovecot.client(space.user, timeout=60)
        start = time.perf_counter()
        for n, (address, raw) in enumerate(raws):
            time.sleep(max(0.0, start + n * every - time.perf_counter()))
            sent[address] = time.perf_counter()
            client.append("INBOX", raw, flags=(), msg_time=ARRIVES)
        client.logout()
    except BaseException as exc:  # reported by the measuring loop
        errors.append(exc)


def stop(service: subprocess.Popen[bytes]) -> None:
    """SIGTERM (mailbot finishes the current message), then SIGKILL to the group after 60 s."""
    if service.poll() is None:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait(10)


# ------------------------------------------------------------------------------------------ peak RSS of a tree


@dataclass
class Peak:
    seconds: float
    tree_mb: float  # the largest sum of VmRSS over mailbot and its descendants seen (sampled every ~10 ms)
    process_mb: float  # the largest single process: wait4's ru_maxrss (mailbot and its reaped children), exact
    output: str


def peak_rss(command: list[str], timeout: float, result: Path) -> Peak:
    """Run `command` under bench/rush_launcher.py; sample the RSS of every process below the launcher."""
    launcher = [sys.executable, str(Path(__file__).with_name("rush_launcher.py")), str(result)]
    started = time.perf_counter()
    child = subprocess.Popen(
        [*launcher, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    reader = threading.Thread(target=_drain, args=(child, chunks := []), daemon=True)
    reader.start()
    tree = 0
    while child.poll() is None:
        if time.perf_counter() - started > timeout:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(10)
            raise BenchError(f"{' '.join(command)} did not finish within {timeout:g} s")
        tree = max(tree, _tree_rss_kb(child.pid))
        time.sleep(0.01)
    reader.join(10)
    output = b"".join(chunks).decode("utf-8", "replace")
    if child.returncode != 0:
        raise BenchError(f"{' '.join(command)} exited {child.returncode}:\n{output[-3000:]}")
    maxrss = json.loads(result.read_text(encoding="utf-8"))["maxrss_kb"]
    return Peak(time.perf_counter() - started, tree / 1024, maxrss / 1024, output.strip())


def _drain(child: subprocess.Popen[bytes], chunks: list[bytes]) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        chunks.append(line)


def _tree_rss_kb(root: int) -> int:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # ended while we looked
    members, grown = {root}, True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in members} - members
        members |= more
        grown = bool(more)
    return sum(_vm_rss_kb(pid) for pid in members - {root})  # the launcher itself does not count


def _vm_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
