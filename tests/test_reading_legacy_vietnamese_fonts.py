"""Vietnamese typed in the old TCVN3 (".VnTime") and VNI ("VNI-Times") fonts is read as Unicode, and the
reply says the file used an old font encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.model import Grid
from mailbot.readers import read_file
from mailbot.readers.legacy_vn import convert_grid, detect, encoding_of_font, to_unicode
from mailbot.validation.schema import Rules
from mailbot.validation.validate import validate_files
from tests.builders.submissions import ORGANIZATION
from tests.converter import needs_libreoffice
from tests.office_fixtures.word_layout import LEGACY_TASKS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "office" / "word_layout"
FILES = [f"legacy_{encoding}.{ext}" for encoding in ("tcvn3", "vni") for ext in ("docx", "xlsx", "xls")] + [
    pytest.param(f"legacy_{encoding}.ods", marks=needs_libreoffice) for encoding in ("tcvn3", "vni")
]  # an .ods is converted to xlsx first: its old-font text must be converted all the same

#: Typed by hand from the public code charts, not produced by mailbot's tables.
TCVN3 = {
    "Tªn nhiÖm vô": "Tên nhiệm vụ",
    "§¬n vÞ chñ tr×": "Đơn vị chủ trì",
    "Kinh phÝ dù kiÕn": "Kinh phí dự kiến",
    "Thêi gian thùc hiÖn": "Thời gian thực hiện",
    "Tæng céng": "Tổng cộng",
    "Ng©n s¸ch nhµ n\xadíc": "Ngân sách nhà nước",
}
VNI = {
    "Teân nhieäm vuï": "Tên nhiệm vụ",
    "Ñôn vò chuû trì": "Đơn vị chủ trì",
    "Kinh phí döï kieán": "Kinh phí dự kiến",
    "Thôøi gian thöïc hieän": "Thời gian thực hiện",
    "Toång coäng": "Tổng cộng",
    "Ngaân saùch nhaø nöôùc": "Ngân sách nhà nước",
}


def fixture(name: str) -> tuple[str, bytes]:
    return name, (FIXTURES / name).read_bytes()


def without_appendix_2(rules: Rules) -> Rules:
    documents = rules.documents.model_copy(
        update={"phu_luc_2": rules.documents.phu_luc_2.model_copy(update={"required": False})}
    )
    return rules.model_copy(update={"documents": documents})


@pytest.mark.parametrize(("typed", "meant"), [*TCVN3.items()])
def test_tcvn3_text_converts_to_unicode_and_is_recognised_without_a_font(typed: str, meant: str) -> None:
    assert to_unicode(typed, "tcvn3") == meant
    assert detect(typed) == "tcvn3"


@pytest.mark.parametrize(("typed", "meant"), [*VNI.items()])
def test_vni_text_converts_to_unicode_and_is_recognised_without_a_font(typed: str, meant: str) -> None:
    assert to_unicode(typed, "vni") == meant
    assert detect(typed) == "vni"


@pytest.mark.parametrize(
    "text", ["Báo cáo", "Ghi chú", "«Bao cao»", "Kinh phí dự kiến", "Tổng cộng", "Café au lait", "1.500"]
)
def test_unicode_and_plain_text_is_left_as_it_is(text: str) -> None:
    assert detect(text) is None


def test_the_fonts_name_their_encoding_and_the_capitals_font_reads_as_capitals() -> None:
    assert [encoding_of_font(f) for f in (".VnTime", ".VnArialH", "VNI-Times", "Times New Roman", None)] == [
        "tcvn3",
        "tcvn3",
        "vni",
        None,
        None,
    ]
    assert to_unicode("phô lôc", "tcvn3", upper=True) == "PHỤ LỤC"


def test_a_short_ambiguous_cell_follows_the_encoding_of_its_grid() -> None:
    grid = Grid("a.xls", "PL1", [["Tªn nhiÖm vô", "Ghi chó"], ["§¬n vÞ chñ tr×", None]])

    converted, found = convert_grid(grid)

    assert found == {"tcvn3"}
    assert converted.rows == [["Tên nhiệm vụ", "Ghi chú"], ["Đơn vị chủ trì", None]]


@pytest.mark.parametrize("name", FILES)
def test_a_file_typed_in_an_old_font_is_read_exactly_with_one_warning_saying_so(name: str, rules: Rules) -> None:
    result = validate_files([fixture(name)], without_appendix_2(rules))

    assert result.organization == ORGANIZATION
    assert [t.to_dict() for t in result.tasks] == LEGACY_TASKS
    assert [(f.code, f.severity) for f in result.findings] == [("legacy_font_encoding", "warning")]
    assert "bảng mã tiếng Việt cũ" in result.findings[0].message


def test_the_word_text_of_an_old_font_document_is_unicode_too() -> None:
    read = read_file(*fixture("legacy_tcvn3.docx"))

    assert read.text is not None
    assert read.text.paragraphs[:2] == ["PHỤ LỤC 1", f"Tên đơn vị: {ORGANIZATION}"]
