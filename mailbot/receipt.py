"""The receipt (phiếu tiếp nhận) an acknowledgement attaches: a PDF the unit prints and files as proof of submission.

It says, in Vietnamese, which call the submission answers, its receipt number and version, when it was received
(Viet Nam time), the unit, every task read (name, orientation, period, budget) with the totals, the files received
with their SHA-256 (so the unit can prove what it sent), and the lateness if any. The text is set in a TrueType font
with Vietnamese glyphs (DejaVu Sans or Noto Sans, found by `find_font`), embedded as a subset, so it prints the same
everywhere and extracts back as the same characters. The same input gives the same bytes: the creation date is the
received time and nothing random goes in, so a re-rendered reply is byte-identical.

The library is ReportLab, chosen by what it costs. Measured with the same page made in each (title, a table of
20 tasks with wrapped names and a repeated header, the file list; DejaVu Sans regular, bold and mono embedded),
each library installed alone in a fresh venv (Python 3.11), 200 renders:
    reportlab 5.1  +31 MB installed (itself 9 MB, Pillow 22 MB; charset-normalizer is already here through msal),
                   42 ms a receipt (p50), peak RSS 41 MB, 68 KB a PDF
    fpdf2 2.8.9    +55 MB installed (itself 3 MB, fontTools 30 MB, Pillow 22 MB), 239 ms a receipt (p50: it parses
                   and subsets the font with fontTools for every document), peak RSS 76 MB, 33 KB a PDF
ReportLab is about 5x faster per receipt and lighter to install and in memory; its PDFs are larger (its font
subsets: 55 KB against fpdf2's 21 KB), still far below any message size limit. Its tables wrap long text in a cell
and repeat their header row on every page, which is all a receipt needs. The receipt itself: bench/receipt_pdf.py.
Since then the subsets hold only the characters a receipt sets and the streams are not also ASCII85: that page is
54 KB, a one-task receipt 51 KB (mailbot.receipt_reuse.ReceiptFont, `rl_config.useA85` below).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import CondPageBreak, SimpleDocTemplate, Spacer, Table, TableStyle

from mailbot.receipt_reuse import ReceiptFont, is_clean_line
from mailbot.receipt_reuse import TextParagraph as Para
from mailbot.replies import VIETNAM, ReplyContent, _task_rows, _totals, one_line, vn_time
from mailbot.validation.schema import Rules

__all__ = ["RECEIPT_TITLE", "find_font", "receipt_name", "receipt_pdf"]

RECEIPT_TITLE = "PHIẾU TIẾP NHẬN HỒ SƠ ĐỀ XUẤT NHIỆM VỤ"
COUNTRY = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
GENERATOR = "hệ thống tiếp nhận hồ sơ mailbot"
LONG_LIMIT = 400  # the call's title, the office: text from the rules, shown whole

#: The pages' streams as plain Flate, not also ASCII85 (ReportLab's default, for 7-bit PDF files): the PDF is
#: binary anyway (its fonts are), and ASCII85 made each stream a quarter larger and cost ~1 ms per receipt.
rl_config.useA85 = 0


#: Where DejaVu Sans and Noto Sans live (Debian/Ubuntu, Fedora, Arch, Alpine), tried in this order.
SYSTEM_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"),
    Path("/usr/share/fonts/noto/NotoSans-Regular.ttf"),
    Path("/usr/share/fonts/google-noto/NotoSans-Regular.ttf"),
    Path("/usr/share/fonts/google-noto-vf/NotoSans[wght].ttf"),
)
VIETNAMESE_PROBE = "ĐđƠơƯưẠạẦầẾếỆệỘộỮữỹ"  # a font without all of these cannot set the unit's name
HEX_DIGITS = "0123456789abcdef"  # all the monospace face sets (DejaVu Sans Mono lacks a few Vietnamese letters)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_SURROGATE = re.compile("[\ud800-\udfff]")

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm  # from the paper's edge to the text
FRAME_PADDING = 6  # points: ReportLab's frame keeps this inside its margins
BODY_WIDTH = PAGE_WIDTH - 2 * MARGIN  # 180 mm
TASK_COLUMNS = (11 * mm, 77 * mm, 34 * mm, 33 * mm, 25 * mm)  # a period "01/2024–12/2025" is 28 mm wide
FILE_COLUMNS = (11 * mm, 61 * mm, 108 * mm)  # a SHA-256 in 7.5 pt monospace is 102 mm wide: it stays on one line
HEADING_ROOM = 35 * mm  # a heading and its table's first rows
GRID = colors.Color(0.55, 0.55, 0.55)
HEADER_FILL = colors.Color(0.9, 0.9, 0.9)


def receipt_name(receipt: str) -> str:
    """ "SXTDBV-2024-0001" → "Phieu-tiep-nhan-SXTDBV-2024-0001.pdf" (ASCII, safe as an attachment name)."""
    safe = _UNSAFE_NAME.sub("-", one_line(receipt, 60)).strip("-.") or "khong-so"
    return f"Phieu-tiep-nhan-{safe}.pdf"


# ---------------------------------------------------------------- the font


def find_font(configured: Path | None) -> Path | None:
    """The TrueType font a receipt is set in: `configured` when given (None if it is missing or cannot set
    Vietnamese), else DejaVu Sans or Noto Sans from the usual system places or from fontconfig; None when there is
    none (the caller then sends the acknowledgement without a receipt, and alerts)."""
    if configured is not None:
        return configured if _usable(configured) else None
    for candidate in SYSTEM_FONTS:
        if _usable(candidate):
            return candidate
    found = _fontconfig()
    return found if found is not None and _usable(found) else None


def _fontconfig() -> Path | None:
    """The file fontconfig matches for a Vietnamese sans-serif, when fc-match is installed."""
    program = shutil.which("fc-match")
    if program is None:
        return None
    try:
        done = subprocess.run(  # a fixed program found on PATH, fixed arguments
            [program, "-f", "%{file}", "sans-serif:lang=vi"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None
    return path if path is not None and path.suffix.lower() == ".ttf" else None


def _usable(path: Path, probe: str = VIETNAMESE_PROBE) -> bool:
    """True when `path` is a TrueType font ReportLab can embed and it has every letter of `probe`."""
    try:
        stat = path.stat()
    except OSError:
        return False
    return path.is_file() and _has_letters(path, stat.st_mtime_ns, stat.st_size, probe)


@functools.lru_cache(maxsize=32)
def _has_letters(path: Path, mtime_ns: int, size: int, probe: str) -> bool:
    """`_usable` for one version of the file (its time and size are the cache key: a font replaced is read again)."""
    try:
        face = TTFont("probe", str(path)).face
    except Exception:  # ReportLab raises plain exceptions of several kinds for a font it cannot read
        return False
    return all(ord(ch) in face.charWidths for ch in probe)


@dataclass(frozen=True)
class _Faces:
    regular: str
    bold: str
    mono: str


def _variant(font: Path, names: Sequence[str], probe: str = VIETNAMESE_PROBE) -> Path:
    """The first of `names` beside `font` that has every letter of `probe`, else `font` itself."""
    for name in names:
        candidate = font.with_name(name)
        if candidate != font and _usable(candidate, probe):
            return candidate
    return font


@functools.lru_cache(maxsize=8)
def _faces(font: Path) -> _Faces:
    """The regular, bold and monospace faces for `font`, registered with ReportLab (once per process)."""
    stem, suffix = font.stem, font.suffix
    base = stem.removesuffix("-Regular")
    bold = _variant(font, [f"{base}-Bold{suffix}", f"{stem}-Bold{suffix}"])
    mono = _variant(font, [f"{base}Mono{suffix}", f"{base}Mono-Regular{suffix}", "DejaVuSansMono.ttf"], HEX_DIGITS)
    return _Faces(_register(font), _register(bold), _register(mono))


def _register(path: Path) -> str:
    name = "MailbotReceipt-" + hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(ReceiptFont(name, str(path)))
    return name


# ---------------------------------------------------------------- the text


def _line(value: object, limit: int = LONG_LIMIT) -> str:
    """`value` as one clean NFC line that can be encoded (a lone surrogate becomes U+FFFD)."""
    text = str(value)
    if len(text) <= limit and is_clean_line(text):
        return text  # what the cleaning below gives back unchanged, known without going through it letter by letter
    return _SURROGATE.sub("\ufffd", unicodedata.normalize("NFC", one_line(text, limit)))


def _text(value: object, limit: int = LONG_LIMIT) -> str:
    """`value` as one clean line, escaped for ReportLab's paragraph markup."""
    return escape(_line(value, limit))


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    bold: ParagraphStyle
    title: ParagraphStyle
    centre: ParagraphStyle
    heading: ParagraphStyle
    cell: ParagraphStyle
    cell_bold: ParagraphStyle
    number: ParagraphStyle
    mono: ParagraphStyle
    note: ParagraphStyle
    small_centre: ParagraphStyle
    small_centre_bold: ParagraphStyle


@functools.lru_cache(maxsize=8)
def _styles(faces: _Faces) -> _Styles:
    def style(name: str, face: str, size: float, **extra: Any) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=face, fontSize=size, leading=size * 1.3, **extra)

    bold, centre = style("bold", faces.bold, 10), style("centre", faces.regular, 10, alignment=TA_CENTER)
    return _Styles(
        body=style("body", faces.regular, 10),
        bold=bold,
        title=style("title", faces.bold, 14, alignment=TA_CENTER, spaceBefore=6, spaceAfter=4),
        centre=centre,
        heading=style("heading", faces.bold, 10.5, spaceBefore=8, spaceAfter=4),
        cell=style("cell", faces.regular, 9),
        cell_bold=style("cell_bold", faces.bold, 9),
        number=style("number", faces.regular, 9, alignment=TA_RIGHT),
        mono=style("mono", faces.mono, 7.5),
        note=style("note", faces.regular, 8.5, textColor=colors.Color(0.25, 0.25, 0.25)),
        small_centre=ParagraphStyle("centre_small", parent=centre, fontSize=9, leading=12),
        small_centre_bold=ParagraphStyle("centre_bold", parent=bold, alignment=TA_CENTER, fontSize=9, leading=12),
    )


# ---------------------------------------------------------------- the parts of the page


def _national_header(rules: Rules, st: _Styles) -> Table:
    issuer = rules.call.issuer
    centre, centre_bold = st.small_centre, st.small_centre_bold
    left = [Para(_text(issuer.ministry), centre), Para(_text(issuer.office), centre_bold)]
    right = [Para(_text(COUNTRY[0]), centre_bold), Para(_text(COUNTRY[1]), centre_bold)]
    table = Table([[left, right]], colWidths=(BODY_WIDTH * 0.45, BODY_WIDTH * 0.55))
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return table


def _facts(content: ReplyContent, rules: Rules, st: _Styles) -> Table:
    received, deadline = vn_time(content.received_at), vn_time(rules.call.deadline)
    version = f"Lần nộp thứ {content.version}"
    if content.version > 1:
        version += " (thay thế toàn bộ hồ sơ đã nộp trước đó theo số tiếp nhận trên)"
    if content.late:
        status = f"Nộp sau thời hạn: hồ sơ được nhận lúc {received}, sau thời hạn nộp hồ sơ ({deadline})."
    else:
        status = "Nộp trong thời hạn."
    rows = [
        ("Số tiếp nhận", content.receipt, st.bold),
        ("Lần nộp", version, st.body),
        ("Thời điểm nhận", f"{received} (giờ Việt Nam)", st.body),
        ("Đơn vị đề xuất", content.organization or "(chưa xác định được tên đơn vị trong hồ sơ)", st.body),
        ("Thời hạn nộp hồ sơ", f"{deadline} (giờ Việt Nam)", st.body),
        ("Tình trạng", status, st.bold if content.late else st.body),
    ]
    cells = [[Para(f"{label}:", st.body), Para(_text(value), style)] for label, value, style in rows]
    table = Table(cells, colWidths=(40 * mm, BODY_WIDTH - 40 * mm))
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return table


def _orientation_names(rules: Rules) -> dict[int, str]:
    column = rules.column("dinh_huong")
    return {v.code: v.name for v in column.values} if column else {}


def _task_table(content: ReplyContent, rules: Rules, st: _Styles) -> Table:
    header = ["STT", "Tên nhiệm vụ", "Định hướng", "Thời gian thực hiện", "Kinh phí (triệu đồng)"]
    cells: list[list[Any]] = [[Para(_text(h), st.cell_bold) for h in header]]
    for row in _task_rows(content.tasks, _orientation_names(rules)):
        name = row["orientation_name"]
        orientation = f"{row['orientation']} – {name}" if name else str(row["orientation"])
        values = (row["n"], row["name"], orientation, row["period"])
        cells.append([*(Para(_text(v, 600), st.cell) for v in values), Para(_text(row["total"]), st.number)])
    if not content.tasks:
        cells.append(["", Para("(Không đọc được nhiệm vụ nào.)", st.cell), "", "", ""])
    totals = _totals(content.tasks)
    body_rows = len(cells)
    for label, value in (
        (f"Tổng cộng ({len(content.tasks)} nhiệm vụ)", totals["total"]),
        ("Trong đó: ngân sách nhà nước (NSNN)", totals["nsnn"]),
        ("Nguồn khác", totals["other"]),
    ):
        cells.append(["", Para(_text(label), st.cell_bold), "", "", Para(_text(value), st.number)])
    table = Table(cells, colWidths=TASK_COLUMNS, repeatRows=1)
    spans = [("SPAN", (1, r), (3, r)) for r in range(body_rows, len(cells))]
    together = ("NOSPLIT", (0, body_rows - 1), (-1, -1))  # the totals stay under the last task, on one page
    table.setStyle(TableStyle([*_grid(), *spans, together]))
    return table


def _file_table(files: Sequence[Mapping[str, str]], st: _Styles) -> Table:
    cells: list[list[Any]] = [[Para(_text(h), st.cell_bold) for h in ("STT", "Tên tệp", "Mã SHA-256")]]
    for n, file in enumerate(files, start=1):
        name, digest = _text(file.get("name", ""), 255), _text(file.get("sha256", ""), 64)
        cells.append([Para(str(n), st.cell), Para(name, st.cell), Para(digest, st.mono)])
    if not files:
        cells.append(["", Para("(Không có tệp đính kèm.)", st.cell), ""])
    table = Table(cells, colWidths=FILE_COLUMNS, repeatRows=1)
    table.setStyle(TableStyle(_grid()))
    return table


def _grid() -> list[tuple[Any, ...]]:
    return [
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]


def _story(content: ReplyContent, files: Sequence[Mapping[str, str]], rules: Rules, st: _Styles) -> list[Any]:
    call = rules.call
    story: list[Any] = [_national_header(rules, st), Spacer(1, 6 * mm), Para(_text(RECEIPT_TITLE), st.title)]
    story.append(Para(_text(call.title), st.centre))
    if call.document:
        story.append(Para(_text(f"(theo {call.document})"), st.centre))
    story += [Spacer(1, 5 * mm), _facts(content, rules, st)]
    story.append(CondPageBreak(HEADING_ROOM))  # a heading never ends a page alone
    story.append(Para("DANH MỤC NHIỆM VỤ HỆ THỐNG ĐÃ ĐỌC ĐƯỢC", st.heading))
    story.append(_task_table(content, rules, st))
    story.append(CondPageBreak(HEADING_ROOM))
    story.append(Para("CÁC TỆP ĐÃ NHẬN", st.heading))
    story.append(_file_table(files, st))
    story.append(Spacer(1, 3 * mm))
    story.append(Para(_text(_PROOF_NOTE), st.note))
    story.append(Para(_text(f"Đơn vị tiếp nhận: {call.contact.office}."), st.note))
    return story


_PROOF_NOTE = (
    "Mã SHA-256 là dấu vân tay của từng tệp: tệp Quý đơn vị lưu giữ cho ra đúng mã này là đúng tệp đã gửi "
    "(tính bằng lệnh “certutil -hashfile <tên tệp> SHA256” trên Windows hoặc “sha256sum <tên tệp>” trên Linux). "
    "Phiếu này được tạo tự động, không cần chữ ký."
)


# ---------------------------------------------------------------- the document


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type information
    """A canvas that holds its pages until the end, so every footer can say "Trang i/N"."""

    def __init__(self, *args: Any, footer: Callable[[Canvas, int, int], None], stamp: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[dict[str, Any]] = []
        self._footer = footer
        self.setDateFormatter(lambda *_: stamp)  # the creation date is the received time, not now

    def showPage(self) -> None:
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held)
        for number, state in enumerate(self._held, start=1):
            self.__dict__.update(state)
            self._footer(self, number, total)
            super().showPage()
        super().save()


def _footer(content: ReplyContent, face: str) -> Callable[[Canvas, int, int], None]:
    left = _line(f"Phiếu tiếp nhận {one_line(content.receipt, 60)} – được tạo tự động bởi {GENERATOR}", 200)

    def draw(canvas: Canvas, number: int, total: int) -> None:
        canvas.saveState()
        canvas.setFont(face, 7.5)
        canvas.setStrokeColor(GRID)
        canvas.line(MARGIN, 12 * mm, PAGE_WIDTH - MARGIN, 12 * mm)
        canvas.drawString(MARGIN, 8.5 * mm, left)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, 8.5 * mm, f"Trang {number}/{total}")
        canvas.restoreState()

    return draw


def _pdf_date(content: ReplyContent) -> str:
    """The received time as a PDF date in Viet Nam time: "D:20230420140500+07'00'" (naive is UTC, as in vn_time)."""
    moment = content.received_at if content.received_at.tzinfo else content.received_at.replace(tzinfo=dt.UTC)
    return f"D:{moment.astimezone(VIETNAM):%Y%m%d%H%M%S}+07'00'"


def receipt_pdf(content: ReplyContent, files: Sequence[Mapping[str, str]], rules: Rules, font: Path) -> bytes:
    """The receipt of `content` (an acknowledgement) as an A4 PDF in Vietnamese; `files` are the archived
    attachments as the ledger keeps them ({"name", "sha256"}), `font` a TrueType font from `find_font`."""
    faces = _faces(font)
    out = io.BytesIO()
    receipt = _line(content.receipt, 60)
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN - FRAME_PADDING,
        rightMargin=MARGIN - FRAME_PADDING,
        topMargin=MARGIN - FRAME_PADDING,
        bottomMargin=18 * mm - FRAME_PADDING,
        invariant=1,  # no time stamp, no random document id
        title=f"Phiếu tiếp nhận hồ sơ {receipt}",
        author=_line(rules.call.contact.office),
        subject=_line(rules.call.title),
        creator="mailbot",
        lang="vi",
    )
    maker = functools.partial(_NumberedCanvas, footer=_footer(content, faces.regular), stamp=_pdf_date(content))
    doc.build(_story(content, files, rules, _styles(faces)), canvasmaker=maker)
    return out.getvalue()
