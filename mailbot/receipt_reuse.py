"""What ReportLab would otherwise work out again for every receipt, kept for the life of the process.

Measured on the receipt of 20 tasks (bench/receipt_pdf.py), ReportLab spent most of a receipt's time on work whose
result does not change from one receipt to the next: the width of each word (asked for again at every line break,
every time a table sizes, splits or draws its rows), the layout of each table cell (made three or four times, at
the same width), ReportLab's markup parser run over text that has no markup, and the font subsets (the monospace
and the bold ones are nearly always the same characters) made and compressed anew. Each cache below gives back
exactly what ReportLab would have computed: a receipt's bytes are the same with them as without.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph

__all__ = ["ReceiptFont", "TextParagraph", "is_clean_line"]

WIDTH_CACHE = 20_000  # words whose width a font keeps (Vietnamese has ~7,000 syllables); all forgotten when full
WIDTH_WORD = 40  # characters: a longer text (a whole line being drawn) is measured every time, not remembered
SAME_WIDTH = 1e-6  # points: a paragraph's lines are kept when it is wrapped again at a width this close
SUBSET_CACHE = 16  # font subsets (and their compressed bytes) remembered per font, the most recent first


class ReceiptFont(TTFont):  # type: ignore[misc]  # reportlab ships no type information
    """A TrueType font that remembers, for the life of the process, what ReportLab otherwise works out again for
    every receipt: the width of a word (a pure function of the text and the size), and a font subset's bytes and
    their compression (a pure function of the characters in it, in their order; the monospace and bold subsets are
    nearly always the same from one receipt to the next). Both caches are bounded.

    Its subsets hold only the characters a receipt sets (`asciiReadable=False`): ReportLab otherwise puts all of
    ASCII into each font's first subset, and the three embedded faces then carried ~270 glyphs never drawn, a
    quarter of the PDF (72.8 → 53.8 KB for 20 tasks, bench/receipt_pdf.py; the pages render pixel for pixel the
    same, and the text reads the same, through each font's ToUnicode map)."""

    def __init__(self, name: str, filename: str) -> None:
        super().__init__(name, filename, asciiReadable=False)
        self._widths: dict[tuple[str, float], float] = {}
        face = self.face
        subset_of = face.makeSubset
        subset = functools.lru_cache(maxsize=SUBSET_CACHE)(lambda codes: subset_of(list(codes)))
        face.makeSubset = lambda codes: subset(tuple(codes))  # read by face.addSubsetObjects, once per document
        add_objects = face.addSubsetObjects

        def add_subset_objects(doc: Any, fontname: str, codes: list[int]) -> Any:
            descriptor = add_objects(doc, fontname, codes)
            stream = doc.idToObject.get(f"fontFile:{face.filename}({fontname})")  # the name ReportLab gives it
            if stream is not None and stream.filters == [pdfdoc.PDFZCompress]:
                stream.filters = [_FLATE]
            return descriptor

        face.addSubsetObjects = add_subset_objects

    def stringWidth(self, text: str, size: float, encoding: str = "utf8") -> float:  # ReportLab's name
        if len(text) > WIDTH_WORD:
            return super().stringWidth(text, size, encoding)  # type: ignore[no-any-return]  # reportlab is untyped
        key = (text, size)
        width = self._widths.get(key)
        if width is None:
            if len(self._widths) >= WIDTH_CACHE:
                self._widths.clear()
            width = self._widths[key] = super().stringWidth(text, size, encoding)
        return width


class _CachedFlate:
    """ReportLab's FlateDecode filter (zlib at its default level), remembering the last few font files it packed."""

    pdfname = "FlateDecode"

    @staticmethod
    @functools.lru_cache(maxsize=SUBSET_CACHE)
    def encode(content: bytes) -> bytes:
        return pdfdoc.PDFZCompress.encode(content)  # type: ignore[no-any-return]  # reportlab is untyped


_FLATE = _CachedFlate()


class TextParagraph(Paragraph):  # type: ignore[misc]  # reportlab ships no type information
    """A paragraph of plain text that skips ReportLab's markup parser when the text has no markup (no `&`, `<`,
    `>`, no run of spaces: the parser would give one fragment of the text in the style, which is what this makes),
    and that is laid out once per width: a table wraps each cell several times at the same width (to size the
    rows, to split at a page end, to draw; the width computed each time a different way, so it can differ in the
    last bit), and the lines depend on nothing else."""

    def __init__(self, markup: str | None, style: ParagraphStyle, *args: Any, frags: Any = None, **kwargs: Any) -> None:
        if frags is None and markup and not _MARKUP.search(markup) and markup == " ".join(markup.split()):
            frags = [_template(style).clone(text=markup, link=[], us_lines=[])]
        super().__init__(markup, style, *args, frags=frags, **kwargs)  # ReportLab makes split halves this way too
        self._laid_out: tuple[float, Any] | None = None

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # ReportLab's names
        laid_out, lines = self._laid_out, getattr(self, "blPara", None)
        if laid_out is not None and lines is laid_out[1] and abs(availWidth - laid_out[0]) < SAME_WIDTH:
            self.width = availWidth
            return self.width, self.height
        size: tuple[float, float] = super().wrap(availWidth, availHeight)
        lines = getattr(self, "blPara", None)
        self._laid_out = (availWidth, lines) if lines is not None and self.width == availWidth else None
        return size


_MARKUP = re.compile(r"[&<>]")


@functools.lru_cache(maxsize=64)
def _template(style: ParagraphStyle) -> Any:
    """The fragment ReportLab's parser makes for a plain word in `style` (the styles live as long as the process)."""
    return Paragraph("x", style).frags[0]


def is_clean_line(text: str) -> bool:
    """True when `text` is already what `mailbot.replies.one_line` makes of it, one clean NFC line: printable (no
    control, format, surrogate or separator character but the plain space), no space at either end or twice in a
    row. Most of a receipt's text is, and is then taken as it is instead of being cleaned letter by letter."""
    return (
        text.isprintable() and unicodedata.is_normalized("NFC", text) and "  " not in text and text == text.strip(" ")
    )
