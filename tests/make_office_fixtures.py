"""Write the office fixtures with LibreOffice: `python -m tests.make_office_fixtures [--out DIR] [NAME...]`.

Each module in tests/office_fixtures/ has `FIXTURES: dict[str, Callable[[Path], list[Path]]]`: a fixture
name → a function that writes its source (flat ODF XML, or bytes) into a work folder and returns the files
LibreOffice made from it (tests.office.convert). The files land in tests/fixtures/office/<module>/ and are
committed, so the suite reads them without LibreOffice; rerun this after changing a fixture module.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests import office_fixtures

OUT = Path(__file__).resolve().parent / "fixtures" / "office"

Maker = Callable[[Path], list[Path]]


def makers() -> dict[str, dict[str, Maker]]:
    """module name → its FIXTURES."""
    found: dict[str, dict[str, Maker]] = {}
    for info in pkgutil.iter_modules(office_fixtures.__path__):
        module = importlib.import_module(f"tests.office_fixtures.{info.name}")
        found[info.name] = getattr(module, "FIXTURES", {})
    return found


def make(out: Path = OUT, only: set[str] | None = None) -> list[Path]:
    written: list[Path] = []
    for module, fixtures in makers().items():
        for name, maker in fixtures.items():
            if only and name not in only and module not in only:
                continue
            with tempfile.TemporaryDirectory(prefix="mailbot-fixture-") as work:
                for path in maker(Path(work)):
                    target = out / module / path.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
                    written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("names", nargs="*", help="fixture or module names (default: all)")
    args = parser.parse_args()
    for path in make(args.out, set(args.names) or None):
        print(path)


if __name__ == "__main__":
    main()
