"""Run some rules over a corpus and print counts and a sample of findings to review.

python scripts/corpus_review.py WA-SEC-002 WA-REL-001 [--corpus ../shared/corpus] [--sample 8]
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
from pathlib import Path

from walint.catalog import id_matches, load_rules
from walint.engine import LintOptions, RuleIndex, read_and_lint
from walint.findings import FileStatus


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("select", nargs="*", help="rule ids or prefixes (default: all)")
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "corpus"))
    parser.add_argument("--sample", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rules = [r for r in load_rules() if not args.select or any(id_matches(r.id, s) for s in args.select)]
    index = RuleIndex(rules)
    root = Path(args.corpus)
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json", ".template") and p.is_file())
    by_rule: dict[str, list[str]] = collections.defaultdict(list)
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    statuses: collections.Counter[str] = collections.Counter()
    for path in files:
        result = read_and_lint(str(path), index, LintOptions(), display=str(path.relative_to(root)))
        statuses[result.status.value] += 1
        if result.status is FileStatus.ERROR:
            continue
        for f in result.findings:
            counts[f.rule_id][f.outcome.value] += 1
            by_rule[f.rule_id].append(
                f"{f.location.file}:{f.location.span.line} {f.outcome.value} {f.location.resource} "
                f"{f.message}" + (f" | {'; '.join(f.reasons)}" if f.reasons else "")
            )
    print(f"files: {dict(statuses)}")
    rng = random.Random(args.seed)
    for rule in rules:
        c = counts.get(rule.id, collections.Counter())
        print(f"\n== {rule.id}: {c.get('fail', 0)} fail, {c.get('unknown', 0)} unknown")
        items = by_rule.get(rule.id, [])
        for line in rng.sample(items, min(args.sample, len(items))):
            print("  ", line[:400])
    return 0


if __name__ == "__main__":
    sys.exit(main())
