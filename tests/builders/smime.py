"""Signed and encrypted mail made the way real clients make it, with a test CA chain of our own.

A root "Test Government CA" (standing for Ban Cơ yếu Chính phủ's), an intermediate, and a signer certificate
with O, CN and emailAddress, as a USB token from a Vietnamese CA carries them. Two independent producers:
`cryptography`'s PKCS7SignatureBuilder / PKCS7EnvelopeBuilder, and the `openssl smime` / `openssl cms` CLI.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.policy
import email.utils
import functools
import io
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.builders.emails import DEFAULT_DATE

SIGNER_ORG = "Viện Khoa học Thử nghiệm"
SIGNER_CN = "Nguyễn Văn A"
SIGNER_EMAIL = "a@vien.example.vn"
OPENSSL = shutil.which("openssl")
_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
_NOW = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Identity:
    """A certificate, its private key, and the certificates a client sends along with it."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@dataclass(frozen=True)
class Pki:
    root: Identity
    intermediate: Identity
    signer: Identity

    def root_pem(self) -> bytes:
        return self.root.cert_pem()


def _name(cn: str, org: str, email_address: str | None = None) -> x509.Name:
    parts = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ]
    if email_address:
        parts.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email_address))
    return x509.Name(parts)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issue(
    subject: x509.Name,
    issuer: Identity | None,
    *,
    ca: bool,
    key: rsa.RSAPrivateKey | None = None,
    valid_days: tuple[int, int] = (-30, 365),
) -> Identity:
    """A certificate for `subject`, signed by `issuer` (self-signed when None)."""
    key = key or _key()
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW + dt.timedelta(days=valid_days[0]))
        .not_valid_after(_NOW + dt.timedelta(days=valid_days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    return Identity(builder.sign(signing_key, hashes.SHA256()), key)


@functools.cache
def government_pki() -> Pki:
    """A root, an intermediate, and a signer who sends the intermediate with the signature (as clients do)."""
    return _pki("Test Government CA")


@functools.cache
def impostor_pki() -> Pki:
    """A CA calling itself "Test Government CA" with another key: its signers must never count as trusted."""
    return _pki("Test Government CA")


def _pki(root_name: str) -> Pki:
    root = issue(_name(root_name, "Ban Cơ yếu Chính phủ (thử nghiệm)"), None, ca=True)
    intermediate = issue(_name(f"{root_name} - Cấp 2", "Ban Cơ yếu Chính phủ (thử nghiệm)"), root, ca=True)
    signer = issue(_name(SIGNER_CN, SIGNER_ORG, SIGNER_EMAIL), intermediate, ca=False)
    return Pki(root, intermediate, Identity(signer.cert, signer.key, (intermediate.cert,)))


# ---------------------------------------------------------------- the signed content


BODY = "Kính gửi Vụ TKNL,\n\nViện xin gửi hồ sơ đề xuất (Total tasks: 1).\n"


def content_entity(attachments: Sequence[tuple[str, bytes]], body: str = BODY) -> bytes:
    """The MIME entity a client signs: the body (quoted-printable, 7-bit as RFC 8551 asks) and the attachments,
    without From/To/Subject."""
    entity = EmailMessage()
    entity.set_content(body, cte="quoted-printable")
    for name, data in attachments:
        maintype, _, subtype = _TYPES.get(name.rpartition(".")[2], "application/octet-stream").partition("/")
        entity.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    del entity["MIME-Version"]
    return entity.as_bytes(policy=email.policy.SMTP)


def mail_headers(
    *,
    sender: str = f"{SIGNER_CN} <{SIGNER_EMAIL}>",
    to: str = "nop-de-xuat@example.org",
    subject: str = "Đề xuất nhiệm vụ 2024 (đã ký số)",
    message_id: str | None = None,
    date: dt.datetime = DEFAULT_DATE,
) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = email.utils.format_datetime(date)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="vien.example.vn")
    return msg.as_bytes(policy=email.policy.SMTP).split(b"\r\n\r\n", 1)[0] + b"\r\n"


def detached_signed(entity: bytes, signer: Identity, **headers: object) -> bytes:
    """multipart/signed with an application/pkcs7-signature part, by cryptography's PKCS7SignatureBuilder."""
    smime = _builder(entity, signer).sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
    return mail_headers(**headers) + smime.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def opaque_der(entity: bytes, signer: Identity) -> bytes:
    """CMS SignedData carrying `entity` inside it (encapContentInfo), by cryptography's PKCS7SignatureBuilder."""
    return _builder(entity, signer).sign(serialization.Encoding.DER, [])


def opaque_signed(entity: bytes, signer: Identity, *, x_type: bool = False, **headers: object) -> bytes:
    """application/pkcs7-mime; smime-type=signed-data; name=smime.p7m (x-pkcs7-mime as old Outlook writes it)."""
    ctype = "application/x-pkcs7-mime" if x_type else "application/pkcs7-mime"
    return pkcs7_mime(opaque_der(entity, signer), ctype, "signed-data", **headers)


def pkcs7_mime(der: bytes, ctype: str, smime_type: str, **headers: object) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"\r\n")
    return (
        mail_headers(**headers)
        + b"MIME-Version: 1.0\r\n"
        + f'Content-Type: {ctype}; smime-type={smime_type}; name="smime.p7m"\r\n'.encode()
        + b"Content-Transfer-Encoding: base64\r\n"
        + b'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
        + body
    )


def _builder(entity: bytes, signer: Identity) -> pkcs7.PKCS7SignatureBuilder:
    builder = pkcs7.PKCS7SignatureBuilder().set_data(entity).add_signer(signer.cert, signer.key, hashes.SHA256())
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    return builder


def encrypted(entity: bytes, recipient: x509.Certificate, **headers: object) -> bytes:
    """Enveloped data (smime-type=enveloped-data) for a recipient that is not mailbot, by PKCS7EnvelopeBuilder."""
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(entity).add_recipient(recipient)
    smime = builder.encrypt(serialization.Encoding.SMIME, [])
    return mail_headers(**headers) + smime.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# ---------------------------------------------------------------- the second producer: the openssl CLI


def openssl(args: Sequence[str], entity: bytes, identity: Identity, **headers: object) -> bytes:
    """`openssl smime|cms <args>` run over `entity` with `identity`'s files; the mail headers put in front."""
    assert OPENSSL is not None
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "in.eml").write_bytes(entity)
        (root / "cert.pem").write_bytes(identity.cert_pem())
        (root / "key.pem").write_bytes(identity.key_pem())
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in identity.chain)
        (root / "chain.pem").write_bytes(chain)
        command = [OPENSSL, args[0], "-in", str(root / "in.eml"), "-out", str(root / "out.eml"), *args[1:]]
        command = [
            part.format(cert=root / "cert.pem", key=root / "key.pem", chain=root / "chain.pem") for part in command
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        produced = (root / "out.eml").read_bytes()
    return mail_headers(**headers) + produced.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


_SIGN = ["-sign", "-signer", "{cert}", "-inkey", "{key}", "-certfile", "{chain}"]
SMIME_DETACHED = ["smime", *_SIGN, "-md", "sha256"]
SMIME_OPAQUE = [*SMIME_DETACHED, "-nodetach"]
CMS_OPAQUE_STREAMED = ["cms", *_SIGN, "-nodetach", "-stream"]
SMIME_ENCRYPT = ["smime", "-encrypt", "-aes256", "{cert}"]


def tampered(raw: bytes, old: bytes, new: bytes) -> bytes:
    """`raw` with the signed text changed after signing, as a relay or an attacker might."""
    assert raw.count(old) == 1, "the text to change must occur once"
    return raw.replace(old, new)


# ---------------------------------------------------------------- a PDF that carries its own signature


def signed_pdf(signer: Identity, reason: str = "Đã ký số") -> bytes:
    """A one-page PDF signed the way signing tools sign one: a /Sig field whose /ByteRange covers the whole file
    but the hex /Contents, which holds a detached CMS signature over those ranges."""
    from pypdf import PdfWriter
    from pypdf.generic import (
        ArrayObject,
        ByteStringObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    placeholder = 8192
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    signature = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Sig"),
            NameObject("/Filter"): NameObject("/Adobe.PPKLite"),
            NameObject("/SubFilter"): NameObject("/adbe.pkcs7.detached"),
            NameObject("/ByteRange"): ArrayObject([NumberObject(n) for n in (0, 9_999_999_999, 9_999_999_999, 9_999)]),
            NameObject("/Contents"): ByteStringObject(b"\0" * placeholder),
            NameObject("/Reason"): TextStringObject(reason),
            NameObject("/Name"): TextStringObject(SIGNER_CN),
        }
    )
    field = DictionaryObject(
        {
            NameObject("/FT"): NameObject("/Sig"),
            NameObject("/T"): TextStringObject("Chữ ký số"),
            NameObject("/V"): writer._add_object(signature),
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/Rect"): ArrayObject([NumberObject(0)] * 4),
            NameObject("/F"): NumberObject(132),
        }
    )
    field_ref = writer._add_object(field)
    page[NameObject("/Annots")] = ArrayObject([field_ref])
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject([field_ref]), NameObject("/SigFlags"): NumberObject(3)}
    )
    buffer = io.BytesIO()
    writer.write(buffer)
    return _sign_byte_ranges(buffer.getvalue(), placeholder, signer)


def _sign_byte_ranges(pdf: bytes, placeholder: int, signer: Identity) -> bytes:
    gap = b"<" + b"00" * placeholder + b">"
    start = pdf.index(gap)
    end = start + len(gap)
    ranges = re.search(rb"/ByteRange\s*\[[^\]]*\]", pdf)
    assert ranges is not None
    filled = f"/ByteRange [0 {start} {end} {len(pdf) - end}]".encode().ljust(len(ranges.group(0)))
    pdf = pdf[: ranges.start()] + filled + pdf[ranges.end() :]
    signed = pkcs7.PKCS7SignatureBuilder().set_data(pdf[:start] + pdf[end:])
    signed = signed.add_signer(signer.cert, signer.key, hashes.SHA256())
    der = signed.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    assert len(der) <= placeholder
    contents = b"<" + der.hex().encode().ljust(2 * placeholder, b"0") + b">"
    return pdf[:start] + contents + pdf[end:]
