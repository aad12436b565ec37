"""Shared fixtures: the seed call's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.validation.rules_file import load_rules
from mailbot.validation.schema import Rules

ROOT = Path(__file__).resolve().parents[1]
SEED_RULES = ROOT / "rules" / "sxtdbv-2024.toml"


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules(SEED_RULES)
