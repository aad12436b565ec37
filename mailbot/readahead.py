"""Reading ahead: the next messages' attachments are read in the reading children while this one is answered.

Before a message's way begins (pipeline.process_batch), the next few waiting messages are fetched, parsed and
their attachments extracted, and each attachment is handed to the reader (`IsolatedReader.ahead`), so the
children read them while this process validates, renders, records and sends. Nothing about a message's own way
changes: it is fetched again on its turn (a message a person moved meanwhile is skipped as before), and only
when those bytes are the very bytes read ahead are the parsed message and its extraction reused; its reads
then take the results (`IsolatedReader.read`), or read at once when there are none.

While the receipt of a message is drawn in a reading child (`IsolatedReader.receipt`), this process prepares the
next message in the meantime (`meanwhile`), so the next turn starts with it done.

Reading ahead is a courtesy: whatever goes wrong in it (a server fault, a message that cannot be parsed, a bug)
is left for the message's own turn, inside its failure boundary, and reading ahead stops for the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from mailbot.bootstrap import App
from mailbot.intake import classify, extract_attachments, parse_message
from mailbot.intake.certificates import trusted_certificates
from mailbot.logs import get_logger
from mailbot.model import Extraction, Inbound

#: Messages prepared ahead of the one on its way: enough to keep every reading child busy.
DEPTH = 2


@dataclass
class _Prepared:
    raw: bytes
    inbound: Inbound
    extraction: Extraction


class ReadAhead:
    """The waiting `keys` of one batch, prepared a few at a time ahead of the message on its way."""

    def __init__(self, app: App, keys: list[str]) -> None:
        self.app, self.keys = app, keys
        self.prepared: dict[str, _Prepared] = {}
        self.next = 0  # the first key not yet looked at
        self.index = 0  # the message on its way
        self.stopped = app.reader is None  # without children there is nothing to overlap

    def before(self, index: int) -> None:
        """Called before keys[index] goes its way: prepare it and the next DEPTH messages (each only once)."""
        if index:
            self.prepared.pop(self.keys[index - 1], None)  # its turn is over
        self.index = index
        while self.next <= index + DEPTH and self._prepare_next():
            pass

    def meanwhile(self) -> None:
        """While this process waits for a child (the receipt being drawn): prepare the message the next turn's
        `before` would, so that turn starts with it done."""
        if self.next <= self.index + DEPTH + 1:
            self._prepare_next()

    def _prepare_next(self) -> bool:
        """Prepare keys[next]; False when there is none, or reading ahead has stopped."""
        if self.stopped or self.next >= len(self.keys):
            return False
        key = self.keys[self.next]
        self.next += 1
        try:
            self._prepare(key)
        except Exception as exc:  # left to the message's own turn, inside its boundary
            self.stopped = True
            get_logger(mailbox_key=key).info("read_ahead_stopped", error=type(exc).__name__)
        return not self.stopped

    def _prepare(self, key: str) -> None:
        app = self.app
        if app.ledger.message_by_key(key) is not None:
            return  # recorded already: its turn finishes it without reading
        fetched = app.mailbox.fetch(key)
        if fetched is None or not fetched.complete or len(fetched.raw) > app.settings.limits.max_message_bytes:
            return
        app.archive.put_soon(fetched.raw)  # archived on its turn in any case
        inbound = parse_message(fetched.raw)
        if inbound.parse_error:
            return
        trusted = trusted_certificates(tuple(app.settings.trust.ca_files))
        extraction = extract_attachments(inbound, app.extract_limits, trusted)
        if extraction.quarantine:
            return
        self.prepared[key] = _Prepared(fetched.raw, inbound, extraction)
        assert app.reader is not None
        for attachment in extraction.attachments:
            app.reader.ahead(attachment.name, attachment.data)
        if _submitted(app, inbound, extraction):  # its files will be archived as a version's
            for attachment in extraction.attachments:
                app.archive.put_soon(attachment.data)

    def inbound(self, key: str, raw: bytes) -> Inbound | None:
        """The message parsed ahead, when `raw` (fetched on its turn) is exactly what was parsed."""
        prepared = self.prepared.get(key)
        return prepared.inbound if prepared is not None and prepared.raw == raw else None

    def extraction(self, inbound: Inbound) -> Extraction | None:
        """The attachments extracted ahead from this very parsed message."""
        for prepared in self.prepared.values():
            if prepared.inbound is inbound:
                return prepared.extraction
        return None

    def close(self) -> None:
        self.prepared.clear()
        if self.app.reader is not None:
            self.app.reader.forget_ahead()


def _submitted(app: App, inbound: Inbound, extraction: Extraction) -> bool:
    """Likely a submission (not automatic mail, not a note without an appendix): its attachments are archived."""
    from mailbot.deciding import NOT_APPENDIX

    settings = app.settings
    if classify(inbound, own_addresses=[settings.sender_address], own_domain=settings.sender_domain) is not None:
        return False
    return any(PurePath(a.name).suffix.lower() not in NOT_APPENDIX for a in extraction.attachments)
