"""Word 97-2003, RTF and OpenDocument files are read after LibreOffice converts them, in the capped reading
worker; a finding names the file and the cell as the submitter sees them; without LibreOffice the reply
asks for .xlsx/.docx and never calls the file damaged."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot.cli import main
from mailbot.demo_mail import VN, DemoMail
from mailbot.isolation import IsolatedReader
from mailbot.readers import read_file
from mailbot.readers.convert import ConvertSettings, run_confined
from mailbot.readers.sniff import sniff
from mailbot.validation.rules_file import default_rules_path, load_rules
from mailbot.validation.validate import validate_files
from tests.builders.emails import email_bytes
from tests.converter import converting, needs_libreoffice
from tests.mailflow import make_workspace
from tests.office_fixtures.plan14 import WRONG_SHEET

FIXTURES = Path(__file__).parent / "fixtures" / "office" / "plan14"
NO_CONVERTER = ConvertSettings(soffice="/nonexistent/soffice")
WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)
_NETWORK_NAMESPACES = bool(shutil.which("unshare")) and (
    subprocess.run(["unshare", "--user", "--net", "true"], check=False, capture_output=True).returncode == 0
)


def _bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _rows(name: str, as_name: str | None = None) -> list[tuple[str, list[list[object]]]]:
    result = read_file(as_name or name, _bytes(name))
    assert [f for f in result.findings if f.severity == "error"] == []
    return [(grid.sheet, grid.rows) for grid in result.grids]


# --- recognised by content -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("plan14.doc", "doc"),
        ("plan14.rtf", "rtf"),
        ("plan14.odt", "odt"),
        ("plan14.ods", "ods"),
        ("plan14.fodt", "fodt"),
        ("plan14.fods", "fods"),
    ],
)
def test_legacy_and_opendocument_files_are_recognised_by_their_content_whatever_their_name(
    name: str, kind: str
) -> None:
    verdict = sniff("tep-dinh-kem.bin", _bytes(name))
    assert (verdict.kind, verdict.read_as) == (kind, kind)


def test_an_rtf_saved_with_a_doc_extension_is_read_as_rtf_without_a_note() -> None:
    verdict = sniff("ke_hoach.doc", _bytes("plan14.rtf"))
    assert (verdict.read_as, verdict.findings) == ("rtf", [])


def test_a_password_protected_word_97_document_is_said_to_be_encrypted_and_not_converted() -> None:
    data = bytearray(_bytes("plan14.doc"))
    fib = next(at for at in range(512, len(data), 512) if data[at : at + 2] == b"\xec\xa5")
    data[fib + 11] |= 0x01  # fEncrypted
    result = read_file("ke_hoach.doc", bytes(data))
    assert [(f.code, f.file) for f in result.findings] == [("encrypted_file", "ke_hoach.doc")]


def test_a_password_protected_opendocument_file_is_said_to_be_encrypted() -> None:
    from tests.builders.sheets import zip_bytes

    manifest = b'<manifest:manifest><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/>'
    data = zip_bytes({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "META-INF/manifest.xml": manifest})
    assert [f.code for f in read_file("bang.ods", data).findings] == ["encrypted_file"]


# --- converted and read --------------------------------------------------------------------------


@needs_libreoffice
@pytest.mark.parametrize("name", ["plan14.ods", "plan14.fods"])
def test_an_opendocument_spreadsheet_reads_cell_for_cell_like_the_xlsx_saved_from_it(name: str) -> None:
    assert _rows(name) == _rows("plan14.xlsx")


@needs_libreoffice
@pytest.mark.parametrize("name", ["plan14.doc", "plan14.odt", "plan14.rtf", "plan14.fodt"])
def test_a_legacy_or_opendocument_text_reads_cell_for_cell_like_the_docx_saved_from_it(name: str) -> None:
    assert _rows(name) == _rows("plan14.docx")


@needs_libreoffice
@pytest.mark.parametrize(
    ("name", "sheet", "cell"), [("sai_tong.ods", WRONG_SHEET, "K4"), ("sai_tong.doc", "Bảng 1", "K3")]
)
def test_a_finding_in_a_converted_file_names_that_file_its_sheet_and_its_cell(name: str, sheet: str, cell: str) -> None:
    result = validate_files([(name, _bytes(name))], load_rules(default_rules_path()))
    [wrong] = [f for f in result.findings if f.code == "budget_sum_mismatch"]
    assert (wrong.file, wrong.sheet, wrong.cell) == (name, sheet, cell)


@needs_libreoffice
def test_a_converted_file_is_read_in_the_capped_worker_exactly_as_in_process() -> None:
    reader = IsolatedReader(memory_mb=1024, timeout_seconds=60, max_bytes=20_000_000, max_uncompressed=200_000_000)
    try:
        first = reader.read("plan14.doc", _bytes("plan14.doc"))
        again = reader.read("plan14.ods", _bytes("plan14.ods"))
    finally:
        reader.close()
    assert (first.kind, first.findings, [g.rows for g in first.grids]) == (
        "doc",
        [],
        [r for _, r in _rows("plan14.docx")],
    )
    assert [g.rows for g in again.grids] == [r for _, r in _rows("plan14.xlsx")]


@needs_libreoffice
def test_a_conversion_that_overruns_the_time_limit_is_a_finding_and_leaves_no_converter_running() -> None:
    reader = IsolatedReader(memory_mb=1024, timeout_seconds=60, max_bytes=20_000_000, max_uncompressed=200_000_000)
    try:
        assert reader.read("plan14.xlsx", _bytes("plan14.xlsx")).grids  # the worker is up
        reader.timeout = 0.4  # a conversion takes about a second
        result = reader.read("ke_hoach.doc", _bytes("plan14.doc"))
        folder = reader._folder
        assert [f.code for f in result.findings] == ["file_too_complex"] and "giây" in result.findings[0].message
        assert folder is not None
        deadline = time.monotonic() + 5
        while _processes_using(folder) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _processes_using(folder) == []
    finally:
        reader.close()


@needs_libreoffice
def test_the_converter_gets_the_time_limit_of_its_settings_and_the_file_a_finding() -> None:
    with converting(ConvertSettings(timeout_seconds=0.05)):
        result = read_file("ke_hoach.odt", _bytes("plan14.odt"))
    assert [f.code for f in result.findings] == ["file_too_complex"] and "0.05 giây" in result.findings[0].message


@needs_libreoffice
def test_a_file_that_is_not_what_its_content_claims_is_unreadable_not_guessed_into_text() -> None:
    from tests.builders.sheets import cfb_bytes

    result = read_file("thuyet_minh.doc", cfb_bytes(["WordDocument", "1Table"]))
    assert [(f.code, f.file) for f in result.findings] == [("unreadable_file", "thuyet_minh.doc")]
    assert result.grids == [] and result.text is None


@pytest.mark.skipif(not _NETWORK_NAMESPACES, reason="this kernel or container refuses unprivileged network namespaces")
def test_the_converter_runs_without_network_and_dies_with_its_group() -> None:
    probe = "import os; open(os.environ['OUT'], 'w').write(os.readlink('/proc/self/ns/net'))"
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"mailbot-netns-{os.getpid()}"
    status = run_confined([sys.executable, "-c", probe], {"OUT": str(out)}, 30, 1024)
    try:
        assert status == 0 and out.read_text() != os.readlink("/proc/self/ns/net")
    finally:
        out.unlink(missing_ok=True)
    assert run_confined([sys.executable, "-c", "import time; time.sleep(30)"], {}, 0.2, 1024) is None


# --- without LibreOffice ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["plan14.doc", "plan14.odt", "plan14.ods", "plan14.rtf", "plan14.fods"])
def test_without_libreoffice_the_format_is_said_to_be_unreadable_here_and_xlsx_or_docx_asked_for(name: str) -> None:
    with converting(NO_CONVERTER):
        [finding] = read_file(name, _bytes(name)).findings
    assert (finding.code, finding.severity, finding.file) == ("unsupported_format", "error", name)
    assert "hỏng" not in finding.message + finding.hint
    assert ".xlsx" in finding.hint and ".docx" in finding.hint


def test_with_conversion_turned_off_the_file_is_not_converted_even_where_libreoffice_is_installed() -> None:
    with converting(ConvertSettings(enabled=False)):
        [finding] = read_file("plan14.odt", _bytes("plan14.odt")).findings
    assert finding.code == "unsupported_format"


def test_a_doc_sent_where_libreoffice_is_missing_gets_a_correction_asking_for_xlsx_or_docx(tmp_path: Path) -> None:
    space = make_workspace(tmp_path)
    space.config.write_text(space.config.read_text() + '\n[convert]\nsoffice = "/nonexistent/soffice"\n')
    raw = email_bytes(attachments=[("PhuLuc1.doc", _bytes("plan14.doc"))])
    space.deliver([DemoMail("doc", raw, WHEN, "correction_sent")])
    assert space.cli("once").exit_code == 0
    [submission] = space.export()["submissions"]
    [finding] = [f for f in submission["findings"] if f["file"] == "PhuLuc1.doc"]
    assert finding["code"] == "unsupported_format" and submission["status"] == "needs_correction"
    [reply] = space.replies()
    text = reply.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "PhuLuc1.doc" in text and "chưa đọc được định dạng này" in text and ".docx" in text
    assert "hỏng" not in text


def test_check_warns_but_passes_when_libreoffice_is_missing(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[mailbox]\nkind = "maildir"\n\n[smtp]\nkind = "outbox"\nfrom = "nop@example.org"\n\n'
        '[convert]\nsoffice = "/nonexistent/soffice"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 0, result.output
    [line] = [row for row in result.output.splitlines() if row.startswith("warning:")]
    assert "LibreOffice" in line and "/nonexistent/soffice" in line and ".doc" in line


@pytest.mark.parametrize(
    ("text", "key"), [('soffice = ""', "convert.soffice"), ("timeout_seconds = 0", "convert.timeout_seconds")]
)
def test_a_bad_convert_setting_is_refused_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[mailbox]\nkind = "maildir"\n\n[smtp]\nkind = "outbox"\nfrom = "nop@example.org"\n\n[convert]\n{text}\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(config), "check"])
    assert result.exit_code == 78 and f"[{key}]" in result.output


# --- helpers ----------------------------------------------------------------------------------------


def _processes_using(folder: Path) -> list[int]:
    """Processes whose command line names `folder` (the worker's converter profile is inside it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(folder).encode() in command:
                found.append(int(entry.name))
    return found


@needs_libreoffice
def test_a_pdf_beside_a_converted_file_changes_nothing_but_the_missing_appendix_being_asked_for_editable() -> None:
    from tests.builders.sheets import pdf_bytes

    rules = load_rules(default_rules_path())
    files = [("sai_tong.ods", _bytes("sai_tong.ods"))]
    alone = validate_files(files, rules)
    beside = validate_files([*files, ("CongVan.pdf", pdf_bytes("Cong van"))], rules)
    assert [t.to_dict() for t in beside.tasks] == [t.to_dict() for t in alone.tasks] and len(alone.tasks) == 3
    codes = [f.code for f in alone.findings]
    assert [f.code for f in beside.findings] == [c if c != "missing_document" else "pdf_only" for c in codes]
