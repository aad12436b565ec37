"""What the test servers share: loopback, bounded waits, free ports, cleanup at exit."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Literal, Protocol

HOST = "127.0.0.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
CLIENT_TIMEOUT = 10.0
DOVECOT_MISSING = "Dovecot is required for the real-server tests; install Debian's dovecot-imapd (make test does this)"

CertName = Literal["good", "wrong", "expired"]


class _Stoppable(Protocol):
    def stop(self) -> None: ...


_running: set[_Stoppable] = set()


@atexit.register
def _stop_everything() -> None:
    for server in list(_running):
        with contextlib.suppress(Exception):  # last resort at exit: stop the others anyway
            server.stop()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def ensure_dovecot() -> str:
    """The path of the dovecot binary; RuntimeError (never a skip) when it is not installed."""
    found = shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise RuntimeError(DOVECOT_MISSING)
    return found


def short_tempdir(prefix: str) -> Path:
    """A private temp folder that Dovecot's unprivileged processes can traverse, with a short path.

    pytest's tmp_path sits under a 0700 folder (the `dovecot` user cannot reach a mail home there) and can be
    long enough to overflow the 108-byte limit of Dovecot's unix sockets.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o711)
    return path


# --- certificates -----------------------------------------------------------------------------------------
