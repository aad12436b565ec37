"""What a reply carries beside its text: marked copies, blank templates, the receipt PDF.

    correction      ─► a marked copy of each file with errors (mailbot.marking), within the reply's size;
                       the blank templates when an appendix is missing or a file could not be marked
                       (`[replies] blank_forms`)
    acknowledgement ─► the receipt, Phieu-tiep-nhan-<receipt>.pdf (`[replies] receipt_pdf`)
    unreadable      ─► the blank templates

What is attached is decided before the text is rendered, so the text says exactly what the reply carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailbot.logs import get_logger
from mailbot.marking.copies import BODY_ALLOWANCE, MarkedCopies, encoded_size, mark_file, marked_copies
from mailbot.model import Finding, ReadResult

if TYPE_CHECKING:
    from mailbot.bootstrap import App
    from mailbot.replies import ReplyContent

#: The finding that says an appendix is missing: the blank template is what the submitter needs then.
MISSING = frozenset({"missing_document"})


@dataclass
class Enclosures:
    """The files a reply attaches, and what its text says about them."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    marked: list[dict[str, object]] = field(default_factory=list)  # original, name, converted
    unmarked: list[str] = field(default_factory=list)
    marked_too_large: bool = False
    guide: str | None = None
    forms: list[str] = field(default_factory=list)
    receipt_pdf: str | None = None

    def context(self) -> dict[str, object]:
        return {
            "marked": self.marked,
            "unmarked": self.unmarked,
            "marked_too_large": self.marked_too_large,
            "guide": self.guide,
            "forms": self.forms,
            "receipt_pdf": self.receipt_pdf,
        }


def enclosures(
    app: App, content: ReplyContent, sources: Sequence[tuple[ReadResult, bytes]], files: Sequence[dict[str, str]]
) -> Enclosures:
    """What the reply of `content` attaches; `sources` are the message's files as read, `files` as archived."""
    out = Enclosures()
    replies = app.settings.replies
    if content.kind == "correction" and replies.marked_copies:
        _add_marked(out, app, content.findings, sources)
    if content.kind == "acknowledgement" and replies.receipt_pdf:
        _add_receipt(out, app, content, files)
    policy = replies.blank_forms_policy
    wanted = content.kind == "unreadable" or (content.kind == "correction" and _forms_needed(out, content.findings))
    if (policy == "always" and content.kind in ("correction", "unreadable")) or (policy == "when_needed" and wanted):
        out.files.extend(app.blank_forms)
        out.forms = [name for name, _ in app.blank_forms]
    return out


def _forms_needed(out: Enclosures, findings: Sequence[Finding]) -> bool:
    """An appendix is missing, a file could not be marked, or no copy goes: the blank templates help then."""
    return any(f.code in MISSING for f in findings) or bool(out.unmarked) or not out.marked


def _add_marked(
    out: Enclosures, app: App, findings: Sequence[Finding], sources: Sequence[tuple[ReadResult, bytes]]
) -> None:
    forms = sum(encoded_size(data) for _, data in app.blank_forms)
    budget = app.settings.replies.max_reply_bytes - BODY_ALLOWANCE - forms
    mark = app.reader.mark if app.reader is not None else mark_file
    made: MarkedCopies = marked_copies(sources, findings, mark, budget=budget, guide=_guide)
    for copy in made.copies:
        out.files.append((copy.name, copy.data))
        out.marked.append({"original": copy.original, "name": copy.name, "converted": copy.converted})
    out.unmarked, out.marked_too_large = made.unmarked, made.too_large
    if made.guide is not None:
        out.files.append(made.guide)
        out.guide = made.guide[0]


def _guide(findings: Sequence[Finding]) -> bytes | None:
    from mailbot.marking.guide_only import guide_workbook

    return guide_workbook(findings)


def _add_receipt(out: Enclosures, app: App, content: ReplyContent, files: Sequence[dict[str, str]]) -> None:
    from mailbot.receipt import receipt_name, receipt_pdf

    font = app.receipt_font
    if font is None:
        from mailbot import alerts

        alerts.event(app, "receipt_unavailable", "no TrueType font with Vietnamese glyphs ([replies] receipt_font)")
        return
    try:
        if app.reader is None:
            data = receipt_pdf(content, files, app.rules, font)
        else:  # drawn in a reading child while this process reads the next message ahead
            meanwhile = app.ahead.meanwhile if app.ahead is not None else None
            data = app.reader.receipt(content, files, app.rules, font, meanwhile=meanwhile)
    except Exception as exc:  # a receipt that cannot be drawn costs the receipt, never the acknowledgement
        get_logger().warning("receipt_failed", receipt=content.receipt, error=type(exc).__name__)
        return
    name = receipt_name(content.receipt)
    out.files.append((name, data))
    out.receipt_pdf = name
