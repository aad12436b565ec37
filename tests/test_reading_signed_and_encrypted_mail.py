"""Signed and encrypted S/MIME mail as Vietnamese government offices send it (RELIABILITY #74, #75).

The signed content is read like any message; the signature is verified against a configured trusted CA and the
signer described; a signature that does not hold is a warning; encrypted mail is an error of its own. Messages are
made by two independent producers: `cryptography`'s PKCS7 builders and the `openssl` CLI.
"""

from __future__ import annotations

import base64
import io
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from pypdf import PdfReader

from mailbot.adapters.sqlite_ledger import SqliteLedger
from mailbot.adapters.sqlite_schema import MIGRATIONS, SCHEMA
from mailbot.cli import main
from mailbot.config import load_settings
from mailbot.errors import ConfigError
from mailbot.intake import ExtractLimits, extract_attachments, parse_message
from mailbot.model import Extraction
from tests.builders import smime as b

FILES = [("PhuLuc1.xlsx", b"PK\x03\x04 a workbook, as far as extraction cares"), ("PhuLuc2.docx", b"PK\x03\x04 a doc")]
needs_openssl = pytest.mark.skipif(b.OPENSSL is None, reason="the openssl command is not installed")

Producer = Callable[[bytes, b.Identity], bytes]
DETACHED: dict[str, Producer] = {
    "cryptography": lambda entity, who: b.detached_signed(entity, who),
    "openssl smime": lambda entity, who: b.openssl(b.SMIME_DETACHED, entity, who),
}
OPAQUE: dict[str, Producer] = {
    "cryptography pkcs7-mime": lambda entity, who: b.opaque_signed(entity, who),
    "cryptography x-pkcs7-mime": lambda entity, who: b.opaque_signed(entity, who, x_type=True),
    "openssl smime -nodetach": lambda entity, who: b.openssl(b.SMIME_OPAQUE, entity, who),
    "openssl cms -stream (BER, indefinite lengths)": lambda entity, who: b.openssl(b.CMS_OPAQUE_STREAMED, entity, who),
}


def extract(raw: bytes, *, trusted: bool = True, limits: ExtractLimits | None = None) -> Extraction:
    cas = (b.government_pki().root.cert,) if trusted else ()
    return extract_attachments(parse_message(raw), limits or ExtractLimits(), cas)


def produce(producers: dict[str, Producer], name: str, entity: bytes, signer: b.Identity) -> bytes:
    if name.startswith("openssl") and b.OPENSSL is None:
        pytest.skip("the openssl command is not installed")
    return producers[name](entity, signer)


def assert_signed_by_the_test_signer(extraction: Extraction, result: str) -> None:
    signature = extraction.signature
    assert signature is not None and signature.result == result, signature
    assert (signature.organization, signature.common_name, signature.email) == (
        b.SIGNER_ORG,
        b.SIGNER_CN,
        b.SIGNER_EMAIL,
    )
    assert signature.subject is not None and f"O={b.SIGNER_ORG}" in signature.subject
    assert signature.issuer is not None and "Test Government CA - Cấp 2" in signature.issuer


# ---------------------------------------------------------------- reading what was signed


@pytest.mark.parametrize("producer", DETACHED)
def test_a_detached_signed_message_is_read_through_its_signed_part(producer: str) -> None:
    raw = produce(DETACHED, producer, b.content_entity(FILES), b.government_pki().signer)
    extraction = extract(raw)
    assert [(a.name, a.data) for a in extraction.attachments] == FILES  # smime.p7s is no attachment
    assert extraction.findings == [] and extraction.quarantine is None
    assert_signed_by_the_test_signer(extraction, "valid")
    assert extraction.signature is not None and extraction.signature.form == "detached"


@pytest.mark.parametrize("producer", OPAQUE)
def test_an_opaque_signed_message_is_taken_out_of_its_cms_structure_and_read(producer: str) -> None:
    raw = produce(OPAQUE, producer, b.content_entity(FILES), b.government_pki().signer)
    extraction = extract(raw)
    assert [(a.name, a.data) for a in extraction.attachments] == FILES
    assert extraction.findings == [] and extraction.quarantine is None
    assert_signed_by_the_test_signer(extraction, "valid")
    assert extraction.signature is not None and extraction.signature.form == "opaque"


def test_a_signed_message_stored_with_bare_line_feeds_still_verifies() -> None:
    """A Maildir keeps mail with LF line ends; the signer hashed CRLF."""
    raw = b.detached_signed(b.content_entity(FILES), b.government_pki().signer).replace(b"\r\n", b"\n")
    assert_signed_by_the_test_signer(extract(raw), "valid")


def test_a_signed_message_forwarded_as_an_attachment_is_read_and_its_signature_kept() -> None:
    from tests.builders.emails import forwarded

    inner = b.detached_signed(b.content_entity(FILES), b.government_pki().signer)
    extraction = extract(forwarded(inner))
    assert [a.name for a in extraction.attachments] == ["PhuLuc1.xlsx", "PhuLuc2.docx"]
    assert_signed_by_the_test_signer(extraction, "valid")


def test_a_signed_file_rather_than_a_signed_message_is_kept_as_that_file() -> None:
    der = b.opaque_der(b"%PDF-1.7 a signed scan", b.government_pki().signer)
    raw = b.pkcs7_mime(der, "application/pkcs7-mime", "signed-data").replace(b"smime.p7m", b"Cong van.pdf.p7m")
    extraction = extract(raw)
    assert [(a.name, a.data) for a in extraction.attachments] == [("Cong van.pdf", b"%PDF-1.7 a signed scan")]
    assert_signed_by_the_test_signer(extraction, "valid")


# ---------------------------------------------------------------- how far the signature holds


def test_a_signature_from_a_ca_that_is_not_configured_is_untrusted_and_no_finding() -> None:
    raw = b.opaque_signed(b.content_entity(FILES), b.government_pki().signer)
    extraction = extract(raw, trusted=False)
    assert_signed_by_the_test_signer(extraction, "untrusted")
    assert extraction.signature is not None and "unknown CA" in extraction.signature.detail
    assert extraction.findings == []


def test_a_root_carried_in_the_message_is_never_trusted() -> None:
    pki = b.government_pki()
    sends_its_root = b.Identity(pki.signer.cert, pki.signer.key, (pki.intermediate.cert, pki.root.cert))
    raw = b.detached_signed(b.content_entity(FILES), sends_its_root)
    assert_signed_by_the_test_signer(extract(raw, trusted=False), "untrusted")
    assert_signed_by_the_test_signer(extract(raw, trusted=True), "valid")


def test_a_ca_that_only_bears_the_trusted_cas_name_is_not_trusted() -> None:
    impostor = b.impostor_pki()
    assert impostor.root.cert.subject == b.government_pki().root.cert.subject
    raw = b.detached_signed(b.content_entity(FILES), impostor.signer)
    assert_signed_by_the_test_signer(extract(raw, trusted=True), "untrusted")


def test_an_expired_signer_certificate_is_not_valid() -> None:
    pki = b.government_pki()
    subject = pki.signer.cert.subject
    expired = b.issue(subject, pki.intermediate, ca=False, valid_days=(-400, -30))
    raw = b.opaque_signed(b.content_entity(FILES), b.Identity(expired.cert, expired.key, (pki.intermediate.cert,)))
    extraction = extract(raw)
    assert extraction.signature is not None and extraction.signature.result == "untrusted"
    assert "not valid on" in extraction.signature.detail


@pytest.mark.parametrize("form", ["detached", "opaque"])
def test_text_changed_after_signing_makes_the_signature_invalid_a_warning_and_the_files_still_read(form: str) -> None:
    entity = b.content_entity(FILES, body="Kính gửi Vụ TKNL,\n\nTotal tasks: 1.\n")
    if form == "detached":
        raw = b.tampered(b.detached_signed(entity, b.government_pki().signer), b"Total tasks: 1", b"Total tasks: 7")
    else:  # the content inside the CMS structure changed: re-encode the p7m with one byte of it altered
        der = b.opaque_der(entity, b.government_pki().signer)
        raw = b.pkcs7_mime(
            b.tampered(der, b"Total tasks: 1", b"Total tasks: 7"), "application/pkcs7-mime", "signed-data"
        )
    extraction = extract(raw)
    assert [a.name for a in extraction.attachments] == ["PhuLuc1.xlsx", "PhuLuc2.docx"]
    assert_signed_by_the_test_signer(extraction, "invalid")
    assert extraction.signature is not None and "altered" in extraction.signature.detail
    assert [(f.code, f.severity) for f in extraction.findings] == [("signature_invalid", "warning")]
    assert "không hợp lệ" in extraction.findings[0].message and b.SIGNER_ORG in extraction.findings[0].message


def test_a_signature_part_that_is_not_cms_is_an_invalid_signature_and_the_content_is_still_read() -> None:
    raw = b.detached_signed(b.content_entity(FILES), b.government_pki().signer)
    head, _, tail = raw.rpartition(b'filename="smime.p7s"\r\n\r\n')
    raw = (
        head
        + b'filename="smime.p7s"\r\n\r\n'
        + base64.encodebytes(b"not a signature at all")
        + b"\r\n--"
        + tail.split(b"--", 1)[1]
    )
    extraction = extract(raw)
    assert [a.name for a in extraction.attachments] == ["PhuLuc1.xlsx", "PhuLuc2.docx"]
    assert extraction.signature is not None and extraction.signature.result == "invalid"
    assert [f.code for f in extraction.findings] == ["signature_invalid"]


def test_a_p7m_that_is_not_cms_is_an_error_finding_not_an_exception() -> None:
    raw = b.pkcs7_mime(b"\x30\x82\xff\xff garbage", "application/pkcs7-mime", "signed-data")
    extraction = extract(raw)
    assert extraction.quarantine is None and extraction.attachments == []
    assert [(f.code, f.severity) for f in extraction.findings] == [("unreadable_signed_mail", "error")]


# ---------------------------------------------------------------- limits


def test_opaque_signing_counts_towards_the_nesting_limit() -> None:
    pki = b.government_pki()
    once = b.opaque_signed(b.content_entity(FILES), pki.signer)
    twice = b.opaque_signed(once.split(b"MIME-Version: 1.0\r\n", 1)[1], pki.signer)  # the signed message, signed again
    assert [a.name for a in extract(twice).attachments] == ["PhuLuc1.xlsx", "PhuLuc2.docx"]
    limited = extract(twice, limits=ExtractLimits(max_depth=1))
    assert limited.attachments == [] and [f.code for f in limited.findings] == ["nesting_too_deep"]


def test_a_p7m_larger_than_the_attachment_limit_is_refused_by_size() -> None:
    raw = b.opaque_signed(b.content_entity([("big.xlsx", bytes(300_000))]), b.government_pki().signer)
    extraction = extract(raw, limits=ExtractLimits(max_attachment_bytes=200_000))
    assert extraction.attachments == [] and [f.code for f in extraction.findings] == ["attachment_too_large"]


# ---------------------------------------------------------------- encrypted mail


@pytest.mark.parametrize("producer", ["cryptography", "openssl smime -encrypt"])
def test_encrypted_mail_is_an_error_of_its_own_asking_for_it_unencrypted(producer: str) -> None:
    someone_else = b.government_pki().signer  # encrypted for its recipient's certificate, which is not mailbot
    if producer == "cryptography":
        raw = b.encrypted(b.content_entity(FILES), someone_else.cert)
    else:
        if b.OPENSSL is None:
            pytest.skip("the openssl command is not installed")
        raw = b.openssl(b.SMIME_ENCRYPT, b.content_entity(FILES), someone_else)
    extraction = extract(raw)
    assert extraction.attachments == [] and extraction.signature is None
    assert [(f.code, f.severity) for f in extraction.findings] == [("encrypted_mail", "error")]
    assert "mã hóa" in extraction.findings[0].message
    assert "Xin gửi lại không mã hóa (có thể vẫn ký số)" in extraction.findings[0].hint


# ---------------------------------------------------------------- a PDF that is itself signed


def test_a_pdf_carrying_its_own_signature_is_listed_as_the_signed_copy() -> None:
    signed = b.signed_pdf(b.government_pki().signer)
    fields = PdfReader(io.BytesIO(signed)).get_fields() or {}
    assert [f.get("/FT") for f in fields.values()] == ["/Sig"]  # what pypdf sees: a signature field
    plain = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
    raw = b.detached_signed(
        b.content_entity([*FILES, ("PhuLuc1_DaKySo.pdf", signed), ("Scan.pdf", plain)]), b.government_pki().signer
    )
    extraction = extract(raw)
    assert extraction.signed_copies == ["PhuLuc1_DaKySo.pdf"]


def test_a_pdf_that_only_mentions_a_byte_range_is_not_a_signed_copy() -> None:
    text = b"%PDF-1.4\n% /Sig /ByteRange [0 10 20 30] written in a comment\n%%EOF\n"
    from tests.builders.emails import email_bytes

    assert extract(email_bytes(attachments=[("Note.pdf", text)])).signed_copies == []


# ---------------------------------------------------------------- configuration and the ledger


def _config(tmp_path: Path, ca_files: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        '[mailbox]\nkind = "maildir"\n\n[smtp]\nkind = "outbox"\nfrom = "Vụ TKNL <nop-de-xuat@example.org>"\n\n'
        f"[trust]\nca_files = {ca_files}\n",
        encoding="utf-8",
    )
    return config


def test_trusted_ca_files_are_read_relative_to_the_config_as_pem_bundles_or_der(tmp_path: Path) -> None:
    pki = b.government_pki()
    (tmp_path / "cas").mkdir()
    (tmp_path / "cas" / "national.pem").write_bytes(pki.root_pem() + pki.intermediate.cert_pem())
    (tmp_path / "cas" / "vnpt.cer").write_bytes(b.impostor_pki().root.cert.public_bytes(serialization.Encoding.DER))
    settings = load_settings(_config(tmp_path, '["cas/national.pem", "cas/vnpt.cer"]'))
    assert settings.trust.ca_files == [tmp_path / "cas" / "national.pem", tmp_path / "cas" / "vnpt.cer"]


def test_a_trusted_ca_file_that_does_not_load_is_named_by_check(tmp_path: Path) -> None:
    (tmp_path / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    config = _config(tmp_path, '["broken.pem"]')
    with pytest.raises(ConfigError):
        load_settings(config)
    result = CliRunner().invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 78 and "[trust.ca_files]" in result.output and "broken.pem" in result.output
    missing = CliRunner().invoke(main, ["--config", str(_config(tmp_path, '["nowhere.pem"]')), "check"])
    assert missing.exit_code == 78 and "nowhere.pem" in missing.output


def test_a_schema_3_ledger_gains_the_signature_and_keeps_its_versions_unsigned(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    for statements in (MIGRATIONS[2], MIGRATIONS[3]):
        for statement in statements:
            db.execute(statement)
    db.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    db.execute("INSERT INTO submissions VALUES (1, 'SXTD-0001', 'a@vien.example.vn', '2024-05-06T02:00:00+00:00')")
    db.execute(
        "INSERT INTO messages (id, mailbox_key, sha256, subject, received_at, recorded_at, action, submission_id,"
        " version) VALUES (1, 'k', 'h', 's', '2024-05-06T02:00:00+00:00', '2024-05-06T02:00:00+00:00',"
        " 'acknowledged', 1, 1)"
    )
    db.execute(
        "INSERT INTO versions VALUES (1, 1, 1, 1, '2024-05-06T02:00:00+00:00', 'accepted', 'Viện', '[]', '[]', '[]')"
    )
    db.commit()
    db.close()
    ledger = SqliteLedger(path)
    [old] = ledger.latest_versions()
    assert old["signature"] is None and old["signed_copies"] == [] and old["organization"] == "Viện"
    submission = ledger.submission_by_receipt("SXTD-0001", "a@vien.example.vn")
    assert submission is not None
    signature = {"result": "valid", "organization": b.SIGNER_ORG}
    ledger.add_version(
        submission, message_row=1, received_at=old["last_received_at"], status="accepted", organization="Viện",
        tasks=[], findings=[], files=[], signature=signature, signed_copies=["Ky so.pdf"],
    )  # fmt: skip
    [new] = ledger.latest_versions()
    assert new["version"] == 2 and new["signature"] == signature and new["signed_copies"] == ["Ky so.pdf"]
