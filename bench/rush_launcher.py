"""For bench/deadline_rush.py: run a command and write its peak RSS (wait4's ru_maxrss, KB) as JSON to a file.

A child's ru_maxrss starts from its parent's high-water mark when forked from a large process (the bench holds
its hostile workbooks in memory); started from this small launcher, the figure is mailbot's own (and that of
the children it reaped, e.g. a reading worker it replaced).

    python bench/rush_launcher.py RESULT.json COMMAND ...
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def main() -> int:
    result, command = Path(sys.argv[1]), sys.argv[2:]
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    result.write_text(json.dumps({"maxrss_kb": usage.ru_maxrss, "exit": code}), encoding="utf-8")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
