"""Benchmark (not a test): seconds per reply handed to an SMTP server with STARTTLS and a password login.

Starts the tests' aiosmtpd sink on loopback in a process of its own (STARTTLS, AUTH required after it, the test
CA), sends `--replies` replies of `--kilobytes` KB each through mailbot's SmtpSender one after another, as the
outbox does in a batch, and prints the seconds per reply (mean, p50/p95 of each send), the CPU mailbot's side
spent per reply, and the connections and logins the server saw. aiosmtpd reads DATA a line at a time in Python,
so with large replies the server's reading, not the client, sets most of the time; `--kilobytes 1` shows the
cost of the connection, STARTTLS and login.

    .venv/bin/python bench/smtp_send.py [--replies 200] [--kilobytes 80]
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailbot.adapters.smtp import SmtpSender
from mailbot.adapters.tls import Login
from mailbot.config import SmtpSender as SmtpSettings
from tests.servers import Certificates, SmtpSink

USER, PASSWORD = "bench@example.org", "bench-secret"


def reply(n: int, kilobytes: int) -> bytes:
    head = f"From: {USER}\r\nTo: unit{n}@vien.example.vn\r\nSubject: reply {n}\r\nMessage-ID: <bench.{n}@example.org>"
    body = ("x" * 76 + "\r\n") * (kilobytes * 1024 // 78)
    return f"{head}\r\n\r\n{body}".encode()


def serve(tmp: str, pipe: multiprocessing.connection.Connection) -> None:
    """The sink, in its own process: says where it listens, then, when told to stop, what it saw."""
    certificates = Certificates(Path(tmp) / "certs")
    sink = SmtpSink(
        Path(tmp) / "smtp", certificates=certificates, tls=True, auth={USER: PASSWORD}, auth_require_tls=True
    ).start()
    pipe.send((sink.host, sink.port, str(certificates.ca_file)))
    pipe.recv()
    sink.stop()
    pipe.send((getattr(sink, "connections", None), len(set(sink.logins)), len(sink.logins)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--kilobytes", type=int, default=80, help="size of each reply (with a receipt ~85 KB)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = multiprocessing.Pipe()
        server = multiprocessing.get_context("spawn").Process(target=serve, args=(tmp, theirs), daemon=True)
        server.start()
        host, port, ca_file = ours.recv()
        settings = SmtpSettings.model_validate(
            {
                "kind": "smtp",
                "host": host,
                "port": port,
                "security": "starttls",
                "ca_file": ca_file,
                "from": USER,
                "username": USER,
                "password_env": "UNUSED",
            }
        )
        sender = SmtpSender(settings, Login(USER, password=PASSWORD), envelope_from=USER)
        messages = [reply(n, args.kilobytes) for n in range(args.replies)]
        times = []
        start, cpu = time.perf_counter(), time.process_time()
        for n, raw in enumerate(messages):
            began = time.perf_counter()
            sender.send(f"<bench.{n}@example.org>", f"unit{n}@vien.example.vn", raw)
            times.append(time.perf_counter() - began)
        getattr(sender, "release", sender.close)()
        total, cpu = time.perf_counter() - start, time.process_time() - cpu
        ours.send("stop")
        connections, _, deliveries = ours.recv()
        server.join(30)
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"{args.replies} replies of {args.kilobytes} KB, STARTTLS + login, loopback aiosmtpd (its own process)")
    print(
        f"per reply: mean {total / args.replies * 1000:.1f} ms, p50 {statistics.median(times) * 1000:.1f} ms,"
        f" p95 {p95 * 1000:.1f} ms; mailbot's CPU {cpu / args.replies * 1000:.1f} ms; total {total:.2f} s"
    )
    print(f"server saw: {connections if connections is not None else '?'} connections, {deliveries} deliveries")


if __name__ == "__main__":
    main()
