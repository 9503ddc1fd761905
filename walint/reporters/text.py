"""Human output: findings grouped by file, what could not be decided, a per-pillar summary."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from walint.catalog import Rule
from walint.findings import PILLARS, FileStatus, Finding, Outcome, Risk, RunResult
from walint.reporters.resource import label, origin

_RISK_STYLE = {
    Risk.CRITICAL: "bold red",
    Risk.HIGH: "red",
    Risk.MEDIUM: "yellow",
    Risk.LOW: "cyan",
    Risk.INFO: "dim",
}


def _where(f: Finding) -> str:
    return f"{f.location.file}:{f.location.span.line}:{f.location.span.column}"


def _line(f: Finding) -> Text:
    text = Text("  ")
    text.append(_where(f), style="bold")
    text.append("  ")
    text.append(f.rule_id, style="magenta")
    text.append("  ")
    text.append(f"{f.risk.value:<9}", style=_RISK_STYLE[f.risk])
    text.append(f.message)
    if f.location.resource:
        # "(Bucket83908E77, MyStack/Bucket)": the construct or generated resource beside the id
        more = origin(f.location)
        text.append(f" ({f.location.resource}{', ' + more if more else ''})", style="dim")
    return text


def render(run: RunResult, rules: Sequence[Rule], *, color: bool = False) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=bool(color),
        no_color=not color,
        color_system="standard" if color else None,
        width=200,
        highlight=False,
        emoji=False,
    )

    def out(renderable: Text | Table | str = "") -> None:
        console.print(renderable, soft_wrap=True)

    failing = [f for f in run.findings if f.outcome is Outcome.FAIL and not f.suppressed]
    unknown = [f for f in run.findings if f.outcome is Outcome.UNKNOWN and not f.suppressed]
    suppressed = [f for f in run.findings if f.suppressed]

    for result in run.files:
        shown = [f for f in result.findings if f.outcome is Outcome.FAIL and not f.suppressed]
        if not shown:
            continue
        out(Text(result.path, style="bold underline"))
        for use in result.nested_in:
            out(Text(f"  as nested stack {use}, with the parameter values it passes", style="dim"))
        linked: set[str] = set()
        for f in sorted(shown, key=lambda f: (f.location.span.line, f.location.span.column, f.rule_id)):
            out(_line(f))
            if f.rule_id not in linked:  # the link once per rule and file keeps repeats readable
                linked.add(f.rule_id)
                out(Text(f"      fix: {f.remediation_url}", style="dim"))
            for reason in f.reasons:
                out(Text(f"      note: {reason}", style="dim"))
        out()

    if unknown:
        out(Text(f"Could not be decided from the templates ({len(unknown)}):", style="bold"))
        for f in unknown:
            out(_line(f))
        out(
            Text(
                "  Pass --parameters FILE (the file you deploy with) or --parameter NAME=VALUE to decide values "
                "that come from parameters.",
                style="dim",
            )
        )
        out()

    if suppressed:
        out(Text(f"Suppressed ({len(suppressed)}):", style="bold"))
        for f in suppressed:
            reason = f.suppressed.reason if f.suppressed else ""
            out(Text(f"  {_where(f)}  {f.rule_id}  {label(f.location)}: {reason}", style="dim"))
        out()

    errors = [r for r in run.files if r.status is FileStatus.ERROR]
    if errors:
        out(Text(f"Files that could not be linted ({len(errors)}):", style="bold red"))
        for r in errors:
            out(Text(f"  {r.path}: {r.error}", style="red"))
        out()

    notes = [(r.path, n) for r in run.files for n in r.notes]
    if notes:
        out(Text("Not checked:", style="bold"))
        for path, note in notes:
            out(Text(f"  {path}: {note}"))
        out()

    if run.findings:
        out(_pillar_table(run.findings))

    linted = sum(1 for r in run.files if r.status is FileStatus.LINTED)
    skipped = sum(1 for r in run.files if r.status is FileStatus.SKIPPED)
    risks = Counter(f.risk for f in failing)
    by_risk = ", ".join(f"{risks[r]} {r.value}" for r in Risk if risks[r])
    summary = f"{len(failing)} finding{'s' if len(failing) != 1 else ''}"
    summary += f" ({by_risk})" if by_risk else ""
    summary += f", {len(unknown)} undecided, {len(suppressed)} suppressed"
    summary += f" in {linted} template{'s' if linted != 1 else ''}"
    if skipped:
        summary += f"; {skipped} file{'s' if skipped != 1 else ''} skipped (not CloudFormation)"
    if errors:
        summary += f"; {len(errors)} could not be linted"
    if run.baselined:
        summary += f"; {run.baselined} known finding{'s' if run.baselined != 1 else ''} matched the baseline"
    out(Text(summary, style="bold"))
    return buffer.getvalue()


def _pillar_table(findings: Sequence[Finding]) -> Table:
    table = Table(title="By Well-Architected pillar", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("pillar")
    for risk in Risk:
        table.add_column(risk.value, justify="right")
    table.add_column("undecided", justify="right")
    table.add_column("suppressed", justify="right")
    for pillar in PILLARS:
        mine = [f for f in findings if f.pillar == pillar]
        if not mine:
            continue
        fails = Counter(f.risk for f in mine if f.outcome is Outcome.FAIL and not f.suppressed)
        table.add_row(
            pillar,
            *(str(fails[r]) for r in Risk),
            str(sum(1 for f in mine if f.outcome is Outcome.UNKNOWN and not f.suppressed)),
            str(sum(1 for f in mine if f.suppressed)),
        )
    return table
