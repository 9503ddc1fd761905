"""Parallel linting gives the same results, in the same order, as a serial run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from walint import runner
from walint.catalog import Rule
from walint.discover import discover
from walint.engine import LintOptions


def test_pool_results_equal_serial_results(rules: list[Rule], monkeypatch: pytest.MonkeyPatch) -> None:
    candidates, problems = discover([str(ROOT / "fixtures")], cwd=str(ROOT))
    assert not problems and len(candidates) > runner.POOL_THRESHOLD
    serial = runner.lint_all(candidates, rules, LintOptions(), jobs=1)
    parallel = runner.lint_all(candidates, rules, LintOptions(), jobs=2)
    assert [r.path for r in parallel] == [c.display for c in candidates]
    assert parallel == serial


def test_small_runs_do_not_start_a_pool(rules: list[Rule], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a process pool was started for a small run")

    monkeypatch.setattr(runner, "ProcessPoolExecutor", no_pool)
    candidates, _ = discover([str(ROOT / "fixtures" / "WA-SEC-002")], cwd=str(ROOT))
    results = runner.lint_all(candidates, rules, LintOptions(), jobs=8)
    assert len(results) == len(candidates)
