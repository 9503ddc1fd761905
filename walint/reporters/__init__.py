"""Output formats. Each reporter turns a RunResult into text; only `text` imports rich."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from walint.catalog import Rule
from walint.findings import RunResult

FORMATS = ("text", "json", "sarif", "github", "junit", "markdown")


@dataclass(frozen=True)
class RenderOptions:
    color: bool = False
    sarif_unknown: bool = False
    sarif_suppressed: bool = False


def render(fmt: str, run: RunResult, rules: Sequence[Rule], options: RenderOptions | None = None) -> str:
    options = options or RenderOptions()
    # Imported on demand: a pre-commit run pays only for the format it prints.
    if fmt == "json":
        from walint.reporters import json_report  # noqa: PLC0415

        return json_report.render(run, rules)
    if fmt == "sarif":
        from walint.reporters import sarif  # noqa: PLC0415

        return sarif.render(
            run, rules, include_unknown=options.sarif_unknown, include_suppressed=options.sarif_suppressed
        )
    if fmt == "github":
        from walint.reporters import github  # noqa: PLC0415

        return github.render(run, rules)
    if fmt == "junit":
        from walint.reporters import junit  # noqa: PLC0415

        return junit.render(run, rules)
    if fmt == "markdown":
        from walint.reporters import markdown  # noqa: PLC0415

        return markdown.render(run, rules)
    from walint.reporters import text  # noqa: PLC0415 - rich is imported only here

    return text.render(run, rules, color=options.color)
