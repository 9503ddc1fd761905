"""The JSON contract (`--format json`): versioned; fields are added, never renamed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from walint import __version__
from walint.catalog import Rule
from walint.findings import PILLARS, Finding, Outcome, Risk, RunResult
from walint.reporters.limits import LARGE_REPORT

SCHEMA_VERSION = 1


def finding_dict(f: Finding) -> dict[str, Any]:
    span = f.location.span
    return {
        "rule_id": f.rule_id,
        "title": f.title,
        "pillar": f.pillar,
        "best_practice": f.best_practice,
        "risk": f.risk.value,
        "outcome": f.outcome.value,
        "message": f.message,
        "file": f.location.file,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
        "resource": f.location.resource,
        "resource_type": f.location.resource_type,
        # Added in the same version: where the resource came from (CDK construct path as in
        # `aws:cdk:path`, SAM-generated resource the rule judged), null otherwise.
        "cdk_path": f.location.cdk_path,
        "generated": f.location.generated,
        "path": list(f.location.path),
        "remediation_url": f.remediation_url,
        "reasons": list(f.reasons),
        "suppressed": {"reason": f.suppressed.reason, "source": f.suppressed.source} if f.suppressed else None,
        "fails_run": False,
    }


def render(run: RunResult, rules: Sequence[Rule]) -> str:
    findings = []
    for f in run.findings:
        item = finding_dict(f)
        item["fails_run"] = run.is_failing(f)
        findings.append(item)
    by_pillar: dict[str, dict[str, int]] = {p: {"fail": 0, "unknown": 0, "suppressed": 0} for p in PILLARS}
    by_risk: Counter[str] = Counter({r.value: 0 for r in Risk})
    for f in run.findings:
        bucket = by_pillar.setdefault(f.pillar, {"fail": 0, "unknown": 0, "suppressed": 0})
        if f.suppressed:
            bucket["suppressed"] += 1
        elif f.outcome is Outcome.UNKNOWN:
            bucket["unknown"] += 1
        else:
            bucket["fail"] += 1
            by_risk[f.risk.value] += 1
    document = {
        "version": SCHEMA_VERSION,
        "tool": {"name": "walint", "version": __version__},
        "files": [
            {
                "path": r.path,
                "status": r.status.value,
                "error": r.error if r.status.value == "error" else None,
                "reason": r.error if r.status.value == "skipped" else None,
                "resources": r.resources,
                "notes": list(r.notes),
                "nested_in": list(r.nested_in),
            }
            for r in run.files
        ],
        "findings": findings,
        "summary": {
            "files": len(run.files),
            "linted": sum(1 for r in run.files if r.status.value == "linted"),
            "skipped": sum(1 for r in run.files if r.status.value == "skipped"),
            "errors": sum(1 for r in run.files if r.status.value == "error"),
            "findings": len(run.findings),
            "failed": sum(1 for f in run.findings if f.outcome is Outcome.FAIL and not f.suppressed),
            "unknown": sum(1 for f in run.findings if f.outcome is Outcome.UNKNOWN and not f.suppressed),
            "suppressed": sum(1 for f in run.findings if f.suppressed),
            "baselined": run.baselined,
            "rules": len(rules),
            "by_pillar": by_pillar,
            "by_risk": dict(by_risk),
            "exit_code": run.exit_code,
        },
    }
    # Indented for people on small runs; compact on large ones, where the indenting encoder
    # (pure Python) would cost seconds.
    indent = 2 if len(run.findings) <= LARGE_REPORT else None
    return json.dumps(document, indent=indent, ensure_ascii=False) + "\n"
