"""The data that ships with mailbot: the calls' rules (rules/) and the reply templates (replies/).

In the repository they live at the top, where admins find and edit them. An installed wheel carries them
inside the package, as mailbot/_shipped/<name>/ (pyproject.toml's hatch `force-include`), found here with
importlib.resources. In a dev checkout (an editable install) the package has no _shipped/ folder and the
top-level folders beside it are used. Never the current directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

Shipped = Literal["rules", "replies"]
DEFAULT_RULES_NAME = "sxtdbv-2024.toml"


def shipped_folder(name: Shipped) -> Path:
    """The installed package's copy of `name`, else the checkout's top-level folder of that name."""
    package = files("mailbot")
    if isinstance(package, Path):  # a package on disk (always so for a wheel pip installed)
        inside = package / "_shipped" / name
        if inside.is_dir():
            return inside
        return package.parent / name
    return Path(__file__).resolve().parent.parent / name  # pragma: no cover - mailbot imported from a zip
