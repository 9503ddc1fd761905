"""One test per fixture file: the findings of its rule are exactly the annotated ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from walint.catalog import Rule, load_rules
from walint.engine import LintOptions, RuleIndex, read_and_lint
from walint.findings import FileStatus
from walint.fixtures import expectations, fixture_files, observed

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
RULES = {rule.id: rule for rule in load_rules()}
CASES = [
    pytest.param(path, id=f"{path.parent.name}/{path.name}")
    for folder in sorted(FIXTURES.iterdir())
    if folder.is_dir()
    for path in fixture_files(folder)
]


@pytest.mark.parametrize("path", CASES)
def test_fixture(path: Path) -> None:
    rule: Rule = RULES[path.parent.name]
    result = read_and_lint(str(path), RuleIndex([rule]), LintOptions())
    assert result.status is FileStatus.LINTED, result.error
    expected = expectations(path)
    todo = {(e.line, e.rule_id) for e in expected if e.kind == "todo"}
    wanted = {e for e in expected if e.kind != "todo"}
    got = observed(result)
    assert not {(g.line, g.rule_id) for g in got} & todo, "a walint-todo line now has a result: update the fixture"
    assert sorted(got, key=str) == sorted(wanted, key=str), "\n".join(
        f"line {f.location.span.line}: {f.outcome.value} {f.message}" for f in result.findings
    )
    if path.name.startswith("pass"):
        assert not wanted, "pass fixtures carry no expectations"
    if path.name.startswith("fail"):
        assert any(e.kind == "fail" for e in wanted), "fail fixtures expect at least one failure"
