"""Certificates for S/MIME: the path from a signer to a trusted CA, the signer as people read it, the trusted CAs.

The path is built from the certificates a message carries, but only a configured CA ends it: a root that comes
in the message, or a CA that merely has a trusted CA's name, is never trusted.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtensionOID, NameOID

from mailbot.model import SignatureInfo, SignatureResult

_MAX_CHAIN = 8


def chain_problem(
    signer: x509.Certificate, pool: list[x509.Certificate], trusted: Sequence[x509.Certificate], when: dt.datetime
) -> str | None:
    """None when `signer` chains, through certificates of `pool`, to one of `trusted`; else why not."""
    anchors = {c.fingerprint(hashes.SHA256()): c for c in trusted}
    current, seen = signer, set[bytes]()
    for _ in range(_MAX_CHAIN):
        expired = _not_valid_at(current, when)
        if expired:
            return expired
        fingerprint = current.fingerprint(hashes.SHA256())
        if fingerprint in anchors:
            return None
        seen.add(fingerprint)
        anchor = _issuer(current, list(anchors.values()), anchor=True)
        if anchor is not None:
            return _not_valid_at(anchor, when)
        issuer = _issuer(current, [c for c in pool if c.fingerprint(hashes.SHA256()) not in seen], anchor=False)
        if issuer is None:
            return f"unknown CA: {current.issuer.rfc4514_string()} is not a trusted CA"
        current = issuer
    return "the certificate chain is too long"


def _issuer(cert: x509.Certificate, candidates: list[x509.Certificate], *, anchor: bool) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate.subject != cert.issuer or not _may_issue(candidate, anchor=anchor):
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return candidate
    return None


def _may_issue(cert: x509.Certificate, *, anchor: bool) -> bool:
    """A CA certificate; a configured anchor without basicConstraints (an old v1 root) is taken as one."""
    try:
        constraints = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except x509.ExtensionNotFound:
        return anchor
    except ValueError:  # a malformed extension
        return False
    return isinstance(constraints, x509.BasicConstraints) and constraints.ca


def _not_valid_at(cert: x509.Certificate, when: dt.datetime) -> str | None:
    if cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        return None
    return f"certificate {cert.subject.rfc4514_string()} is not valid on {when:%Y-%m-%d}"


# ---------------------------------------------------------------- the signer, the trusted CAs


def describe(
    cert: x509.Certificate, result: SignatureResult, form: Literal["detached", "opaque"], detail: str
) -> SignatureInfo:
    """The signer as the officer reads it: organisation, name, e-mail."""
    subject = cert.subject
    return SignatureInfo(
        result=result,
        form=form,
        subject=_safe(subject.rfc4514_string),
        organization=_name_part(subject, NameOID.ORGANIZATION_NAME),
        common_name=_name_part(subject, NameOID.COMMON_NAME),
        email=_name_part(subject, NameOID.EMAIL_ADDRESS) or _san_email(cert),
        issuer=_safe(cert.issuer.rfc4514_string),
        detail=detail,
    )


def _safe(render: Any) -> str | None:
    try:
        return str(render())
    except Exception:  # a name with an unreadable attribute value
        return None


def _name_part(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    try:
        values = name.get_attributes_for_oid(oid)
    except Exception:  # an attribute value that does not decode
        return None
    return str(values[0].value).strip() or None if values else None


def _san_email(cert: x509.Certificate) -> str | None:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    emails = names.get_values_for_type(x509.RFC822Name)
    return emails[0] if emails else None


@functools.lru_cache(maxsize=8)
def trusted_certificates(paths: tuple[Path, ...]) -> tuple[x509.Certificate, ...]:
    """The CA certificates in `paths` (PEM bundles or DER files); raises ValueError naming a file that does not load."""
    found: list[x509.Certificate] = []
    for path in paths:
        found.extend(load_ca_file(path))
    return tuple(found)


def load_ca_file(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from exc
