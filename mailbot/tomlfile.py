"""TOML files into typed models (the rules of a call, the configuration).

Every mistake is reported with the file, line and key: a TOML syntax error by its position, a
typo or bad value by locating the key that pydantic names in the source text.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from mailbot.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


def load_toml_model(path: Path | str, model: type[M]) -> M:
    """Read a TOML file into `model`; a ConfigError names the file, line and key of the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read the file: {exc}") from exc
    return parse_toml_model(text, model, path)


def parse_toml_model(text: str, model: type[M], path: Path | str = "<toml>") -> M:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.search(str(exc))
        line = int(match.group(1)) if match else None
        raise ConfigError(path, f"not valid TOML: {exc}", line=line) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors()
        # A misspelt key shows up as "unknown key" plus "missing": the unknown one is the cause.
        first = next((e for e in problems if e["type"] == "extra_forbidden"), problems[0])
        loc = _without_tags(data, tuple(first["loc"]))
        key = dotted(loc)
        reason = first["msg"]
        if first["type"] == "extra_forbidden":
            reason = "unknown key (a typo?)"
        if len(problems) > 1:
            reason += f" (and {len(problems) - 1} more problem(s))"
        raise ConfigError(path, reason, key=key, line=locate(text, loc)) from exc


def _without_tags(data: object, loc: tuple[object, ...]) -> tuple[object, ...]:
    """The path as written in the file: pydantic adds a tagged union's tag (e.g. "outbox") to it."""
    out: list[object] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def dotted(loc: tuple[object, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_HEADER = re.compile(r"^\s*\[(\[)?\s*([^\]]+?)\s*\]")


def locate(text: str, loc: tuple[object, ...]) -> int | None:
    """Best-effort line of the key at `loc` (e.g. ("columns", 3, "type")) in TOML source text.

    Follows table headers ([a.b] and the n-th [[columns]]), then finds the `key =` line inside the
    table that holds the key. Falls back to the nearest header line of that table.
    """
    wanted = [str(p) for p in loc]
    holder = wanted[:-1] if loc and not isinstance(loc[-1], int) else wanted
    key = wanted[-1] if loc and not isinstance(loc[-1], int) else None
    table: list[str] = []
    arrays: dict[str, int] = {}
    best: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            table = _table_path(header.group(2), bool(header.group(1)), arrays)
            if holder[: len(table)] == table:
                best = number
        elif table == holder and key is not None:
            found = _KEY.match(raw)
            if found and found.group(1).strip("\"'") == key:
                return number
    return best


_KEY = re.compile(r"^\s*([A-Za-z0-9_\"'-]+)\s*=")


def _table_path(name: str, is_array: bool, arrays: dict[str, int]) -> list[str]:
    """The path of a header, with the current index of every array of tables along it."""
    if is_array:
        arrays[name] = arrays.get(name, -1) + 1
        for other in [n for n in arrays if n.startswith(name + ".")]:
            del arrays[other]
    path: list[str] = []
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        path.append(parts[depth - 1])
        prefix = ".".join(parts[:depth])
        if prefix in arrays:
            path.append(str(arrays[prefix]))
    return path
