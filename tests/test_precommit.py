"""The pre-commit hook, end to end: a throwaway repository uses this one as its hook source."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

BAD = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      StorageEncrypted: false
"""


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_hook_fails_on_high_findings_and_passes_once_fixed(tmp_path: Path) -> None:
    repo = tmp_path / "consumer"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "db.yaml").write_text(BAD, encoding="utf-8")
    (repo / "workflow.yml").write_text("on: push\njobs: {}\n", encoding="utf-8")  # not CloudFormation
    (repo / "notes.txt").write_text("not a template\n", encoding="utf-8")
    # Scope the run to one rule, so that the fix below is the only thing that changes.
    (repo / ".walint.yaml").write_text("select: [WA-SEC-002]\n", encoding="utf-8")
    _git(repo, "add", ".")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }

    def hook() -> subprocess.CompletedProcess[str]:
        # try-repo uses this checkout as the hook source, uncommitted changes included.
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "walint", "--all-files", "--verbose"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )

    failed = hook()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "db.yaml:7:7  WA-SEC-002  high" in failed.stdout
    # the workflow file and .walint.yaml reached walint (they match the hook's files pattern)
    # and were left alone as not CloudFormation
    assert "2 files skipped (not CloudFormation)" in failed.stdout
    assert "notes.txt" not in failed.stdout

    (repo / "db.yaml").write_text(BAD.replace("StorageEncrypted: false", "StorageEncrypted: true"), encoding="utf-8")
    _git(repo, "add", ".")
    passed = hook()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
