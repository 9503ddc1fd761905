"""Lint many files: in this process for small runs, over a process pool for large ones.

Results come back in the order of the candidates, whatever the number of workers, so output is
deterministic. A pre-commit run of a few files never pays for starting processes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from walint.catalog import Rule
from walint.discover import Candidate
from walint.engine import LintOptions, RuleIndex, read_and_lint
from walint.findings import FileResult

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
        return [read_and_lint(c.path, index, options, display=c.display) for c in candidates]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(tuple(rules), options)) as pool:
        return list(pool.map(_lint_one, candidates, chunksize=CHUNK))
