"""Absurd header blocks cut to documented limits before anything parses them (RELIABILITY #69).

The original bytes are archived and hashed unchanged; only the copy that is parsed is cut. The limits:

- `HEADER_BLOCK_BYTES` (256 KiB) of header fields are parsed. Beyond that, fields are left out: first the
  repeats of fields intake does not read (trace fields such as Received, DKIM-Signature, ARC-*), then the
  first occurrence of other unread fields; the fields intake reads (`READ_FIELDS`: From, Subject,
  Message-ID, Content-Type, Auto-Submitted …) are kept first, wherever they stand in the block.
- `FIELD_BYTES` (16 KiB): one field (name, value and folding) longer than this is cut to it.
- `MAX_FIELDS` (1,000) fields at most.
- `References` (and `In-Reply-To`): only the first id and the last `REFERENCES_KEPT_LAST` (20) are kept,
  as RFC 5322 §3.6.4 allows a reply to do; an id longer than `MESSAGE_ID_CHARS` is dropped.
- `MESSAGE_ID_CHARS` (985 = 998 − len("In-Reply-To: ")): a msg-id cannot be folded, so a longer one could
  not be echoed on a valid header line. A message whose Message-ID is longer counts as having none: it is
  deduplicated by its bytes, answered without In-Reply-To, and its reply threads by References (what fits)
  and by the receipt tag in the subject. `mime.parse_message` applies this limit.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from typing import Any

HEADER_BLOCK_BYTES = 256 * 1024
FIELD_BYTES = 16 * 1024
MAX_FIELDS = 1000
REFERENCES_KEPT_LAST = 20
MESSAGE_ID_CHARS = 998 - len("In-Reply-To: ")

READ_FIELDS = frozenset(
    name.encode()
    for name in {
        *("from", "sender", "reply-to", "to", "cc", "subject", "date"),
        *("message-id", "in-reply-to", "references"),
        *("mime-version", "content-type", "content-transfer-encoding", "content-disposition"),
        *("auto-submitted", "return-path", "precedence", "list-id", "list-unsubscribe", "list-post"),
        *("x-auto-response-suppress", "x-mailbot-loop", "x-post-messageclass", "x-autoreply", "x-autorespond"),
        *("x-autoresponder", "x-auto-reply", "x-autoreply-from", "x-mail-autoreply", "x-cron-env", "x-loop"),
    }
)
_THREAD_FIELDS = frozenset({b"references", b"in-reply-to"})
_FIELD_BREAK = re.compile(rb"\n(?![ \t])")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_ANGLE_ID = re.compile(rb"<[^<>\s]+>")
_RECEIVED = re.compile(rb"^received:((?:[^\r\n]|\r?\n[ \t])*)", re.I | re.M)


def split_head(raw: bytes) -> tuple[bytes, bytes]:
    """(header block, the blank line and body after it); the whole of `raw` is the block when no blank line ends it."""
    if raw.startswith((b"\r\n", b"\n")):
        return b"", raw
    end = _BLANK_LINE.search(raw)
    return (raw, b"") if end is None else (raw[: end.start()], raw[end.start() :])


def bounded(raw: bytes) -> tuple[bytes, list[str]]:
    """`raw` with its header block within the limits above, and the names of the cuts made (empty: unchanged)."""
    head, rest = split_head(raw)
    fields = _fields(head)
    cuts: list[str] = []
    capped = [_capped(field, cuts) for field in fields]
    kept = _within_block(capped)
    if len(kept) < len(capped):
        cuts.append("HeaderBlockTruncatedDefect")
    if not cuts:
        return raw, []
    newline = b"\r\n" if b"\r\n" in head[:4096] or not head else b"\n"
    return newline.join(kept) + (rest or newline + newline), sorted(set(cuts))


def references_kept(ids: list[str]) -> list[str]:
    """The ids a References list keeps: the first and the last `REFERENCES_KEPT_LAST`, none over the id limit."""
    usable = [i for i in ids if len(i) <= MESSAGE_ID_CHARS]
    if len(usable) <= REFERENCES_KEPT_LAST + 1:
        return usable
    return [usable[0], *usable[-REFERENCES_KEPT_LAST:]]


class _IdListHeader(UnstructuredHeader, BaseHeader):
    """In-Reply-To or References as written by mailbot: whole ids, folded between them, never encoded.

    The standard folding turns a token longer than 78 characters (an Outlook or Gmail id often is) into
    RFC 2047 encoded-words, and an encoded id no longer threads.
    """

    def fold(self, *, policy: Any) -> str:
        first, *rest = str(self).split() or [""]
        lines = [f"{self.name}: {first}"]
        for token in rest:
            if len(lines[-1]) + 1 + len(token) > 78:
                lines.append("")
            lines[-1] += f" {token}"
        return str(policy.linesep).join(lines) + str(policy.linesep)


_ID_HEADERS = HeaderRegistry()
_ID_HEADERS.map_to_type("in-reply-to", _IdListHeader)
_ID_HEADERS.map_to_type("references", _IdListHeader)


def thread_header(name: str, ids: list[str]) -> BaseHeader | None:
    """An In-Reply-To or References header for `ids` (ASCII ids within the limit), or None when none is usable."""
    usable = [i for i in ids if i.isascii() and i.isprintable() and " " not in i and len(i) <= MESSAGE_ID_CHARS]
    return _ID_HEADERS(name, " ".join(usable)) if usable else None


def topmost_received(raw: bytes) -> dt.datetime | None:
    """The date of the first (newest) Received field, aware; None when there is none or it has no readable date."""
    head, _ = split_head(raw[:HEADER_BLOCK_BYTES])
    found = _RECEIVED.search(head)
    if found is None:
        return None
    stamp = found.group(1).decode("latin-1").rpartition(";")[2]
    try:
        when = email.utils.parsedate_to_datetime(" ".join(stamp.split()))
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _fields(head: bytes) -> list[bytes]:
    """The header block as fields, each with its folding but without its final line break."""
    return [field.removesuffix(b"\r") for field in _FIELD_BREAK.split(head) if field.strip()]


def _name(field: bytes) -> bytes:
    return field.partition(b":")[0].strip().lower()


def _capped(field: bytes, cuts: list[str]) -> bytes:
    if len(field) <= FIELD_BYTES:
        return field
    name = _name(field)
    if name in _THREAD_FIELDS:
        cuts.append("ReferencesTruncatedDefect")
        ids = references_kept([i.decode("latin-1") for i in _ANGLE_ID.findall(field)])
        return field.partition(b":")[0] + b": " + "\r\n ".join(ids).encode("latin-1")
    cuts.append("HeaderFieldTruncatedDefect")
    return field[:FIELD_BYTES].rstrip(b"\r\n")


def _within_block(fields: list[bytes]) -> list[bytes]:
    """The fields kept within `HEADER_BLOCK_BYTES` and `MAX_FIELDS`, in their order, read fields first."""
    if len(fields) <= MAX_FIELDS and sum(len(f) + 2 for f in fields) <= HEADER_BLOCK_BYTES:
        return fields
    seen: set[bytes] = set()
    ranks = []
    for field in fields:
        name = _name(field)
        ranks.append(0 if name in READ_FIELDS else 1 if name not in seen else 2)
        seen.add(name)
    chosen: list[int] = []
    budget = HEADER_BLOCK_BYTES
    for index in sorted(range(len(fields)), key=ranks.__getitem__):
        size = len(fields[index]) + 2
        if size <= budget:
            chosen.append(index)
            budget -= size
            if len(chosen) == MAX_FIELDS or budget < 8:
                break
    return [fields[i] for i in sorted(chosen)]
