"""Signed and encrypted submissions through the whole pipeline, from a Maildir and from a real IMAP account.

The ministry trusts its national CA (`[trust] ca_files`). A detached-signed and an opaque-signed submission are
acknowledged with their signer recorded as valid; one signed under an unknown CA is acknowledged as untrusted; one
altered after signing is still acknowledged, with a warning; an encrypted one gets a correction reply asking for
it again without encryption. The signer shows in the tracker's "Chữ ký số" column and in `export --json`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import openpyxl
import pytest

from mailbot.demo_mail import VN, DemoMail, descriptions_docx, task, task_list_xlsx
from mailbot.validation.schema import Rules
from tests.builders import smime as b
from tests.mailflow import ImapWorkspace, Workspace, make_workspace
from tests.servers import Certificates, Dovecot, SmtpSink

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)
WHO = f"{b.SIGNER_ORG}, {b.SIGNER_CN}, {b.SIGNER_EMAIL}"


def files(rules: Rules, n: int) -> list[tuple[str, bytes]]:
    organization = f"Viện thử nghiệm số {n}"
    tasks = [task(f"Nhiệm vụ {n}", 2, "2024-01", "2024-06", 500, 500, organization)]
    return [
        ("PhuLuc1.xlsx", task_list_xlsx(rules, organization, tasks)),
        ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
    ]


def mail(label: str, n: int, make: Any, expect: str) -> DemoMail:
    message_id = f"<{label}.{secrets.token_hex(4)}@vien{n}.example.vn>"
    raw = make(message_id=message_id, sender=f"Đơn vị {n} <unit{n}@vien{n}.example.vn>")
    return DemoMail(label, raw, WHEN + dt.timedelta(minutes=n), expect, message_id=message_id)


@pytest.fixture(scope="module")
def mails(rules: Rules) -> dict[str, DemoMail]:
    pki, stranger = b.government_pki(), b.impostor_pki()
    signed_copy = ("PhuLuc1_DaKySo.pdf", b.signed_pdf(pki.signer))
    detached = b.content_entity([*files(rules, 1), signed_copy])
    opaque, unknown = b.content_entity(files(rules, 2)), b.content_entity(files(rules, 3))
    altered = b.content_entity(files(rules, 4), body="Kính gửi Vụ TKNL,\n\nTotal tasks: 1.\n")
    sealed = b.content_entity(files(rules, 5))
    if b.OPENSSL:
        make_opaque = lambda **h: b.openssl(b.SMIME_OPAQUE, opaque, pki.signer, **h)  # noqa: E731
    else:
        make_opaque = lambda **h: b.opaque_signed(opaque, pki.signer, **h)  # noqa: E731
    made = [
        mail("detached", 1, lambda **h: b.detached_signed(detached, pki.signer, **h), "acknowledged"),
        mail("opaque", 2, make_opaque, "acknowledged"),
        mail("unknown-ca", 3, lambda **h: b.opaque_signed(unknown, stranger.signer, **h), "acknowledged"),
        mail(
            "altered",
            4,
            lambda **h: b.tampered(b.detached_signed(altered, pki.signer, **h), b"Total tasks: 1", b"Total tasks: 2"),
            "acknowledged",
        ),
        mail("encrypted", 5, lambda **h: b.encrypted(sealed, pki.signer.cert, **h), "correction_sent"),
    ]
    return {m.label: m for m in made}


@pytest.fixture(scope="module", params=["maildir", "imap"])
def processed(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    mails: dict[str, DemoMail],
    dovecot: Dovecot,
    certificates: Certificates,
) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp(f"signed-{request.param}")
    sink = None
    if request.param == "maildir":
        space = make_workspace(root)
    else:
        user = (f"signed-{secrets.token_hex(4)}", secrets.token_urlsafe(10))
        dovecot.add_user(*user)
        sink = SmtpSink(root / "smtp", certificates=certificates, tls=True).start()
        space = ImapWorkspace(root / "work", dovecot, user, sink, certificates)
    (space.root / "trusted").mkdir()
    (space.root / "trusted" / "test-government-ca.pem").write_bytes(b.government_pki().root_pem())
    with space.config.open("a", encoding="utf-8") as config:
        config.write('\n[trust]\nca_files = ["trusted/test-government-ca.pem"]\n')
    space.deliver(list(mails.values()))
    run = space.cli("once")
    assert run.exit_code == 0, run.output
    yield space
    if sink is not None:
        sink.stop()


def by_label(space: Workspace, mails: dict[str, DemoMail]) -> dict[str, dict[str, Any]]:
    document = space.export()
    receipts = {m["message_id"]: m["receipt"] for m in document["messages"]}
    submissions = {s["receipt"]: s for s in document["submissions"]}
    return {label: submissions[receipts[m.message_id]] for label, m in mails.items()}


def reply_to(space: Workspace, message: DemoMail) -> EmailMessage:
    [reply] = [r for r in space.replies() if r["In-Reply-To"] == message.message_id]
    return reply


def reply_text(space: Workspace, message: DemoMail) -> str:
    body = reply_to(space, message).get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def test_each_signed_or_encrypted_message_gets_the_action_it_calls_for(
    processed: Workspace, mails: dict[str, DemoMail]
) -> None:
    actions = {m["message_id"]: m["action"] for m in processed.export()["messages"]}
    assert {label: actions[m.message_id] for label, m in mails.items()} == {
        label: m.expect for label, m in mails.items()
    }


def test_the_signed_submissions_are_read_like_any_other(processed: Workspace, mails: dict[str, DemoMail]) -> None:
    submissions = by_label(processed, mails)
    for label in ("detached", "opaque", "unknown-ca", "altered"):
        assert submissions[label]["status"] == "accepted", label
        assert [t["ten_nhiem_vu"] for t in submissions[label]["tasks"]] != [], label
    assert submissions["detached"]["organization"] == "Viện thử nghiệm số 1"
    assert submissions["opaque"]["tasks"][0]["ten_nhiem_vu"] == "Nhiệm vụ 2"


def test_the_export_records_each_signer_and_the_result(processed: Workspace, mails: dict[str, DemoMail]) -> None:
    submissions = by_label(processed, mails)
    signatures = {label: s["signature"] for label, s in submissions.items()}
    assert {label: (s or {}).get("result") for label, s in signatures.items()} == {
        "detached": "valid",
        "opaque": "valid",
        "unknown-ca": "untrusted",
        "altered": "invalid",
        "encrypted": None,
    }
    detached = signatures["detached"]
    assert (detached["organization"], detached["common_name"], detached["email"]) == (
        b.SIGNER_ORG,
        b.SIGNER_CN,
        b.SIGNER_EMAIL,
    )
    assert detached["form"] == "detached" and signatures["opaque"]["form"] == "opaque"
    assert submissions["detached"]["signed_copies"] == ["PhuLuc1_DaKySo.pdf"]
    assert submissions["opaque"]["signed_copies"] == []


def test_the_tracker_shows_the_signer_beside_the_signed_pdf(processed: Workspace, mails: dict[str, DemoMail]) -> None:
    sheet = openpyxl.load_workbook(processed.tracker)["Hồ sơ"]
    rows = list(sheet.iter_rows(values_only=True))
    column, receipts = rows[0].index("Chữ ký số"), rows[0].index("Số tiếp nhận")
    shown = {row[receipts]: row[column] for row in rows[1:]}
    submissions = by_label(processed, mails)
    assert {label: shown[s["receipt"]] for label, s in submissions.items()} == {
        "detached": f"Hợp lệ — {WHO}\nBản PDF đã ký số: PhuLuc1_DaKySo.pdf",
        "opaque": f"Hợp lệ — {WHO}",
        "unknown-ca": f"Không xác minh được tổ chức cấp chứng thư — {WHO}",
        "altered": f"Không hợp lệ — {WHO}",
        "encrypted": None,
    }


def test_an_altered_signed_message_is_acknowledged_with_a_warning(
    processed: Workspace, mails: dict[str, DemoMail]
) -> None:
    altered = by_label(processed, mails)["altered"]
    assert [(f["code"], f["severity"]) for f in altered["findings"]] == [("signature_invalid", "warning")]
    text = reply_text(processed, mails["altered"])
    assert "xác nhận đã nhận hồ sơ" in text and "Chữ ký số của thư" in text and "không hợp lệ" in text


def test_a_valid_or_untrusted_signature_adds_nothing_to_the_reply(
    processed: Workspace, mails: dict[str, DemoMail]
) -> None:
    for label in ("detached", "unknown-ca"):
        assert by_label(processed, mails)[label]["findings"] == []
        assert "Chữ ký số" not in reply_text(processed, mails[label])


def test_encrypted_mail_gets_a_correction_asking_for_it_unencrypted_not_no_appendix(
    processed: Workspace, mails: dict[str, DemoMail]
) -> None:
    encrypted = by_label(processed, mails)["encrypted"]
    assert encrypted["status"] == "needs_correction"
    assert [f["code"] for f in encrypted["findings"]] == ["encrypted_mail"]
    text = reply_text(processed, mails["encrypted"])
    assert "Thư được mã hóa; mailbot không thể đọc" in text
    assert "Xin gửi lại không mã hóa (có thể vẫn ký số)" in text
    assert "Không tìm thấy Phụ lục" not in text
