"""Rules × resources → outcomes → findings, per file, with in-template suppressions."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from walint.catalog import Rule, id_matches, taggable_types
from walint.conditions import Result, Scope
from walint.discover import FileTooBigOrUnreadable, read_limited
from walint.findings import (
    META_RULE_ID,
    META_URL,
    FileResult,
    FileStatus,
    Finding,
    Location,
    NestedStack,
    Outcome,
    Path,
    Risk,
    RuleTally,
    Suppression,
)
from walint.graph import Resource, Template, TemplateError, build, is_template
from walint.langext import Unexpanded, expand
from walint.params import cloudformation_text, violations
from walint.parse import Document, ParseError, decode
from walint.sam import SamError, is_sam
from walint.sam import transform as sam_transform
from walint.selectors import Focus
from walint.values import Kind, Resolver, tri_all

#: Templates bigger than this are not read (CloudFormation's own limit is 1 MB; SAM/CDK
#: sources can be larger before transformation, so allow headroom).
MAX_FILE_BYTES = 50 * 1024 * 1024


#: Resources a tool adds for its own bookkeeping; no rule judges them, even rules for every type.
TOOL_RESOURCE_TYPES = frozenset({"AWS::CDK::Metadata"})


@dataclass(frozen=True)
class LintOptions:
    parameters: Mapping[str, str] = field(default_factory=dict)
    assume_defaults: bool = False
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    other_tool_suppressions: bool = True  # honour checkov/cfn_nag/cfn-guard skips on equivalent rules
    #: For a nested stack: the parameters its parent passes with values that cannot be known. Every
    #: other parameter the parent does not pass takes its default, as CloudFormation deploys it.
    passed_undecided: tuple[str, ...] | None = None


class RuleIndex:
    """Rules indexed by the resource types they apply to, so each resource meets only its rules."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._exact: dict[str, list[Rule]] = {}
        self._patterns: list[tuple[str, Rule]] = []
        self._taggable: list[Rule] = []
        self._cache: dict[str, tuple[Rule, ...]] = {}
        for rule in self.rules:
            for rtype in rule.resource_types:
                if rtype == "@taggable":
                    self._taggable.append(rule)
                elif any(ch in rtype for ch in "*?["):
                    self._patterns.append((rtype, rule))
                else:
                    self._exact.setdefault(rtype, []).append(rule)

    def for_type(self, resource_type: str) -> tuple[Rule, ...]:
        cached = self._cache.get(resource_type)
        if cached is not None:
            return cached
        if resource_type in TOOL_RESOURCE_TYPES:
            return ()
        found = list(self._exact.get(resource_type, ()))
        found += [rule for pattern, rule in self._patterns if fnmatch.fnmatchcase(resource_type, pattern)]
        if self._taggable and resource_type in taggable_types():
            found += self._taggable
        ordered = tuple(dict.fromkeys(found))
        self._cache[resource_type] = ordered
        return ordered


def lint_bytes(path: str, raw: bytes, index: RuleIndex, options: LintOptions) -> FileResult:
    """Lint one file's content. Never raises for bad input: the status says what happened."""
    if b"Resources" not in raw:
        return FileResult(path, FileStatus.SKIPPED, "not a CloudFormation template (no Resources section)")
    try:
        doc = decode(path, raw)
    except ParseError as exc:
        return FileResult(path, FileStatus.ERROR, str(exc))
    if not is_template(doc.data):
        return FileResult(
            path,
            FileStatus.SKIPPED,
            "not a CloudFormation template (needs a Resources mapping and AWSTemplateFormatVersion, "
            "a Transform or AWS:: resource types)",
        )
    # Values CloudFormation would reject describe no deployment: the file is not judged with them.
    rejected = violations(doc, options.parameters)
    if rejected:
        return FileResult(path, FileStatus.ERROR, "; ".join(f"line {doc.span(p).line}: {m}" for p, m in rejected))
    if options.passed_undecided is not None:
        options = replace(options, parameters=_with_unpassed_defaults(doc, options))
    try:
        # AWS::LanguageExtensions first, as CloudFormation runs the transforms in that order.
        expansion = expand(doc, options.parameters, options.assume_defaults)
    except TemplateError as exc:
        return FileResult(path, FileStatus.ERROR, f"line {doc.span(exc.path).line}: {exc.message}")
    try:
        template = build(expansion.doc)
    except TemplateError as exc:
        span = expansion.doc.span(exc.path)
        return FileResult(path, FileStatus.ERROR, f"line {span.line}: {exc.message}")
    if expansion.unexpanded or expansion.notes:
        template = replace(template, unexpanded=expansion.unexpanded, notes=template.notes + expansion.notes)
    if is_sam(template):
        try:
            template = sam_transform(template, options.parameters)
        except SamError as exc:
            return FileResult(path, FileStatus.ERROR, str(exc))
    return lint_template(template, index, options)


def _with_unpassed_defaults(doc: Document, options: LintOptions) -> dict[str, str]:
    values = dict(options.parameters)
    declared = doc.data.get("Parameters") if isinstance(doc.data, dict) else None
    for name, spec in declared.items() if isinstance(declared, dict) else ():
        if name in values or name in (options.passed_undecided or ()) or not isinstance(spec, dict):
            continue
        default = cloudformation_text(spec.get("Default"))
        if default is not None:
            values[name] = default
    return values


def lint_template(template: Template, index: RuleIndex, options: LintOptions) -> FileResult:
    resolver = Resolver(template, options.parameters, assume_defaults=options.assume_defaults)
    run = _Run(template, index, options)
    provenance = template.provenance
    source = provenance.source if provenance else template
    template_suppressions, meta = _suppressions(source.metadata, ("Metadata",), source, None)
    run.findings.extend(meta)
    run.template_suppressions = template_suppressions
    covered: dict[str, set[Rule]] = {}  # SAM logical id → rules that judged what it generated
    for resource in template.resources.values():
        owner = provenance.owner(resource.logical_id) if provenance else None
        rules = index.for_type(resource.type)
        if owner is not None:
            # A rule that asks to judge the SAM resource as written leaves what it generates alone.
            rules = tuple(r for r in rules if r.sam == "deployed" or owner.type not in r.resource_types)
            covered.setdefault(owner.logical_id, set()).update(rules)
        run.judge(template, resolver, resource, rules, owner)
    for loop in template.unexpanded:
        if loop.resource is None:
            run.unexpanded(source, index, loop)
    source_resolver = (
        resolver
        if provenance is None
        else Resolver(source, options.parameters, assume_defaults=options.assume_defaults)
    )
    if provenance is not None:
        # Rules written for the SAM resource itself run on it as written, unless they already
        # judged what SAM generated from it (a rule for both AWS::Serverless::Function and
        # AWS::Lambda::Function judges the generated function only).
        for logical_id in provenance.sam_resources:
            resource = source.resources[logical_id]
            done = covered.get(logical_id, set())
            rules = tuple(rule for rule in index.for_type(resource.type) if rule not in done)
            run.judge(source, source_resolver, resource, rules, None)
    findings = sorted(_unique(run.findings), key=lambda f: f.sort_key)
    return FileResult(
        template.path,
        FileStatus.LINTED,
        None,
        len(source.resources),
        tuple(findings),
        tuple(RuleTally(rid, *counts) for rid, counts in sorted(run.tallies.items())),
        template.notes,
        nested_stacks(source, source_resolver),
    )


#: Nested-stack resource types and the property that names their template.
_NESTED = {"AWS::CloudFormation::Stack": "TemplateURL", "AWS::Serverless::Application": "Location"}


def nested_stacks(template: Template, resolver: Resolver) -> tuple[NestedStack, ...]:
    """The nested stacks whose template is a local file (before `aws cloudformation package` or
    `sam package` uploads it), with the parameter values the parent passes."""
    found: list[NestedStack] = []
    for resource in template.resources.values():
        key = _NESTED.get(resource.type)
        if key is None:
            continue
        location = resource.properties.get(key)
        if not (isinstance(location, str) and _is_local(location)):
            location = _cdk_asset(resource, key)
        if location is None or not _is_local(location):
            continue
        if resource.condition and resolver.condition(resource.condition) is False:
            continue
        passed = resource.properties.get("Parameters")
        known: list[tuple[str, str]] = []
        undecided: list[str] = []
        for name, value in passed.items() if isinstance(passed, dict) else ():
            alts = resolver.resolve(value)
            texts = {cloudformation_text(a.value) if a.kind is Kind.KNOWN else None for a in alts}
            text = texts.pop() if len(texts) == 1 else None
            if text is None:
                undecided.append(name)
            else:
                known.append((name, text))
        found.append(NestedStack(resource.logical_id, location.removeprefix("file://"), tuple(known), tuple(undecided)))
    return tuple(found)


def _cdk_asset(resource: Resource, key: str) -> str | None:
    """The local file of a CDK NestedStack: CDK uploads it as an asset, and records the file beside
    the parent template in the resource's metadata."""
    metadata = resource.data.get("Metadata")
    if not isinstance(metadata, dict) or metadata.get("aws:asset:property") != key:
        return None
    path = metadata.get("aws:asset:path")
    return path if isinstance(path, str) and path else None


def _is_local(location: str) -> bool:
    return location.startswith("file://") or ("://" not in location and not location.startswith("{{"))


class _Run:
    """The findings and tallies of one template, and the suppressions met on the way."""

    def __init__(self, template: Template, index: RuleIndex, options: LintOptions) -> None:
        self.options = options
        self.findings: list[Finding] = []
        self.tallies: dict[str, list[int]] = {}
        self.template_suppressions: list[tuple[str, str]] = []
        # Suppressions by the resource whose Metadata holds them (SAM resources own those of
        # everything generated from them), read once each.
        self._suppressions: dict[tuple[int, str], tuple[list[tuple[str, str]], list[tuple[str, str, str]]]] = {}
        # Resources with a Fn::ForEach in their properties that could not be expanded: what the
        # loop would add is unknown, so no verdict on them is certain.
        self.incomplete: dict[str, tuple[Path, str]] = {}
        for loop in template.unexpanded:
            if loop.resource is not None:
                self.incomplete.setdefault(loop.resource, (loop.path, loop.reason))

    def unexpanded(self, template: Template, index: RuleIndex, loop: Unexpanded) -> None:
        """Every rule for the resources a loop would create is undecided, with the loop's reason."""
        name = str(loop.path[-1])
        for resource_type in loop.resource_types:
            placeholder = Resource(name, resource_type, {"Type": resource_type}, None)
            for rule in index.for_type(resource_type):
                self.tallies.setdefault(rule.id, [0, 0, 0])[2] += 1
                finding = _finding(rule, template, placeholder, Outcome.UNKNOWN, loop.path, (loop.reason,), "")
                reason = _suppressed_by(rule.id, self.template_suppressions)
                if reason is not None:
                    finding = _with_suppression(finding, Suppression(reason, "walint"))
                self.findings.append(finding)

    def judge(
        self,
        template: Template,
        resolver: Resolver,
        resource: Resource,
        rules: tuple[Rule, ...],
        owner: Resource | None,
    ) -> None:
        if not rules:
            return
        exists = resolver.condition(resource.condition) if resource.condition else True
        if exists is False:
            return  # not created with the given parameters
        provenance = template.provenance
        holder, holder_template = (
            (owner, provenance.source) if owner is not None and provenance else (resource, template)
        )
        own, foreign = self._suppressions_of(holder_template, holder)
        incomplete = self.incomplete.get((owner or resource).logical_id)
        for rule in rules:
            outcome, finding = _evaluate(rule, template, resolver, resource, self.options, exists)
            if incomplete is not None and outcome in (Outcome.PASS, Outcome.FAIL):
                outcome = Outcome.UNKNOWN
                loop_path, why = incomplete
                finding = _finding(rule, template, resource, outcome, loop_path, (why,), "")
            tally = self.tallies.setdefault(rule.id, [0, 0, 0])
            if outcome is Outcome.PASS:
                tally[0] += 1
            elif outcome is Outcome.FAIL:
                tally[1] += 1
            elif outcome is Outcome.UNKNOWN:
                tally[2] += 1
            if finding is None:
                continue
            reason = _suppressed_by(rule.id, own) or _suppressed_by(rule.id, self.template_suppressions)
            if reason is not None:
                finding = _with_suppression(finding, Suppression(reason, "walint"))
            else:
                other = _suppressed_by_other_tool(rule, foreign)
                if other is not None:
                    finding = _with_suppression(finding, other)
            self.findings.append(finding)

    def _suppressions_of(
        self, template: Template, resource: Resource
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
        key = (id(template), resource.logical_id)
        known = self._suppressions.get(key)
        if known is not None:
            return known
        metadata = resource.data.get("Metadata")
        own, meta = _suppressions(
            metadata if isinstance(metadata, dict) else {}, resource.path + ("Metadata",), template, resource
        )
        self.findings.extend(meta)
        foreign = (
            _foreign_suppressions(metadata)
            if self.options.other_tool_suppressions and isinstance(metadata, dict)
            else []
        )
        self._suppressions[key] = (own, foreign)
        return own, foreign


def _unique(findings: list[Finding]) -> list[Finding]:
    """One finding per rule and place among what SAM generates: it can generate several
    resources (a function and its role, a deployment and its stage) that a rule fails for the same
    line the user wrote, and one fix mends them all."""

    def key(finding: Finding) -> tuple[str, str | None, Path, Outcome]:
        return (finding.rule_id, finding.location.resource, finding.location.path, finding.outcome)

    seen = {key(f) for f in findings if f.location.generated is None}
    unique: list[Finding] = []
    for finding in findings:
        if finding.location.generated is None:
            unique.append(finding)
        elif key(finding) not in seen:
            seen.add(key(finding))
            unique.append(finding)
    return unique


def _evaluate(
    rule: Rule,
    template: Template,
    resolver: Resolver,
    resource: Resource,
    options: LintOptions,
    exists: bool | None,
) -> tuple[Outcome, Finding | None]:
    try:
        return _judge(rule, template, resolver, resource, options, exists)
    except Exception as exc:  # noqa: BLE001 - isolation: one broken rule must not stop the run
        reason = f"internal error while evaluating {rule.id}: {type(exc).__name__}: {exc}; please report it"
        return Outcome.UNKNOWN, _finding(rule, template, resource, Outcome.UNKNOWN, resource.path, (reason,), "")


def _judge(
    rule: Rule,
    template: Template,
    resolver: Resolver,
    resource: Resource,
    options: LintOptions,
    exists: bool | None,
) -> tuple[Outcome, Finding | None]:
    scope = Scope(template, resolver, resource, options.rule_options.get(rule.id, {}))
    focus = Focus(resource.data, resource.path)
    where = rule.where.evaluate(scope, focus) if rule.where else Result(True)
    if where.tri is False:
        return Outcome.NOT_APPLICABLE, None
    check = rule.check.evaluate(scope, focus)
    fails = tri_all([where.tri, None if check.tri is None else not check.tri])
    if fails is False:
        return Outcome.PASS, None
    decided_by = check if check.tri is not True else where
    reasons = check.reasons if check.tri is None else where.reasons if where.tri is None else ()
    if fails is None:
        return Outcome.UNKNOWN, _finding(
            rule, template, resource, Outcome.UNKNOWN, decided_by.path or resource.path, reasons, check.detail
        )
    for escape in rule.undecidable:
        if escape.when.evaluate(scope, focus).tri is True:
            return Outcome.UNKNOWN, _finding(
                rule, template, resource, Outcome.UNKNOWN, check.path or resource.path, (escape.reason,), ""
            )
    extra: tuple[str, ...] = ()
    if exists is None and resource.condition:
        extra = (f"{resource.logical_id} is created only when condition {resource.condition} is true",)
    risk = rule.risk
    for override in rule.risk_overrides:
        if override.when.evaluate(scope, focus).tri is True:
            risk = override.risk
            break
    return Outcome.FAIL, _finding(
        rule, template, resource, Outcome.FAIL, check.path or resource.path, extra, check.detail, risk
    )


def _finding(
    rule: Rule,
    template: Template,
    resource: Resource,
    outcome: Outcome,
    path: Path,
    reasons: tuple[str, ...],
    detail: str,
    risk: Risk | None = None,
) -> Finding:
    if outcome is Outcome.FAIL:
        message = _format(rule.message, resource, detail)
    else:
        message = f"{rule.title} (cannot be decided from the template)"
        if reasons:
            message += ": " + "; ".join(reasons)
    return Finding(
        rule_id=rule.id,
        title=rule.title,
        pillar=rule.pillar,
        best_practice=rule.best_practice,
        risk=risk or rule.risk,
        outcome=outcome,
        message=message,
        location=_location(template, resource, path),
        remediation_url=rule.remediation_url,
        reasons=reasons,
    )


def _location(template: Template, resource: Resource, path: Path) -> Location:
    provenance = template.provenance
    owner = provenance.owner(resource.logical_id) if provenance else None
    if provenance is not None and owner is not None:
        where = provenance.locate(resource, path)
        return Location(
            template.path,
            provenance.source.doc.span(where),
            owner.logical_id,
            owner.type,
            where,
            cdk_path=cdk_path(owner),
            generated=resource.logical_id if resource.logical_id != owner.logical_id else None,
        )
    return Location(
        template.path,
        template.doc.span(path),
        resource.logical_id,
        resource.type,
        path,
        cdk_path=cdk_path(resource),
    )


def cdk_path(resource: Resource) -> str | None:
    """The construct path CDK records in a synthesized resource's metadata."""
    metadata = resource.data.get("Metadata")
    value = metadata.get("aws:cdk:path") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None


def _format(message: str, resource: Resource, detail: str) -> str:
    text = message.replace("{resource}", resource.logical_id).replace("{type}", resource.type)
    text = text.replace("{detail}", detail)
    return text.strip().rstrip(":;,").strip()


# -- suppressions ----------------------------------------------------------------------------


def _suppressions(
    metadata: Mapping[str, Any], path: Path, template: Template, resource: Resource | None
) -> tuple[list[tuple[str, str]], list[Finding]]:
    """(rule id or prefix, reason) pairs from Metadata.walint.suppress, and findings for
    entries that do not suppress because they have no reason or are malformed."""
    block = metadata.get("walint")
    if not isinstance(block, dict):
        return [], []
    entries = block.get("suppress")
    if entries is None:
        return [], []
    problems: list[Finding] = []
    valid: list[tuple[str, str]] = []
    here = path + ("walint", "suppress")
    if not isinstance(entries, list):
        problems.append(_meta(template, resource, here, "Metadata.walint.suppress must be a list of {rule, reason}"))
        return valid, problems
    for i, entry in enumerate(entries):
        where = here + (i,)
        if not isinstance(entry, dict) or not isinstance(entry.get("rule"), str):
            problems.append(_meta(template, resource, where, "a suppression needs a 'rule' (an id or id prefix)"))
            continue
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            problems.append(
                _meta(
                    template,
                    resource,
                    where,
                    f"the suppression of {entry['rule']} has no reason, so it does not apply; "
                    "say why the finding is acceptable in 'reason'",
                )
            )
            continue
        valid.append((entry["rule"].strip(), reason.strip()))
    return valid, problems


def _meta(template: Template, resource: Resource | None, path: Path, message: str) -> Finding:
    return Finding(
        rule_id=META_RULE_ID,
        title="Suppression without a justification",
        pillar="operational-excellence",
        best_practice="",
        risk=Risk.LOW,
        outcome=Outcome.FAIL,
        message=message,
        location=Location(
            template.path,
            template.doc.span(path),
            resource.logical_id if resource else None,
            resource.type if resource else None,
            path,
            cdk_path=cdk_path(resource) if resource else None,
        ),
        remediation_url=META_URL,
    )


def _foreign_suppressions(metadata: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(tool, check id, reason) from the suppressions checkov, cfn_nag and cfn-guard read."""
    found: list[tuple[str, str, str]] = []
    checkov = metadata.get("checkov")
    if isinstance(checkov, dict) and isinstance(checkov.get("skip"), list):
        for entry in checkov["skip"]:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                found.append(("checkov", entry["id"], str(entry.get("comment") or "")))
    nag = metadata.get("cfn_nag")
    if isinstance(nag, dict) and isinstance(nag.get("rules_to_suppress"), list):
        for entry in nag["rules_to_suppress"]:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                found.append(("cfn_nag", entry["id"], str(entry.get("reason") or "")))
    guard = metadata.get("guard")
    if isinstance(guard, dict) and isinstance(guard.get("SuppressedRules"), list):
        found += [("guard", name, "") for name in guard["SuppressedRules"] if isinstance(name, str)]
    return found


def _suppressed_by_other_tool(rule: Rule, foreign: list[tuple[str, str, str]]) -> Suppression | None:
    for tool, check, reason in foreign:
        if check in rule.equivalents.get(tool, ()):
            text = reason.strip() or "no reason given"
            return Suppression(f"{text} (suppressed for {tool} {check})", tool)
    return None


def _suppressed_by(rule_id: str, entries: list[tuple[str, str]]) -> str | None:
    for pattern, reason in entries:
        if id_matches(rule_id, pattern):
            return reason
    return None


def _with_suppression(finding: Finding, suppression: Suppression) -> Finding:
    return Finding(
        finding.rule_id,
        finding.title,
        finding.pillar,
        finding.best_practice,
        finding.risk,
        finding.outcome,
        finding.message,
        finding.location,
        finding.remediation_url,
        finding.reasons,
        suppression,
    )


def read_and_lint(path: str, index: RuleIndex, options: LintOptions, display: str | None = None) -> FileResult:
    """Read a file from disk and lint it; unreadable or oversized files are errors."""
    name = display or path
    try:
        raw = read_limited(path, MAX_FILE_BYTES)
    except FileTooBigOrUnreadable as exc:
        return FileResult(name, FileStatus.ERROR, f"{exc}, not linted")
    return lint_bytes(name, raw, index, options)


__all__ = ["Document", "LintOptions", "RuleIndex", "lint_bytes", "lint_template", "read_and_lint"]
