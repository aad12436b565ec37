"""Decide whether a received message gets an answer (RFC 3834 and common practice against mail loops).

`classify` returns None for a message to answer, or a short, stable English reason for one to record
without a reply. The reasons appear in logs and in the officer's log sheet.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Sequence

from mailbot.model import Inbound
from mailbot.text import fold

_AUTOMATIC_LOCALS = frozenset(
    {"mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply", "bounce", "bounces"}
)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post")
_SUPPRESS_TOKENS = frozenset({"all", "oof", "autoreply"})
_AUTORESPONDER_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-Auto-Reply",
    "X-AutoReply-From",
    "X-Mail-Autoreply",
    "X-Cron-Env",
    "X-Loop",
)
_OOF_SUBJECTS = tuple(
    fold(text)
    for text in (
        "Out of Office",
        "Automatic reply",
        "Auto Reply",
        "Autoreply",
        "Trả lời tự động",
        "Tự động trả lời",
        "Vắng mặt",
    )
)

Rule = Callable[[Inbound], str | None]


def classify(inbound: Inbound, *, own_addresses: Sequence[str], own_domain: str) -> str | None:
    """None when `inbound` should be answered, else why not. The first matching rule wins."""
    own = {address.strip().lower() for address in own_addresses}
    loop = re.compile(rf"<mailbot\.[^@>\s]*@{re.escape(own_domain.strip().lower())}>")
    rules: list[Rule] = [
        lambda m: _our_own_reply(m, own, loop),
        _auto_submitted,
        _null_return_path,
        _automatic_sender,
        _report,
        _precedence,
        _mailing_list,
        _response_suppressed,
        _autoresponder_header,
        _out_of_office_subject,
        _unparseable_sender,
    ]
    for rule in rules:
        reason = rule(inbound)
        if reason is not None:
            return reason
    return None


def _values(inbound: Inbound, name: str) -> list[str]:
    return inbound.headers.get(name.lower(), [])


def _first_token(value: str) -> str:
    tokens = re.split(r"[\s;,]+", value.strip(), maxsplit=1)
    return tokens[0].lower()


def _our_own_reply(inbound: Inbound, own: set[str], loop_id: re.Pattern[str]) -> str | None:
    ours = loop_id.fullmatch((inbound.message_id or "").lower()) is not None
    sender = (inbound.from_addr or "").lower()
    if ours or _values(inbound, "x-mailbot-loop") or (sender and sender in own):
        return "loop: our own reply"
    return None


def _auto_submitted(inbound: Inbound) -> str | None:
    for value in _values(inbound, "auto-submitted"):
        token = _first_token(value)
        if token and token != "no":
            return f"auto-submitted: {token}"
    return None


def _null_return_path(inbound: Inbound) -> str | None:
    if any(re.fullmatch(r"<\s*>", value.strip()) for value in _values(inbound, "return-path")):
        return "null return path"
    return None


def _automatic_sender(inbound: Inbound) -> str | None:
    local = _sender_local_part(inbound).lower()
    if local in _AUTOMATIC_LOCALS or local.endswith("-request") or local.startswith("owner-"):
        return f"automatic sender: {local}"
    return None


def _sender_local_part(inbound: Inbound) -> str:
    """The local part of From; loosely parsed when the strict parse failed (`MAILER-DAEMON` has no domain)."""
    address = inbound.from_addr
    if address is None:
        try:
            loose = email.utils.getaddresses(_values(inbound, "from")[:1])
        except Exception:  # the loose parse is only a fallback; a failure means "no local part"
            loose = []
        address = loose[0][1] if loose else ""
    return address.rpartition("@")[0] if "@" in address else address


def _report(inbound: Inbound) -> str | None:
    return "delivery or read report" if inbound.content_type == "multipart/report" else None


def _precedence(inbound: Inbound) -> str | None:
    for value in _values(inbound, "precedence"):
        token = _first_token(value)
        if token in _BULK_PRECEDENCE:
            return f"precedence: {token}"
    return None


def _mailing_list(inbound: Inbound) -> str | None:
    return "mailing list" if any(_values(inbound, name) for name in _LIST_HEADERS) else None


def _response_suppressed(inbound: Inbound) -> str | None:
    for value in _values(inbound, "x-auto-response-suppress"):
        if {token.lower() for token in re.split(r"[\s,;]+", value)} & _SUPPRESS_TOKENS:
            return f"auto-response suppressed: {value.strip()}"
    return None


def _autoresponder_header(inbound: Inbound) -> str | None:
    for name in _AUTORESPONDER_HEADERS:
        if name.lower() in inbound.headers:
            return f"autoresponder header: {name}"
    if any("autoresponder" in value.lower() for value in _values(inbound, "x-post-messageclass")):
        return "autoresponder header: X-POST-MessageClass"
    return None


def _out_of_office_subject(inbound: Inbound) -> str | None:
    subject = fold(inbound.subject)
    return "out-of-office subject" if any(subject.startswith(prefix) for prefix in _OOF_SUBJECTS) else None


def _unparseable_sender(inbound: Inbound) -> str | None:
    return "sender address cannot be parsed" if inbound.from_addr is None else None
