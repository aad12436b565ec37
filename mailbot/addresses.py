"""Email addresses as the wire needs them and as people read them (RFC 5890, 6531, 6532).

A domain that is not ASCII goes on the wire as A-labels ("xn--…"), converted with the `idna` package's
UTS #46 processing, non-transitional: "straße.de" stays its own domain (xn--strae-oqa.de) instead of
becoming "strasse.de" as Python's IDNA 2003 codec would make it, and labels are checked against
IDNA 2008, as registries do today. An ASCII domain or an address literal is left exactly as written.
A local part is never changed: when it is not ASCII, the reply can only travel with SMTPUTF8.
"""

from __future__ import annotations

import unicodedata
from email.header import Header
from email.policy import Policy
from email.utils import getaddresses

import idna

# Characters that never belong in an address: C0/C1 controls (CR, LF, NUL …), lone surrogates, line separators.
_FORBIDDEN = frozenset({"Cc", "Cs", "Zl", "Zp"})


class AddressError(ValueError):
    """An address that cannot be written on the wire; the message says why, naming the address."""


def split(address: str) -> tuple[str, str]:
    """(local part, domain) of a bare address; AddressError when either is missing or holds a control."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"not an address (it needs a local part, an @ and a domain): {address!r}")
    bad = next((ch for ch in address if unicodedata.category(ch) in _FORBIDDEN), None)
    if bad is not None:
        raise AddressError(f"the address {address!r} holds a character no address may carry (U+{ord(bad):04X})")
    if any(ch.isspace() for ch in domain) or (any(ch.isspace() for ch in local) and not _quoted(local)):
        raise AddressError(f"the address {address!r} holds a space")
    return local, domain


def _quoted(local: str) -> bool:
    return len(local) >= 2 and local.startswith('"') and local.endswith('"')


def ascii_domain(domain: str) -> str:
    """The domain as A-labels (`mächine.example` → `xn--mchine-bua.example`); an ASCII domain unchanged."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise AddressError(f"the domain {domain!r} is not a valid internationalised domain name ({exc})") from exc


def wire_address(address: str) -> str:
    """The address for the SMTP envelope: the local part as written, the domain as A-labels."""
    local, domain = split(address)
    return f"{local}@{ascii_domain(domain)}"


def needs_smtputf8(address: str) -> bool:
    """True when the local part is not ASCII: only a server offering SMTPUTF8 can take it."""
    return not split(address)[0].isascii()


def header_address(address: str) -> str:
    """The address for a To or From header: all ASCII (A-labels) when the local part is ASCII, so the
    message needs no SMTPUTF8; as written (RFC 6532 UTF-8) when the local part is not."""
    local, domain = split(address)
    return f"{local}@{ascii_domain(domain)}" if local.isascii() else f"{local}@{domain}"


def usable(address: str) -> bool:
    """Whether the address can be written on the wire at all."""
    try:
        wire_address(address)
    except AddressError:
        return False
    return True


def parse_mailbox(value: str) -> tuple[str, str]:
    """(display name, address) of the one mailbox in `value` ("Name <a@b>" or a bare a@b), the address
    exactly as written; AddressError when it holds a control character, not exactly one address, or one
    that cannot go on the wire."""
    bad = next((ch for ch in value if unicodedata.category(ch) in _FORBIDDEN), None)
    if bad is not None:
        raise AddressError(f"{value!r} holds a character no mail header may carry (U+{ord(bad):04X})")
    found = [(name, addr.strip()) for name, addr in getaddresses([value]) if addr.strip()]
    if len(found) != 1:
        raise AddressError(f"exactly one address is needed, not {value!r}")
    wire_address(found[0][1])
    return found[0]


class Verbatim(str):
    """A header value written exactly as given.

    An address must reach the message unchanged, but the header parser reinterprets what it is given (it
    decodes "=?…?=" even inside a quoted local part). `email.policy.EmailPolicy` stores and folds a value
    that has a `name` as a ready header object (documented in its header_store_parse and fold).
    """

    name: str

    def __new__(cls, name: str, value: str) -> Verbatim:
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def mailbox_header(name: str, phrase: str, address: str, *, utf8: bool) -> str:
    """The value of a From or To header, `"Phrase" <address>` (the address alone without a phrase), to be
    assigned to an EmailMessage as it is. The address goes in as `header_address` gives it; a phrase that is
    not ASCII becomes encoded words unless `utf8` (an RFC 6532 message). `phrase` must be one clean line."""
    shown = header_address(address)
    if phrase and (utf8 or phrase.isascii()):
        shown = '"' + phrase.replace("\\", "\\\\").replace('"', '\\"') + f'" <{shown}>'
    elif phrase:
        shown = Header(phrase, "utf-8", header_name=name).encode(linesep="\r\n") + f" <{shown}>"
    if max(len(line.encode()) for line in shown.split("\r\n")) > 990:
        raise AddressError(f"the {name} header would be longer than a mail line may be: {address!r}")
    return Verbatim(name, shown)


def readable_address(address: str | None) -> str | None:
    """The address as a person reads it: a domain received as A-labels shown as U-labels; otherwise unchanged."""
    if not address or "@" not in address:
        return address
    local, _, domain = address.rpartition("@")
    if not any(label.lower().startswith("xn--") for label in domain.split(".")):
        return address
    try:
        return f"{local}@{idna.decode(domain)}"
    except (idna.IDNAError, UnicodeError):
        return address  # not a valid A-label: shown as received rather than guessed at
