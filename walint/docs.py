"""Rule documentation generated from the rule files and their fixtures.

python -m walint.docs write   # regenerate docs/rules/
python -m walint.docs check   # exit 1 when docs/rules/ is stale (the test suite runs this)
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from walint.catalog import Rule, best_practices, builtin_fixtures_dir, load_rules
from walint.findings import PILLAR_TITLES, PILLARS

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "rules"
EXAMPLE_LINES = 60
REGENERATE = "python -m walint.docs write"


def _example(rule: Rule, prefix: str) -> tuple[str, str] | None:
    folder = builtin_fixtures_dir() / rule.id
    if not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        if path.name.startswith(prefix) and path.suffix in (".yaml", ".yml") and path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            text = "\n".join(lines[:EXAMPLE_LINES])
            if len(lines) > EXAMPLE_LINES:
                text += "\n# …"
            return path.name, text
    return None


def rule_page(rule: Rule) -> str:
    table = best_practices()
    bp = table[rule.best_practice]
    out = [f"# {rule.id}: {rule.title}", ""]
    out += [
        "| | |",
        "| --- | --- |",
        f"| Pillar | {PILLAR_TITLES[rule.pillar]} |",
        f"| Best practice | [{bp.id} {bp.title}]({bp.url}) |",
        f"| Risk | {rule.risk.value}" + "".join(f"; {o.risk.value} in some cases" for o in rule.risk_overrides) + " |",
        f"| Resource types | {', '.join(f'`{t}`' for t in rule.resource_types)} |".replace(
            "`@taggable`", "every type with a `Tags` property"
        ),
    ]
    if rule.related_best_practices:
        related = ", ".join(f"[{r}]({table[r].url})" for r in rule.related_best_practices if r in table)
        out.append(f"| Related best practices | {related} |")
    sample = rule.message.replace("{resource}", "<resource>").replace("{type}", "<type>")
    sample = sample.replace("{detail}", "<details>")
    types = ", ".join(
        "every type with a `Tags` property" if t == "@taggable" else f"`{t}`" for t in rule.resource_types
    )
    out += ["", "## What it checks", "", f"Resources of type {types}. A finding reads: “{sample}”.", ""]
    out += ["## Why it matters", "", rule.rationale, ""]
    failing = _example(rule, "fail")
    if failing:
        out += [
            "## Example",
            "",
            f"Flagged (from `fixtures/{rule.id}/{failing[0]}`; `# walint-expect` marks the reported line):",
            "",
            "```yaml",
            failing[1],
            "```",
            "",
        ]
    out += ["## How to fix", "", rule.remediation_summary, ""]
    passing = _example(rule, "pass")
    if passing:
        out += [f"Compliant (from `fixtures/{rule.id}/{passing[0]}`):", "", "```yaml", passing[1], "```", ""]
    out += [f"More: <{rule.remediation_url}>", ""]
    out += ["## When the result is unknown", ""]
    out += [
        rule.unknown_when
        or "When a checked value comes from a parameter without AllowedValues, an Fn::If whose condition "
        "depends on parameters, an import or a dynamic reference.",
        "",
        "Pass the deployment's values with `--parameter NAME=VALUE` to decide.",
        "",
    ]
    unknown = _example(rule, "unknown")
    if unknown:
        out += [f"Example (from `fixtures/{rule.id}/{unknown[0]}`):", "", "```yaml", unknown[1], "```", ""]
    if rule.limitations:
        out += ["## Limitations", "", rule.limitations, ""]
    out += ["## Equivalents in other tools", ""]
    if rule.equivalents and any(rule.equivalents.values()):
        out += ["| tool | ids |", "| --- | --- |"]
        names = {"checkov": "checkov", "cfn_nag": "cfn_nag", "guard": "cfn-guard rules registry"}
        out += [f"| {names[k]} | {', '.join(v)} |" for k, v in rule.equivalents.items() if v]
    else:
        out.append("None of checkov, cfn_nag or the cfn-guard registry checks this.")
    out += [
        "",
        f"Suppress with a reason in the resource's `Metadata`: "
        f'`walint: {{suppress: [{{rule: {rule.id}, reason: "…"}}]}}`.',
        "",
    ]
    return "\n".join(out)


def index_page(rules: Sequence[Rule]) -> str:
    table = best_practices()
    by_pillar: dict[str, list[Rule]] = defaultdict(list)
    by_bp: dict[str, list[str]] = defaultdict(list)
    for rule in rules:
        by_pillar[rule.pillar].append(rule)
        by_bp[rule.best_practice].append(rule.id)
        for related in rule.related_best_practices:
            by_bp[related].append(f"({rule.id})")
    out = [
        "# walint rules",
        "",
        f"Generated from `rules/` and `fixtures/` by `{REGENERATE}`; do not edit by hand.",
        "",
        f"{len(rules)} rules. " + ", ".join(f"{PILLAR_TITLES[p]}: {len(by_pillar[p])}" for p in PILLARS) + ".",
        "",
        "How each rule behaves on 1,349 real templates, and what was checked: [corpus-review.md](corpus-review.md). "
        "Writing a rule: [../writing-rules.md](../writing-rules.md).",
        "",
    ]
    for pillar in PILLARS:
        out += [
            f"## {PILLAR_TITLES[pillar]}",
            "",
            "| rule | risk | best practice | title |",
            "| --- | --- | --- | --- |",
        ]
        for rule in by_pillar[pillar]:
            out.append(f"| [{rule.id}]({rule.id}.md) | {rule.risk.value} | {rule.best_practice} | {rule.title} |")
        out.append("")
    covered = sum(1 for bp in table if any(not r.startswith("(") for r in by_bp.get(bp, [])))
    out += [
        "## Coverage of the Well-Architected best practices",
        "",
        f"Which of the {len(table)} current best practices walint checks from templates: {covered} as a "
        "rule's primary best practice; ids in parentheses relate to it as a secondary practice. "
        "Best practices without a rule are about process, people or runtime data, which a template "
        "cannot show: they stay part of a manual Well-Architected review.",
        "",
        "| best practice | pillar | title | walint rules |",
        "| --- | --- | --- | --- |",
    ]
    for bp in table.values():
        checked = ", ".join(by_bp.get(bp.id, [])) or "manual review"
        out.append(f"| [{bp.id}]({bp.url}) | {bp.pillar} | {bp.title} | {checked} |")
    out.append("")
    return "\n".join(out)


def predicates_page(rules: Sequence[Rule]) -> str:
    """The predicate reference, from the registered functions' docstrings."""
    import inspect  # noqa: PLC0415

    from walint.conditions import PREDICATES, compile_clause  # noqa: PLC0415

    compile_clause({"path": "@", "exists": True}, "")  # registers every predicate module
    users: dict[str, list[str]] = defaultdict(list)
    for rule in rules:
        for name in sorted(set(_PREDICATE_USE.findall(yaml_text(rule)))):
            users[name].append(rule.id)
    out = [
        "# Predicates",
        "",
        f"Generated from `walint/predicates/` by `{REGENERATE}`; do not edit by hand. A predicate is a "
        "named check for what the clause operators cannot say (`{path: P, predicate: NAME, args: {…}}`); "
        "see [writing-rules.md](writing-rules.md).",
        "",
    ]
    for name in sorted(PREDICATES):
        fn = PREDICATES[name]
        module = fn.__module__.removeprefix("walint.predicates.")
        doc = inspect.cleandoc(fn.__doc__ or "(undocumented)")
        out += [f"## `{name}`", "", f"Module `{module}`. Used by: {', '.join(users[name]) or 'no built-in rule'}.", ""]
        out += [doc, ""]
    return "\n".join(out)


_PREDICATE_USE = re.compile(r"predicate:\s*([a-z_0-9]+)")


def yaml_text(rule: Rule) -> str:
    return Path(rule.source).read_text(encoding="utf-8")


def expected_files(rules: Sequence[Rule]) -> dict[Path, str]:
    files = {DOCS_DIR / f"{rule.id}.md": rule_page(rule) for rule in rules}
    files[DOCS_DIR / "README.md"] = index_page(rules)
    files[DOCS_DIR.parent / "predicates.md"] = predicates_page(rules)
    return files


def stale(rules: Sequence[Rule]) -> list[str]:
    """Generated files that differ from what is on disk, plus pages of rules that are gone."""
    wanted = expected_files(rules)
    problems = [
        str(path) for path, text in wanted.items() if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    keep = {path.name for path in wanted} | {"corpus-review.md"}
    problems += [str(p) for p in DOCS_DIR.glob("*.md") if p.name not in keep]
    return sorted(problems)


def main(argv: Sequence[str] | None = None) -> int:
    command = (argv if argv is not None else sys.argv[1:]) or ["check"]
    rules = load_rules()
    if command[0] == "write":
        DOCS_DIR.mkdir(parents=True, exist_ok=True)
        wanted = expected_files(rules)
        for path, text in wanted.items():
            path.write_text(text, encoding="utf-8")
        keep = {path.name for path in wanted} | {"corpus-review.md"}
        for path in DOCS_DIR.glob("*.md"):
            if path.name not in keep:
                path.unlink()
        print(f"wrote {len(wanted)} files to {DOCS_DIR}")
        return 0
    problems = stale(rules)
    for problem in problems:
        print(f"stale: {problem}")
    if problems:
        print(f"regenerate with: {REGENERATE}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
