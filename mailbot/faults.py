"""Fault points for the crash-safety and poison-message tests (mbsync-style matrix).

`checkpoint(name)` does nothing unless MAILBOT_CRASH_AT is set to "name:n" (or "name" for n=1):
then the n-th time that checkpoint is reached, the process kills itself with SIGKILL, exactly as a
power cut would. "name:n:raise" raises `InjectedFault` there instead, as a bug triggered by one
message would. The environment is read at call time, never at import.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_reached: Counter[str] = Counter()
_armed: list[str] = [""]  # the setting the counts belong to; a new setting starts them again


def reset() -> None:
    """Count from zero again, as a new process would (each command invocation calls it)."""
    _reached.clear()


class InjectedFault(RuntimeError):
    """An exception raised on purpose at a checkpoint (MAILBOT_CRASH_AT="name:n:raise")."""


def checkpoint(name: str) -> None:
    wanted = os.environ.get("MAILBOT_CRASH_AT")
    if not wanted:
        return
    if wanted != _armed[0]:
        _armed[0] = wanted
        _reached.clear()
    point, _, rest = wanted.partition(":")
    if point != name:
        return
    nth, _, mode = rest.partition(":")
    _reached[name] += 1
    if _reached[name] != int(nth or 1):
        return
    if mode == "raise":
        raise InjectedFault(f"fault injected at {name}")
    os.kill(os.getpid(), signal.SIGKILL)
