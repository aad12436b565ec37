"""Benchmark (not a test): from a message's APPEND to its reply reaching the SMTP server.

Starts a private Dovecot and an SMTP server on loopback (the tests' own machinery), runs
`mailbot run` with IMAP IDLE (poll interval one hour, so only IDLE can wake it), appends realistic
submissions (Phụ lục 1 .xlsx + Phụ lục 2 .docx) one at a time, and reports p50 / p95 / worst.

    .venv/bin/python bench/imap_latency.py [--messages 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailbot.demo_mail import VN, descriptions_docx, email, task, task_list_xlsx
from mailbot.validation.rules_file import load_rules
from tests.mailflow import ImapWorkspace
from tests.servers import Certificates, Dovecot, SmtpSink, ensure_dovecot, short_tempdir


def submission(rules_path: Path) -> list[tuple[str, bytes]]:
    rules = load_rules(rules_path)
    tasks = [task("Mô hình sản xuất sạch hơn ngành giấy", 4, "2024-02", "2024-10", 900, 700, "Viện Giấy")]
    return [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, "Viện Giấy", tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30)
    args = parser.parse_args()
    ensure_dovecot()
    root = Path(__file__).resolve().parents[1]
    files = submission(root / "rules" / "sxtdbv-2024.toml")
    with tempfile.TemporaryDirectory() as tmp:
        certificates = Certificates(Path(tmp) / "certs")
        dovecot = Dovecot(certificates).start(short_tempdir("mailbot-bench-"))
        sink = SmtpSink(Path(tmp) / "smtp", certificates=certificates, tls=True).start()
        dovecot.add_user("bench", "bench-secret")
        space = ImapWorkspace(Path(tmp) / "work", dovecot, ("bench", "bench-secret"), sink, certificates)
        space.config.write_text(space.config.read_text() + "\n[schedule]\ninterval_seconds = 3600\n")
        service = subprocess.Popen(
            [sys.executable, "-m", "mailbot", "--config", str(space.config), "run"],
            stderr=subprocess.DEVNULL,
        )
        try:
            latencies = measure(space, dovecot, sink, files, args.messages)
        finally:
            service.terminate()
            service.wait(timeout=60)
            sink.stop()
            dovecot.stop()
    q = statistics.quantiles(latencies, n=100)
    print(f"APPEND → reply at the SMTP server, {len(latencies)} messages, `mailbot run` with IDLE:")
    print(f"  p50 {q[49] * 1000:7.0f} ms   p95 {q[94] * 1000:7.0f} ms   worst {max(latencies) * 1000:7.0f} ms")


def measure(space: ImapWorkspace, dovecot: Dovecot, sink: SmtpSink, files: list, count: int) -> list[float]:
    deadline = time.monotonic() + 120
    while not (space.root / "var" / "heartbeat").exists():  # the first poll is done: waiting in IDLE
        if time.monotonic() > deadline:
            raise SystemExit("mailbot run did not start")
        time.sleep(0.05)
    time.sleep(1)
    latencies = []
    when = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)
    for n in range(count):
        raw, _ = email(f"Viện Giấy <giay{n}@giay.example.vn>", f"Đề xuất {n}", "Kính gửi.", files, date=when)
        before = len(sink.envelopes)
        start = time.perf_counter()
        dovecot.append(raw, when, user="bench")
        while len(sink.envelopes) == before:
            if time.perf_counter() - start > 60:
                raise SystemExit(f"no reply for message {n}")
            time.sleep(0.002)
        latencies.append(time.perf_counter() - start)
    return latencies


if __name__ == "__main__":
    main()
