"""Which roster unit each submission is from, and what each unit has sent: a pure function of the two.

A submission is matched by its sender's address, then by its sender's domain (the most specific domain wins;
a domain several units share is narrowed by the organisation's name), then by the organisation's name
(folded, fuzzy: the SequenceMatcher ratio over match keys that task names are matched with). When two units
are equally likely the submission is ambiguous: it is listed with its candidates and counted for neither, never
guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Literal

from mailbot.addresses import AddressError, ascii_domain
from mailbot.model import SubmissionView
from mailbot.officer.roster import Roster, Unit
from mailbot.validation.values import match_key

#: A name at least this similar (0..1) to a unit's name is that unit's.
NAME_THRESHOLD = 0.85
#: Two units whose names score within this of each other are equally likely.
NAME_MARGIN = 0.03
#: A unit's folded name (two words or more) found whole inside the organisation's scores this.
CONTAINED_SCORE = 0.95

MatchedBy = Literal["address", "domain", "name"]
UnitStateName = Literal["not_submitted", "submitted", "needs_correction", "late", "late_needs_correction"]

STATE_LABELS: dict[UnitStateName, str] = {
    "not_submitted": "Chưa nộp",
    "submitted": "Đã nộp",
    "needs_correction": "Cần chỉnh sửa",
    "late": "Nộp muộn",
    "late_needs_correction": "Nộp muộn – cần chỉnh sửa",
}
MATCHED_BY_LABELS: dict[MatchedBy, str] = {"address": "Địa chỉ thư", "domain": "Tên miền", "name": "Tên đơn vị"}
OUTSIDE_LABEL = "Ngoài danh sách"
AMBIGUOUS_LABEL = "Chưa rõ đơn vị"


@dataclass
class UnitState:
    """One roster unit and the submissions matched to it (oldest first)."""

    unit: Unit
    submissions: list[SubmissionView] = field(default_factory=list)
    matched_by: dict[str, MatchedBy] = field(default_factory=dict)  # receipt -> how it was matched
    #: Ambiguous submissions that may be this unit's (counted for no unit).
    possible: list[SubmissionView] = field(default_factory=list)

    @property
    def latest(self) -> SubmissionView | None:
        return self.submissions[-1] if self.submissions else None

    @property
    def state(self) -> UnitStateName:
        latest = self.latest
        if latest is None:
            return "not_submitted"
        late = latest.late
        if latest.status == "needs_correction":
            return "late_needs_correction" if late else "needs_correction"
        return "late" if late else "submitted"

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def needs_correction(self) -> bool:
        return self.state in ("needs_correction", "late_needs_correction")

    @property
    def correction_since(self) -> dt.datetime | None:
        """When the latest version, which needs correction, arrived; None when it does not need one."""
        latest = self.latest
        return latest.last_received_at if latest is not None and self.needs_correction else None


@dataclass(frozen=True)
class Ambiguous:
    """A submission two or more units are equally likely to have sent."""

    submission: SubmissionView
    candidates: tuple[Unit, ...]
    matched_by: MatchedBy


@dataclass
class RosterState:
    units: list[UnitState]  # in roster order
    outside: list[SubmissionView] = field(default_factory=list)  # from no roster unit ("Ngoài danh sách")
    ambiguous: list[Ambiguous] = field(default_factory=list)

    def not_submitted(self) -> list[Unit]:
        """Units with no submission and no ambiguous one that may be theirs (a reminder would be wrong there)."""
        return [s.unit for s in self.units if s.latest is None and not s.possible]

    def needing_correction(self) -> list[tuple[Unit, dt.datetime]]:
        """Units whose latest version needs correction, with when that version arrived."""
        return [(s.unit, s.correction_since) for s in self.units if s.correction_since is not None]

    def counts(self) -> dict[UnitStateName, int]:
        found = {name: 0 for name in STATE_LABELS}
        for unit_state in self.units:
            found[unit_state.state] += 1
        return found


def match(roster: Roster, submissions: Iterable[SubmissionView]) -> RosterState:
    """Every roster unit with what it sent; submissions from outside the roster and ambiguous ones apart."""
    states = [UnitState(unit) for unit in roster.units]
    by_unit = {id(s.unit): s for s in states}
    result = RosterState(states)
    for submission in sorted(submissions, key=lambda s: (s.last_received_at, s.receipt)):
        candidates, how = match_one(roster.units, submission)
        if len(candidates) == 1:
            unit_state = by_unit[id(candidates[0])]
            unit_state.submissions.append(submission)
            unit_state.matched_by[submission.receipt] = how
        elif candidates:
            result.ambiguous.append(Ambiguous(submission, tuple(candidates), how))
            for unit in candidates:
                by_unit[id(unit)].possible.append(submission)
        else:
            result.outside.append(submission)
    return result


def match_one(units: Sequence[Unit], submission: SubmissionView) -> tuple[list[Unit], MatchedBy]:
    """The units the submission may be from (one: matched; several: ambiguous; none: outside), and how."""
    sender = _wire(submission.sender.strip())
    by_address = [u for u in units if sender in (_wire(a) for a in u.addresses)]
    if by_address:
        return by_address, "address"
    by_domain = _by_domain(units, sender.rpartition("@")[2])
    if len(by_domain) == 1:
        return by_domain, "domain"
    if by_domain:
        narrowed = _by_name(by_domain, submission.organization)
        return (narrowed, "name") if len(narrowed) == 1 else (by_domain, "domain")
    return _by_name(units, submission.organization), "name"


def _by_domain(units: Sequence[Unit], domain: str) -> list[Unit]:
    """The units whose most specific domain is the sender's domain or a parent of it."""
    if not domain:
        return []
    best, found = 0, []
    for unit in units:
        wired = [_wire_domain(d) for d in unit.domains]
        depth = max((d.count(".") + 1 for d in wired if domain == d or domain.endswith("." + d)), default=0)
        if depth > best:
            best, found = depth, [unit]
        elif depth and depth == best:
            found.append(unit)
    return found


def _wire(address: str) -> str:
    """The address compared as the wire carries it: a domain received as xn--… equals the one written in Unicode."""
    local, at, domain = address.rpartition("@")
    return f"{local}{at}{_wire_domain(domain)}".casefold() if at else address.casefold()


def _wire_domain(domain: str) -> str:
    try:
        return ascii_domain(domain).casefold()
    except AddressError:
        return domain.casefold()


def _by_name(units: Sequence[Unit], organization: str | None) -> list[Unit]:
    """The unit whose name is the organisation's; several when they are equally likely; none below the threshold."""
    org = match_key(organization or "")
    if not org:
        return []
    exact = [unit for unit in units if org in (match_key(unit.name), match_key(unit.code or ""))]
    if exact:
        return exact  # the same folded name (or code): no fuzzier name competes with it
    scores = name_scores(org, units)
    best = max(scores, default=0.0)
    if best < NAME_THRESHOLD:
        return []
    return [unit for unit, score in zip(units, scores, strict=True) if score >= max(best - NAME_MARGIN, NAME_THRESHOLD)]


def name_scores(org: str, units: Sequence[Unit]) -> list[float]:
    """How likely (0..1) the folded organisation `org` is each unit: 1 for its folded name or code, CONTAINED_SCORE
    for its name inside the organisation's, else the similarity task names are matched with (0 below the threshold,
    where SequenceMatcher's cheap upper bounds skip the full ratio)."""
    matcher = SequenceMatcher(autojunk=False)
    matcher.set_seq2(org)
    scores = []
    for unit in units:
        name = match_key(unit.name)
        if org == name or (unit.code and org == match_key(unit.code)):
            scores.append(1.0)
        elif len(name.split()) >= 2 and f" {name} " in f" {org} ":  # "Viện Năng lượng – Bộ Công Thương"
            scores.append(CONTAINED_SCORE)
        else:
            matcher.set_seq1(name)
            quick = matcher.real_quick_ratio() >= NAME_THRESHOLD and matcher.quick_ratio() >= NAME_THRESHOLD
            scores.append(matcher.ratio() if quick else 0.0)
    return scores
