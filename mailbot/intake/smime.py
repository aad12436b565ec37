"""S/MIME: take the signed content out of a message, verify its signature, describe the signer.

CMS SignedData (RFC 5652) as mail carries it (RFC 8551): detached (`multipart/signed`, the signature in an
`application/pkcs7-signature` part) or opaque (`application/pkcs7-mime; smime-type=signed-data`, the content
inside the CMS structure). asn1crypto parses the structure; `cryptography` checks the digest, the signature over
the signed attributes and the certificate path. Certificates carried in the message are only candidates for the
path to a configured trusted CA, never trusted themselves. Nothing here raises on bad input.
"""

from __future__ import annotations

import datetime as dt
import email.generator
import email.policy
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from typing import Any, Literal

from asn1crypto import cms, core, pem  # untyped; the mypy override in pyproject.toml treats them as Any
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from mailbot.intake import certificates
from mailbot.model import SignatureInfo

Form = Literal["detached", "opaque"]
Kind = Literal["signed", "encrypted", "unreadable", "empty"]

PKCS7_MIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
PKCS7_SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})
_ENCRYPTED = frozenset({"enveloped_data", "authenticated_enveloped_data", "encrypted_data", "authenticated_data"})
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class Opened:
    """What an application/pkcs7-mime part holds: signed content, or something mailbot cannot read."""

    kind: Kind
    content: bytes | None = None
    signature: SignatureInfo | None = None


@dataclass(frozen=True)
class _Cert:
    """An embedded certificate in both libraries' forms: asn1crypto to match the signer, cryptography to verify."""

    asn1: Any
    cert: x509.Certificate


def is_pkcs7_mime(content_type: str, name: str | None) -> bool:
    return content_type in PKCS7_MIME_TYPES or (name or "").lower().endswith(".p7m")


def is_smime_signed(part: Message) -> bool:
    """A multipart/signed whose signature is S/MIME (not OpenPGP)."""
    protocol = str(part.get_param("protocol", "") or "").lower()
    return protocol in PKCS7_SIGNATURE_TYPES


# ---------------------------------------------------------------- opening and verifying


def open_pkcs7(data: bytes, trusted: Sequence[x509.Certificate] = ()) -> Opened:
    """The content of an opaque signed message and its verified signature; or why there is none to read."""
    try:
        info = cms.ContentInfo.load(_der(data))
        kind = info["content_type"].native
        if kind in _ENCRYPTED:
            return Opened("encrypted")
        if kind != "signed_data":
            return Opened("unreadable")
        signed = info["content"]
        content = _encapsulated(signed)
    except Exception:  # asn1crypto parses lazily and raises assorted errors (ValueError, TypeError, …) on bad DER
        return Opened("unreadable")
    if content is None:
        return Opened("empty")  # certs-only, or a detached signature sent alone
    return Opened("signed", content, _verified(signed, [content], "opaque", trusted))


def verify_detached(
    part: Message, signature: bytes, source: bytes | None, trusted: Sequence[x509.Certificate] = ()
) -> SignatureInfo:
    """The signature of a multipart/signed `part`, checked over its first part as it was sent."""
    try:
        info = cms.ContentInfo.load(_der(signature))
        if info["content_type"].native != "signed_data":
            return _unreadable("detached")
        signed = info["content"]
        candidates = signed_part_candidates(part, source)
    except Exception:  # see open_pkcs7
        return _unreadable("detached")
    return _verified(signed, candidates, "detached", trusted)


def _verified(
    signed: Any, candidates: Iterable[bytes], form: Form, trusted: Sequence[x509.Certificate]
) -> SignatureInfo:
    try:
        return _verify(signed, candidates, form, trusted)
    except Exception:  # a structure that parsed but holds nonsense (a wrong type deep inside) is unreadable
        return _unreadable(form)


def _verify(signed: Any, candidates: Iterable[bytes], form: Form, trusted: Sequence[x509.Certificate]) -> SignatureInfo:
    certs = _certificates(signed)
    infos = list(signed["signer_infos"])
    if not infos:
        return SignatureInfo("invalid", form, detail="the signature names no signer")
    signer_info = infos[0]
    signer = _signer(signer_info["sid"], certs)
    if signer is None:
        return SignatureInfo("invalid", form, detail="the signer's certificate is not in the message")
    problem: str | None = "the message was not signed"
    for content in candidates:
        problem = _check_signature(signer_info, content, signer.cert, signed)
        if not problem:
            break
    if problem:
        return certificates.describe(signer.cert, "invalid", form, problem)
    when = _signing_time(signer_info) or dt.datetime.now(dt.UTC)
    unknown = certificates.chain_problem(signer.cert, [c.cert for c in certs], trusted, when)
    return certificates.describe(signer.cert, "untrusted" if unknown else "valid", form, unknown or "")


def _unreadable(form: Form) -> SignatureInfo:
    return SignatureInfo("invalid", form, detail="the signature cannot be read")


def _der(data: bytes) -> bytes:
    """DER from DER, or from PEM ("-----BEGIN PKCS7-----"), which some clients write."""
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN") and pem.detect(stripped):
        return bytes(pem.unarmor(stripped)[2])
    return data


def _encapsulated(signed: Any) -> bytes | None:
    content = signed["encap_content_info"]["content"]
    if content.native is None:
        return None
    return bytes(content.contents if content.method == 0 else content.native)


def _certificates(signed: Any) -> list[_Cert]:
    found = []
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        try:
            found.append(_Cert(choice.chosen, x509.load_der_x509_certificate(choice.chosen.dump())))
        except Exception:  # one unreadable certificate among several is only skipped
            continue
    return found


def _signer(sid: Any, certs: list[_Cert]) -> _Cert | None:
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if cert.asn1.serial_number == wanted["serial_number"].native and cert.asn1.issuer == wanted["issuer"]:
                return cert
        elif cert.asn1.key_identifier is not None and cert.asn1.key_identifier == sid.chosen.native:
            return cert
    return None


def _attribute(signer_info: Any, name: str) -> Any:
    for attribute in signer_info["signed_attrs"] or []:
        if attribute["type"].native == name:
            return attribute["values"][0].native
    return None


def _signing_time(signer_info: Any) -> dt.datetime | None:
    when = _attribute(signer_info, "signing_time")
    return when if isinstance(when, dt.datetime) else None


def _check_signature(signer_info: Any, content: bytes, cert: x509.Certificate, signed: Any) -> str | None:
    """None when `content` is what was signed, by the key of `cert`; else what does not hold."""
    algorithm = _HASHES.get(signer_info["digest_algorithm"]["algorithm"].native)
    if algorithm is None:
        return f"unsupported digest algorithm {signer_info['digest_algorithm']['algorithm'].native}"
    attributes = signer_info["signed_attrs"]
    to_verify = content
    if not isinstance(attributes, core.Void):
        if _attribute(signer_info, "message_digest") != _digest(algorithm(), content):
            return "the content was altered after signing (message digest does not match)"
        if _attribute(signer_info, "content_type") != signed["encap_content_info"]["content_type"].native:
            return "the signed content type does not match"
        to_verify = b"\x31" + attributes.dump()[1:]  # signed over as a SET OF, not as the [0] it is carried in
    return _check_key(cert, bytes(signer_info["signature"].native), to_verify, algorithm(), signer_info)


def _digest(algorithm: hashes.HashAlgorithm, content: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(content)
    return digest.finalize()


def _check_key(
    cert: x509.Certificate, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm, signer_info: Any
) -> str | None:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, _rsa_padding(signer_info), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            return f"unsupported key type {type(key).__name__}"
    except InvalidSignature:
        return "the signature does not match (the signed attributes were altered, or the wrong key signed)"
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        return f"the signature cannot be checked: {exc}"
    return None


def _rsa_padding(signer_info: Any) -> padding.AsymmetricPadding:
    algorithm = signer_info["signature_algorithm"]
    if algorithm.signature_algo != "rsassa_pss":
        return padding.PKCS1v15()
    params = algorithm["parameters"]
    mgf_hash = _HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]
    return padding.PSS(mgf=padding.MGF1(mgf_hash()), salt_length=int(params["salt_length"].native))


def signed_part_candidates(part: Message, source: bytes | None) -> Iterator[bytes]:
    """The first part of a multipart/signed as it was sent (cut out of `source` by its boundary), then, only if
    that does not verify, as regenerated from the parse; in canonical form (CRLF line ends), as the signer hashed it."""
    boundary = part.get_boundary()
    if source is not None and boundary:
        cut = _between_boundaries(source, boundary.encode("utf-8", "surrogateescape"))
        if cut is not None:
            yield _canonical(cut)
    children = part.get_payload()
    if isinstance(children, list) and children and isinstance(children[0], Message):
        yield _canonical(_regenerated(children[0]))


def _between_boundaries(source: bytes, boundary: bytes) -> bytes | None:
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary) + rb"[ \t]*\r?\n")
    opening = delimiter.search(source)
    if opening is None:
        return None
    closing = re.compile(rb"\r?\n--" + re.escape(boundary)).search(source, opening.end())
    return source[opening.end() : closing.start()] if closing else None


def _regenerated(part: Message) -> bytes:
    policy = email.policy.default.clone(linesep="\r\n", refold_source="none", max_line_length=None)
    buffer = io.BytesIO()
    email.generator.BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(part)  # type: ignore[arg-type]  # typeshed wants EmailMessage; any Message flattens
    return buffer.getvalue()


def _canonical(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
