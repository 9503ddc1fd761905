"""GitHub Actions workflow commands: one annotation per failing finding, escaped as the runner expects."""

from __future__ import annotations

from collections.abc import Sequence

from walint.catalog import Rule
from walint.findings import Outcome, Risk, RunResult
from walint.reporters.resource import label, origin

COMMAND = {Risk.CRITICAL: "error", Risk.HIGH: "error", Risk.MEDIUM: "warning", Risk.LOW: "warning", Risk.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(run: RunResult, rules: Sequence[Rule]) -> str:
    lines = []
    for result in run.files:
        if result.status.value == "error":
            lines.append(f"::error file={escape_property(result.path)},title=walint::{escape_data(result.error or '')}")
    for f in run.findings:
        if f.suppressed:
            continue
        span = f.location.span
        command = "notice" if f.outcome is Outcome.UNKNOWN else COMMAND[f.risk]
        title = f"{f.rule_id} ({f.risk.value})" + (" undecided" if f.outcome is Outcome.UNKNOWN else "")
        props = (
            f"file={escape_property(f.location.file)},line={span.line},col={span.column},"
            f"endLine={max(span.end_line, span.line)},title={escape_property(title)}"
        )
        # The construct path finds the code to change: cdk.out itself is rarely in the repository.
        resource = f"\nResource: {label(f.location)}" if origin(f.location) else ""
        body = f"{f.message}{resource}\nBest practice {f.best_practice}. Fix: {f.remediation_url}"
        lines.append(f"::{command} {props}::{escape_data(body)}")
    return "".join(line + "\n" for line in lines)
