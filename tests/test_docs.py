from __future__ import annotations

from walint.catalog import Rule
from walint.docs import REGENERATE, rule_page, stale


def test_generated_rule_docs_are_up_to_date(rules: list[Rule]) -> None:
    problems = stale(rules)
    assert not problems, f"docs/rules is stale ({len(problems)} files); regenerate with: {REGENERATE}"


def test_rule_page_has_every_section(rules: list[Rule]) -> None:
    for rule in rules:
        page = rule_page(rule)
        for section in (
            "## What it checks",
            "## Why it matters",
            "## How to fix",
            "## When the result is unknown",
            "## Equivalents in other tools",
        ):
            assert section in page, (rule.id, section)
        assert rule.remediation_url in page
