"""The submitter's own words in a message, and whether they ask the officer for something.

`own_words` keeps what the sender typed: the plain text part (or the HTML one made plain), cut where a
quoted reply begins ("> …", "On … wrote:", "Vào … đã viết:", Outlook's "-----Original Message-----" or
"From:/Từ:" header block, a line of underscores) or where the signature begins ("-- ", "Trân trọng",
"Sent from my iPhone", "Gửi từ …").

`asks_for_something` is a small, documented rule, deliberately simple so the officer can predict it:
the words ask when they hold a question mark (outside a web address), or one of the phrases of
`ASKING_PHRASES` (compared without diacritics, as whole words): "xin gia hạn", "gia hạn", "đề nghị",
"cho hỏi", "xin hỏi", "vui lòng", "xin cho biết", "làm ơn", "giải đáp", "hướng dẫn giúp", "có được không".
"""

from __future__ import annotations

import email
import email.policy
import html
import re
import unicodedata
from email.message import EmailMessage, Message

NOTE_LIMIT = 500  # characters of a note kept in the ledger

ASKING_PHRASES = (
    "xin gia hạn",
    "gia hạn",
    "đề nghị",
    "cho hỏi",
    "xin hỏi",
    "vui lòng",
    "xin cho biết",
    "làm ơn",
    "giải đáp",
    "hướng dẫn giúp",
    "có được không",
)

_QUOTE_START = re.compile(
    r"^(>|On .+ wrote:?$|Vào .+ đã viết:?$|-{3,} ?(Original Message|Forwarded message|Thư gốc|Thư chuyển tiếp)"
    r"|_{8,}$|(From|Từ|Người gửi): .+@)",
    re.IGNORECASE,
)
_SIGNATURE_START = re.compile(
    r"^(-- ?$|trân trọng\b|tran trong\b|best regards|regards,?$|sent from my "
    r"|gửi từ (iphone|ipad|điện thoại|thiết bị))",
    re.IGNORECASE,
)
_WROTE_TAIL = re.compile(r"^.{0,200}(wrote|đã viết):\s*$", re.IGNORECASE)
BODY_BYTES = 2_000_000  # of a message, read for its text
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<(br|/p|/div|/tr|/li)\b[^>]*>", re.IGNORECASE)


def fold(text: str) -> str:
    """Lower case, without diacritics, đ as d: the key phrases are compared on."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def body_text(raw: bytes, tree: Message | None = None) -> str:
    """The message's text: the plain part, else its HTML part made plain; empty when it cannot be read.
    `tree`: `raw` already parsed with email.policy.default (used when `raw` is within the 2 MB read here)."""
    try:
        whole = tree is not None and len(raw) <= BODY_BYTES
        msg = tree if whole else email.message_from_bytes(raw[:BODY_BYTES], policy=email.policy.default)
        if not isinstance(msg, EmailMessage):
            return ""
        body = msg.get_body(preferencelist=("plain", "html"))
        if body is None:
            return ""
        text = str(body.get_content())[:20_000]
        return html_to_text(text) if body.get_content_subtype() == "html" else text
    except Exception:  # a note is a courtesy to the officer; a body that cannot be read has none
        return ""


def html_to_text(markup: str) -> str:
    markup = re.sub(r"<blockquote\b.*", "", markup, flags=re.IGNORECASE | re.DOTALL)  # the quoted reply
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", markup)))


def own_lines(text: str) -> list[str]:
    """The lines the sender typed, before any quoted reply or signature."""
    lines: list[str] = []
    raw_lines = text.splitlines()
    for index, line in enumerate(raw_lines):
        stripped = unicodedata.normalize("NFC", line).strip()
        if _QUOTE_START.match(stripped) or _SIGNATURE_START.match(stripped):
            break
        following = raw_lines[index + 1].strip() if index + 1 < len(raw_lines) else ""
        if stripped.startswith(("On ", "Vào ")) and _WROTE_TAIL.match(f"{stripped} {following}"):
            break  # "On Mon, 10 Apr … <x@y>" with "wrote:" wrapped onto the next line
        if stripped:
            lines.append(stripped)
    return lines


def own_words(raw: bytes, tree: Message | None = None) -> str:
    """The sender's own words as one line of text (at most NOTE_LIMIT characters); empty when none."""
    return " ".join(own_lines(body_text(raw, tree)))[:NOTE_LIMIT]


def asks_for_something(text: str | None) -> bool:
    if not text:
        return False
    if "?" in _URL.sub("", text):
        return True
    folded = fold(text)
    return any(re.search(rf"(?<!\w){re.escape(fold(phrase))}(?!\w)", folded) for phrase in ASKING_PHRASES)
