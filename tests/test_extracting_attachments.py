"""extract_attachments: the submitted files come out of a message in memory, within limits, with safe names."""

from __future__ import annotations

import base64
import builtins
import io
import os
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import pytest

from mailbot.intake import ExtractLimits, extract_attachments, parse_message
from mailbot.model import Extraction
from tests.builders.emails import email_bytes, forwarded, winmail_dat, zip_of
from tests.builders.sheets import xlsx_bytes

NAME = "Tệp đề xuất.xlsx"


def extract(raw: bytes, limits: ExtractLimits | None = None) -> Extraction:
    inbound = parse_message(raw)
    return extract_attachments(inbound) if limits is None else extract_attachments(inbound, limits)


def names(raw: bytes, limits: ExtractLimits | None = None) -> list[str]:
    return [a.name for a in extract(raw, limits).attachments]


def codes(extraction: Extraction) -> list[str]:
    return [f.code for f in extraction.findings]


def with_part(headers: str, data: bytes = b"PK\x03\x04") -> bytes:
    """A multipart message whose second part has exactly `headers` (for hand-written parameter encodings)."""
    return (
        b"From: a@vien.example.vn\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nKinh gui\r\n"
        b"--B\r\n" + headers.encode() + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"" + base64.b64encode(data) + b"\r\n--B--\r\n"
    )


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    "headers",
    [
        "Content-Disposition: attachment; filename*=utf-8''T%E1%BB%87p%20%C4%91%E1%BB%81%20xu%E1%BA%A5t.xlsx",
        "Content-Disposition: attachment;\r\n filename*0*=utf-8''T%E1%BB%87p%20%C4%91;"
        "\r\n filename*1*=%E1%BB%81%20xu%E1%BA%A5t.xlsx",
        'Content-Disposition: attachment; filename="=?utf-8?B?VOG7h3AgxJHhu4EgeHXhuqV0Lnhsc3g=?="',
        'Content-Type: application/octet-stream; name="=?utf-8?Q?T=E1=BB=87p_=C4=91=E1=BB=81_xu=E1=BA=A5t.xlsx?="',
    ],
    ids=["rfc2231", "rfc2231 continuations", "rfc2047 in quotes", "content-type name"],
)
def test_every_filename_encoding_decodes_to_the_same_nfc_name(headers: str) -> None:
    assert names(with_part(headers)) == [NAME]


def test_an_nfd_filename_from_macos_comes_out_nfc() -> None:
    nfd = unicodedata.normalize("NFD", NAME)
    assert nfd != NAME
    assert names(email_bytes(attachments=[(nfd, b"x")])) == [NAME]


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../evil.xlsx", "evil.xlsx"),
        ("..\\..\\evil.xlsx", "evil.xlsx"),
        ("C:\\Users\\x\\Danh mục.xlsx", "Danh mục.xlsx"),
        ("CON.xlsx", "_CON.xlsx"),
        ("lpt1", "_lpt1"),
        ("com9.tar.gz", "_com9.tar.gz"),
        ("Danh mục.xlsx. . .", "Danh mục.xlsx"),
        ("Danh\x00 mục\x07\x1b.xlsx", "Danh mục.xlsx"),
        ("\u202excod.exe", "xcod.exe"),
        ("console.xlsx", "console.xlsx"),
    ],
)
def test_dangerous_filenames_are_made_safe_to_show(given: str, shown: str) -> None:
    assert names(email_bytes(attachments=[(given, b"x")])) == [shown]


def test_a_300_character_name_is_cut_to_150_keeping_its_extension() -> None:
    [name] = names(email_bytes(attachments=[("đ" * 300 + ".xlsx", b"x")]))
    assert len(name) == 150
    assert name.endswith("đđ.xlsx")


def test_a_name_that_sanitises_to_nothing_gets_a_numbered_name() -> None:
    assert names(email_bytes(attachments=[("../..", b"x")])) == ["tệp-đính-kèm-1"]


def test_an_unnamed_spreadsheet_part_gets_a_name_from_its_type() -> None:
    raw = with_part("Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert names(raw) == ["tệp-đính-kèm-1.xlsx"]


def test_the_body_and_unnamed_inline_images_are_not_attachments() -> None:
    raw = email_bytes(body="Kính gửi")
    assert names(raw) == []
    assert names(with_part("Content-Type: image/png\r\nContent-Disposition: inline", b"\x89PNG")) == []


def test_an_attachment_keeps_its_bytes_and_type() -> None:
    [attachment] = extract(email_bytes(attachments=[("Phụ lục 2.docx", b"PK\x03\x04docx")])).attachments
    assert attachment.data == b"PK\x03\x04docx"
    assert attachment.content_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# ---------------------------------------------------------------- sizes


def test_an_attachment_over_the_size_limit_is_dropped_with_a_finding_naming_the_limit() -> None:
    raw = email_bytes(attachments=[("Lớn.pdf", b"%" * 1_500_000), ("Nhỏ.xlsx", b"x")])
    extraction = extract(raw, ExtractLimits(max_attachment_bytes=1_000_000))
    assert [a.name for a in extraction.attachments] == ["Nhỏ.xlsx"]
    [finding] = extraction.findings
    assert (finding.code, finding.severity, finding.file) == ("attachment_too_large", "error", "Lớn.pdf")
    assert "1 MB" in finding.message
    assert "1,5 MB" in finding.message
    assert finding.hint


def test_attachments_past_the_total_limit_are_dropped() -> None:
    files = [(f"tệp {i}.xlsx", b"x" * 400) for i in range(4)]
    extraction = extract(email_bytes(attachments=files), ExtractLimits(max_total_bytes=1000))
    assert [a.name for a in extraction.attachments] == ["tệp 0.xlsx", "tệp 1.xlsx"]
    assert codes(extraction) == ["attachment_too_large", "attachment_too_large"]
    assert "Tổng dung lượng" in extraction.findings[0].message


# ---------------------------------------------------------------- zip archives


def test_a_zip_is_unpacked_in_memory_with_safe_names_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = zip_of(
        [
            ("../../evil.xlsx", b"one"),
            ("C:\\x\\y.xlsx", b"two"),
            ("hồ sơ/Phụ lục 2.docx", b"three"),
            ("__MACOSX/hồ sơ/._Phụ lục 2.docx", b"junk"),
            ("hồ sơ/.DS_Store", b"junk"),
            ("hồ sơ/trống/", b""),
        ]
    )
    raw = email_bytes(attachments=[("hồ sơ.zip", archive)])
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))

    def no_files(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file was opened")

    for module, function in [
        (builtins, "open"),
        (io, "open"),
        (os, "open"),
        (tempfile, "mkstemp"),
        (tempfile, "mkdtemp"),
    ]:
        monkeypatch.setattr(module, function, no_files)
    extraction = extract(raw)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == before
    assert [(a.name, a.data) for a in extraction.attachments] == [
        ("evil.xlsx", b"one"),
        ("y.xlsx", b"two"),
        ("Phụ lục 2.docx", b"three"),
    ]
    assert extraction.findings == []


def test_a_utf8_member_name_stored_without_the_utf8_flag_is_read_as_utf8() -> None:
    class LegacyName(zipfile.ZipInfo):
        def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile's own hook
            return self.filename.encode("utf-8"), self.flag_bits  # as old macOS and Linux zip tools do

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(LegacyName("Danh mục.xlsx"), b"x")
    assert names(email_bytes(attachments=[("a.zip", buffer.getvalue())])) == ["Danh mục.xlsx"]


def test_a_zip_bomb_is_refused_from_its_directory_without_reading_it(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = zip_of([("bom.xlsx", bytes(50_000_000))])
    assert len(bomb) < 100_000

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("a member was read")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)
    extraction = extract(email_bytes(attachments=[("bom.zip", bomb)]))
    assert extraction.attachments == []
    [finding] = extraction.findings
    assert (finding.code, finding.severity, finding.file) == ("archive_too_large", "error", "bom.zip")
    assert "tệp nén quá lớn hoặc quá phức tạp" in finding.message
    assert "100:1" in finding.message


def test_a_zip_with_too_many_members_is_refused_whole() -> None:
    archive = zip_of([(f"tệp {i}.xlsx", b"x") for i in range(6)])
    extraction = extract(email_bytes(attachments=[("nhiều.zip", archive)]), ExtractLimits(max_zip_members=5))
    assert extraction.attachments == []
    assert codes(extraction) == ["archive_too_large"]
    assert "6 tệp" in extraction.findings[0].message


def test_a_zip_declaring_too_much_uncompressed_data_is_refused_whole() -> None:
    archive = zip_of([("a.xlsx", b"a" * 600), ("b.xlsx", b"b" * 600)])
    extraction = extract(email_bytes(attachments=[("a.zip", archive)]), ExtractLimits(max_zip_uncompressed=1000))
    assert (extraction.attachments, codes(extraction)) == ([], ["archive_too_large"])


def test_a_member_bigger_than_a_file_may_be_stops_the_streamed_read() -> None:
    archive = zip_of([("nhỏ.xlsx", b"ok"), ("to.xlsx", b"a" * 5000)])
    assert len(archive) < 4000
    extraction = extract(email_bytes(attachments=[("a.zip", archive)]), ExtractLimits(max_attachment_bytes=4000))
    assert (extraction.attachments, codes(extraction)) == ([], ["archive_too_large"])


def test_an_xlsx_attachment_is_kept_whole_not_unpacked() -> None:
    book = xlsx_bytes([["STT", "Tên nhiệm vụ"], [1, "Nhiệm vụ A"]])
    for name in ("Danh mục.xlsx", "Danh mục.zip"):
        extraction = extract(email_bytes(attachments=[(name, book)]))
        assert [(a.name, a.data) for a in extraction.attachments] == [(name, book)]


def test_a_zip_inside_a_zip_is_unpacked() -> None:
    inner = zip_of([("Danh mục.xlsx", b"x")])
    assert names(email_bytes(attachments=[("ngoài.zip", zip_of([("trong.zip", inner)]))])) == ["Danh mục.xlsx"]


def test_zips_nested_deeper_than_the_limit_stop_with_a_warning() -> None:
    archive = zip_of([("Danh mục.xlsx", b"x")])
    for level in range(3):
        archive = zip_of([(f"cấp {level}.zip", archive)])
    extraction = extract(email_bytes(attachments=[("hồ sơ.zip", archive)]))
    assert extraction.attachments == []
    [finding] = extraction.findings
    assert (finding.code, finding.severity, finding.file) == ("nesting_too_deep", "warning", "cấp 0.zip")


def test_a_corrupt_zip_is_unreadable() -> None:
    extraction = extract(email_bytes(attachments=[("hỏng.zip", zip_of([("a.xlsx", b"x" * 100)])[:60])]))
    assert extraction.attachments == []
    assert [(f.code, f.file) for f in extraction.findings] == [("unreadable_file", "hỏng.zip")]


def test_an_encrypted_zip_member_is_reported_for_the_archive() -> None:
    archive = bytearray(zip_of([("bí mật.xlsx", b"x"), ("công khai.xlsx", b"y")]))
    local, central = archive.index(b"PK\x03\x04"), archive.index(b"PK\x01\x02")
    archive[local + 6] |= 0x1  # the "encrypted" flag of the first member, in its local header
    archive[central + 8] |= 0x1  # and in the central directory
    extraction = extract(email_bytes(attachments=[("hồ sơ.zip", bytes(archive))]))
    assert [a.name for a in extraction.attachments] == ["công khai.xlsx"]
    assert [(f.code, f.file) for f in extraction.findings] == [("encrypted_file", "hồ sơ.zip")]


# ---------------------------------------------------------------- forwarded messages and winmail.dat


def test_a_forwarded_messages_attachment_is_found() -> None:
    inner = email_bytes(attachments=[("Danh mục.xlsx", b"PK\x03\x04inner")])
    extraction = extract(forwarded(inner, sender="Văn phòng <vp@vien.example.vn>"))
    assert [(a.name, a.data) for a in extraction.attachments] == [("Danh mục.xlsx", b"PK\x03\x04inner")]


def test_forwarding_nested_deeper_than_the_limit_stops_with_a_warning() -> None:
    raw = email_bytes(attachments=[("Danh mục.xlsx", b"x")])
    for _ in range(3):
        raw = forwarded(raw)
    assert names(raw) == ["Danh mục.xlsx"]
    extraction = extract(forwarded(raw))
    assert extraction.attachments == []
    assert [(f.code, f.severity) for f in extraction.findings] == [("nesting_too_deep", "warning")]


def test_a_winmail_dat_is_unpacked() -> None:
    book = xlsx_bytes([["STT"], [1]])
    raw = email_bytes(attachments=[("winmail.dat", winmail_dat([("Danh mục.xlsx", book)]))])
    extraction = extract(raw)
    assert [(a.name, a.data) for a in extraction.attachments] == [("Danh mục.xlsx", book)]
    assert extraction.findings == []


def test_files_inside_a_winmail_dat_count_towards_the_total_limit() -> None:
    raw = email_bytes(attachments=[("winmail.dat", winmail_dat([("Một.xlsx", b"x" * 800), ("Hai.xlsx", b"y" * 800)]))])
    extraction = extract(raw, ExtractLimits(max_total_bytes=1000))
    assert [a.name for a in extraction.attachments] == ["Một.xlsx"]
    assert [(f.code, f.file) for f in extraction.findings] == [("attachment_too_large", "Hai.xlsx")]


def test_a_winmail_dat_naming_its_file_in_a_windows_code_page_still_yields_the_file() -> None:
    dat = winmail_dat([("Báo cáo.xls", b"data")], name_encoding="cp1252")
    [attachment] = extract(email_bytes(attachments=[("winmail.dat", dat)])).attachments
    assert (attachment.name, attachment.data) == ("B\ufffdo c\ufffdo.xls", b"data")


def test_an_unreadable_winmail_dat_asks_for_a_message_without_rich_text() -> None:
    extraction = extract(email_bytes(attachments=[("winmail.dat", b"\x78\x9f\x3e\x22\x01")]))
    assert extraction.attachments == []
    [finding] = extraction.findings
    assert (finding.code, finding.file) == ("unreadable_file", "winmail.dat")
    assert "không dùng Rich Text" in finding.hint


# ---------------------------------------------------------------- MIME that cannot be trusted


def test_an_unclosed_multipart_boundary_quarantines_the_message() -> None:
    raw = email_bytes(attachments=[("Danh mục.xlsx", b"x")])
    boundary = raw.rsplit(b"\r\n--", 1)[1].split(b"--")[0]
    truncated = raw.replace(b"--" + boundary + b"--", b"")
    extraction = extract(truncated)
    assert extraction.quarantine is not None
    assert "CloseBoundaryNotFoundDefect" in extraction.quarantine
    assert (extraction.attachments, extraction.findings) == ([], [])


def test_a_multipart_without_its_start_boundary_quarantines_the_message() -> None:
    raw = email_bytes(attachments=[("Danh mục.xlsx", b"x")]).replace(b'boundary="', b'boundary="other', 1)
    assert "StartBoundaryNotFoundDefect" in (extract(raw).quarantine or "")


def test_a_message_that_could_not_be_parsed_is_quarantined() -> None:
    inbound = parse_message(email_bytes())
    inbound.parse_error = "ValueError: parser gave up"
    assert extract_attachments(inbound).quarantine == "message could not be parsed: ValueError: parser gave up"


def test_bad_base64_padding_still_yields_the_attachment() -> None:
    raw = with_part('Content-Disposition: attachment; filename="Danh mục.xlsx"', b"PK\x03\x04ab")
    raw = raw.replace(base64.b64encode(b"PK\x03\x04ab"), base64.b64encode(b"PK\x03\x04ab").rstrip(b"="))
    extraction = extract(raw)
    assert extraction.quarantine is None
    assert names(raw) == ["Danh mục.xlsx"]


def test_a_sound_message_is_not_quarantined() -> None:
    assert extract(email_bytes(attachments=[("Danh mục.xlsx", b"x")])).quarantine is None
