"""LibreOffice headless, as the tests use it to write office files the way offices write them.

`convert(source, "xlsx", out_dir)` turns a file (usually a flat ODF document, .fods/.fodt, that a
fixture module writes as XML) into another format with `soffice --convert-to`, in a profile folder
of its own. `soffice_path()` finds the program or returns None; tests that need it say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CONVERT_TIMEOUT = 180

#: LibreOffice's filter names for the formats the fixtures are saved in.
FILTERS = {
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "xls": "xls:MS Excel 97",
    "ods": "ods",
    "docx": "docx:MS Word 2007 XML",
    "doc": "doc:MS Word 97",
    "odt": "odt",
    "rtf": "rtf",
}


def soffice_path() -> str | None:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    for path in ("/usr/bin/soffice", "/usr/lib/libreoffice/program/soffice"):
        if os.access(path, os.X_OK):
            return path
    return None


def convert(source: Path, fmt: str, out_dir: Path) -> Path:
    """`source` saved by LibreOffice as `fmt` in `out_dir`; the path of the new file."""
    program = soffice_path()
    if program is None:
        raise RuntimeError("LibreOffice (soffice) is not installed: install libreoffice-calc-nogui and -writer-nogui")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mailbot-lo-") as profile:
        command = [
            program,
            "--headless",
            "--norestore",
            "--nologo",
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--convert-to",
            FILTERS.get(fmt, fmt),
            "--outdir",
            str(out_dir),
            str(source),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=CONVERT_TIMEOUT, check=False)
    target = out_dir / f"{source.stem}.{fmt}"
    if done.returncode != 0 or not target.is_file():
        raise RuntimeError(f"LibreOffice could not convert {source.name} to {fmt}: {done.stderr or done.stdout}")
    return target
