"""Crash points for the crash-safety tests (mbsync-style matrix).

`checkpoint(name)` does nothing unless MAILBOT_CRASH_AT is set to "name:n" (or "name" for n=1):
then the n-th time that checkpoint is reached, the process kills itself with SIGKILL, exactly as a
power cut would. The environment is read at call time, never at import.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_reached: Counter[str] = Counter()


def checkpoint(name: str) -> None:
    wanted = os.environ.get("MAILBOT_CRASH_AT")
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
