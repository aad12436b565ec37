"""TLS contexts and logins shared by the IMAP and SMTP adapters."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from mailbot.adapters.oauth2 import TokenProvider, provider_from_settings
from mailbot.config import Server, read_secret
from mailbot.logs import get_logger


def client_context(server: Server, what: str) -> ssl.SSLContext:
    """Certificates verified against the system's CAs (and `ca_file`); turning that off is loud."""
    context = ssl.create_default_context(cafile=str(server.ca_file) if server.ca_file else None)
    if not server.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        get_logger().warning("tls_verification_off", server=what, host=server.host)
    return context


@dataclass(frozen=True)
class Login:
    """How to log in: a password, or OAuth2 tokens (XOAUTH2); neither means no AUTH (SMTP only)."""

    username: str | None
    password: str | None = None
    tokens: TokenProvider | None = None


def login_for(server: Server, config_path: Path, key: str) -> Login:
    if server.oauth2 is not None:
        tokens = provider_from_settings(server.oauth2, config_path, section=f"{key}.oauth2")
        return Login(server.username, tokens=tokens)
    if server.password_env or server.password_file:
        password = read_secret(config_path, env=server.password_env, file=server.password_file, key=f"{key}.password")
        return Login(server.username, password=password)
    return Login(server.username)
