"""What converting costs per file: `python bench/conversion.py [--runs N]`.

Reads the 14-task plan (tests/fixtures/office/plan14) as .doc, .odt, .rtf and .ods and, for comparison, as
the .docx/.xlsx LibreOffice saved from the same source, and prints the added cost per file of the
conversion: with a cold profile (the first conversion of a reading worker, which makes its profile) and a
warm one (every later conversion), in this process and in the capped reading worker. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from mailbot.isolation import IsolatedReader
from mailbot.readers import read_file
from mailbot.readers.convert import ConvertSettings, configure, program

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "office" / "plan14"
PAIRS = [("plan14.doc", "plan14.docx"), ("plan14.odt", "plan14.docx"), ("plan14.rtf", "plan14.docx")]
PAIRS += [("plan14.ods", "plan14.xlsx")]
PARSE_TIMEOUT = 120  # the default [limits] parse_timeout_seconds


def _seconds(name: str, data: bytes) -> float:
    start = time.perf_counter()
    result = read_file(name, data)
    took = time.perf_counter() - start
    if any(f.severity == "error" for f in result.findings):
        raise SystemExit(f"{name}: {[f.code for f in result.findings]}")
    return took


def _cold(name: str, data: bytes) -> float:
    configure(ConvertSettings())  # a new profile folder on the next conversion
    return _seconds(name, data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    converter = program()
    if converter is None:
        raise SystemExit("LibreOffice is not installed: nothing to measure")
    print(f"converter: {converter} (one-shot --convert-to per file); {args.runs} runs each, median")
    print(f"{'file':<12} {'direct':>8} {'cold':>8} {'warm':>8} {'added warm':>11} {'added cold':>11}")
    for name, direct in PAIRS:
        data, plain = (FIXTURES / name).read_bytes(), (FIXTURES / direct).read_bytes()
        base = statistics.median(_seconds(direct, plain) for _ in range(args.runs))
        cold = statistics.median(_cold(name, data) for _ in range(max(2, args.runs // 2)))
        warm = statistics.median(_seconds(name, data) for _ in range(args.runs))
        print(f"{name:<12} {base:>7.3f}s {cold:>7.3f}s {warm:>7.3f}s {warm - base:>10.3f}s {cold - base:>10.3f}s")
    _in_worker(args.runs)


def _in_worker(runs: int) -> None:
    data = (FIXTURES / "plan14.doc").read_bytes()
    reader = IsolatedReader(
        memory_mb=1024, timeout_seconds=PARSE_TIMEOUT, max_bytes=20_000_000, max_uncompressed=200_000_000
    )
    try:
        reader.read("plan14.xlsx", (FIXTURES / "plan14.xlsx").read_bytes())  # the worker is started
        times = []
        for _ in range(runs + 1):
            start = time.perf_counter()
            result = reader.read("plan14.doc", data)
            times.append(time.perf_counter() - start)
            assert result.grids, result.findings
    finally:
        reader.close()
    warm = statistics.median(times[1:])
    print(f"in the capped worker (1024 MB): .doc first {times[0]:.3f}s (profile made), then {warm:.3f}s a file")
    print(f"parse timeout {PARSE_TIMEOUT}s: a warm conversion uses {100 * warm / PARSE_TIMEOUT:.1f}% of it")


if __name__ == "__main__":
    main()
