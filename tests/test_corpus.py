"""Every real template in ../shared/corpus gets a status, never a traceback (skipped without it)."""

from __future__ import annotations

import csv
import re

from conftest import shared_or_skip

from walint.catalog import Rule
from walint.engine import LintOptions, RuleIndex, read_and_lint
from walint.findings import FileStatus

# The corpus errors we have looked at: each is a real defect of that template.
KNOWN_ERRORS = (
    re.compile(r"^line \d+: duplicate key "),  # CloudFormation rejects these templates too
    re.compile(r"^line \d+: resource \w+ has Type !Rain::Module"),  # Rain modules need `rain pkg` first
)


def test_corpus_lints_without_crashing(rules: list[Rule]) -> None:
    corpus = shared_or_skip("corpus")
    with open(corpus / "MANIFEST.csv", encoding="utf-8", newline="") as handle:
        manifest = [row["path"] for row in csv.DictReader(handle)]
    index = RuleIndex(rules)
    unexpected = []
    internal = []
    statuses = {}
    for name in manifest:
        result = read_and_lint(str(corpus / name), index, LintOptions(), display=name)
        statuses[name] = result.status
        if result.status is FileStatus.ERROR and not any(p.match(result.error or "") for p in KNOWN_ERRORS):
            unexpected.append(f"{name}: {result.error}")
        internal += [
            f"{name}: {f.rule_id}: {f.reasons}" for f in result.findings if "internal error" in " ".join(f.reasons)
        ]
    assert len(statuses) == len(manifest)
    assert not unexpected, "\n".join(unexpected)
    assert not internal, "\n".join(internal[:20])
    # Every manifest entry is a template by the corpus's own definition: none may be skipped.
    assert not [n for n, s in statuses.items() if s is FileStatus.SKIPPED]
