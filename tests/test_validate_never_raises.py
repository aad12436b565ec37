"""Whatever lands in the cells of a sheet, validate answers with findings and never raises."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbot.validation.schema import Rules
from mailbot.validation.validate import validate_files
from tests.builders.sheets import xlsx_bytes
from tests.builders.submissions import KEYS, task_list

# Text that an xlsx cell can hold (XML 1.0 characters; openpyxl refuses the rest).
cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x0b\x0c\ufffe\uffff").filter(
        lambda ch: ch >= " " or ch in "\t\n\r"
    ),
    max_size=40,
)
cell_value = st.one_of(
    st.none(),
    cell_text,
    st.sampled_from(["1.500", "2.000,5", "1,500", "Tổng cộng", "I. Nhiệm vụ", "T1/2024", "=1+1", "(1)", "Tên đơn vị:"]),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
)
edits = st.lists(
    st.tuples(st.integers(min_value=0, max_value=16), st.integers(min_value=0, max_value=15), cell_value),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=edits)
def test_random_cell_values_never_make_validate_raise(rules: Rules, edits: list[tuple[int, int, Any]]) -> None:
    layout = task_list(two_row_header=True, numbering=True, total=True)
    for r, c, value in edits:
        layout.rows.extend([] for _ in range(r + 1 - len(layout.rows)))
        row = layout.rows[r]
        row.extend([None] * (c + 1 - len(row)))
        row[c] = value
    result = validate_files([("PhuLuc1.xlsx", xlsx_bytes(layout.rows, merges=layout.merge_ranges()))], rules)
    assert all(f.code and f.message for f in result.findings)
    assert all(set(t.to_dict()) >= set(KEYS) for t in result.tasks)
