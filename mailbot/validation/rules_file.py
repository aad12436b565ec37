"""Loading the rules of a call from its TOML file."""

from __future__ import annotations

from pathlib import Path

from mailbot.shipped import DEFAULT_RULES_NAME, shipped_folder
from mailbot.tomlfile import load_toml_model, parse_toml_model
from mailbot.validation.schema import Rules


def default_rules_path() -> Path:
    """The shipped rules/sxtdbv-2024.toml (from the installed package; never the working folder)."""
    return shipped_folder("rules") / DEFAULT_RULES_NAME


def load_rules(path: Path | str) -> Rules:
    return load_toml_model(path, Rules)


def parse_rules(text: str, path: Path | str = "<rules>") -> Rules:
    return parse_toml_model(text, Rules, path)
