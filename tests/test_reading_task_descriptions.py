"""Reading Phụ lục 2: a thuyết minh nhiệm vụ split into its numbered sections, one or many per file."""

from __future__ import annotations

import unicodedata

import pytest

from mailbot.model import TextDocument
from mailbot.readers.docx import read_docx
from mailbot.readers.sections import looks_like_descriptions, parse_descriptions
from mailbot.text import strip_marks
from tests.builders.documents import description_paragraphs, docx_bytes

NAME = "Xây dựng định mức tiêu hao nguyên liệu ngành thép"
ALL_SECTIONS = {
    "ten_nhiem_vu",
    "don_vi_chu_tri",
    "chu_nhiem",
    "tinh_cap_thiet",
    "muc_tieu",
    "noi_dung",
    "san_pham",
    "tien_do",
    "kinh_phi",
    "hieu_qua",
}
TITLE = ["PHỤ LỤC 2", "THUYẾT MINH NHIỆM VỤ"]


def document(paragraphs: list[str], file: str = "thuyet_minh.docx") -> TextDocument:
    return TextDocument(file=file, paragraphs=paragraphs)


@pytest.mark.parametrize("style", ["numbered", "roman_upper", "plain"])
def test_one_description_per_document_is_read_in_each_heading_style(style: str) -> None:
    doc = document(TITLE + description_paragraphs(NAME, style=style))

    descriptions = parse_descriptions(doc)

    assert looks_like_descriptions(doc)
    assert len(descriptions) == 1
    description = descriptions[0]
    assert (description.file, description.index) == ("thuyet_minh.docx", 0)
    assert set(description.sections) == ALL_SECTIONS
    assert description.ten_nhiem_vu == NAME
    assert description.sections["don_vi_chu_tri"] == "Viện Cơ khí"
    assert description.kinh_phi_text == "Tổng kinh phí: 1.500 triệu đồng"
    assert description.kinh_phi_tong is None


def test_three_descriptions_in_one_document_are_split_at_each_task_name() -> None:
    names = ["Nhiệm vụ thứ nhất về thép", "Nhiệm vụ thứ hai về nhựa", "Nhiệm vụ thứ ba về giấy"]
    paragraphs: list[str] = []
    for number, name in enumerate(names, start=1):
        budget = f"Tổng kinh phí {number}.000 triệu đồng"
        paragraphs += TITLE + description_paragraphs(name, budget_text=budget, unit=f"Đơn vị {number}")

    descriptions = parse_descriptions(document(paragraphs))

    assert [(d.index, d.ten_nhiem_vu) for d in descriptions] == list(enumerate(names))
    assert [d.kinh_phi_text for d in descriptions] == [f"Tổng kinh phí {n}.000 triệu đồng" for n in (1, 2, 3)]
    assert [d.sections["don_vi_chu_tri"] for d in descriptions] == ["Đơn vị 1", "Đơn vị 2", "Đơn vị 3"]
    assert descriptions[0].sections["hieu_qua"].count("\n") == 0  # next title is not content


def test_headings_written_in_nfd_are_recognised_and_the_name_comes_back_in_nfc() -> None:
    paragraphs = [unicodedata.normalize("NFD", p) for p in description_paragraphs(NAME)]

    descriptions = parse_descriptions(document(paragraphs))

    assert len(descriptions) == 1
    assert set(descriptions[0].sections) == ALL_SECTIONS
    assert descriptions[0].ten_nhiem_vu == NAME


def test_headings_written_without_diacritics_are_recognised() -> None:
    paragraphs = [strip_marks(p) for p in description_paragraphs(NAME, style="roman_upper")]

    descriptions = parse_descriptions(document(paragraphs))

    assert set(descriptions[0].sections) == ALL_SECTIONS
    assert descriptions[0].ten_nhiem_vu == strip_marks(NAME)


def test_a_section_runs_over_several_paragraphs_up_to_the_next_heading() -> None:
    description = parse_descriptions(document(description_paragraphs(NAME)))[0]

    assert description.sections["tinh_cap_thiet"] == (
        "Ngành công nghiệp tiêu thụ nhiều nguyên liệu và năng lượng.\n"
        "Chưa có bộ định mức tiêu hao được cập nhật cho giai đoạn mới."
    )


def test_content_lines_beginning_with_noi_dung_are_not_headings() -> None:
    paragraphs = [
        "1. Tên nhiệm vụ: " + NAME,
        "2. Mục tiêu: Xây dựng bộ định mức.",
        "Nội dung này nhằm làm rõ mục tiêu của nhiệm vụ.",
        "3. Nội dung thực hiện:",
        "Nội dung 1: Khảo sát hiện trạng.",
        "a) Nội dung 2: Đề xuất định mức.",
        "4. Kinh phí: 900 triệu đồng",
    ]

    description = parse_descriptions(document(paragraphs))[0]

    assert description.sections["muc_tieu"] == (
        "Xây dựng bộ định mức.\nNội dung này nhằm làm rõ mục tiêu của nhiệm vụ."
    )
    assert description.sections["noi_dung"] == ("Nội dung 1: Khảo sát hiện trạng.\na) Nội dung 2: Đề xuất định mức.")


def test_a_budget_table_inside_the_kinh_phi_section_is_part_of_its_text() -> None:
    paragraphs = [
        "1. Tên nhiệm vụ: " + NAME,
        "2. Đơn vị chủ trì: Viện Cơ khí",
        "3. Dự toán kinh phí:",
        "STT | Nội dung | Kinh phí (triệu đồng)",
        "1 | Nội dung | 600",
        "Tổng kinh phí: 600 triệu đồng",
        "4. Hiệu quả dự kiến: Giảm tiêu hao.",
    ]

    description = parse_descriptions(document(paragraphs))[0]

    assert description.kinh_phi_text == (
        "STT | Nội dung | Kinh phí (triệu đồng)\n1 | Nội dung | 600\nTổng kinh phí: 600 triệu đồng"
    )
    assert "noi_dung" not in description.sections


def test_numbered_headings_may_carry_a_qualifier_and_line_breaks_split_lines() -> None:
    paragraphs = [
        "I. Tên nhiệm vụ đề xuất:\nXây dựng  định mức\u00a0ngành thép",
        "II. Mục tiêu của nhiệm vụ",
        "Giảm tiêu hao.",
        "III. Nội dung thực hiện và phương pháp:",
        "Khảo sát.",
    ]

    description = parse_descriptions(document(paragraphs))[0]

    assert description.ten_nhiem_vu == "Xây dựng định mức ngành thép"
    assert description.sections["muc_tieu"] == "Giảm tiêu hao."
    assert description.sections["noi_dung"] == "Khảo sát."


def test_a_document_that_is_not_a_thuyet_minh_gives_no_descriptions() -> None:
    letter = document(
        [
            "Kính gửi: Vụ Tiết kiệm năng lượng và Phát triển bền vững",
            "Tên đơn vị: Viện Nghiên cứu Da - Giày",
            "Nội dung: Đề xuất nhiệm vụ năm 2024",
            "STT | Tên nhiệm vụ | Kinh phí",
            "1 | Xây dựng định mức | 1.500",
        ]
    )

    assert not looks_like_descriptions(letter)
    assert parse_descriptions(letter) == []


def test_a_thuyet_minh_written_in_word_is_read_end_to_end() -> None:
    data = docx_bytes(TITLE + description_paragraphs(NAME, style="roman_upper"))

    result = read_docx("thuyet_minh.docx", data)

    assert result.text is not None
    descriptions = parse_descriptions(result.text)
    assert [d.ten_nhiem_vu for d in descriptions] == [NAME]
    assert descriptions[0].file == "thuyet_minh.docx"


def test_headings_of_the_blank_template_with_explanations_in_parentheses_are_recognised() -> None:
    paragraphs = [
        "1. Tên nhiệm vụ: " + NAME,
        "2. Đơn vị chủ trì: Viện Cơ khí",
        "3. Chủ nhiệm nhiệm vụ (họ tên, chức vụ, điện thoại, email): Nguyễn Văn A, Trưởng phòng",
        "9. Kinh phí (dự toán): ",
        "Tổng kinh phí 1.500 triệu đồng, trong đó NSNN 1.000 triệu đồng",
    ]

    description = parse_descriptions(document(paragraphs))[0]

    assert description.sections["chu_nhiem"] == "Nguyễn Văn A, Trưởng phòng"
    assert description.kinh_phi_text == "Tổng kinh phí 1.500 triệu đồng, trong đó NSNN 1.000 triệu đồng"
