"""Output formats. Each reporter turns a RunResult into text; only `text` imports rich."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from walint.catalog import Rule
from walint.findings import RunResult

FORMATS = ("text", "json")


class Reporter(Protocol):
    def __call__(self, run: RunResult, rules: Sequence[Rule], *, color: bool | None = None) -> str: ...


def render(fmt: str, run: RunResult, rules: Sequence[Rule], *, color: bool | None = None) -> str:
    if fmt == "json":
        from walint.reporters import json_report  # noqa: PLC0415

        return json_report.render(run, rules)
    from walint.reporters import text  # noqa: PLC0415 - rich is imported only here

    return text.render(run, rules, color=color)
