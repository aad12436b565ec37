"""The submitter's own Word file back, marked where to fix it: every place a finding names shaded and commented,
a linked guide "Hướng dẫn sửa" first, everything else the submitter's own; a copy sent back reads like the original.

Findings come from the real readers and validation of documents written by python-docx and by LibreOffice.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.oxml.ns import qn
from docx.table import _Cell

from mailbot.marking import COMMENT_AUTHOR, ERROR_FILL, GUIDE_TITLE, WARNING_FILL, comment_text, guide_entries
from mailbot.marking.docx import MAX_MARKED_PLACES, mark_docx
from mailbot.model import Finding, ValidationResult
from mailbot.readers import read_file
from mailbot.readers.docx import GUIDE_END, GUIDE_START, body_blocks, guide_blocks
from mailbot.validation.schema import Rules
from mailbot.validation.validate import validate_files
from tests.builders.documents import docx_bytes, with_macro
from tests.builders.submissions import KEYS, ORGANIZATION, task_list
from tests.converter import needs_libreoffice
from tests.office import convert
from tests.office_fixtures.word_layout import TASKS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "office" / "word_layout"
PL1, PL2 = "phu_luc_1.docx", "phu_luc_2.docx"
_T = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t"


# ---------------------------------------------------------------- documents and what is in them


def merged_phu_luc_1() -> bytes:
    """Phụ lục 1 by python-docx: a two-row merged header, «Đơn vị chủ trì» merged down over two tasks (vMerge),
    «Mục tiêu» merged across «Nội dung chính» in task 3 (gridSpan), a bad month and a money cell with words."""
    layout = task_list(
        two_row_header=True, total=True, overrides={(2, "kinh_phi_tong"): "khoảng 800", (1, "bat_dau"): "13/2024"}
    )
    top, first = 4, 2  # the table starts at the header; its first task is its third row
    merges = [(a - top, b, c - top, d) for a, b, c, d in layout.merges if a >= top]
    unit, goal, content = KEYS.index("don_vi_chu_tri"), KEYS.index("muc_tieu"), KEYS.index("noi_dung")
    merges += [(first, unit, first + 1, unit), (first + 2, goal, first + 2, content)]
    return docx_bytes(["PHỤ LỤC 1", f"Tên đơn vị: {ORGANIZATION}"], layout.rows[top:], merges=merges)


def edited(data: bytes, edit: Callable[[Any], None]) -> bytes:
    document = docx.Document(io.BytesIO(data))
    edit(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def put(cell: _Cell, text: str) -> None:
    """Write `text` in a cell keeping its formatting: into its first run, the other runs emptied."""
    runs = [run for paragraph in cell.paragraphs for run in paragraph.runs]
    runs[0].text = text
    for run in runs[1:]:
        run.text = ""


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


#: The split LibreOffice table (tables 1, 2, 3 are one grid): a bad month in part 1, words in a money cell of
#: part 3 (no header), and a task's «Mục tiêu» emptied in part 2 (its repeated header left out of the grid).
SPLIT_ERRORS = {(0, 3, 8): "13/2024", (2, 0, 10): "khoảng 800", (1, 3, 3): ""}


def broken_split() -> bytes:
    def edit(document: Any) -> None:
        for (table, row, col), text in SPLIT_ERRORS.items():
            put(document.tables[table].cell(row, col), text)

    return edited(fixture("phu_luc_1_split.docx"), edit)


def validate(*files: tuple[str, bytes], rules: Rules) -> ValidationResult:
    return validate_files(list(files), rules)


def holder(element: Any) -> Any:
    """The table cell a mark is in, else its paragraph."""
    cell = next(element.iterancestors(qn("w:tc")), None)
    return cell if cell is not None else next(element.iterancestors(qn("w:p")))


def text_of(element: Any) -> str:
    return "".join(t.text or "" for t in element.iter(_T))


def comments_by_place(data: bytes) -> dict[str, list[str]]:
    """Our comments, by the text of the cell (or paragraph) each is anchored in."""
    document = docx.Document(io.BytesIO(data))
    ours = {c.comment_id: c.text for c in document.comments if c.author == COMMENT_AUTHOR}
    places: dict[str, list[str]] = {}
    for start in document.element.body.iter(qn("w:commentRangeStart")):
        comment = int(start.get(qn("w:id")))
        if comment in ours:
            places.setdefault(text_of(holder(start)), []).append(ours[comment])
    return places


def fills(data: bytes) -> dict[str, str]:
    """Text of every shaded cell or paragraph -> its fill."""
    body = docx.Document(io.BytesIO(data)).element.body
    shaded = body.xpath(".//w:tcPr/w:shd | .//w:pPr/w:shd")
    return {text_of(shd.getparent().getparent()): shd.get(qn("w:fill")) for shd in shaded}


def guide(body: Any) -> list[Any]:
    """The guide's paragraphs, as the reader finds them, and the page break after them."""
    blocks = body_blocks(body)
    found = guide_blocks(blocks)
    return blocks[found.start : found.stop + 1] if found else []


def guide_lines(data: bytes) -> list[str]:
    return [text_of(p) for p in guide(docx.Document(io.BytesIO(data)).element.body)]


def structure(data: bytes) -> tuple[list[str], list[list[list[str]]], list[list[tuple[str | None, ...]]]]:
    """Every paragraph's text, every table cell's text, and every cell's span and vertical merge."""
    document = docx.Document(io.BytesIO(data))
    ours = set(guide(document.element.body))
    texts = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
    merges = [
        [
            (tc.xpath("string(w:tcPr/w:gridSpan/@w:val)") or None, tc.xpath("string(w:tcPr/w:vMerge/@w:val)") or None)
            for tc in table._tbl.iter(qn("w:tc"))
        ]
        for table in document.tables
    ]
    return [p.text for p in document.paragraphs if p._p not in ours], texts, merges


# ---------------------------------------------------------------- Phụ lục 1 tables


@pytest.fixture(scope="module")
def merged(rules: Rules) -> tuple[bytes, list[Finding], bytes]:
    data = merged_phu_luc_1()
    findings = validate((PL1, data), rules=rules).findings
    marked = mark_docx(data, findings, PL1)
    assert marked is not None
    return data, findings, marked


def test_each_finding_comments_the_word_cell_it_names_through_spans_and_vertical_merges(
    merged: tuple[bytes, list[Finding], bytes],
) -> None:
    _data, findings, marked = merged
    by_cell = {f.cell: comment_text(f) for f in findings if f.cell}
    places = comments_by_place(marked)

    assert places["13/2024"] == [by_cell["I4"]]
    assert places["khoảng 800"] == [by_cell["K5"]]  # after a gridSpan cell: the 10th w:tc of its row, grid column K
    assert places[ORGANIZATION] == [by_cell["G4"]]  # G4 is covered by the vMerge that starts in G3
    assert places["Tái chế 20% phế liệu da tại 5 cơ sở"] == [by_cell["E5"]]  # E5 is covered by the D5:E5 span
    assert sum(len(comments) for comments in places.values()) == len(by_cell)


def test_a_cell_with_an_error_is_filled_red_and_nothing_else_is_filled(
    merged: tuple[bytes, list[Finding], bytes],
) -> None:
    _data, _findings, marked = merged

    assert fills(marked) == {
        "13/2024": ERROR_FILL,
        "khoảng 800": ERROR_FILL,
        ORGANIZATION: ERROR_FILL,
        "Tái chế 20% phế liệu da tại 5 cơ sở": ERROR_FILL,
        "4300.5": ERROR_FILL,  # the total row's «Tổng»
    }


def test_every_paragraph_cell_text_and_merge_of_the_original_is_unchanged(
    merged: tuple[bytes, list[Finding], bytes],
) -> None:
    data, _findings, marked = merged

    assert structure(marked) == structure(data)


def test_the_guide_opens_the_document_lists_every_finding_and_links_each_to_its_cell(
    merged: tuple[bytes, list[Finding], bytes],
) -> None:
    _data, findings, marked = merged
    entries = guide_entries(findings, PL1)
    body = docx.Document(io.BytesIO(marked)).element.body
    lines = guide_lines(marked)

    assert body_blocks(body)[: len(lines)] == guide(body)  # the very start of the body
    assert lines[0] == GUIDE_TITLE and lines[-1] == ""
    listed = [line for line in lines if line[:1].isdigit()]
    expected = [f"{e.number}. {e.place} – Lỗi: {e.message} Cách sửa: {e.hint}" for e in entries]
    assert listed == expected
    assert any(e.finding.code == "missing_document" for e in entries)  # a finding with no place: listed only
    bookmarks = {b.get(qn("w:name")): b for b in body.iter(qn("w:bookmarkStart"))}
    links = [link for paragraph in guide(body) for link in paragraph.iter(qn("w:hyperlink"))]
    assert len(links) == sum(1 for e in entries if e.cell)
    for link in links:
        target = holder(bookmarks[link.get(qn("w:anchor"))])
        assert target.tag == qn("w:tc") and target.xpath(".//w:commentRangeStart")
    assert [br.get(qn("w:type")) for br in guide(body)[-1].iter(qn("w:br"))] == ["page"]


def test_a_marked_copy_reads_with_the_same_findings_as_the_file_it_was_made_from(
    merged: tuple[bytes, list[Finding], bytes], rules: Rules
) -> None:
    data, findings, marked = merged

    again = validate((PL1, marked), rules=rules)
    assert again.findings == findings
    assert again.tasks == validate((PL1, data), rules=rules).tasks


def test_a_table_split_over_pages_is_marked_in_the_part_each_grid_row_came_from(rules: Rules) -> None:
    data = broken_split()
    found = validate((PL1, data), rules=rules).findings
    marked = mark_docx(data, found, PL1)
    assert marked is not None
    places = comments_by_place(marked)

    by_code = {f.code: comment_text(f) for f in found}
    assert places["13/2024"] == [by_code["not_a_month"]]
    assert places["khoảng 800"] == [by_code["not_a_number"]]
    assert places[""] == [by_code["missing_value"]]  # an empty cell: an empty run holds the comment
    document = docx.Document(io.BytesIO(marked))
    for (table, row, col), _text in SPLIT_ERRORS.items():
        tc = document.tables[table].cell(row, col)._tc
        assert tc.xpath("string(w:tcPr/w:shd/@w:fill)") == ERROR_FILL and tc.xpath(".//w:commentRangeStart")


def test_a_marked_copy_sent_back_with_the_errors_fixed_reads_and_validates_like_the_original(rules: Rules) -> None:
    data = broken_split()
    found = validate((PL1, data), (PL2, fixture("phu_luc_2_numbered.docx")), rules=rules).findings
    marked = mark_docx(data, found, PL1)
    assert marked is not None
    original = fixture("phu_luc_1_split.docx")
    before = docx.Document(io.BytesIO(original))

    def fix(document: Any) -> None:
        for table, row, col in SPLIT_ERRORS:
            put(document.tables[table].cell(row, col), before.tables[table].cell(row, col).text)

    fixed = edited(marked, fix)
    result = validate((PL1, fixed), (PL2, fixture("phu_luc_2_numbered.docx")), rules=rules)

    assert result.findings == []
    assert [t.to_dict() for t in result.tasks] == TASKS
    assert read_file(PL1, fixed).text == read_file(PL1, original).text


def test_a_marked_copy_marked_again_carries_one_guide_and_only_the_new_comments_and_fills(rules: Rules) -> None:
    grey, total = "D9D9D9", docx.Document(io.BytesIO(fixture("phu_luc_1_split.docx"))).tables[2].cell(2, 10).text

    def wrong_total_and_month(document: Any) -> None:  # the total row's «Tổng» in the submitter's own grey
        tc = document.tables[2].cell(2, 10)._tc
        tc.get_or_add_tcPr().append(tc.makeelement(qn("w:shd"), {qn("w:val"): "clear", qn("w:fill"): grey}))
        put(document.tables[2].cell(2, 10), "9.999")
        put(document.tables[0].cell(3, 8), "13/2024")

    data = edited(fixture("phu_luc_1_split.docx"), wrong_total_and_month)
    first = mark_docx(data, validate((PL1, data), rules=rules).findings, PL1)
    assert first is not None and fills(first) == {"9.999": ERROR_FILL, "13/2024": ERROR_FILL}
    fixed_total = edited(first, lambda document: put(document.tables[2].cell(2, 10), total))

    again = mark_docx(fixed_total, validate((PL1, fixed_total), rules=rules).findings, PL1)
    assert again is not None
    body = docx.Document(io.BytesIO(again)).element.body
    assert [text_of(p) for p in body_blocks(body)].count(GUIDE_TITLE) == 1
    assert fills(again) == {total: grey, "13/2024": ERROR_FILL}  # fixed: our red gone, the submitter's grey back
    assert list(comments_by_place(again)) == ["13/2024"] and len(comments_by_place(again)["13/2024"]) == 1
    assert [b.get(qn("w:name")) for b in body.iter(qn("w:bookmarkStart"))] == [GUIDE_START, GUIDE_END, "_HDS_C1"]
    assert structure(again) == structure(fixed_total)


# ---------------------------------------------------------------- Phụ lục 2 descriptions


def mismatched_descriptions() -> bytes:
    """The LibreOffice Phụ lục 2 with description 4's «Tổng kinh phí» sentence and description 1's dự toán total
    row stating other amounts than Phụ lục 1, and description 8 renamed (no task of that name)."""

    def edit(document: Any) -> None:
        sentence = next(p for p in document.paragraphs if p.text.startswith("Tổng kinh phí: 500.000.000"))
        put_paragraph(sentence, "Tổng kinh phí: 650.000.000 đồng (Sáu trăm năm mươi triệu đồng)")
        put(document.tables[0].rows[-1].cells[2], "1.600")
        name = next(p for p in document.paragraphs if p.text == TASKS[7]["ten_nhiem_vu"])
        put_paragraph(name, "Một nhiệm vụ không có trong Phụ lục 1")

    return edited(fixture("phu_luc_2_numbered.docx"), edit)


def put_paragraph(paragraph: Any, text: str) -> None:
    paragraph.runs[0].text = text
    for run in paragraph.runs[1:]:
        run.text = ""


@pytest.fixture(scope="module")
def descriptions(rules: Rules) -> tuple[bytes, list[Finding], bytes]:
    data = mismatched_descriptions()
    findings = validate((PL1, fixture("phu_luc_1_split.docx")), (PL2, data), rules=rules).findings
    marked = mark_docx(data, findings, PL2)
    assert marked is not None
    return data, findings, marked


def test_a_budget_mismatch_marks_the_sentence_or_total_row_that_states_the_budget(
    descriptions: tuple[bytes, list[Finding], bytes],
) -> None:
    _data, findings, marked = descriptions
    mismatch = {f.task_index: comment_text(f) for f in findings if f.code == "description_budget_mismatch"}
    places = comments_by_place(marked)

    assert sorted(mismatch) == [0, 3]
    assert places["Tổng kinh phí: 650.000.000 đồng (Sáu trăm năm mươi triệu đồng)"] == [mismatch[3]]
    assert places["Tổng cộng"] == [mismatch[0]]  # the first cell of the dự toán table's total row
    assert fills(marked)["Tổng kinh phí: 650.000.000 đồng (Sáu trăm năm mươi triệu đồng)"] == ERROR_FILL


def test_a_description_matching_no_task_is_a_warning_on_its_name_in_yellow(
    descriptions: tuple[bytes, list[Finding], bytes],
) -> None:
    _data, findings, marked = descriptions
    orphan = next(f for f in findings if f.code == "orphan_description" and f.file == PL2)

    assert comments_by_place(marked)["Một nhiệm vụ không có trong Phụ lục 1"] == [comment_text(orphan)]
    assert fills(marked)["Một nhiệm vụ không có trong Phụ lục 1"] == WARNING_FILL
    assert any(line.endswith(f"Lưu ý: {orphan.message} Cách sửa: {orphan.hint}") for line in guide_lines(marked))


def test_a_marked_description_document_reads_the_same_descriptions_and_text(
    descriptions: tuple[bytes, list[Finding], bytes], rules: Rules
) -> None:
    data, findings, marked = descriptions
    plan = (PL1, fixture("phu_luc_1_split.docx"))

    again = validate(plan, (PL2, marked), rules=rules)
    assert again.descriptions == validate(plan, (PL2, data), rules=rules).descriptions
    assert again.findings == findings
    assert structure(marked) == structure(data)


# ---------------------------------------------------------------- bounds and files it cannot mark


def test_at_most_five_hundred_places_are_marked_and_the_guide_lists_every_finding(rules: Rules) -> None:
    rows: list[list[object]] = [["STT", "Tên nhiệm vụ"], *([str(n), f"Nhiệm vụ {n}"] for n in range(600))]
    data = docx_bytes(["PHỤ LỤC 1"], rows)
    findings = [
        Finding("x", "error", f"Lỗi số {n}", file=PL1, sheet="Bảng 1", row=n + 2, column="B", cell=f"B{n + 2}")
        for n in range(600)
    ]
    marked = mark_docx(data, findings, PL1)
    assert marked is not None
    body = docx.Document(io.BytesIO(marked)).element.body

    assert len(comments_by_place(marked)) == MAX_MARKED_PLACES
    assert sum(1 for p in guide(body) for _ in p.iter(qn("w:hyperlink"))) == MAX_MARKED_PLACES
    assert sum(1 for line in guide_lines(marked) if line[:1].isdigit()) == 600
    assert any(line.startswith(f"Chỉ {MAX_MARKED_PLACES} chỗ đầu tiên") for line in guide_lines(marked))


@pytest.mark.parametrize("data", [b"not a word file", with_macro(docx_bytes(["PHỤ LỤC 1"]))], ids=["junk", "docm"])
def test_a_file_python_docx_cannot_open_as_a_document_has_no_marked_copy(data: bytes) -> None:
    assert mark_docx(data, [Finding("x", "error", "Lỗi", file=PL1)], PL1) is None


@needs_libreoffice
def test_libreoffice_opens_the_marked_copy_with_its_guide_links_and_comments(
    merged: tuple[bytes, list[Finding], bytes], tmp_path: Path
) -> None:
    _data, findings, marked = merged
    source = tmp_path / "phu_luc_1_can-sua.docx"
    source.write_bytes(marked)

    flat = convert(source, "fodt", tmp_path / "out").read_text(encoding="utf-8")
    text = html.unescape(flat)

    assert GUIDE_TITLE in text
    assert all(comment_text(f).split("\n")[0] in text and f.hint in text for f in findings)
    places = len({f.cell for f in findings if f.cell})
    assert flat.count("<office:annotation ") == places
    assert all(f'xlink:href="#_HDS_C{n}"' in flat and f'text:name="_HDS_C{n}"' in flat for n in range(1, places + 1))


@needs_libreoffice
def test_a_marked_copy_saved_again_by_libreoffice_still_reads_like_the_original_and_marks_once(
    merged: tuple[bytes, list[Finding], bytes], rules: Rules, tmp_path: Path
) -> None:
    data, findings, marked = merged
    source = tmp_path / "phu_luc_1_can-sua.docx"
    source.write_bytes(marked)
    saved = convert(source, "docx", tmp_path / "out").read_bytes()  # as a submitter using LibreOffice sends it back

    assert read_file(PL1, saved).text == read_file(PL1, data).text
    assert validate((PL1, saved), rules=rules).findings == findings
    again = mark_docx(saved, findings, PL1)
    assert again is not None
    lines = [text_of(p) for p in body_blocks(docx.Document(io.BytesIO(again)).element.body)]
    guide_and_break = lines[: lines.index("PHỤ LỤC 1")]  # up to the document's own first line
    assert guide_and_break.count(GUIDE_TITLE) == 1 and guide_and_break.count("") == 1  # one guide, one page break
    assert len(comments_by_place(again)) == len({f.cell for f in findings if f.cell})
