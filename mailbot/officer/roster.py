"""The roster: the units expected to submit, read from an admin's .xlsx or .csv file.

The first row that names a "Tên đơn vị" column is the header; the columns are found by their folded
names (any order, other columns ignored):

- "Mã" / "Mã đơn vị" / "Ký hiệu" (optional): a short code, unique;
- "Tên đơn vị" / "Đơn vị" (required): the unit's name, unique (folded);
- "Email" / "Địa chỉ email" / "Thư điện tử": one or more addresses, separated by `;`, `,` or spaces;
  an entry written "@vien.gov.vn" (or "vien.gov.vn") is a domain;
- "Tên miền" / "Domain": one or more domains.

A bad entry (no name, a bad address or domain, a duplicate code, name or address) is a ConfigError that
names the file, the row (as the spreadsheet shows it) and the reason.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mailbot.addresses import AddressError, ascii_domain, split
from mailbot.errors import ConfigError
from mailbot.text import clean_cell_text, fold

#: Folded header → field.
HEADERS: dict[str, str] = {
    **dict.fromkeys(("ma", "ma don vi", "ky hieu", "ten viet tat", "viet tat", "code"), "code"),
    **dict.fromkeys(("ten don vi", "don vi", "ten", "co quan", "ten co quan", "name", "unit"), "name"),
    **dict.fromkeys(
        ("email", "e mail", "dia chi email", "dia chi e mail", "thu dien tu", "dia chi thu dien tu", "mail"),
        "addresses",
    ),
    **dict.fromkeys(("ten mien", "mien", "domain", "domains", "ten mien email"), "domains"),
}
#: How many rows to look through for the header row (a title may sit above it).
HEADER_SEARCH_ROWS = 10
_SEPARATORS = re.compile(r"[;,\s]+")
_DOMAIN_LABEL = re.compile(r"^[\w-]+$", re.UNICODE)


@dataclass(frozen=True)
class Unit:
    """One expected unit. `addresses` and `domains` are lower case; `row` is its row in the roster file."""

    code: str | None
    name: str
    addresses: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    row: int = 0

    @property
    def label(self) -> str:
        return f"{self.code} – {self.name}" if self.code else self.name


@dataclass(frozen=True)
class Roster:
    path: Path
    units: list[Unit] = field(default_factory=list)


def load_roster(path: Path | str) -> Roster:
    """The units of a roster file (.xlsx or .csv); ConfigError naming the file and row of a bad entry."""
    path = Path(path)
    rows = _read_rows(path)
    header_at, columns = _find_header(path, rows)
    units: list[Unit] = []
    for number, cells in rows[header_at + 1 :]:
        values = {name: _cell(cells, index) for name, index in columns.items()}
        if not any(_cell(cells, i) for i in range(len(cells))):
            continue  # an empty row
        units.append(_unit(path, number, values))
    _check_unique(path, units)
    return Roster(path=path, units=units)


# ---------------------------------------------------------------- reading the file

Row = tuple[int, list[str]]  # (row number as the spreadsheet shows it, cell texts)


def _read_rows(path: Path) -> list[Row]:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ConfigError(path, "no roster file here", key="roster.file")
    if suffix == ".csv":
        return _csv_rows(path)
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_rows(path)
    raise ConfigError(path, f"a roster must be an .xlsx or a .csv file (got {suffix or 'no extension'})")


def _csv_rows(path: Path) -> list[Row]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"not UTF-8 text (save it as “CSV UTF-8”): byte {exc.start} is not UTF-8") from exc
    except OSError as exc:
        raise ConfigError(path, f"cannot read the roster: {exc.strerror}") from exc
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = max(",;\t", key=first.count)  # Excel writes ";" where the decimal separator is a comma
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(reader.line_num, [clean_cell_text(c) for c in cells]) for cells in reader]
    except csv.Error as exc:
        raise ConfigError(path, f"row {reader.line_num}: not readable as CSV ({exc})") from exc


def _xlsx_rows(path: Path) -> list[Row]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # any parser error means the admin's file cannot be used; say why
        raise ConfigError(path, f"cannot open the roster workbook: {exc}") from exc
    try:
        sheet = book.worksheets[0]
        rows = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            rows.append((number, [_text(v) for v in values]))
        return rows
    finally:
        book.close()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return clean_cell_text(str(value))


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def _find_header(path: Path, rows: list[Row]) -> tuple[int, dict[str, int]]:
    """(index in `rows` of the header row, field → column index)."""
    for at, (_number, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            name = HEADERS.get(fold(cell).removesuffix(" s"))
            if name and name not in columns:
                columns[name] = index
        if "name" in columns:
            return at, columns
    raise ConfigError(
        path,
        f'no header row with a "Tên đơn vị" column in the first {HEADER_SEARCH_ROWS} rows '
        '(columns: "Mã", "Tên đơn vị", "Email", "Tên miền")',
    )


# ---------------------------------------------------------------- entries


def _fail(path: Path, row: int, reason: str) -> ConfigError:
    return ConfigError(path, f"row {row}: {reason}")


def _unit(path: Path, row: int, values: dict[str, str]) -> Unit:
    name = values.get("name", "")
    if not name:
        raise _fail(path, row, "the unit has no name (column “Tên đơn vị”)")
    addresses: list[str] = []
    domains: list[str] = []
    for entry in _entries(values.get("addresses", "")):
        if "@" in entry.lstrip("@"):
            addresses.append(_address(path, row, entry))
        else:
            domains.append(_domain(path, row, entry.lstrip("@")))
    domains.extend(_domain(path, row, entry.lstrip("@")) for entry in _entries(values.get("domains", "")))
    return Unit(
        code=values.get("code") or None,
        name=name,
        addresses=tuple(dict.fromkeys(addresses)),
        domains=tuple(dict.fromkeys(domains)),
        row=row,
    )


def _entries(text: str) -> Iterator[str]:
    for entry in _SEPARATORS.split(text):
        entry = entry.strip().strip("<>").removeprefix("mailto:")
        if entry:
            yield entry


def _address(path: Path, row: int, entry: str) -> str:
    try:
        _local, domain = split(entry)
        _domain(path, row, domain)
    except AddressError as exc:
        raise _fail(path, row, f"{exc}") from exc
    except ConfigError as exc:
        raise _fail(path, row, f"the address {entry!r} has a bad domain") from exc
    return entry.casefold()


def _domain(path: Path, row: int, entry: str) -> str:
    domain = entry.casefold().rstrip(".")
    labels = domain.split(".")
    if len(labels) < 2 or not all(label and _DOMAIN_LABEL.match(label) for label in labels):
        raise _fail(path, row, f"{entry!r} is neither an email address nor a domain (e.g. vien.gov.vn)")
    try:
        ascii_domain(domain)
    except AddressError as exc:
        raise _fail(path, row, str(exc)) from exc
    return domain


def _check_unique(path: Path, units: Iterable[Unit]) -> None:
    codes: dict[str, Unit] = {}
    names: dict[str, Unit] = {}
    addresses: dict[str, Unit] = {}
    for unit in units:
        if unit.code:
            _once(path, codes, unit.code.casefold(), unit, f"the code {unit.code!r}")
        _once(path, names, fold(unit.name), unit, f"the name {unit.name!r}")
        for address in unit.addresses:
            _once(path, addresses, address, unit, f"the address {address!r}")


def _once(path: Path, seen: dict[str, Unit], key: str, unit: Unit, what: str) -> None:
    first = seen.setdefault(key, unit)
    if first is not unit:
        raise _fail(path, unit.row, f"{what} is also on row {first.row} (a duplicate)")
