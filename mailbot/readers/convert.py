"""Legacy and OpenDocument files are read after LibreOffice converts them: .doc, .rtf, .odt and flat .fodt
become .docx, .ods and flat .fods become .xlsx, and the docx/xlsx readers read the result under the
original file's name. Sheet names and cell addresses survive the conversion, so a finding names the
file and the cell as the submitter sees them.

The converter is LibreOffice's `soffice.bin`, run once per file (`--convert-to`; about one second a file
with a warm profile, see bench/conversion.py), started by the process that reads attachments, which in
mailbot is the capped child of `mailbot.isolation`. It is confined like that child:

- it dies with its starter (PR_SET_PDEATHSIG) and has a process group of its own, killed on time-out;
  `soffice.bin` is started directly rather than through the `soffice` script, whose launcher (oosplash)
  would put one more process between the starter and the converter;
- its address space is capped (`memory_mb`), and it runs with `timeout_seconds` at most;
- it gets no network where the kernel allows an unprivileged network namespace, and never runs macros
  (a profile of its own with macro execution disabled and links never updated);
- its profile is made once per process and reused: a first start costs a few tenths of a second more.

Where LibreOffice is not installed, or `[convert] enabled = false`, such a file gets a finding asking
for .xlsx/.docx; it is never called damaged.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import resource
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mailbot.model import Finding, ReadResult
from mailbot.readers.sniff import CONVERTED, LABELS, kind_of, problem, too_complex, unreadable

#: LibreOffice's import filter for each converted kind: a file is never guessed into another format.
IMPORT_FILTERS = {
    "doc": "MS Word 97",
    "rtf": "Rich Text Format",
    "odt": "writer8",
    "fodt": "OpenDocument Text Flat XML",
    "ods": "calc8",
    "fods": "OpenDocument Spreadsheet Flat XML",
    "xls": "MS Excel 97",  # only for a marked copy: an .xls is read by xlrd, its marked copy is an .xlsx
}
EXPORT_FILTERS = {"docx": "docx:MS Word 2007 XML", "xlsx": "xlsx:Calc MS Excel 2007 XML"}
#: soffice.bin exits with this after making a new profile; the launcher would start it again.
RESTART_EXIT = 81

PR_SET_PDEATHSIG = 1
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

#: The profile: macros never run (security "very high", execution disabled), links are never updated
#: (Writer: 0 = never; Calc: 1 = never), no referer-less remote links.
PROFILE_SETTINGS = {
    ("org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel"): ("xs:int", "3"),
    ("org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution"): ("xs:boolean", "true"),
    ("org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks"): ("xs:boolean", "true"),
    ("org.openoffice.Office.Writer/Content/Update", "Link"): ("xs:int", "0"),
    ("org.openoffice.Office.Calc/Content/Update", "Link"): ("xs:int", "1"),
}


@dataclass(frozen=True)
class ConvertSettings:
    """How this process converts: `soffice` is a program name (looked up on PATH) or a path."""

    enabled: bool = True
    soffice: str = "soffice"
    timeout_seconds: float = 60.0
    memory_mb: int = 1024


@dataclass
class _State:
    settings: ConvertSettings
    root: Path | None = None  # where this process makes its folder (None: the system's temporary folder)
    home: Path | None = None  # this process's folder: the profile and one work folder per conversion


_state = _State(ConvertSettings())


def configure(settings: ConvertSettings, root: Path | None = None) -> None:
    """Set how this process converts; `root` is the folder its profile goes in (a reading worker's)."""
    _state.settings, _state.root, _state.home = settings, root, None


def current() -> ConvertSettings:
    """How this process converts now."""
    return _state.settings


def program(settings: ConvertSettings | None = None) -> str | None:
    """The converter to run: `soffice.bin` beside the configured `soffice` when there is one, else the
    configured program itself; None when it is not installed."""
    found = shutil.which((settings or _state.settings).soffice)
    if found is None:
        return None
    beside = Path(found).resolve().parent / "soffice.bin"
    return str(beside) if os.access(beside, os.X_OK) else found


def read_converted(kind: str, name: str, data: bytes) -> ReadResult:
    """`data`, a file of `kind` (doc, odt, ods, rtf, fodt, fods), read as the docx or xlsx LibreOffice makes of it."""
    target = CONVERTED[kind]
    converted, finding = convert(kind, name, data)
    if converted is None:
        return ReadResult(file=name, kind=kind_of(kind), findings=[finding] if finding else [])
    if target == "xlsx":
        from mailbot.readers.xlsx import read_xlsx

        result = read_xlsx(name, converted)
    else:
        from mailbot.readers.docx import read_docx

        result = read_docx(name, converted)
    result.converted = converted
    return result


def convert(kind: str, name: str, data: bytes, target: str | None = None) -> tuple[bytes | None, Finding | None]:
    """The docx/xlsx bytes LibreOffice makes of `data` (`target`: the format, by default the one `kind` is read
    as; an .xls becomes .xlsx only for its marked copy), or None and the finding that says why not."""
    settings = _state.settings
    converter = program(settings) if settings.enabled else None
    if converter is None:
        return None, cannot_convert(name, kind)
    work = Path(tempfile.mkdtemp(prefix="job-", dir=_home()))
    try:
        source = work / f"source.{kind}"
        source.write_bytes(data)
        target = target or CONVERTED[kind]
        outcome = _run_converter(converter, source, target, settings)
        out = work / f"source.{target}"
        if out.is_file():
            return out.read_bytes(), None
        return None, _failed(name, kind, outcome, settings)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_converter(converter: str, source: Path, target: str, settings: ConvertSettings) -> int | None:
    """Convert `source` next to itself; the exit status, None on time-out."""
    home = _home()
    command = [
        converter,
        "--headless",
        "--invisible",
        "--norestore",
        "--nologo",
        "--nodefault",
        "--nolockcheck",
        f"-env:UserInstallation={(home / 'profile').as_uri()}",
        f"--infilter={IMPORT_FILTERS[source.suffix[1:]]}",
        "--convert-to",
        EXPORT_FILTERS[target],
        "--outdir",
        str(source.parent),
        str(source),
    ]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(source.parent)}
    env |= {"LANG": "C.UTF-8", "SAL_USE_VCLPLUGIN": "svp"}
    status: int | None = RESTART_EXIT
    for _ in range(2):  # a new profile: soffice.bin makes it, exits 81, and converts on the next start
        status = run_confined(command, env, settings.timeout_seconds, settings.memory_mb)
        if status != RESTART_EXIT:
            break
    return status


def run_confined(command: list[str], env: dict[str, str], timeout: float, memory_mb: int) -> int | None:
    """Run `command` confined (see the module's doc); its exit status, None when it overran `timeout`."""
    process = subprocess.Popen(  # the converter, with fixed arguments, no shell
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group (killed whole), and no Ctrl-C from the terminal
        preexec_fn=_confinement(memory_mb * 1024 * 1024),  # set up before exec (see _confinement)
    )
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever is left of its group, helpers included
        process.wait()


def _confinement(memory_bytes: int) -> Callable[[], None]:
    """What the converter's process does between fork and exec: die with us, no network, capped memory."""
    libc = _libc()

    def confine() -> None:
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            libc.unshare(CLONE_NEWUSER | CLONE_NEWNET)  # refused inside some containers: the profile still applies
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return confine


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def _home() -> Path:
    """This process's converter folder with its profile, made on first use and kept until the process ends."""
    if _state.home is None or not _state.home.is_dir():
        if _state.root is not None:
            _state.root.mkdir(parents=True, exist_ok=True)
        home = Path(tempfile.mkdtemp(prefix=f"converter-{os.getpid()}-", dir=_state.root))
        _write_profile(home / "profile")
        atexit.register(shutil.rmtree, home, True)
        _state.home = home
    return _state.home


def _write_profile(profile: Path) -> None:
    items = "\n".join(
        f'<item oor:path="/{path}"><prop oor:name="{prop}" oor:op="fuse"><value>{value}</value></prop></item>'
        for (path, prop), (_, value) in PROFILE_SETTINGS.items()
    )
    user = profile / "user"
    user.mkdir(parents=True)
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f"{items}\n</oor:items>\n",
        encoding="utf-8",
    )


# --- findings -------------------------------------------------------------------------------------

_HINT_SAVE_AS = (
    "Vui lòng mở tệp bằng Excel hoặc Word (hoặc LibreOffice), chọn Lưu thành (Save As) › Excel Workbook (.xlsx) "
    "cho bảng tính, Word Document (.docx) cho văn bản, rồi gửi lại tệp vừa lưu."
)


def cannot_convert(name: str, kind: str) -> Finding:
    """The format is fine, but this installation cannot read it (no LibreOffice, or conversion turned off)."""
    return problem(
        "unsupported_format",
        name,
        f"Tệp “{name}” là {LABELS.get(kind, kind)}; hệ thống hiện chưa đọc được định dạng này.",
        _HINT_SAVE_AS,
    )


def _failed(name: str, kind: str, status: int | None, settings: ConvertSettings) -> Finding:
    if status is None:
        return too_complex(name, f"chuyển đổi định dạng quá {settings.timeout_seconds:g} giây")
    if status < 0 or status >= 128:  # killed by a signal: the memory cap, most likely
        return too_complex(name, f"chuyển đổi định dạng cần quá {settings.memory_mb} MB bộ nhớ")
    return unreadable(name, f"nội dung không đúng định dạng {LABELS.get(kind, kind)}")
