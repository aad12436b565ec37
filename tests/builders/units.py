"""Distinct units' submissions as DemoMail: unit n sends a one-task Phụ lục 1 (.xlsx) and Phụ lục 2 (.docx)."""

from __future__ import annotations

import datetime as dt

from mailbot.demo_mail import VN, DemoMail, descriptions_docx, email, task, task_list_xlsx
from mailbot.validation.schema import Rules

WHEN = dt.datetime(2023, 4, 20, 9, 0, tzinfo=VN)


def unit_mails(rules: Rules, count: int, *, wrong_budget_every: int = 0) -> list[DemoMail]:
    """`count` messages from units 0…count-1, a minute apart; with `wrong_budget_every` = k, every k-th plan
    (n % k == k - 1) has a total below its state budget: a correction."""
    mails = []
    for n in range(count):
        wrong = wrong_budget_every and n % wrong_budget_every == wrong_budget_every - 1
        tasks = [task(f"Nhiệm vụ {n}", 2, "2024-01", "2024-06", 400 if wrong else 500, 500, f"Viện {n}")]
        files = [
            ("PhuLuc1.xlsx", task_list_xlsx(rules, f"Viện {n}", tasks)),
            ("PhuLuc2.docx", descriptions_docx(rules, tasks)),
        ]
        raw, _ = email(f"Đơn vị {n} <dv{n}@dv{n}.example.vn>", f"Đề xuất {n}", "Kính gửi.", files, date=WHEN)
        mails.append(DemoMail(f"unit {n}", raw, WHEN + dt.timedelta(minutes=n), ""))
    return mails
