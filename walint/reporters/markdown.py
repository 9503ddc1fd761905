"""The Well-Architected report in Markdown (a pull-request comment or a shareable page):
a pillar scorecard, the findings highest risk first, and what a template review cannot assess."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from walint.catalog import Rule, best_practices
from walint.findings import PILLAR_TITLES, PILLARS, FileStatus, Finding, Outcome, Risk, RunResult
from walint.reporters.resource import label

#: What a static template check cannot see, per pillar (rule-catalogue.md §2.7, §3.7).
NOT_ASSESSED = {
    "operational-excellence": "runbooks and playbooks, operational readiness reviews, KPIs and business metrics, "
    "how deployments and incidents are actually run",
    "security": "root-account MFA and the account password policy, threat modelling, incident response and "
    "forensics, who holds which credentials, existing public snapshots",
    "reliability": "disaster-recovery drills, game days and restore tests, service-quota usage, how the "
    "workload behaves under failure",
    "performance-efficiency": "load tests and measured utilisation, whether the chosen sizes fit the real load",
    "cost-optimization": "Reserved Instance and Savings Plans coverage, idle or under-used resources at run time, "
    "cloud financial management and budgets owned outside the templates",
    "sustainability": "measured utilisation and demand patterns, user behaviour, Region choice for the stacks "
    "actually deployed",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(run: RunResult, rules: Sequence[Rule]) -> str:
    table = best_practices()
    by_id = {r.id: r for r in rules}
    findings = run.findings
    linted = [r for r in run.files if r.status is FileStatus.LINTED]
    applicable: dict[str, set[str]] = defaultdict(set)
    for result in linted:
        for tally in result.tallies:
            if tally.passed + tally.failed + tally.unknown and tally.rule_id in by_id:
                applicable[by_id[tally.rule_id].pillar].add(tally.rule_id)
    failing_rules = {f.rule_id for f in findings if f.outcome is Outcome.FAIL and not f.suppressed}

    out = ["# Well-Architected review of CloudFormation templates", ""]
    out.append(
        f"walint checked {len(linted)} template{'s' if len(linted) != 1 else ''} "
        f"with {len(rules)} rules. High-risk issues (HRI) are critical and high findings; medium-risk "
        "issues (MRI) are medium findings."
    )
    out.append("")
    out += [
        "## Scorecard",
        "",
        "| pillar | HRI | MRI | low / info | undecided | suppressed | rules passed | best practices checked |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for pillar in PILLARS:
        mine = [f for f in findings if f.pillar == pillar]
        open_fails = [f for f in mine if f.outcome is Outcome.FAIL and not f.suppressed]
        hri = sum(1 for f in open_fails if f.risk in (Risk.CRITICAL, Risk.HIGH))
        mri = sum(1 for f in open_fails if f.risk is Risk.MEDIUM)
        low = len(open_fails) - hri - mri
        undecided = sum(1 for f in mine if f.outcome is Outcome.UNKNOWN and not f.suppressed)
        suppressed = sum(1 for f in mine if f.suppressed)
        rules_here = applicable.get(pillar, set())
        passed = len(rules_here - failing_rules)
        rate = f"{passed}/{len(rules_here)} ({100 * passed // len(rules_here)}%)" if rules_here else "n/a"
        bps = sorted({by_id[r].best_practice for r in rules_here})
        out.append(
            f"| {PILLAR_TITLES[pillar]} | {hri} | {mri} | {low} | {undecided} | {suppressed} | {rate} | "
            f"{', '.join(bps) or '-'} |"
        )
    out.append("")

    open_findings = sorted(
        (f for f in findings if f.outcome is Outcome.FAIL and not f.suppressed),
        key=lambda f: (-f.risk.rank, f.pillar, f.rule_id, f.location.file, f.location.span.line),
    )
    out += ["## Findings", ""]
    if not open_findings:
        out += ["No failing findings.", ""]
    current: Risk | None = None
    for f in open_findings:
        if f.risk is not current:
            if current is not None:
                out.append("")
            current = f.risk
            out += [f"### {current.value.capitalize()}", ""]
        out.append(_finding_line(f))
    if open_findings:
        out.append("")

    undecided_findings = [f for f in findings if f.outcome is Outcome.UNKNOWN and not f.suppressed]
    if undecided_findings:
        out += [
            "## Undecided",
            "",
            "These depend on values the templates do not fix (parameters, conditions, imports). "
            "Run walint with the deployment's `--parameter` values to decide them.",
            "",
        ]
        out += [f"- `{_where(f)}` **{f.rule_id}** {_cell(f.message)}" for f in undecided_findings]
        out.append("")
    accepted = [f for f in findings if f.suppressed]
    if accepted:
        out += ["## Accepted risks (suppressed)", ""]
        out += [
            f"- `{_where(f)}` **{f.rule_id}** {_cell(label(f.location))}: "
            f"{_cell(f.suppressed.reason if f.suppressed else '')}"
            for f in accepted
        ]
        out.append("")
    errors = [r for r in run.files if r.status is FileStatus.ERROR]
    if errors:
        out += ["## Files that could not be linted", ""]
        out += [f"- `{r.path}`: {_cell(r.error or '')}" for r in errors]
        out.append("")

    checked = {r.best_practice for r in rules} | {bp for r in rules for bp in r.related_best_practices}
    out += ["## Scope of this review", ""]
    out.append(
        f"A template review automates part of a Well-Architected review: walint's rules check "
        f"{len(checked)} of the {len(table)} current best practices. The rest are about people, process "
        "and the running workload, and need the Well-Architected Tool or a manual review. Not assessed here:"
    )
    out.append("")
    out += [f"- **{PILLAR_TITLES[p]}**: {NOT_ASSESSED[p]}." for p in PILLARS]
    out.append("")
    return "\n".join(out)


def _where(f: Finding) -> str:
    return f"{f.location.file}:{f.location.span.line}"


def _finding_line(f: Finding) -> str:
    bp = best_practices().get(f.best_practice)
    practice = f"[{bp.id} {bp.title}]({bp.url})" if bp else f.best_practice
    return (
        f"- **{f.rule_id}** `{_where(f)}` {_cell(label(f.location))}: {_cell(f.message)}. "
        f"Best practice {practice}. [How to fix]({f.remediation_url})"
    )
