"""What the tests that need LibreOffice share: one marker that skips them, loudly, where it is not installed,
and a way to convert with other settings for the length of a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from mailbot.readers.convert import ConvertSettings, configure, current, program

HAS_LIBREOFFICE = program(ConvertSettings()) is not None

needs_libreoffice = pytest.mark.skipif(
    not HAS_LIBREOFFICE,
    reason="LibreOffice (soffice) is NOT installed, so the tests that convert .doc/.rtf/.odt/.ods did not run: "
    "install libreoffice-writer-nogui and libreoffice-calc-nogui (`make test` does, where apt-get works)",
)


@contextmanager
def converting(settings: ConvertSettings) -> Iterator[None]:
    """Convert in this process with `settings` until the block ends."""
    before = current()
    configure(settings)
    try:
        yield
    finally:
        configure(before)
