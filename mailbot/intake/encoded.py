"""Forwarded messages (message/rfc822 parts) read whatever their transfer encoding (RELIABILITY #73).

RFC 2046 allows only 7bit, 8bit or binary for message/rfc822, but Outlook, Exchange and some gateways
write the forwarded message in base64 (or quoted-printable). The parser then sees a message without
headers whose body is the encoded text; `inner_message` decodes it and parses the real message.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import quopri
import re
from email.message import Message

from mailbot.intake.headers import bounded

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def transfer_encoding(part: Message) -> str:
    """The part's Content-Transfer-Encoding, lower-case ("7bit" when absent or unreadable)."""
    try:
        return str(part.get("content-transfer-encoding", "7bit")).strip().lower()
    except Exception:  # a hostile header can make the header parser raise
        return "7bit"


def inner_messages(part: Message, max_bytes: int) -> list[Message] | None:
    """The message(s) inside a message/* part, decoded when written in base64 or quoted-printable.

    None when an encoded inner message cannot be decoded or would be larger than `max_bytes`.
    """
    payload = part.get_payload()
    children = [child for child in payload if isinstance(child, Message)] if isinstance(payload, list) else []
    encoding = transfer_encoding(part)
    if encoding not in ("base64", "quoted-printable") or len(children) != 1:
        return children
    data = decoded_bytes(_written(children[0]), encoding, max_bytes)
    if data is None:
        return None
    return [email.message_from_bytes(bounded(data)[0], policy=email.policy.default)]


def decoded_bytes(text: bytes, encoding: str, max_bytes: int) -> bytes | None:
    """`text` decoded from base64 (leniently: stray characters and missing padding tolerated) or
    quoted-printable; None when it would exceed `max_bytes`."""
    if encoding == "base64":
        letters = _NOT_BASE64.sub(b"", text.partition(b"=")[0])
        if len(letters) * 3 // 4 > max_bytes:
            return None
        letters = letters[: len(letters) - len(letters) % 4] if len(letters) % 4 == 1 else letters
        try:
            return base64.b64decode(letters + b"=" * (-len(letters) % 4))
        except (binascii.Error, ValueError):
            return None
    if len(text) > 3 * max_bytes:
        return None
    data = quopri.decodestring(text)
    return data if len(data) <= max_bytes else None


def _written(inner: Message) -> bytes:
    """The encoded text as it stood in the message (the parser took it for a headerless message's body)."""
    if not inner.keys():
        payload = inner.get_payload()
        if isinstance(payload, str):
            return payload.encode("utf-8", "surrogateescape")
    try:
        return inner.as_bytes(policy=email.policy.compat32)
    except Exception:  # the generator can fail on hostile structures; nothing readable then
        return b""
