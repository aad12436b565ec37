"""The entry of the tracker's process (tracker_keeping.TrackerProcess), kept apart so that it ignores Ctrl-C first.

A spawned child does not inherit a blocked signal mask, and it imports this module before anything else of
mailbot's (to find `serve`): a terminal's Ctrl-C, sent to the whole process group while the child is still
importing, then finds it ignored instead of printing a KeyboardInterrupt traceback. SIGTERM is ignored too: a
service manager signals the whole group, and mailbot ends this process itself after the tracker's last check.
"""

from __future__ import annotations

import multiprocessing
import signal
from typing import Any

if multiprocessing.parent_process() is not None:  # in the tracker's process, never in mailbot itself
    for _signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signum, signal.SIG_IGN)


def serve(settings: Any, connection: Any) -> None:
    from mailbot.tracker_keeping import serve as keeping

    keeping(settings, connection)
