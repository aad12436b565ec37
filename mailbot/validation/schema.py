"""The rules of one call, as typed models. A call is a TOML file in rules/; see rules/sxtdbv-2024.toml."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mailbot.model import TASK_FIELDS, Severity

ColumnType = Literal["text", "integer", "number", "money", "month", "enum"]
LatePolicy = Literal["accept_flagged", "reject"]


class Strict(BaseModel):
    """Every rules table rejects unknown keys, so a typo is an error that names the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(Strict):
    office: str
    address: str
    person: str
    phone: str
    email: str


class Issuer(Strict):
    """Who issues the compiled plan: the left block of the national header (the ministry above its office)."""

    ministry: str = "BỘ CÔNG THƯƠNG"
    office: str = "VỤ TIẾT KIỆM NĂNG LƯỢNG VÀ PHÁT TRIỂN BỀN VỮNG"


class Call(Strict):
    id: str
    title: str
    document: str = ""
    receipt_prefix: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    plan_year: int = Field(ge=2000, le=2100)
    deadline: dt.datetime
    late_policy: LatePolicy = "accept_flagged"
    contact: Contact
    #: `[call.issuer]`: the compiled plan's national header; by default the Ministry's energy-efficiency office.
    issuer: Issuer = Issuer()

    @model_validator(mode="after")
    def _deadline_has_zone(self) -> Call:
        if self.deadline.tzinfo is None:
            raise ValueError("deadline needs a time zone, e.g. 2023-04-30T23:59:59+07:00")
        return self


class TaskList(Strict):
    """Phụ lục 1: the table of tasks."""

    title: str = "Phụ lục 1"
    required: bool = True


class Descriptions(Strict):
    """Phụ lục 2: one description per task, matched by name, with the same budget."""

    title: str = "Phụ lục 2"
    required: bool = True
    name_similarity: float = Field(default=0.85, gt=0, le=1)
    budget_must_match: bool = True
    budget_tolerance: float = Field(default=0.5, ge=0)
    sections: list[str] = Field(min_length=1)


class Documents(Strict):
    phu_luc_1: TaskList = TaskList()
    phu_luc_2: Descriptions


class EnumValue(Strict):
    code: int
    name: str
    description: str = ""
    aliases: list[str] = []


class Column(Strict):
    key: str
    label: str
    group: str | None = None  # a parent header spanning several columns, e.g. "Kinh phí dự kiến"
    aliases: list[str] = []
    type: ColumnType = "text"
    required: bool = False
    min: float | None = None
    max: float | None = None
    exclusive_min: bool = False
    max_length: int | None = Field(default=None, ge=1)
    width: float = Field(default=18, gt=0, le=255)
    values: list[EnumValue] = []
    #: The finding code when an enum value is not in the list, e.g. "unknown_orientation".
    invalid_code: str = Field(default="invalid_value", pattern=r"^[a-z][a-z0-9_]*$")
    hint: str = ""

    @model_validator(mode="after")
    def _coherent(self) -> Column:
        if self.key not in TASK_FIELDS:
            raise ValueError(f"key '{self.key}' is not a task field; use one of: {', '.join(TASK_FIELDS)}")
        if self.type == "enum" and not self.values:
            raise ValueError("an enum column needs values")
        if self.type != "enum" and self.values:
            raise ValueError("values are only for type = 'enum'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class Checks(Strict):
    budget_sum_tolerance: float = Field(default=0.5, ge=0)
    period_inside_plan_year: bool = True
    #: Override the severity of a finding code, e.g. total_mismatch = "warning".
    severity: dict[str, Severity] = {}


class Limits(Strict):
    max_tasks: int = Field(default=200, ge=1)
    max_file_bytes: int = Field(default=20_000_000, ge=1)
    max_uncompressed_bytes: int = Field(default=200_000_000, ge=1)
    #: The checking of one submission stops after this long, with a `validation_cut_short` error.
    max_validation_seconds: float = Field(default=20, gt=0)


class Rules(Strict):
    call: Call
    documents: Documents
    columns: list[Column] = Field(min_length=1)
    checks: Checks = Checks()
    limits: Limits = Limits()

    @model_validator(mode="after")
    def _unique_columns(self) -> Rules:
        keys = [c.key for c in self.columns]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"column keys appear twice: {', '.join(twice)}")
        if "ten_nhiem_vu" not in keys:
            raise ValueError("a column with key 'ten_nhiem_vu' is required")
        return self

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)
