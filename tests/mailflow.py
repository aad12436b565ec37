"""Shared by the mail tests: a workspace (config, mailbox, where replies land) and readers of the results.

Four kinds, one interface: a Maildir with a file outbox (the embedded default); a real Dovecot IMAP account with
a real SMTP server (aiosmtpd); an Exchange mailbox on the EWS test server; an Exchange Online mailbox on the Graph
test server — all started by the tests on loopback.
"""

from __future__ import annotations

import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from mailbot.cli import main
from mailbot.demo import CONFIG, deliver
from mailbot.demo_mail import DemoMail
from tests.servers import Certificates, Dovecot, SmtpSink
from tests.servers.ews import EwsServer
from tests.servers.graph import CLIENT_ID, TENANT, GraphServer

#: The storage section every workspace's config ends with.
STORAGE = """[storage]
dir = "./var"
tracker = "./var/tracker.xlsx"
"""


class Workspace:
    """The Maildir kind: mail in var/mail, replies as .eml files in var/outbox."""

    kind = "maildir"

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def maildir(self) -> Path:
        return self.root / "var" / "mail"

    @property
    def outbox(self) -> Path:
        return self.root / "var" / "outbox"

    @property
    def tracker(self) -> Path:
        return self.root / "var" / "tracker.xlsx"

    def deliver(self, mails: list[DemoMail]) -> None:
        deliver(self.maildir, mails)

    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(main, ["--config", str(self.config), *args])

    def export(self) -> dict[str, Any]:
        result = self.cli("export", "--json")
        assert result.exit_code == 0, result.output
        data: dict[str, Any] = json.loads(result.output)
        return data

    def replies(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted(self.outbox.glob("*.eml"))
        ]

    def inbox(self) -> list[Any]:
        return [p for sub in ("new", "cur") for p in (self.maildir / sub).iterdir()]

    def folder_count(self, name: str) -> int:
        return len(list((self.maildir / f".{name}" / "cur").iterdir()))


class ImapWorkspace(Workspace):
    """The IMAP kind: an account on a real Dovecot, replies through a real SMTP server."""

    kind = "imap"

    def __init__(self, root: Path, dovecot: Dovecot, user: tuple[str, str], sink: SmtpSink, ca: Certificates) -> None:
        super().__init__(root)
        self.dovecot, self.user, self.sink = dovecot, user[0], sink
        root.mkdir(parents=True, exist_ok=True)
        (root / "mailbox.password").write_text(user[1], encoding="utf-8")
        self.config.write_text(
            f"""[mailbox]
kind = "imap"
host = "{dovecot.host}"
port = {dovecot.port}
security = "starttls"
ca_file = "{ca.ca_file}"
username = "{self.user}"
password_file = "mailbox.password"
timeout_seconds = 10

[smtp]
kind = "smtp"
host = "{sink.host}"
port = {sink.port}
security = "starttls"
ca_file = "{ca.ca_file}"
from = "Vụ TKNL <nop-de-xuat@example.org>"

{STORAGE}""",
            encoding="utf-8",
        )

    def deliver(self, mails: list[DemoMail]) -> None:
        for mail in mails:
            self.dovecot.append(mail.raw, mail.arrives, user=self.user)

    def replies(self) -> list[EmailMessage]:
        return self.sink.received()

    def inbox(self) -> list[Any]:
        return list(self.dovecot.folder_uids("INBOX", user=self.user))

    def folder_count(self, name: str) -> int:
        return len(self.dovecot.folder_uids(name, user=self.user))


class EwsWorkspace(Workspace):
    """The EWS kind: a mailbox on the EWS test server (NTLM over HTTPS), replies sent through the same account."""

    kind = "ews"

    def __init__(self, root: Path, server: EwsServer, user: tuple[str, str], ca: Certificates) -> None:
        super().__init__(root)
        self.server = server
        root.mkdir(parents=True, exist_ok=True)
        (root / "mailbox.password").write_text(user[1], encoding="utf-8")
        username = user[0].replace("\\", "\\\\")
        self.config.write_text(
            f"""[mailbox]
kind = "ews"
service_endpoint = "{server.url}"
address = "nop-de-xuat@example.org"
username = "{username}"
password_file = "mailbox.password"
auth = "{server.auth}"
ca_file = "{ca.ca_file}"
version = "Exchange2016"

[smtp]
kind = "ews"
from = "Vụ TKNL <nop-de-xuat@example.org>"
save_copy = true

{STORAGE}""",
            encoding="utf-8",
        )

    def deliver(self, mails: list[DemoMail]) -> None:
        for mail in mails:
            self.server.store.deliver(mail.raw, mail.arrives)

    def replies(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
            for raw in self.server.sent()
        ]

    def inbox(self) -> list[Any]:
        return self.server.store.in_folder("Inbox")

    def folder_count(self, name: str) -> int:
        return len(self.server.store.in_folder(name))


class GraphWorkspace(Workspace):
    """The Graph kind: an Exchange Online mailbox on the Graph test server, replies through its sendMail."""

    kind = "graph"

    def __init__(self, root: Path, server: GraphServer, ca: Certificates) -> None:
        super().__init__(root)
        self.server = server
        root.mkdir(parents=True, exist_ok=True)
        (root / "graph.secret").write_text(server.secret, encoding="utf-8")
        self.config.write_text(
            f"""[mailbox]
kind = "graph"
address = "{server.address}"
folder = "Inbox"
processed_folder = "Processed"
quarantine_folder = "Quarantine"
graph_url = "{server.graph_url}"
ca_file = "{ca.ca_file}"
timeout_seconds = 10

[mailbox.oauth2]
provider = "microsoft"
tenant_id = "{TENANT}"
client_id = "{CLIENT_ID}"
client_secret_file = "graph.secret"
authority_host = "{server.host}"

[smtp]
kind = "graph"
from = "Vụ TKNL <{server.address}>"

{STORAGE}""",
            encoding="utf-8",
        )

    def deliver(self, mails: list[DemoMail]) -> None:
        for mail in mails:
            self.server.deliver(mail.raw, mail.arrives)

    def replies(self) -> list[EmailMessage]:
        return self.server.sent()

    def inbox(self) -> list[Any]:
        return self.server.in_folder("inbox")

    def folder_count(self, name: str) -> int:
        return len(self.server.in_folder(name))


def make_workspace(root: Path) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(CONFIG, encoding="utf-8")
    return Workspace(root)
