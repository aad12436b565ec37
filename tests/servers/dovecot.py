"""A private Dovecot IMAP server on loopback, with its own config, users and certificates."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import imapclient

from tests.servers.certs import Certificates
from tests.servers.common import (
    CLIENT_TIMEOUT,
    HOST,
    START_TIMEOUT,
    STOP_TIMEOUT,
    CertName,
    _running,
    ensure_dovecot,
    free_port,
)
from tests.servers.introspection import WITHOUT_OAUTH2, OAuth2Passdb

_CONFIG = """\
# Written by tests/servers.py: a private Dovecot on loopback for the tests.
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {host}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login{extra_mechanisms}
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_max_userip_connections = 200
{capability_line}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd/{passwd_key}{passwd_mechanisms}
}}
{oauth2_passdb}userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {ssl_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
{anvil_penalty}}}
"""


@dataclass(frozen=True)
class _Accounts:
    """Who Dovecot's processes run as: the dedicated system users as root, else the current user."""

    internal: str
    internal_group: str
    login: str
    mail_uid: int
    mail_gid: int

    @classmethod
    def here(cls) -> _Accounts:
        if os.geteuid() == 0:
            mail = pwd.getpwnam("dovecot")
            return cls("dovecot", grp.getgrgid(mail.pw_gid).gr_name, "dovenull", mail.pw_uid, mail.pw_gid)
        me = pwd.getpwuid(os.geteuid())
        return cls(me.pw_name, grp.getgrgid(me.pw_gid).gr_name, me.pw_name, me.pw_uid, me.pw_gid)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for parent, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(parent, name), uid, gid, follow_symlinks=False)


class Dovecot:
    """A private Dovecot instance: `start(tmp)`, use `host`/`port`/`ssl_port`, `stop()`."""

    host = HOST

    def __init__(self, certificates: Certificates) -> None:
        self.certificates = certificates
        self.users: dict[str, str] = {}
        self.root: Path | None = None
        self.port = 0
        self.ssl_port = 0
        self.capabilities: str | None = None
        self.cert: CertName = "good"
        self.startup_seconds = 0.0
        self.oauth2: OAuth2Passdb | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._users_lock = threading.Lock()

    # lifecycle

    def start(
        self,
        tmp: Path,
        *,
        users: dict[str, str] | None = None,
        capabilities: str | None = None,
        cert: CertName = "good",
        oauth2: OAuth2Passdb | None = None,
    ) -> Dovecot:
        """Write the config under `tmp`, start `dovecot -F` and wait (≤ 20 s) until IMAP greets.

        `oauth2`: also take XOAUTH2/OAUTHBEARER logins, checked by an introspection endpoint."""
        binary = ensure_dovecot()
        self.root, self.capabilities, self.cert, self.oauth2 = tmp, capabilities, cert, oauth2
        self.users = dict({"bot": "secret"} if users is None else users)
        self.port, self.ssl_port = free_port(), free_port()
        self._prepare(tmp)
        self._launch(binary)
        return self

    def restart(self) -> None:
        """Stop and start again on the same ports, with the same users and mail."""
        self.stop()
        self._launch(ensure_dovecot())

    def stop(self) -> None:
        """Stop the master and every child (the whole process group); bounded, idempotent."""
        process, self._process = self._process, None
        _running.discard(self)
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)  # master and children at once: much faster than via the master
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)
        _signal_group(process.pid, signal.SIGKILL)  # a straggler child of the group, if any is left
        _wait_group_gone(process.pid)
        self._wait_port_closed()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The master's pid (also its process group) while running."""
        return None if self._process is None else self._process.pid

    @property
    def config_file(self) -> Path:
        return self._root / "dovecot.conf"

    @property
    def log_file(self) -> Path:
        return self._root / "dovecot.log"

    def log_tail(self, lines: int = 30) -> str:
        texts = [p.read_text(errors="replace") for p in (self.log_file, self._root / "stderr.log") if p.exists()]
        return "\n".join("\n".join(t.splitlines()[-lines:]) for t in texts)

    # users

    def add_user(self, name: str, password: str) -> None:
        """Add a login with an empty mailbox; usable at once, no restart (each user has a passwd-file of its own)."""
        with self._users_lock:
            self.users[name] = password
            self._write_passwd()

    # setup and inspection (each call opens its own logged-in connection)

    def client(self, user: str = "bot", *, timeout: float = CLIENT_TIMEOUT) -> imapclient.IMAPClient:
        """A logged-in plain-text connection; INTERNALDATEs come back timezone-aware."""
        client = imapclient.IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        client.normalise_times = False
        try:
            client.login(user, self.users[user])
        except BaseException:
            with contextlib.suppress(OSError):
                client.shutdown()
            raise
        return client

    def append(self, raw: bytes, when: datetime, folder: str = "INBOX", *, user: str = "bot") -> int:
        """APPEND with INTERNALDATE `when` (give it a timezone); returns the new UID."""
        with self._session(user) as client:
            response = client.append(folder, raw, flags=(), msg_time=when)
        return _appended_uid(response)

    def folder_uids(self, folder: str = "INBOX", *, user: str = "bot") -> list[int]:
        with self._session(user) as client:
            client.select_folder(folder, readonly=True)
            return sorted(int(uid) for uid in client.search("ALL"))

    def messages(self, folder: str = "INBOX", *, user: str = "bot") -> list[bytes]:
        """The raw bytes of every message in `folder`, in UID order."""
        with self._session(user) as client:
            client.select_folder(folder, readonly=True)
            fetched = client.fetch(client.search("ALL"), [b"BODY.PEEK[]"])
            return [bytes(fetched[uid][b"BODY[]"]) for uid in sorted(fetched)]

    def internal_dates(self, folder: str = "INBOX", *, user: str = "bot") -> dict[int, datetime]:
        with self._session(user) as client:
            client.select_folder(folder, readonly=True)
            fetched = client.fetch(client.search("ALL"), [b"INTERNALDATE"])
            return {int(uid): data[b"INTERNALDATE"] for uid, data in fetched.items()}

    def create_folder(self, name: str, *, user: str = "bot") -> None:
        with self._session(user) as client:
            client.create_folder(name)

    def delete_folder(self, name: str, *, user: str = "bot") -> None:
        with self._session(user) as client:
            client.delete_folder(name)

    def folders(self, *, user: str = "bot") -> list[str]:
        with self._session(user) as client:
            return [str(name) for _flags, _delimiter, name in client.list_folders()]

    # internals

    @property
    def _root(self) -> Path:
        if self.root is None:
            raise RuntimeError("Dovecot has not been started")
        return self.root

    def _session(self, user: str) -> _Session:
        return _Session(self, user)

    def _prepare(self, tmp: Path) -> None:
        accounts = _Accounts.here()
        for sub in ("home", "state"):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        cert, key = self.certificates.pair(self.cert)
        capability_line = f"imap_capability = {self.capabilities}" if self.capabilities else ""
        self.config_file.write_text(
            _CONFIG.format(
                root=tmp,
                host=self.host,
                cert=cert,
                key=key,
                internal_user=accounts.internal,
                internal_group=accounts.internal_group,
                login_user=accounts.login,
                mail_user=accounts.mail_uid,
                mail_group=accounts.mail_gid,
                capability_line=capability_line,
                port=self.port,
                ssl_port=self.ssl_port,
                **(self.oauth2.placeholders(tmp) if self.oauth2 else WITHOUT_OAUTH2),
            )
        )
        self._write_passwd()
        if os.geteuid() == 0:
            _chown_tree(tmp / "home", accounts.mail_uid, accounts.mail_gid)
        _check_reachable(tmp / "home", accounts.mail_uid)

    def _write_passwd(self) -> None:
        """One passwd-file per user (`passwd/<name>`): Dovecot stats a shared passwd-file at most once a second,
        so a user added to it could not log in right away; a new file is read on first use."""
        folder = self._root / "passwd"
        folder.mkdir(exist_ok=True)
        for name, password in self.users.items():
            if "/" in name or ":" in name or name.startswith("."):
                raise ValueError(f"unusable IMAP user name {name!r}")
            staging = folder / f".{name}.new"
            staging.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
            staging.chmod(0o644)
            os.replace(staging, folder / name)

    def _launch(self, binary: str) -> None:
        started = time.monotonic()
        with open(self._root / "stderr.log", "ab") as stderr:
            self._process = subprocess.Popen(
                [binary, "-F", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        _running.add(self)
        try:
            self._wait_greeting(started + START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def _wait_greeting(self, deadline: float) -> None:
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as sock:
                    greeting = sock.recv(512)
                if greeting.startswith(b"* OK"):
                    return
                last_error = repr(greeting)
            except OSError as error:
                last_error = str(error)
            time.sleep(0.05)
        raise RuntimeError(
            f"dovecot did not greet on {self.host}:{self.port} within {START_TIMEOUT:.0f} s "
            f"({last_error}):\n{self.log_tail()}"
        )

    def _wait_port_closed(self) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
            except OSError:
                return
            time.sleep(0.05)


class _Session:
    """`with dovecot._session(user) as client:` a logged-in client, logged out after."""

    def __init__(self, dovecot: Dovecot, user: str) -> None:
        self._dovecot, self._user = dovecot, user
        self._client: imapclient.IMAPClient | None = None

    def __enter__(self) -> imapclient.IMAPClient:
        self._client = self._dovecot.client(self._user)
        return self._client

    def __exit__(self, *exc: object) -> None:
        if self._client is None:
            return
        try:
            self._client.logout()
        except Exception:  # the connection may already be gone: just close the socket
            with contextlib.suppress(OSError):
                self._client.shutdown()


def _appended_uid(response: bytes | str) -> int:
    """The UID from an APPENDUID response code ("[APPENDUID <validity> <uid>] ..."); 0 without UIDPLUS."""
    text = response.decode() if isinstance(response, bytes) else response
    if "[APPENDUID" not in text:
        return 0
    return int(text.split("[APPENDUID", 1)[1].split("]", 1)[0].split()[1])


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def live_group_members(group: int) -> list[int]:
    """Pids of the processes in process group `group` that are still alive (zombies do not count: where
    pid 1 does not reap orphans, as in some containers, a dead Dovecot child stays a zombie)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def _wait_group_gone(group: int) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT
    while live_group_members(group):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Dovecot processes {live_group_members(group)} outlived SIGKILL")
        time.sleep(0.02)


def _check_reachable(home: Path, uid: int) -> None:
    """Fail early, with a reason, when Dovecot's mail processes could not reach the mail homes."""
    if os.geteuid() != 0 or uid == 0:
        return
    for folder in (home, *home.parents):
        mode = folder.stat().st_mode
        if folder.stat().st_uid != uid and not mode & 0o001:
            raise RuntimeError(
                f"{folder} is not traversable by uid {uid}: Dovecot could not reach {home}; "
                "start Dovecot in a folder made by tests.servers.short_tempdir()"
            )


# --- SMTP sink --------------------------------------------------------------------------------------------
