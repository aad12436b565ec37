"""Untrusted files are read in a child process with a memory cap and a time limit: a file that
exceeds either becomes a finding that names it, and the next file is read as usual."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailbot.isolation import IsolatedReader
from tests.builders.sheets import xlsx_bytes
from tests.builders.submissions import task_list

GOOD = xlsx_bytes(task_list().rows)


@pytest.fixture(scope="module")
def big_sheet() -> bytes:
    """A valid workbook of 8,000 rows × 20 text cells: over 40 MB once openpyxl has loaded it."""
    return xlsx_bytes([[f"ô {r}-{c}" for c in range(20)] for r in range(8_000)])


@pytest.fixture
def reader() -> Iterator[IsolatedReader]:
    isolated = IsolatedReader(memory_mb=40, timeout_seconds=60, max_bytes=50_000_000, max_uncompressed=500_000_000)
    yield isolated
    isolated.close()


def test_a_normal_file_is_read_in_the_child_exactly_as_in_process(reader: IsolatedReader) -> None:
    result = reader.read("PhuLuc1.xlsx", GOOD)
    assert result.findings == [] and result.grids[0].rows[4][1] == "Tên nhiệm vụ"


def test_a_file_that_needs_more_memory_than_the_cap_is_a_finding_and_the_next_file_still_reads(
    reader: IsolatedReader, big_sheet: bytes
) -> None:
    result = reader.read("KhongLo.xlsx", big_sheet)
    assert [f.code for f in result.findings] == ["file_too_complex"] and "40 MB" in result.findings[0].message
    assert result.findings[0].file == "KhongLo.xlsx" and result.grids == []
    assert reader.read("PhuLuc1.xlsx", GOOD).findings == []


def test_a_file_that_takes_longer_than_the_limit_is_a_finding_and_the_worker_is_replaced(big_sheet: bytes) -> None:
    slow = IsolatedReader(memory_mb=2048, timeout_seconds=0.05, max_bytes=50_000_000, max_uncompressed=500_000_000)
    try:
        result = slow.read("ChamLam.xlsx", big_sheet)
        assert [f.code for f in result.findings] == ["file_too_complex"] and "giây" in result.findings[0].message
        slow.timeout = 60
        assert slow.read("PhuLuc1.xlsx", GOOD).findings == []
    finally:
        slow.close()


def test_the_same_file_reads_under_a_generous_cap(big_sheet: bytes) -> None:
    roomy = IsolatedReader(memory_mb=2048, timeout_seconds=120, max_bytes=50_000_000, max_uncompressed=500_000_000)
    try:
        result = roomy.read("KhongLo.xlsx", big_sheet)
    finally:
        roomy.close()
    assert [f.code for f in result.findings] == ["sheet_truncated"] and len(result.grids[0].rows) == 5000
