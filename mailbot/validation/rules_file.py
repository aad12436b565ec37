"""Loading the rules of a call from its TOML file."""

from __future__ import annotations

from pathlib import Path

from mailbot.tomlfile import load_toml_model, parse_toml_model
from mailbot.validation.schema import Rules

DEFAULT_RULES = "rules/sxtdbv-2024.toml"
APP_ROOT = Path(__file__).resolve().parents[2]


def default_rules_path() -> Path:
    """rules/sxtdbv-2024.toml in the working folder, else the one beside the installed package."""
    here = Path(DEFAULT_RULES)
    return here if here.is_file() else APP_ROOT / DEFAULT_RULES


def load_rules(path: Path | str) -> Rules:
    return load_toml_model(path, Rules)


def parse_rules(text: str, path: Path | str = "<rules>") -> Rules:
    return parse_toml_model(text, Rules, path)
