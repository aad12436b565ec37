"""Every mail mailbot writes has a subject that decodes to exactly the intended text, whatever decodes it.

Long Vietnamese unit names and ASCII runs between Vietnamese words make Python's own header folding put two
encoded words side by side, and decoders drop the space between them ("Viện Nghiêncứu"). Each kind (the four
replies, the two reminders, the digest, the forward to the officer, the admin's alert) is checked with
`email.policy.default` and `email.header` here (the CI's and the Docker image's CPython 3.11), the same two in
CPython 3.12 and 3.13, and Perl's Encode::MIME::Header, a decoder that shares no code with Python's.

Also the other headers a mail client shows: the Date in Viet Nam time (+0700), `Content-Language: vi`, and the
plain-text signature behind the standard "-- " separator.
"""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.policy
import json
import shutil
import subprocess
from collections.abc import Callable
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from mailbot.alerts import CONDITIONS
from mailbot.forward import forward_message
from mailbot.intake import parse_message
from mailbot.officer.notices import Notice, build_notice
from mailbot.officer.reminders import Reminder
from mailbot.officer.reminders import subject_for as reminder_subject
from mailbot.replies import ReplyContent, ReplyKind, ReplyRenderer, build_reply, encoded_subject, subject_for
from mailbot.validation.schema import Rules

UNITS = [
    "Viện Nghiên cứu Da - Giày",
    "Trung tâm Sản xuất sạch hơn Việt Nam (VNCPC) – Viện Khoa học và Công nghệ Môi trường, Đại học Bách khoa Hà Nội",
    "Công ty TNHH MTV Nhựa Xanh ABC Việt Nam và Tổng công ty Thép Việt Nam - CTCP (VNSTEEL) chi nhánh Hà Nội",
]
REPLIES: list[ReplyKind] = ["acknowledgement", "correction", "late", "unreadable"]
INBOUND = parse_message(b"From: A <a@vien.example.vn>\r\nSubject: s\r\nMessage-ID: <m@vien.example.vn>\r\n\r\nb\r\n")
SENDER = "Vụ TKNL <nop-de-xuat@example.org>"
AT = dt.datetime(2023, 4, 20, 9, 0, tzinfo=dt.UTC)
DEADLINE = dt.datetime(2023, 5, 1, 16, 59, tzinfo=dt.UTC)

# ---------------------------------------------------------------- the mail of every kind, as bytes


def _reply(rules: Rules, kind: ReplyKind, unit: str) -> tuple[str, bytes]:
    content = ReplyContent(kind, "SXTDBV-2024-0001", 2, unit, [], [], AT)
    intended = subject_for(content, rules)
    return intended, _build(intended)


def _build(subject: str, text: str = "t") -> bytes:
    return build_reply(
        inbound=INBOUND,
        sender=SENDER,
        recipient="a@vien.example.vn",
        subject=subject,
        text=text,
        html="<p>h</p>",
        message_id="<mailbot.1@example.org>",
        date=AT,
    )


def _notice(subject: str) -> bytes:
    notice = Notice("a@vien.example.vn", subject, "t", "<p>h</p>")
    return build_notice(notice, sender=SENDER, message_id="<n.1@example.org>", job_key="k", date=AT, loop_domain="x")


def _reminder(kind: str, unit: str) -> tuple[str, bytes]:
    reminder = Reminder("k", kind, unit, ("a@vien.example.vn",), "d", AT, unit, days_left=3)  # type: ignore[arg-type]
    if kind == "reminder_correction":
        from mailbot.model import SubmissionView

        view = SubmissionView("SXTDBV-2024-0001", unit, "a@vien.example.vn", "needs_correction", 1, AT, AT, [], [])
        reminder = Reminder("k", "reminder_correction", unit, ("a@v.vn",), "d", AT, unit, submission=view)
    intended = reminder_subject(reminder, 2024, DEADLINE)
    return intended, _notice(intended)


def _digest(unit: str) -> tuple[str, bytes]:
    # the digest's subject names counts, not units: an ASCII run between Vietnamese words is what folds badly
    intended = f"[mailbot sxtdbv-2024] Bản tin ngày 20/04/2023: 12 hồ sơ, 3 thư mới, 1 việc cần xử lý – {unit}"
    return intended, _notice(intended)


def _forward(unit: str) -> tuple[str, bytes]:
    inbound = parse_message(
        f"From: A <a@vien.example.vn>\r\nSubject: {unit}\r\nMessage-ID: <f@v.vn>\r\n\r\nb\r\n".encode()
    )
    raw = forward_message(SENDER, "officer@example.org", inbound, "SXTDBV-2024-0001", "note", "<fw.1@example.org>")
    return f"[Lời nhắn cần xử lý] [SXTDBV-2024-0001] {unit}", raw


def _alerts() -> list[tuple[str, bytes]]:
    out = []
    for condition in CONDITIONS.values():
        text = f"[mailbot sxtdbv-2024] Cảnh báo: {condition.vi} / Alert: {condition.en}"
        msg = email.message.EmailMessage(policy=email.policy.SMTP)
        msg["Subject"] = encoded_subject(text)
        out.append((text, msg.as_bytes()))
    return out


MAKERS: dict[str, Callable[[Rules, str], tuple[str, bytes]]] = {
    **{kind: (lambda rules, unit, kind=kind: _reply(rules, kind, unit)) for kind in REPLIES},  # type: ignore[misc]
    "reminder_before": lambda rules, unit: _reminder("reminder_before", unit),
    "reminder_correction": lambda rules, unit: _reminder("reminder_correction", unit),
    "digest": lambda rules, unit: _digest(unit),
    "forward": lambda rules, unit: _forward(unit),
}


def every_subject(rules: Rules) -> list[tuple[str, str, bytes]]:
    """(kind, intended subject, the message's bytes) for every kind and unit name, and every alert."""
    made = [(kind, *make(rules, unit)) for kind, make in MAKERS.items() for unit in UNITS]
    return [*made, *(("alert", text, raw) for text, raw in _alerts())]


def subject_field(raw: bytes) -> str:
    """The Subject field of `raw` as written on the wire (its folded lines kept), without the name."""
    lines = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Subject: "))
    field = [lines[start].removeprefix("Subject: ")]
    for line in lines[start + 1 :]:
        if line[:1] not in (" ", "\t"):
            break
        field.append(line)
    return "\r\n".join(field)


# ---------------------------------------------------------------- the decoders

_PYTHON_DECODER = """
import email, email.policy, json, sys
from email.header import decode_header, make_header
fields = json.load(sys.stdin)
out = []
for field in fields:
    raw = ("Subject: " + field + "\\r\\n\\r\\n").encode("ascii")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    out.append([str(parsed["Subject"]), str(make_header(decode_header(field)))])
print(json.dumps(out))
"""


def other_pythons() -> dict[str, str]:
    """CPython 3.12 (the last whose own folding drops the space) and 3.13, as installed on this machine kind
    (pyenv); 3.13 must be there: the test fails rather than skip when it is not."""
    found: dict[str, str] = {}
    for version in ("3.12", "3.13"):
        program = shutil.which(f"python{version}")
        candidates = [program] if program else []
        candidates += [str(p) for p in sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))]
        for candidate in candidates:
            if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
                found[version] = candidate
                break
    assert "3.13" in found, "CPython 3.13 is needed to decode the subjects with it (pyenv's 3.13 or python3.13)"
    return found


def decode_with_python(program: str, fields: list[str]) -> list[list[str]]:
    done = subprocess.run(
        [program, "-c", _PYTHON_DECODER], input=json.dumps(fields), capture_output=True, text=True, check=True
    )
    decoded: list[list[str]] = json.loads(done.stdout)
    return decoded


def decode_with_perl(fields: list[str]) -> list[str]:
    """Perl's Encode::MIME::Header (part of every Perl: Debian's perl-base depends on nothing more)."""
    perl = shutil.which("perl")
    assert perl, "perl is needed as the independent decoder (Debian package perl)"
    script = 'binmode STDOUT, ":utf8"; while (<STDIN>) { chomp; print decode("MIME-Header", $_), "\\n" }'
    unfolded = "".join(field.replace("\r\n", "") + "\n" for field in fields)
    done = subprocess.run([perl, "-MEncode", "-e", script], input=unfolded.encode("ascii"), capture_output=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode("utf-8").splitlines()


# ---------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def mails(rules: Rules) -> list[tuple[str, str, bytes]]:
    return every_subject(rules)


def test_every_kind_of_mail_is_checked(mails: list[tuple[str, str, bytes]]) -> None:
    kinds = {kind for kind, _, _ in mails}
    assert kinds == {*ReplyKind.__args__, "forward", "alert"}  # type: ignore[attr-defined]
    assert (
        sum(1 for _, _, raw in mails if "?=\r\n =?" in subject_field(raw)) > 10
    )  # the folds that used to lose a space


@pytest.mark.parametrize("kind", [*ReplyKind.__args__, "forward", "alert"])  # type: ignore[attr-defined]
def test_every_space_survives_pythons_decoders(mails: list[tuple[str, str, bytes]], kind: str) -> None:
    for _, intended, raw in (m for m in mails if m[0] == kind):
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert str(parsed["Subject"]) == intended
        assert str(make_header(decode_header(subject_field(raw)))) == intended
        assert all(len(line) <= 78 for line in subject_field(raw).split("\r\n"))


def test_every_space_survives_cpython_312_and_313(mails: list[tuple[str, str, bytes]]) -> None:
    fields = [subject_field(raw) for _, _, raw in mails]
    for version, program in other_pythons().items():
        decoded = decode_with_python(program, fields)
        for (kind, intended, _), (by_policy, by_header) in zip(mails, decoded, strict=True):
            assert by_policy == intended, (version, kind)
            assert by_header == intended, (version, kind)


def test_every_space_survives_perls_decoder(mails: list[tuple[str, str, bytes]]) -> None:
    decoded = decode_with_perl([subject_field(raw) for _, _, raw in mails])
    assert decoded == [intended for _, intended, _ in mails]


def test_the_decoders_see_a_lost_space() -> None:
    """The check is real: this subject as CPython 3.11's own policy folds it reads "Nghiêncứu" in every decoder."""
    unit = UNITS[1]
    text = f"[SXTDBV-2024-0001] Đề nghị bổ sung, chỉnh sửa hồ sơ đề xuất nhiệm vụ năm 2024 – {unit}"
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = text  # folded by the policy, not by encoded_subject
    field = subject_field(msg.as_bytes())
    assert str(email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)["Subject"]) != text
    assert decode_with_perl([field]) != [text]


def test_dates_are_in_viet_nam_time_and_the_language_is_said(rules: Rules) -> None:
    _, raw = _reply(rules, "acknowledgement", UNITS[0])
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Date"] == "Thu, 20 Apr 2023 16:00:00 +0700"
    assert parsed["Date"].datetime == AT
    assert parsed["Content-Language"] == "vi"
    notice = email.message_from_bytes(_notice("Nhắc nộp hồ sơ"), policy=email.policy.default)
    assert notice["Date"].endswith("+0700") and notice["Content-Language"] == "vi"
    _, forward = _forward(UNITS[0])
    forwarded = email.message_from_bytes(forward, policy=email.policy.default)
    assert forwarded["Date"].endswith("+0700") and forwarded["Content-Language"] == "vi"


@pytest.mark.parametrize("kind", REPLIES)
def test_the_text_signature_follows_the_standard_separator(rules: Rules, kind: ReplyKind) -> None:
    content = ReplyContent(kind, "SXTDBV-2024-0001", 1, UNITS[0], [], [], AT)
    _, text, _ = ReplyRenderer(rules).render(content)
    assert "\n-- \n" in text
    parsed = email.message_from_bytes(_build("s", text), policy=email.policy.default)
    body = parsed.get_body(("plain",))
    assert body is not None and "-- " in body.get_content().splitlines()
