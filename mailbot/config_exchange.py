"""The [mailbox] and [smtp] sections for on-premises Exchange over EWS (`kind = "ews"`).

[mailbox]
kind = "ews"
service_endpoint = "https://mail.example.org/EWS/Exchange.asmx"   # no autodiscover: the URL itself
address = "nop-de-xuat@example.org"     # the mailbox's primary SMTP address
username = "EXAMPLE\\\\nop-de-xuat"       # or a UPN
password_env = "MAILBOT_MAILBOX_PASSWORD" # or password_file
auth = "ntlm"                           # ntlm | basic | kerberos (the ticket from the environment)
ca_file = "/etc/ssl/moit-ca.pem"        # optional, trusted besides the system's CAs
folder = "Inbox"
processed_folder = "Processed"
quarantine_folder = "Quarantine"
version = "Exchange2016"                # optional: pins the server version (no guessing request)

[smtp]
kind = "ews"                            # sends through the [mailbox] account (CreateItem)
from = "Vụ TKNL <nop-de-xuat@example.org>"
save_copy = true                        # SendAndSaveCopy (a copy in Sent Items); false: SendOnly
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator


class Section(BaseModel):
    """As mailbot.config.Section (which imports this module, so it cannot be imported from there)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _with_address(value: str) -> str:
    from mailbot.config import _with_address as check

    return check(value)


FromAddress = Annotated[str, AfterValidator(_with_address)]

ExchangeVersion = Literal["Exchange2013", "Exchange2013_SP1", "Exchange2016", "Exchange2019"]


class EwsMailbox(Section):
    kind: Literal["ews"]
    service_endpoint: str
    address: str
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    auth: Literal["ntlm", "basic", "kerberos"] = "ntlm"
    ca_file: Path | None = None
    folder: str = "Inbox"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    version: ExchangeVersion | None = None

    @field_validator("service_endpoint")
    @classmethod
    def _https_url(cls, value: str) -> str:
        if not value.lower().startswith("https://") or len(value) <= len("https://"):
            example = "https://mail.example.org/EWS/Exchange.asmx"
            raise ValueError(f'needs the https URL of EWS, e.g. "{example}" (got {value!r})')
        return value

    @field_validator("address")
    @classmethod
    def _an_address(cls, value: str) -> str:
        local, at, domain = value.rpartition("@")
        if not (at and local and domain) or any(c.isspace() or c in "<>" for c in value):
            raise ValueError(f'needs the primary SMTP address, e.g. "nop-de-xuat@example.org" (got {value!r})')
        return value

    @model_validator(mode="after")
    def _can_log_in(self) -> EwsMailbox:
        secrets = [s for s in (self.password_env, self.password_file) if s is not None]
        if self.auth == "kerberos":
            if secrets:
                raise ValueError("auth = kerberos uses the ticket from the environment: remove password_env/_file")
            return self
        if len(secrets) != 1:
            raise ValueError(f"auth = {self.auth} needs exactly one of password_env and password_file")
        if not self.username:
            raise ValueError(f"auth = {self.auth} needs username (DOMAIN\\\\name or a UPN)")
        return self

    @property
    def host(self) -> str:
        return self.service_endpoint.split("://", 1)[1].split("/", 1)[0]

    def password(self, config_path: Path | str) -> str | None:
        """The password (from the environment or the file), or None with Kerberos; a ConfigError names the key."""
        from mailbot.config import read_secret

        if self.auth == "kerberos":
            return None
        return read_secret(config_path, env=self.password_env, file=self.password_file, key="mailbox.password")


class EwsSender(Section):
    kind: Literal["ews"]
    sender: FromAddress = Field(alias="from")
    save_copy: bool = True

    @property
    def resend_uncertain(self) -> bool:
        """An interrupted reply is looked for in Sent Items before it goes again, so it may always be retried."""
        return True
