"""SARIF 2.1.0 for GitHub code scanning and editors: one run, every rule described, tight regions,
line-independent fingerprints. Built as plain dicts; validated against the official schema in tests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from walint import __version__
from walint.catalog import Rule, best_practices
from walint.findings import META_RULE_ID, META_URL, Finding, Outcome, Risk, RunResult
from walint.fingerprint import fingerprint
from walint.reporters.limits import LARGE_REPORT
from walint.reporters.resource import construct_path, label, origin

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/walint/walint"
RULE_DOC_URI = INFORMATION_URI + "/blob/main/docs/rules/{id}.md"

LEVEL = {Risk.CRITICAL: "error", Risk.HIGH: "error", Risk.MEDIUM: "warning", Risk.LOW: "note", Risk.INFO: "note"}
# Mid-bucket values, robust to GitHub's documented boundaries (critical > 9.0, high 7.0-8.9 …).
SECURITY_SEVERITY = {Risk.CRITICAL: "9.5", Risk.HIGH: "8.0", Risk.MEDIUM: "5.5", Risk.LOW: "2.0"}
PROBLEM_SEVERITY = {
    Risk.CRITICAL: "error",
    Risk.HIGH: "error",
    Risk.MEDIUM: "warning",
    Risk.LOW: "recommendation",
    Risk.INFO: "recommendation",
}


_META_DESCRIPTOR: dict[str, Any] = {
    "id": META_RULE_ID,
    "name": "SuppressionWithoutReason",
    "shortDescription": {"text": "Suppression without a justification"},
    "fullDescription": {"text": "A walint suppression in Metadata has no reason, so it does not apply."},
    "help": {
        "text": "Give every suppression a reason: Metadata: {walint: {suppress: [{rule: ID, reason: ...}]}}.",
        "markdown": "Give every suppression a `reason`: `walint: {suppress: [{rule: ID, reason: ...}]}`.",
    },
    "helpUri": META_URL,
    "defaultConfiguration": {"level": "note"},
    "properties": {"tags": ["well-architected", "walint"], "problem.severity": "recommendation"},
}


def uri(path: str) -> str:
    """A repository-relative, percent-encoded URI reference (spaces and all)."""
    return quote(path.replace("\\", "/"), safe="/-_.~")


def _descriptor(rule: Rule) -> dict[str, Any]:
    bp = best_practices()[rule.best_practice]
    tags = ["well-architected", f"wa/{rule.pillar}", f"wa/{rule.best_practice}", "cloudformation"]
    properties: dict[str, Any] = {"precision": "high", "pillar": rule.pillar, "risk": rule.risk.value}
    if rule.pillar == "security":
        tags.insert(0, "security")
        if rule.risk in SECURITY_SEVERITY:
            properties["security-severity"] = SECURITY_SEVERITY[rule.risk]
    else:
        properties["problem.severity"] = PROBLEM_SEVERITY[rule.risk]
    properties["tags"] = tags
    markdown = (
        f"**{rule.title}** ({rule.risk.value} risk)\n\n{rule.rationale}\n\n"
        f"**How to fix:** {rule.remediation_summary}\n\n"
        f"Well-Architected best practice: [{bp.id} {bp.title}]({bp.url})\n\n"
        f"More: {rule.remediation_url}"
    )
    text = (
        f"{rule.title} ({rule.risk.value} risk). {rule.rationale}\n\nHow to fix: {rule.remediation_summary}\n\n"
        f"Best practice {bp.id} {bp.title}: {bp.url}"
    )
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.title[:1024]},
        "fullDescription": {"text": f"{rule.title}. Best practice {bp.id}: {bp.title}."[:1024]},
        "help": {"text": text, "markdown": markdown},
        "helpUri": RULE_DOC_URI.format(id=rule.id),
        "defaultConfiguration": {"level": LEVEL[rule.risk]},
        "properties": properties,
    }


def _result(f: Finding, index: int | None, include_suppressions: bool) -> dict[str, Any]:
    span = f.location.span
    level = "note" if f.outcome is Outcome.UNKNOWN else LEVEL[f.risk]
    message = f.message + ("" if not f.reasons or f.outcome is Outcome.UNKNOWN else " (" + "; ".join(f.reasons) + ")")
    if origin(f.location):
        # Code scanning shows the message, not logical locations, and cdk.out is rarely committed:
        # the construct path is how the reader finds the code to change.
        message += f"\nResource: {label(f.location)}"
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": uri(f.location.file), "uriBaseId": "%SRCROOT%"},
            "region": {
                "startLine": span.line,
                "startColumn": span.column,
                "endLine": max(span.end_line, span.line),
                "endColumn": max(span.end_column, span.column + 1) if span.end_line <= span.line else span.end_column,
            },
        }
    }
    if f.location.resource:
        location["logicalLocations"] = [
            {
                "name": f.location.resource,
                "kind": "resource",
                "fullyQualifiedName": ".".join(str(p) for p in f.location.path),
            }
        ]
        if f.location.cdk_path:
            # The same resource as the CDK construct tree names it.
            location["logicalLocations"].append(
                {
                    "name": construct_path(f.location.cdk_path).rsplit("/", 1)[-1],
                    "kind": "resource",
                    "fullyQualifiedName": f.location.cdk_path,
                }
            )
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "level": level,
        "message": {"text": message},
        "locations": [location],
        "partialFingerprints": {"walint/v1": fingerprint(f)},
        "properties": {
            "risk": f.risk.value,
            "pillar": f.pillar,
            "bestPractice": f.best_practice,
            "outcome": f.outcome.value,
            "resourceType": f.location.resource_type,
        },
    }
    if f.location.cdk_path:
        result["properties"]["cdkPath"] = f.location.cdk_path
    if f.location.generated:
        result["properties"]["generatedResource"] = f.location.generated
    if index is not None:
        result["ruleIndex"] = index
    if include_suppressions:
        result["suppressions"] = (
            [{"kind": "inSource", "justification": f.suppressed.reason, "properties": {"source": f.suppressed.source}}]
            if f.suppressed
            else []
        )
    return result


def render(
    run: RunResult, rules: Sequence[Rule], *, include_unknown: bool = False, include_suppressed: bool = False
) -> str:
    descriptors = [_descriptor(rule) for rule in rules]
    if any(f.rule_id == META_RULE_ID for f in run.findings):
        descriptors.append(_META_DESCRIPTOR)
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    results = []
    for f in run.findings:
        if f.suppressed and not include_suppressed:
            continue  # GitHub opens alerts for suppressed results; leave them out unless asked
        if f.outcome is Outcome.UNKNOWN and not include_unknown:
            continue
        results.append(_result(f, index.get(f.rule_id), include_suppressed))
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{r.path}: {r.error}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(r.path), "uriBaseId": "%SRCROOT%"}}}],
        }
        for r in run.files
        if r.status.value == "error"
    ]
    document = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "walint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "automationDetails": {"id": "walint/"},
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root."}}},
                "invocations": [
                    {"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}
                ],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    # Indented for people on small runs; compact on large ones, where the indenting encoder
    # (pure Python) would cost seconds.
    indent = 2 if len(run.findings) <= LARGE_REPORT else None
    return json.dumps(document, indent=indent, ensure_ascii=False) + "\n"
