"""Which of our replies a delivery report quotes, wherever and however the report quotes it (RELIABILITY #73).

A report (DSN, multipart/report) quotes the returned message as message/rfc822 or text/rfc822-headers,
sometimes in base64 or quoted-printable. The ids are searched in the body as written and in every part
decoded, nesting at most `MAX_DEPTH` levels and decoding at most `MAX_DECODED_BYTES` in all.

The report's own header block is not searched (an out-of-office reply names our reply in In-Reply-To
without it being undeliverable), nor is a report that says nothing failed: a read receipt
(report-type=disposition-notification) or a DSN whose every action is delayed, delivered, relayed or expanded.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import Message

from mailbot.intake.encoded import decoded_bytes, inner_messages, transfer_encoding
from mailbot.intake.headers import bounded, split_head
from mailbot.model import Inbound

MAX_DEPTH = 3
MAX_DECODED_BYTES = 10 * 1024 * 1024
_ENCODED = ("base64", "quoted-printable")
_ACTION = re.compile(r"^\s*action\s*:\s*([a-z]+)", re.I | re.M)


def _nothing_failed(msg: Message) -> bool:
    """True for a read receipt, or a DSN whose delivery-status parts report no failed action."""
    if msg.get_content_type() != "multipart/report":
        return False
    kind = str(msg.get_param("report-type", "")).lower()
    if kind == "disposition-notification":
        return True
    statuses = [p for p in msg.walk() if p.get_content_type() == "message/delivery-status"]
    actions = {a.lower() for p in statuses for a in _ACTION.findall(p.as_string(policy=email.policy.compat32))}
    return kind == "delivery-status" and bool(actions) and "failed" not in actions


def quoted_reply_ids(message: bytes | Inbound, domain: str) -> set[str]:
    """The Message-IDs of mailbot's replies (`<mailbot.<32 hex>@domain>`) quoted anywhere in `message`."""
    raw = message.raw if isinstance(message, Inbound) else message
    host = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "localhost"  # as replies.reply_message_id writes it
    search = _Search(re.compile(rb"<mailbot\.([0-9a-f]{32})@" + re.escape(host).encode() + rb">", re.I))
    try:
        msg = email.message_from_bytes(bounded(raw)[0], policy=email.policy.default)
        if _nothing_failed(msg):
            return set()
        search.found(split_head(raw)[1])
        search.message(msg, 0)
    except Exception:  # a hostile structure must not hide what the plain search already found
        pass
    return {f"<mailbot.{digest.decode('ascii').lower()}@{host}>" for digest in search.ids}


class _Search:
    def __init__(self, pattern: re.Pattern[bytes]) -> None:
        self.pattern = pattern
        self.ids: set[bytes] = set()
        self.budget = MAX_DECODED_BYTES

    def found(self, data: bytes) -> None:
        self.ids.update(self.pattern.findall(data))

    def message(self, msg: Message, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        for part in msg.walk():
            encoding = transfer_encoding(part)
            if encoding not in _ENCODED:
                continue
            if part.get_content_maintype() == "message":
                for inner in inner_messages(part, self.budget) or []:
                    written = inner.as_bytes(policy=email.policy.compat32)
                    self.budget -= len(written)
                    self.found(written)
                    self.message(inner, depth + 1)
            elif not part.is_multipart():
                self._leaf(part, encoding)

    def _leaf(self, part: Message, encoding: str) -> None:
        written = part.get_payload()
        if not isinstance(written, str):
            return
        data = decoded_bytes(written.encode("utf-8", "surrogateescape"), encoding, self.budget)
        if data is not None:
            self.budget -= len(data)
            self.found(data)
