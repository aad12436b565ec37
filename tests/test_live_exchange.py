"""Opt-in: the EWS adapter against a real on-premises Exchange (the Graph twin is in tests/test_microsoft_graph.py).

Runs only when MAILBOT_LIVE_EWS_ENDPOINT, MAILBOT_LIVE_EWS_ADDRESS, MAILBOT_LIVE_EWS_USERNAME and
MAILBOT_LIVE_EWS_PASSWORD name a test mailbox (MAILBOT_LIVE_EWS_AUTH: ntlm, the default, or basic;
MAILBOT_LIVE_EWS_CA_FILE: a CA to trust). It changes no message: it lists the Inbox, fetches the oldest
message's MIME, resolves (or makes) the Processed and Quarantine folders and searches Sent Items.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NEEDED = (
    "MAILBOT_LIVE_EWS_ENDPOINT",
    "MAILBOT_LIVE_EWS_ADDRESS",
    "MAILBOT_LIVE_EWS_USERNAME",
    "MAILBOT_LIVE_EWS_PASSWORD",
)
MISSING = [name for name in NEEDED if not os.environ.get(name)]


@pytest.mark.skipif(bool(MISSING), reason=f"live EWS test: set {', '.join(MISSING)} (a test mailbox)")
def test_live_a_real_exchange_lists_fetches_and_searches_sent_items_without_changing_a_message(tmp_path: Path) -> None:
    from mailbot.adapters.ews import EwsMailbox, EwsSender
    from mailbot.config_exchange import EwsMailbox as EwsSettings
    from mailbot.config_exchange import EwsSender as EwsSenderSettings

    ca = os.environ.get("MAILBOT_LIVE_EWS_CA_FILE")
    settings = EwsSettings(
        kind="ews",
        service_endpoint=os.environ["MAILBOT_LIVE_EWS_ENDPOINT"],
        address=os.environ["MAILBOT_LIVE_EWS_ADDRESS"],
        username=os.environ["MAILBOT_LIVE_EWS_USERNAME"],
        password_env="MAILBOT_LIVE_EWS_PASSWORD",
        auth=os.environ.get("MAILBOT_LIVE_EWS_AUTH", "ntlm"),  # type: ignore[arg-type]
        ca_file=Path(ca) if ca else None,
    )
    box = EwsMailbox(settings, settings.password(tmp_path / "config.toml"), max_message_bytes=60_000_000)
    try:
        keys = box.list_new()
        if keys:
            fetched = box.fetch(keys[0])
            assert fetched is not None and fetched.key == keys[0] and fetched.raw
        box._run(lambda account: (box._intake(account), account.sent))
        sender = EwsSender(EwsSenderSettings(kind="ews", sender=settings.address), box.connection)
        assert box.connection.run(lambda account: _never_sent(sender, account)) is False
    finally:
        box.close()


def _never_sent(sender: object, account: object) -> bool:
    sender._sent_folder = account.sent  # type: ignore[attr-defined]
    return bool(sender.already_sent("<mailbot.never-sent@example.invalid>"))  # type: ignore[attr-defined]
