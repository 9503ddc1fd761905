"""Lint many files: in this process for small runs, over a process pool for large ones.

Results come back in the order of the candidates, whatever the number of workers, so output is
deterministic. A pre-commit run of a few files never pays for starting processes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from walint.catalog import Rule
from walint.discover import Candidate, display_path
from walint.engine import LintOptions, RuleIndex, read_and_lint
from walint.findings import FileResult, FileStatus, Finding, NestedStack, RuleTally

#: How deep nested stacks are followed (CloudFormation itself allows more, but a deeper chain of
#: local templates is more likely a loop through symlinks or copies).
MAX_NESTING = 8

#: Below this many files a pool costs more than it saves (starting workers, sending the rules).
POOL_THRESHOLD = 24
CHUNK = 8

_worker_index: RuleIndex | None = None
_worker_options: LintOptions | None = None


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _init_worker(rules: Sequence[Rule], options: LintOptions) -> None:
    global _worker_index, _worker_options  # noqa: PLW0603 - per-process state of the pool
    _worker_index = RuleIndex(rules)
    _worker_options = options


def _lint_one(candidate: Candidate) -> FileResult:
    assert _worker_index is not None and _worker_options is not None
    return read_and_lint(candidate.path, _worker_index, _worker_options, display=candidate.display)


def lint_all(
    candidates: Sequence[Candidate], rules: Sequence[Rule], options: LintOptions, jobs: int
) -> list[FileResult]:
    workers = min(jobs, max(1, len(candidates) // CHUNK))
    if workers <= 1 or len(candidates) < POOL_THRESHOLD:
        index = RuleIndex(rules)
        results = [read_and_lint(c.path, index, options, display=c.display) for c in candidates]
    else:
        with ProcessPoolExecutor(
            max_workers=workers, initializer=_init_worker, initargs=(tuple(rules), options)
        ) as pool:
            results = list(pool.map(_lint_one, candidates, chunksize=CHUNK))
    if any(r.nested for r in results):
        results = _with_nested_stacks(candidates, results, RuleIndex(rules), options)
    return results


def _with_nested_stacks(
    candidates: Sequence[Candidate], results: list[FileResult], index: RuleIndex, options: LintOptions
) -> list[FileResult]:
    """Lint the local templates of nested stacks with the values their parents pass.

    A child linted in context replaces its stand-alone result (where it was linted on its own it
    could only guess its parameters); a child used several times is one result, the union of its
    findings in each use. A child that is not among the candidates is added to the run.
    """
    children = _Children(index, options)
    parents = [
        children.of(result, c.path, (os.path.realpath(c.path),)) for c, result in zip(candidates, results, strict=True)
    ]
    by_path = {os.path.realpath(c.path): i for i, c in enumerate(candidates)}
    added: list[FileResult] = []
    for real, uses in children.found.items():
        combined = _merge(uses)
        if real in by_path:
            parents[by_path[real]] = combined
        else:
            added.append(combined)
    return parents + sorted(added, key=lambda r: r.path)


class _Children:
    """Nested-stack templates linted so far, by real path, one result per use."""

    def __init__(self, index: RuleIndex, options: LintOptions) -> None:
        self.index = index
        self.options = options
        self.cwd = os.getcwd()
        self.found: dict[str, list[FileResult]] = {}

    def of(self, parent: FileResult, parent_path: str, chain: tuple[str, ...]) -> FileResult:
        """Lint the parent's children (and theirs); the parent, with notes on those that could not be."""
        notes: list[str] = []
        for nested in parent.nested:
            child_path = os.path.join(os.path.dirname(parent_path), nested.template)
            real = os.path.realpath(child_path)
            if not os.path.isfile(child_path):
                notes.append(
                    f"nested stack {nested.resource}: its template {nested.template} is not a file; not linted"
                )
            elif real in chain or len(chain) >= MAX_NESTING:
                notes.append(f"nested stack {nested.resource}: {nested.template} nests back into its parents")
            else:
                options = _child_options(self.options, nested)
                child = read_and_lint(child_path, self.index, options, display_path(child_path, self.cwd))
                child = replace(
                    child, nested_in=(f"{nested.resource} of {parent.path}",), notes=child.notes + _context(nested)
                )
                self.found.setdefault(real, []).append(self.of(child, child_path, (*chain, real)))
        return replace(parent, notes=(*parent.notes, *notes)) if notes else parent


def _child_options(options: LintOptions, nested: NestedStack) -> LintOptions:
    """A child stack receives exactly what its parent passes; a parameter it is not passed takes
    its default (not an assumption: that is what CloudFormation deploys), one passed a value
    the parent cannot know stays undecided."""
    return replace(
        options, parameters=dict(nested.parameters), assume_defaults=False, passed_undecided=nested.undecided
    )


def _context(nested: NestedStack) -> tuple[str, ...]:
    if not nested.undecided:
        return ()
    names = ", ".join(nested.undecided)
    return (f"the parent stack passes {names} from values it cannot know; results that depend on them are undecided",)


def _merge(uses: list[FileResult]) -> FileResult:
    """One result for a template used as several nested stacks: every finding of every use."""
    if len(uses) == 1:
        return uses[0]
    first = uses[0]
    if any(u.status is FileStatus.ERROR for u in uses):
        return next(u for u in uses if u.status is FileStatus.ERROR)
    seen: set[tuple[str, str | None, object, str, str]] = set()
    findings: list[Finding] = []
    for finding in (f for u in uses for f in u.findings):
        key = (
            finding.rule_id,
            finding.location.resource,
            finding.location.path,
            finding.outcome.value,
            finding.message,
        )
        if key not in seen:
            seen.add(key)
            findings.append(finding)
    tallies: dict[str, list[int]] = {}
    for tally in (t for u in uses for t in u.tallies):
        counts = tallies.setdefault(tally.rule_id, [0, 0, 0])
        counts[0] += tally.passed
        counts[1] += tally.failed
        counts[2] += tally.unknown
    notes = tuple(dict.fromkeys(n for u in uses for n in u.notes))
    return replace(
        first,
        nested_in=tuple(dict.fromkeys(n for u in uses for n in u.nested_in)),
        findings=tuple(sorted(findings, key=lambda f: f.sort_key)),
        tallies=tuple(RuleTally(rid, *c) for rid, c in sorted(tallies.items())),
        notes=notes,
        nested=(),
    )
