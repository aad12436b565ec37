"""Certificates for the TLS tests (trustme): a CA, a good, a wrong-name and an expired server cert."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme

from tests.servers.common import (
    HOST,
    CertName,
)


class Certificates:
    """A private CA, a server cert for localhost/127.0.0.1 and two bad ones, written as PEM files in `directory`.

    `good`: localhost + 127.0.0.1; `wrong`: wrong.example.invalid (hostname mismatch);
    `expired`: localhost + 127.0.0.1 but expired yesterday. All signed by the same CA.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="mailbot test CA")
        now = datetime.now(UTC)
        self._leaves: dict[str, trustme.LeafCert] = {
            "good": self.ca.issue_cert("localhost", HOST),
            "wrong": self.ca.issue_cert("wrong.example.invalid"),
            "expired": self.ca.issue_cert(
                "localhost", HOST, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
            ),
        }
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        for name, leaf in self._leaves.items():
            cert, key = self.pair(name)  # type: ignore[arg-type]
            cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
            leaf.private_key_pem.write_to_path(str(key))
            key.chmod(0o600)

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM) a client trusts: `ssl.create_default_context(cafile=...)`."""
        return self.directory / "ca.pem"

    def pair(self, name: CertName = "good") -> tuple[Path, Path]:
        """(certificate chain PEM, private key PEM) of a server certificate."""
        return self.directory / f"{name}-cert.pem", self.directory / f"{name}-key.pem"

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context (hostname checked) that trusts only the test CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def server_context(self, name: CertName = "good") -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert, key = self.pair(name)
        context.load_cert_chain(str(cert), str(key))
        return context


# --- Dovecot ----------------------------------------------------------------------------------------------
