"""Meta-tests that keep the rule catalogue honest, and the loading of custom rules."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, shared_or_skip

from walint.catalog import Rule, RuleError, best_practices, load_rules
from walint.findings import PILLAR_PREFIX
from walint.fixtures import expectations, fixture_files

RULES_DIR = ROOT / "rules"
FIXTURES = ROOT / "fixtures"


def test_ids_are_unique_and_equal_file_names(rules: list[Rule]) -> None:
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(p.stem for p in RULES_DIR.glob("*.yaml"))
    assert all(re.fullmatch(r"WA-(OPS|SEC|REL|PERF|COST|SUS)-\d{3}", i) for i in ids)


def test_pillar_matches_prefix_and_best_practice(rules: list[Rule]) -> None:
    table = best_practices()
    for rule in rules:
        assert PILLAR_PREFIX[rule.id.split("-")[1]] == rule.pillar, rule.id
        assert table[rule.best_practice].pillar == rule.pillar, rule.id
        assert all(bp in table for bp in rule.related_best_practices), rule.id


def test_required_text_is_there(rules: list[Rule]) -> None:
    for rule in rules:
        for text in (rule.title, rule.message, rule.rationale, rule.remediation_summary):
            assert text.strip(), rule.id
        assert rule.remediation_url.startswith("https://"), rule.id
        assert "{resource}" in rule.message, f"{rule.id}: the message names the resource"


def test_every_rule_has_pass_and_fail_fixtures(rules: list[Rule]) -> None:
    for rule in rules:
        folder = FIXTURES / rule.id
        assert folder.is_dir(), f"{rule.id} has no fixtures/{rule.id}/"
        files = fixture_files(folder)
        assert any(p.name.startswith("pass") for p in files), f"{rule.id}: no pass fixture"
        fails = [p for p in files if p.name.startswith("fail")]
        assert fails, f"{rule.id}: no fail fixture"
        assert any(e.kind == "fail" for p in fails for e in expectations(p)), f"{rule.id}: fail fixture expects nothing"


def test_no_orphan_fixture_folders(rules: list[Rule]) -> None:
    ids = {r.id for r in rules}
    orphans = [p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name not in ids]
    assert not orphans


def test_fixture_annotations_name_their_own_rule() -> None:
    for folder in FIXTURES.iterdir():
        for path in fixture_files(folder):
            assert {e.rule_id for e in expectations(path)} <= {folder.name}, path


def test_equivalents_exist_in_the_anchor_lists(rules: list[Rule]) -> None:
    anchors = shared_or_skip("anchors")
    known = {
        "checkov": _column(anchors / "checkov_cfn_checks.tsv", "id"),
        "cfn_nag": _column(anchors / "cfn_nag_rules.tsv", "id"),
        "guard": _column(anchors / "guard_wa_mapping.tsv", "rule_name"),
    }
    for rule in rules:
        for tool, ids in rule.equivalents.items():
            unknown = set(ids) - known[tool]
            assert not unknown, f"{rule.id}: {tool} ids not in the anchor list: {sorted(unknown)}"


def _column(path: Path, name: str) -> set[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row[name] for row in csv.DictReader(handle, delimiter="\t")}


def test_best_practice_table_matches_the_shared_one() -> None:
    shared = shared_or_skip("wa", "best-practices.tsv")
    assert (ROOT / "walint" / "data" / "best-practices.tsv").read_bytes() == shared.read_bytes()


# -- custom rules ------------------------------------------------------------------------------

VALID = {
    "id": "ORG-001",
    "title": "Queue is not FIFO",
    "pillar": "reliability",
    "best_practice": "REL05-BP04",
    "risk": "low",
    "resource_types": ["AWS::SQS::Queue"],
    "assert": {"path": "Properties.FifoQueue", "equals": True, "default": False},
    "message": "{resource} is not FIFO",
    "rationale": "Ordering matters here.",
    "remediation": {"summary": "Set FifoQueue.", "url": "https://docs.aws.amazon.com/"},
}


def _custom(tmp_path: Path, spec: object, name: str = "ORG-001.yaml") -> Path:
    folder = tmp_path / "custom"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec), encoding="utf-8")
    return folder


def test_a_valid_custom_rule_loads(tmp_path: Path) -> None:
    rules = load_rules([str(_custom(tmp_path, VALID))])
    assert any(r.id == "ORG-001" and not r.builtin for r in rules)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("id: [unclosed\n", "not valid YAML"),
        ({**VALID, "severity": "high"}, "unknown key(s) ['severity']"),
        ({**VALID, "risk": "severe"}, "'risk' must be one of"),
        ({**VALID, "best_practice": "REL99-BP99"}, "not in the Well-Architected table"),
        ({**VALID, "best_practice": "SEC01-BP01"}, "belongs to security"),
        ({**VALID, "assert": {"path": "A[1:2]", "exists": True}}, "assert.path"),
        ({**VALID, "assert": {"path": "A", "similar": 1}}, "assert: unknown key"),
        ({**VALID, "resource_types": "AWS::SQS::Queue"}, "'resource_types' must be a non-empty list"),
        ({**VALID, "id": "ORG-002"}, "does not match the file name"),
    ],
)
def test_malformed_custom_rules_name_the_file_and_key(tmp_path: Path, spec: object, message: str) -> None:
    folder = _custom(tmp_path, spec)
    with pytest.raises(RuleError) as info:
        load_rules([str(folder)])
    assert "ORG-001.yaml" in str(info.value)
    assert message in str(info.value)


def test_a_custom_rule_cannot_override_a_builtin_id(tmp_path: Path) -> None:
    spec = {**VALID, "id": "WA-SEC-002", "pillar": "security", "best_practice": "SEC08-BP02"}
    folder = _custom(tmp_path, spec, "WA-SEC-002.yaml")
    with pytest.raises(RuleError, match="already used by a built-in rule"):
        load_rules([str(folder)])


def test_custom_rules_are_validated_against_the_schema(tmp_path: Path) -> None:
    spec = {**VALID, "equivalents": {"checkov": "CKV_AWS_1"}}
    with pytest.raises(RuleError, match="equivalents"):
        load_rules([str(_custom(tmp_path, spec))])
