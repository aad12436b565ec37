"""The `kind = "graph"` sections: an Exchange Online mailbox, and sending through it, over Microsoft Graph.

[mailbox] kind = "graph" reads `folder` and moves what is done to `processed_folder` / `quarantine_folder`;
[smtp] kind = "graph" sends through the mailbox of [mailbox] (POST /users/{address}/sendMail), so it needs
[mailbox] kind = "graph" too. The app signs in with the client credentials of [mailbox.oauth2].
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

GRAPH_URL = "https://graph.microsoft.com/v1.0"
AUTHORITY_HOST = "https://login.microsoftonline.com"


class Section(BaseModel):  # as mailbot.config.Section, which imports this module
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _with_address(value: str) -> str:
    from mailbot.config import _with_address as check  # at validation time: mailbot.config is loaded by then

    return check(value)


FromAddress = Annotated[str, AfterValidator(_with_address)]


def _https_url(value: str) -> str:
    if not value.startswith("https://") or any(c.isspace() for c in value):
        raise ValueError(f"needs an https:// address (got {value!r})")
    return value.rstrip("/")


class GraphOAuth2(Section):
    """The Entra app's client credentials (application permissions Mail.ReadWrite and Mail.Send)."""

    provider: Literal["microsoft"]
    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret_env: str | None = None
    client_secret_file: Path | None = None
    authority_host: str = AUTHORITY_HOST  # another cloud (or the tests' token endpoint)

    @field_validator("authority_host")
    @classmethod
    def _authority(cls, value: str) -> str:
        return _https_url(value)


class GraphMailbox(Section):
    kind: Literal["graph"]
    address: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")  # the mailbox's primary SMTP address
    folder: str = "Inbox"  # "Inbox" is the well-known folder whatever its display name in the mailbox's language
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    oauth2: GraphOAuth2
    graph_url: str = GRAPH_URL  # a national cloud's endpoint, or the tests' server
    ca_file: Path | None = None  # a private CA to trust besides the system's (a TLS-inspecting proxy, the tests)
    timeout_seconds: float = Field(default=60, gt=0, le=600)
    max_wait_seconds: float = Field(default=60, ge=0, le=600)  # the longest Retry-After waited for in a batch

    @field_validator("graph_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _https_url(value)


class GraphSender(Section):
    kind: Literal["graph"]
    sender: FromAddress = Field(alias="from")
    resend_uncertain: bool = True  # looked for in Sent Items by its Message-ID first
