"""Benchmark (not a test): the added cost per message of taking out and verifying an S/MIME signature.

The same submission (a Phụ lục 1 workbook, a Phụ lục 2 document and a padding file to reach a size) is sent
unsigned, detached-signed (multipart/signed) and opaque-signed (smime.p7m), all by the test signer whose chain
ends at a trusted "Test Government CA"; `extract_attachments` is timed on each, and the difference to the unsigned
message is the cost of S/MIME. Also timed: scanning attached PDFs for a signature of their own.

    .venv/bin/python bench/signature_verification.py [--sizes 0.1,1,10] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailbot.intake import ExtractLimits, extract_attachments, parse_message
from mailbot.intake.signed import is_signed_pdf
from mailbot.model import Inbound
from tests.builders import smime as b
from tests.builders.emails import email_bytes

LIMITS = ExtractLimits(max_attachment_bytes=50_000_000, max_total_bytes=100_000_000)


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm: imports, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def messages(megabytes: float) -> dict[str, Inbound]:
    files = [
        ("PhuLuc1.xlsx", os.urandom(60_000)),
        ("PhuLuc2.docx", os.urandom(40_000)),
        ("Scan.pdf", b"%PDF-1.7\n" + os.urandom(max(0, int(megabytes * 1_000_000) - 100_000))),
    ]
    signer = b.government_pki().signer
    entity = b.content_entity(files)
    raws = {
        "unsigned": email_bytes(attachments=files),
        "detached": b.detached_signed(entity, signer),
        "opaque": b.opaque_signed(entity, signer),
    }
    return {kind: parse_message(raw) for kind, raw in raws.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.1,1,10", help="message sizes in MB, comma-separated")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    trusted = (b.government_pki().root.cert,)
    print(f"{'size':>8} {'unsigned':>10} {'detached':>10} {'+cost':>8} {'opaque':>10} {'+cost':>8}  (ms, median)")
    for size in (float(s) for s in args.sizes.split(",")):
        inbound = messages(size)
        for kind in ("detached", "opaque"):
            signature = extract_attachments(inbound[kind], LIMITS, trusted).signature
            assert signature is not None and signature.result == "valid", signature
        ms = {
            kind: median_ms(lambda m=m: extract_attachments(m, LIMITS, trusted), args.runs)
            for kind, m in inbound.items()
        }
        print(
            f"{size:>6.1f}MB {ms['unsigned']:>10.2f} {ms['detached']:>10.2f} {ms['detached'] - ms['unsigned']:>+8.2f}"
            f" {ms['opaque']:>10.2f} {ms['opaque'] - ms['unsigned']:>+8.2f}"
        )
    pdf = b.signed_pdf(b.government_pki().signer)
    big_pdf = b"%PDF-1.7\n" + os.urandom(10_000_000)
    print(
        f"signed-PDF scan: {median_ms(lambda: is_signed_pdf(pdf), args.runs):.3f} ms (signed, {len(pdf)} B), "
        f"{median_ms(lambda: is_signed_pdf(big_pdf), args.runs):.2f} ms (unsigned, 10 MB)"
    )


if __name__ == "__main__":
    main()
