"""Parse a received message into an `Inbound`: header values decoded, NFC, on one line; From parsed strictly.

Nothing here raises on any input: a value that cannot be decoded is kept with replacement characters, an
address that cannot be parsed strictly becomes None, and bytes the parser rejects give `parse_error`.

Absurd headers are cut before parsing to the limits documented in `mailbot.intake.headers` (a 256 KiB header
block, 16 KiB per field, References reduced to the first and the last 20 ids); a Message-ID longer than
`MESSAGE_ID_CHARS` (985) counts as none, and the subject keeps at most `SUBJECT_CHARS` (998) characters.
The cuts made are named in `Inbound.defects`.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
import unicodedata
from email.message import Message
from email.parser import BytesHeaderParser

from mailbot.intake.headers import MESSAGE_ID_CHARS, bounded, references_kept
from mailbot.model import Inbound

_POLICY = email.policy.default
_CONTROL = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SPACES = re.compile(r"\s+")
_ANGLE_TOKEN = re.compile(r"<[^<>\s]+>")
_ATOM = r"[^\s<>()\[\]\\,;:@\".]+"
_LOCAL_MASK = re.compile(rf'(?:{_ATOM}|"x*")(?:\.(?:{_ATOM}|"x*"))*')
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
SUBJECT_CHARS = 998


def parse_message(raw: bytes) -> Inbound:
    """The message in `raw`, parsed; never raises."""
    digest = hashlib.sha256(raw).hexdigest()
    parsed, cuts = bounded(raw)
    try:
        msg = email.message_from_bytes(parsed, policy=_POLICY)
    except Exception as exc:  # the parser is lenient, but whatever it rejects must still reach the ledger
        return _unparsed(raw, parsed, digest, exc)
    try:
        inbound = _inbound(raw, digest, msg)
    except Exception as exc:  # a fault in a helper must not lose the message
        return _unparsed(raw, parsed, digest, exc)
    inbound.defects[:0] = cuts
    if not cuts:  # the tree is `raw` itself parsed: extraction and the note read it instead of parsing again
        inbound.tree = msg
    return inbound


def one_line(text: str) -> str:
    """`text` in NFC on a single line: control and line-break characters as spaces, spaces collapsed."""
    text = unicodedata.normalize("NFC", repair(text))
    text = "".join(" " if unicodedata.category(ch) in _CONTROL else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def repair(text: str) -> str:
    """`text` with bytes the parser smuggled in as surrogates decoded as UTF-8 (replacement when not UTF-8)."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def decode_words(value: str) -> str:
    """`value` with RFC 2047 encoded words decoded; unknown charsets and bad encodings give replacements."""
    try:
        return repair(str(_POLICY.header_fetch_parse("X-Mailbot-Decoded", value)))
    except Exception:  # the header parser has raised on hostile input before; fall back to the text as written
        return repair(value)


def strict_mailbox(value: str) -> tuple[str, str] | None:
    """(display name, address) when `value` is exactly one well-formed mailbox, else None.

    Comments are dropped, quotes respected; anything left over (a second "@", a stray ")" or "<", a list,
    a group) rejects the whole value, so `alice@x.org)<bob@y.org>` never yields bob.
    """
    scanned = _scan(value)
    if scanned is None:
        return None
    text, mask = scanned
    if mask.count("@") != 1 or any(ch in mask for ch in ",;:[]\\") or mask.count("<") > 1:
        return None
    if mask.count("<") != mask.count(">"):
        return None
    if "<" not in mask:
        address = _address(text, mask)
        return None if address is None else ("", address)
    start, end = mask.index("<"), mask.index(">")
    if end < start or mask[end + 1 :].strip():
        return None
    address = _address(text[start + 1 : end], mask[start + 1 : end])
    return None if address is None else (_display_name(text[:start], mask[:start]), address)


def _address(text: str, mask: str) -> str | None:
    lead, trail = len(mask) - len(mask.lstrip()), len(mask.rstrip())
    text, mask = text[lead:trail], mask[lead:trail]
    if "@" not in mask or any(ch.isspace() for ch in mask):
        return None
    at = mask.index("@")
    local, domain = text[:at], text[at + 1 :]
    if not _LOCAL_MASK.fullmatch(mask[:at]) or not _DOMAIN.fullmatch(domain):
        return None
    return f"{local}@{domain.lower()}"


def _display_name(text: str, mask: str) -> str:
    unquoted = "".join(ch for ch, m in zip(text, mask, strict=True) if m != '"')
    return one_line(decode_words(re.sub(r"\\(.)", r"\1", unquoted)))


def _scan(value: str) -> tuple[str, str] | None:
    """`value` without comments, and a mask of it where quoted characters are "x"; None when unbalanced."""
    text: list[str] = []
    mask: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in value:
        if escaped or (ch == "\\" and (quoted or depth)):
            escaped = not escaped
            if not depth:
                text.append(ch)
                mask.append("x")
        elif quoted:
            quoted = ch != '"'
            text.append(ch)
            mask.append('"' if ch == '"' else "x")
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if not depth:
                return None
            depth -= 1
        elif not depth:
            quoted = ch == '"'
            text.append(ch)
            mask.append(ch)
    if quoted or depth or escaped:
        return None
    return "".join(text), "".join(mask)


def _inbound(raw: bytes, digest: str, msg: Message) -> Inbound:
    raw_headers = _raw_headers(msg)
    sender = _single_mailbox(raw_headers.get("from", []))
    reply_to = _single_mailbox(raw_headers.get("reply-to", []))
    message_id = _message_id(raw_headers)
    too_long = message_id is not None and len(message_id) > MESSAGE_ID_CHARS
    return Inbound(
        raw=raw,
        sha256=digest,
        message_id=None if too_long else message_id,
        from_addr=sender[1] if sender else None,
        from_name=sender[0] if sender else "",
        reply_to=reply_to[1] if reply_to else None,
        subject=one_line(decode_words(_first(raw_headers, "subject")))[:SUBJECT_CHARS],
        in_reply_to=next(iter(references_kept(_angle_tokens(raw_headers, "in-reply-to"))), None),
        references=references_kept(_angle_tokens(raw_headers, "references")),
        headers={name: [one_line(decode_words(v)) for v in values] for name, values in raw_headers.items()},
        content_type=_content_type(msg),
        defects=_defects(msg) + (["MessageIdTooLongDefect"] if too_long else []),
    )


def _raw_headers(msg: Message) -> dict[str, list[str]]:
    """Every header as written, unfolded, keyed by lower-case name."""
    headers: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        unfolded = re.sub(r"\r?\n(?=[ \t])", "", str(value)).replace("\r", " ").replace("\n", " ")
        headers.setdefault(str(name).strip().lower(), []).append(repair(unfolded))
    return headers


def _first(headers: dict[str, list[str]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _single_mailbox(values: list[str]) -> tuple[str, str] | None:
    return strict_mailbox(values[0]) if len(values) == 1 else None


def _message_id(headers: dict[str, list[str]]) -> str | None:
    value = "".join(_first(headers, "message-id").split())
    return value or None


def _angle_tokens(headers: dict[str, list[str]], name: str) -> list[str]:
    """The <ids> in a header; one that a sender's library wrote as encoded-words (Python's does) is decoded."""
    value = " ".join(headers.get(name, []))
    return _ANGLE_TOKEN.findall(decode_words(value) if "=?" in value else value)


def _content_type(msg: Message) -> str:
    try:
        return msg.get_content_type()
    except Exception:  # a hostile Content-Type must not stop parsing
        return "text/plain"


def _defects(msg: Message) -> list[str]:
    names: list[str] = []
    try:
        for part in msg.walk():
            names.extend(type(defect).__name__ for defect in part.defects)
    except Exception:  # keep what was found; the walk itself is not expected to fail
        names.append("WalkFailedDefect")
    return names


def _unparsed(raw: bytes, parsed: bytes, digest: str, exc: Exception) -> Inbound:
    """What the headers alone give, with `parse_error` saying why the whole message could not be parsed."""
    reason = one_line(f"{type(exc).__name__}: {exc}")[:200]
    try:
        inbound = _inbound(raw, digest, BytesHeaderParser(policy=_POLICY).parsebytes(parsed))
    except Exception:  # even the headers are unreadable: record the bytes alone
        inbound = Inbound(raw, digest, None, None, "", None, "", None, [], {}, "text/plain", [])
    inbound.parse_error = reason
    return inbound
