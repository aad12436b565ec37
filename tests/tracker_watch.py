"""For the tests that watch `mailbot run` keep the tracker: waiting for a condition, counting the log sheet's rows."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl


def wait_until(
    condition: Callable[[], bool], seconds: float, what: str, service: subprocess.Popen[str] | None = None
) -> None:
    """Until `condition`, failing after `seconds` or as soon as the service (when given) has exited."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline and (service is None or service.poll() is None), what
        time.sleep(0.1)


def log_rows(tracker: Path) -> int:
    """The rows of the tracker's log sheet "Nhật ký" (one per message); 0 without a readable tracker."""
    try:
        book = openpyxl.load_workbook(tracker, read_only=True)
    except (OSError, KeyError, ValueError):  # not written yet
        return 0
    try:
        rows = book["Nhật ký"].iter_rows(min_row=2, values_only=True)
        return sum(1 for row in rows if any(value is not None for value in row))
    finally:
        book.close()
