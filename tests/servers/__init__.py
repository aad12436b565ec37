"""Real mail servers for the tests, on loopback: a private Dovecot (IMAP) and an aiosmtpd sink (SMTP).

Plain helpers, no fixtures (those are in conftest.py). Every wait is bounded and every server started here
is stopped at interpreter exit at the latest.
"""

from tests.servers.certs import Certificates
from tests.servers.common import (
    CLIENT_TIMEOUT,
    DOVECOT_MISSING,
    HOST,
    START_TIMEOUT,
    STOP_TIMEOUT,
    CertName,
    ensure_dovecot,
    free_port,
    short_tempdir,
)
from tests.servers.dovecot import Dovecot, live_group_members
from tests.servers.smtp import Delivery, SmtpSink

__all__ = [
    "CLIENT_TIMEOUT",
    "DOVECOT_MISSING",
    "HOST",
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "CertName",
    "Certificates",
    "Delivery",
    "Dovecot",
    "SmtpSink",
    "ensure_dovecot",
    "free_port",
    "live_group_members",
    "short_tempdir",
]
