"""The receipt is drawn in a reading child while this process reads the next message ahead (issue 12): the same
bytes as drawn here, on a real IMAP account too (whose arrival times carry imapclient's own time zone), and a
receipt that cannot be drawn there costs the receipt, never the acknowledgement or the worker."""

from __future__ import annotations

import datetime as dt
import io
import secrets
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pytest

from mailbot.isolation import IsolatedReader
from mailbot.receipt import RECEIPT_TITLE, receipt_pdf
from mailbot.validation.schema import Rules
from tests.builders.units import unit_mails
from tests.mailflow import ImapWorkspace
from tests.servers import Certificates, Dovecot, SmtpSink
from tests.test_filing_the_receipt import FILES, content


@pytest.fixture
def reader() -> Iterator[IsolatedReader]:
    isolated = IsolatedReader(memory_mb=512, timeout_seconds=60, max_bytes=10**7, max_uncompressed=10**8, processes=2)
    yield isolated
    isolated.close()


def test_a_receipt_drawn_in_a_child_is_the_receipt_drawn_here(reader: IsolatedReader, rules: Rules, font: Path) -> None:
    ran: list[str] = []
    drawn = reader.receipt(content(), FILES, rules, font, meanwhile=lambda: ran.append("meanwhile"))
    assert drawn == receipt_pdf(content(), FILES, rules, font)
    assert ran == ["meanwhile"]  # this process did its own work while the child drew


def test_a_receipt_that_cannot_be_drawn_raises_here_and_the_worker_reads_on(
    reader: IsolatedReader, rules: Rules, font: Path
) -> None:
    with pytest.raises(Exception):  # noqa: B017  # whatever ReportLab or the font raises
        reader.receipt(content(), FILES, rules, Path("/nonexistent/font.ttf"))
    assert reader.receipt(content(), FILES, rules, font).startswith(b"%PDF")


def test_a_time_zone_the_child_cannot_rebuild_costs_only_that_receipt(
    reader: IsolatedReader, rules: Rules, font: Path
) -> None:
    from imapclient.fixed_offset import FixedOffset

    odd = content(received_at=dt.datetime(2023, 4, 20, 14, 5, tzinfo=FixedOffset(7 * 60)))
    with pytest.raises(TypeError):
        reader.receipt(odd, FILES, rules, font)
    assert reader.receipt(content(), FILES, rules, font).startswith(b"%PDF")


def test_on_a_real_imap_account_every_acknowledgement_carries_its_receipt(
    tmp_path: Path, rules: Rules, dovecot: Dovecot, certificates: Certificates
) -> None:
    user = (f"receipt-{secrets.token_hex(4)}", secrets.token_urlsafe(10))
    dovecot.add_user(*user)
    sink = SmtpSink(tmp_path / "smtp", certificates=certificates, tls=True).start()
    try:
        space = ImapWorkspace(tmp_path / "work", dovecot, user, sink, certificates)
        space.deliver(unit_mails(rules, 3))
        result = space.cli("once")
        assert result.exit_code == 0, result.output
        replies = space.replies()
        assert len(replies) == 3
        for reply in replies:
            pdfs = [p for p in reply.iter_attachments() if p.get_content_type() == "application/pdf"]
            assert len(pdfs) == 1, reply["Subject"]
            page = pypdf.PdfReader(io.BytesIO(pdfs[0].get_content())).pages[0].extract_text()
            assert RECEIPT_TITLE.split()[0] in page
    finally:
        sink.stop()
