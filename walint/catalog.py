"""Load and validate rules (one YAML file each) and the Well-Architected best-practice table."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any

import yaml

from walint.conditions import Clause, ClauseError, compile_clause
from walint.findings import PILLAR_PREFIX, PILLARS, Risk

PACKAGE_DIR = FsPath(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
SCHEMA_FILE = DATA_DIR / "rule-schema.json"

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RuleError(Exception):
    """A rule file that cannot be loaded; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class BestPractice:
    id: str
    pillar: str
    question: str
    title: str
    risk: str
    url: str


@dataclass(frozen=True, slots=True)
class RiskOverride:
    risk: Risk
    when: Clause


@dataclass(frozen=True, slots=True)
class Undecidable:
    """A failing resource for which the template alone cannot decide (e.g. restored from a
    snapshot whose settings walint cannot see): reported as UNKNOWN with `reason`."""

    when: Clause
    reason: str


@dataclass(frozen=True, eq=False)  # identity: rules are unique by id and hashed in indexes
class Rule:
    id: str
    title: str
    pillar: str
    best_practice: str
    related_best_practices: tuple[str, ...]
    risk: Risk
    resource_types: tuple[str, ...]
    where: Clause | None
    check: Clause
    message: str
    rationale: str
    remediation_summary: str
    remediation_url: str
    equivalents: Mapping[str, tuple[str, ...]]
    limitations: str
    unknown_when: str
    risk_overrides: tuple[RiskOverride, ...]
    undecidable: tuple[Undecidable, ...]
    source: str
    builtin: bool
    raw: Mapping[str, Any]
    #: For SAM templates: "deployed" judges what the SAM transform generates; "as-written" judges
    #: the AWS::Serverless::* resources the rule lists as the user wrote them, where the rule's
    #: SAM logic knows more than the generated resources show (a deployment preference's alarms).
    sam: str = "deployed"


def builtin_rules_dir() -> FsPath:
    """Rules ship inside the wheel as walint/_rules; in a source checkout they are ../rules."""
    packaged = PACKAGE_DIR / "_rules"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "rules"


def builtin_fixtures_dir() -> FsPath:
    packaged = PACKAGE_DIR / "_fixtures"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "fixtures"


@lru_cache(maxsize=1)
def best_practices() -> Mapping[str, BestPractice]:
    with open(DATA_DIR / "best-practices.tsv", encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return {
            row["id"]: BestPractice(
                row["id"], row["pillar"], row["question"], row["title"], row["risk_level"], row["url"]
            )
            for row in rows
        }


@lru_cache(maxsize=1)
def taggable_types() -> frozenset[str]:
    with open(DATA_DIR / "taggable-types.txt", encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle if line.strip() and not line.startswith("#"))


_FIELDS = {
    "id",
    "title",
    "pillar",
    "best_practice",
    "related_best_practices",
    "risk",
    "risk_overrides",
    "resource_types",
    "where",
    "assert",
    "message",
    "rationale",
    "remediation",
    "equivalents",
    "limitations",
    "unknown_when",
    "undecidable",
    "sam",
}
SAM_MODES = ("deployed", "as-written")
_REQUIRED = (
    "id",
    "title",
    "pillar",
    "best_practice",
    "risk",
    "resource_types",
    "assert",
    "message",
    "rationale",
    "remediation",
)
_EQUIVALENT_TOOLS = ("checkov", "cfn_nag", "guard")


def _text(spec: Mapping[str, Any], key: str, source: str, *, required: bool = True) -> str:
    value = spec.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise RuleError(f"{source}: '{key}' must be a non-empty string")
    return value.strip()


def compile_rule(spec: Any, source: str, *, builtin: bool, options: Mapping[str, Any] | None = None) -> Rule:
    """Turn one rule mapping into a Rule, or raise RuleError naming `source` and the key."""
    if not isinstance(spec, dict):
        raise RuleError(f"{source}: a rule file must hold a mapping")
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise RuleError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(_FIELDS)}")
    for key in _REQUIRED:
        if key not in spec:
            raise RuleError(f"{source}: missing required key '{key}'")
    rule_id = _text(spec, "id", source)
    pillar = _text(spec, "pillar", source)
    if pillar not in PILLARS:
        raise RuleError(f"{source}: 'pillar' must be one of {list(PILLARS)}, not {pillar!r}")
    prefix = rule_id.split("-")[1] if rule_id.count("-") >= 2 else ""
    if builtin and PILLAR_PREFIX.get(prefix) != pillar:
        raise RuleError(f"{source}: id {rule_id} does not match pillar {pillar}")
    try:
        risk = Risk.parse(_text(spec, "risk", source))
    except ValueError:
        raise RuleError(f"{source}: 'risk' must be one of {[r.value for r in Risk]}") from None
    table = best_practices()
    bp = _text(spec, "best_practice", source)
    if bp not in table:
        raise RuleError(f"{source}: 'best_practice' {bp} is not in the Well-Architected table")
    if table[bp].pillar != pillar:
        raise RuleError(f"{source}: 'best_practice' {bp} belongs to {table[bp].pillar}, not {pillar}")
    related = spec.get("related_best_practices", []) or []
    if not isinstance(related, list) or not all(isinstance(r, str) and r in table for r in related):
        raise RuleError(f"{source}: 'related_best_practices' must list ids from the Well-Architected table")
    types = spec["resource_types"]
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and t for t in types):
        raise RuleError(f"{source}: 'resource_types' must be a non-empty list of resource types")
    remediation = spec["remediation"]
    if not isinstance(remediation, dict) or set(remediation) - {"summary", "url"}:
        raise RuleError(f"{source}: 'remediation' must be a mapping with 'summary' and 'url'")
    url = _text(remediation, "url", f"{source}: remediation")
    if not url.startswith("https://"):
        raise RuleError(f"{source}: 'remediation.url' must be an https link")
    equivalents = spec.get("equivalents", {}) or {}
    if not isinstance(equivalents, dict) or set(equivalents) - set(_EQUIVALENT_TOOLS):
        raise RuleError(f"{source}: 'equivalents' maps {list(_EQUIVALENT_TOOLS)} to lists of ids")
    for tool, ids in equivalents.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise RuleError(f"{source}: 'equivalents.{tool}' must be a list of ids")
    try:
        where = compile_clause(spec["where"], "where", options) if spec.get("where") is not None else None
        check = compile_clause(spec["assert"], "assert", options)
        overrides = _overrides(spec.get("risk_overrides", []) or [], source, options)
        undecidable = _undecidable(spec.get("undecidable", []) or [], source, options)
    except ClauseError as exc:
        raise RuleError(f"{source}: {exc}") from None
    sam = spec.get("sam", "deployed")
    if sam not in SAM_MODES:
        raise RuleError(f"{source}: 'sam' must be one of {list(SAM_MODES)}")
    return Rule(
        id=rule_id,
        title=_text(spec, "title", source),
        pillar=pillar,
        best_practice=bp,
        related_best_practices=tuple(related),
        risk=risk,
        resource_types=tuple(types),
        where=where,
        check=check,
        message=_text(spec, "message", source),
        rationale=_text(spec, "rationale", source),
        remediation_summary=_text(remediation, "summary", f"{source}: remediation"),
        remediation_url=url,
        equivalents={tool: tuple(ids) for tool, ids in equivalents.items()},
        limitations=_text(spec, "limitations", source, required=False),
        unknown_when=_text(spec, "unknown_when", source, required=False),
        risk_overrides=overrides,
        undecidable=undecidable,
        source=source,
        builtin=builtin,
        raw=spec,
        sam=sam,
    )


def _overrides(items: Any, source: str, options: Mapping[str, Any] | None) -> tuple[RiskOverride, ...]:
    if not isinstance(items, list):
        raise RuleError(f"{source}: 'risk_overrides' must be a list of {{risk, when}}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"risk", "when"}:
            raise RuleError(f"{source}: 'risk_overrides[{i}]' must be a mapping with 'risk' and 'when'")
        try:
            risk = Risk.parse(str(item["risk"]))
        except ValueError:
            raise RuleError(f"{source}: 'risk_overrides[{i}].risk' must be one of {[r.value for r in Risk]}") from None
        out.append(RiskOverride(risk, compile_clause(item["when"], f"risk_overrides[{i}].when", options)))
    return tuple(out)


def _undecidable(items: Any, source: str, options: Mapping[str, Any] | None) -> tuple[Undecidable, ...]:
    if not isinstance(items, list):
        raise RuleError(f"{source}: 'undecidable' must be a list of {{when, reason}}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"when", "reason"} or not isinstance(item["reason"], str):
            raise RuleError(f"{source}: 'undecidable[{i}]' must be a mapping with 'when' and a 'reason' string")
        out.append(Undecidable(compile_clause(item["when"], f"undecidable[{i}].when", options), item["reason"]))
    return tuple(out)


def _validate_schema(spec: Any, source: str) -> None:
    """Validate a user's rule against the published JSON Schema (jsonschema is imported lazily:
    with its format extras it costs about a second, which built-in rules need not pay)."""
    import jsonschema  # noqa: PLC0415

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(spec))
    if error is not None:
        where = ".".join(str(p) for p in error.path) or "(top level)"
        raise RuleError(f"{source}: {where}: {error.message}")


def load_file(path: FsPath, *, builtin: bool, options: Mapping[str, Any] | None = None) -> Rule:
    source = str(path)
    try:
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{source}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise RuleError(f"{source}: not valid YAML: {exc}") from None
    # The compiler's messages name the exact key; the schema then catches anything it let by.
    rule = compile_rule(spec, source, builtin=builtin, options=options)
    if not builtin:
        _validate_schema(spec, source)
    if rule.id != path.stem:
        raise RuleError(f"{source}: id {rule.id} does not match the file name {path.name}")
    return rule


def load_rules(
    extra_dirs: Iterable[str] = (),
    options: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    builtin_dir: FsPath | None = None,
) -> list[Rule]:
    """The built-in rules plus the rules in `extra_dirs`; a user rule may not reuse a built-in id."""
    options = options or {}
    rules: dict[str, Rule] = {}
    directory = builtin_dir or builtin_rules_dir()
    for path in sorted(directory.glob("*.yaml")):
        rule = load_file(path, builtin=True, options=options.get(path.stem))
        rules[rule.id] = rule
    for extra in extra_dirs:
        folder = FsPath(extra)
        if not folder.is_dir():
            raise RuleError(f"{extra}: rule directory not found")
        for path in sorted(folder.glob("*.y*ml")):
            rule = load_file(path, builtin=False, options=options.get(path.stem))
            if rule.id in rules:
                other = rules[rule.id]
                kind = "a built-in rule" if other.builtin else f"the rule in {other.source}"
                raise RuleError(f"{path}: id {rule.id} is already used by {kind}; choose another id")
            rules[rule.id] = rule
    return sorted(rules.values(), key=lambda r: _id_key(r.id))


def _id_key(rule_id: str) -> tuple[str, int, str]:
    head, _, number = rule_id.rpartition("-")
    return (head, int(number), rule_id) if number.isdigit() else (rule_id, 0, rule_id)


def id_matches(rule_id: str, pattern: str) -> bool:
    """Rule selection and suppression accept an id or an id prefix (WA-SEC, WA-REL-01)."""
    pattern = pattern.strip().upper()
    return rule_id == pattern or rule_id.startswith(pattern)
