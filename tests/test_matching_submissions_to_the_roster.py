"""Each submission is matched to its roster unit by sender address, then domain, then the organisation's name;
an ambiguous one is shown with its candidates and counted for no unit; each unit gets its state."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mailbot.model import SubmissionStatus, SubmissionView
from mailbot.officer.matching import RosterState, match
from mailbot.officer.roster import Roster, Unit

UNITS = [
    Unit("VNL", "Viện Năng lượng", addresses=("vanthu@ievn.vn",), row=2),
    Unit("HUST", "Trường Đại học Bách khoa Hà Nội", domains=("hust.edu.vn",), row=3),
    Unit(None, "Viện Dệt May", row=4),
    Unit(None, "Viện Nghiên cứu Da - Giày", row=5),
    Unit(None, "Viện Hóa học Công nghiệp Việt Nam", domains=("moit.gov.vn",), row=6),
    Unit(None, "Viện Cơ khí Năng lượng và Mỏ", domains=("moit.gov.vn",), row=7),
    Unit(None, "Viện Kinh tế Xây dựng miền Bắc", row=8),
    Unit(None, "Viện Kinh tế Xây dựng miền Nam", row=9),
]
ROSTER = Roster(Path("don-vi.xlsx"), UNITS)
START = dt.datetime(2024, 4, 1, 2, 0, tzinfo=dt.UTC)


def submission(
    receipt: str,
    sender: str,
    organization: str | None,
    status: SubmissionStatus = "accepted",
    day: int = 0,
    *,
    late: bool = False,
) -> SubmissionView:
    when = START + dt.timedelta(days=day)
    return SubmissionView(receipt, organization, sender, status, 1, when, when, [], [], late=late)


def unit_of(state: RosterState, receipt: str) -> str | None:
    return next((s.unit.name for s in state.units if any(x.receipt == receipt for x in s.submissions)), None)


def test_a_submission_from_a_listed_address_is_that_units_whatever_its_organisation_says() -> None:
    state = match(ROSTER, [submission("R1", "VanThu@IEVN.vn", "Viện Dệt May")])
    assert unit_of(state, "R1") == "Viện Năng lượng"
    assert state.units[0].matched_by == {"R1": "address"}


def test_a_submission_from_a_listed_domain_or_its_subdomain_is_that_units() -> None:
    state = match(ROSTER, [submission("R1", "a@hust.edu.vn", None), submission("R2", "b@sami.hust.edu.vn", "?")])
    assert unit_of(state, "R1") == unit_of(state, "R2") == "Trường Đại học Bách khoa Hà Nội"
    assert state.units[1].matched_by == {"R1": "domain", "R2": "domain"}


def test_an_internationalised_domain_received_as_a_labels_matches_the_domain_written_in_unicode() -> None:
    roster = Roster(Path("r.csv"), [Unit(None, "Viện Máy", domains=("viện-máy.vn",), row=2)])
    state = match(roster, [submission("R1", "a@xn--vin-my-tta2432d.vn", None)])
    assert state.units[0].matched_by == {"R1": "domain"}


def test_a_domain_two_units_share_is_narrowed_by_the_organisations_name() -> None:
    state = match(ROSTER, [submission("R1", "vanphong@moit.gov.vn", "VIỆN CƠ KHÍ NĂNG LƯỢNG VÀ MỎ")])
    assert unit_of(state, "R1") == "Viện Cơ khí Năng lượng và Mỏ"
    assert state.ambiguous == []


def test_a_domain_two_units_share_without_a_telling_name_is_ambiguous() -> None:
    state = match(ROSTER, [submission("R1", "vanphong@moit.gov.vn", None)])
    assert unit_of(state, "R1") is None and state.outside == []
    [item] = state.ambiguous
    assert {u.name for u in item.candidates} == {"Viện Hóa học Công nghiệp Việt Nam", "Viện Cơ khí Năng lượng và Mỏ"}


def test_an_organisation_written_without_diacritics_in_another_case_matches_its_unit() -> None:
    state = match(
        ROSTER, [submission("R1", "x@gmail.com", "VIEN DET MAY"), submission("R2", "y@yahoo.com", "vien det may")]
    )
    assert unit_of(state, "R1") == unit_of(state, "R2") == "Viện Dệt May"
    assert state.units[2].matched_by == {"R1": "name", "R2": "name"}


def test_an_organisation_with_a_small_misspelling_or_its_parent_matches_its_unit() -> None:
    state = match(
        ROSTER,
        [
            submission("R1", "x@gmail.com", "Viện Nghiên cứu Da Giầy"),
            submission("R2", "y@gmail.com", "Bộ Công Thương - Viện Dệt May"),
        ],
    )
    assert unit_of(state, "R1") == "Viện Nghiên cứu Da - Giày"
    assert unit_of(state, "R2") == "Viện Dệt May"


def test_an_organisation_two_units_are_equally_like_is_ambiguous_never_guessed() -> None:
    state = match(ROSTER, [submission("R1", "x@gmail.com", "Viện Kinh tế Xây dựng miền")])
    assert all(not s.submissions for s in state.units)
    [item] = state.ambiguous
    assert sorted(u.name for u in item.candidates) == [
        "Viện Kinh tế Xây dựng miền Bắc",
        "Viện Kinh tế Xây dựng miền Nam",
    ]
    assert [s.unit.name for s in state.units if s.possible] == sorted(u.name for u in item.candidates)


def test_a_unit_that_may_have_sent_an_ambiguous_submission_is_not_counted_as_not_submitted() -> None:
    state = match(ROSTER, [submission("R1", "x@gmail.com", "Viện Kinh tế Xây dựng miền")])
    missing = [u.name for u in state.not_submitted()]
    assert "Viện Kinh tế Xây dựng miền Bắc" not in missing and "Viện Năng lượng" in missing
    assert len(missing) == len(UNITS) - 2


def test_a_submission_from_outside_the_roster_is_listed_apart() -> None:
    state = match(ROSTER, [submission("R1", "info@nhuaxanh.example.vn", "Công ty Cổ phần Nhựa Xanh")])
    assert [s.receipt for s in state.outside] == ["R1"] and state.ambiguous == []
    assert len(state.not_submitted()) == len(UNITS)


def test_each_unit_gets_the_state_of_its_latest_submission() -> None:
    state = match(
        ROSTER,
        [
            submission("R1", "vanthu@ievn.vn", None, "needs_correction", day=0),
            submission("R2", "a@hust.edu.vn", None, "needs_correction", day=1),
            submission("R3", "a@hust.edu.vn", None, "accepted", day=3),  # a second receipt, later
            submission("R4", "x@gmail.com", "Viện Dệt May", "accepted", day=2, late=True),
        ],
    )
    labels = {s.unit.name: s.label for s in state.units}
    assert labels["Viện Năng lượng"] == "Cần chỉnh sửa"
    assert labels["Trường Đại học Bách khoa Hà Nội"] == "Đã nộp"
    assert labels["Viện Dệt May"] == "Nộp muộn"
    assert labels["Viện Nghiên cứu Da - Giày"] == "Chưa nộp"
    assert state.units[1].latest is not None and state.units[1].latest.receipt == "R3"
    assert state.counts() == {
        "not_submitted": 5, "submitted": 1, "needs_correction": 1, "late": 1, "late_needs_correction": 0,
    }  # fmt: skip


def test_lateness_as_a_fact_of_its_own_keeps_the_need_for_correction() -> None:
    late_wrong = submission("R1", "vanthu@ievn.vn", None, "needs_correction", late=True)
    late_right = submission("R2", "a@hust.edu.vn", None, "accepted", late=True)
    state = match(ROSTER, [late_wrong, late_right])
    assert state.units[0].label == "Nộp muộn – cần chỉnh sửa" and state.units[0].needs_correction
    assert state.units[1].label == "Nộp muộn" and not state.units[1].needs_correction


def test_units_needing_correction_come_with_since_when() -> None:
    state = match(
        ROSTER,
        [
            submission("R1", "vanthu@ievn.vn", None, "needs_correction", day=2),
            submission("R2", "a@hust.edu.vn", None, "needs_correction", day=1),
            submission("R3", "a@hust.edu.vn", None, "accepted", day=4),
        ],
    )
    assert state.needing_correction() == [(UNITS[0], START + dt.timedelta(days=2))]


def test_matching_leaves_the_roster_order_and_is_the_same_whatever_order_the_submissions_come_in() -> None:
    subs = [submission("R1", "x@gmail.com", "Viện Dệt May", day=1), submission("R2", "vanthu@ievn.vn", None)]
    one, other = match(ROSTER, subs), match(ROSTER, list(reversed(subs)))
    assert [s.unit for s in one.units] == UNITS
    assert [(s.unit, [x.receipt for x in s.submissions]) for s in one.units] == [
        (s.unit, [x.receipt for x in s.submissions]) for s in other.units
    ]
