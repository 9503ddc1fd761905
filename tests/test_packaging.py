"""The wheel ships the rules, and the README's commands stay true."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text.split("## Usage")[0])


def test_readme_opens_with_the_two_commands() -> None:
    install, tests = _readme_commands()
    assert "pip install ." in install and "walint check examples/" in install
    assert (ROOT / install.split("walint check ")[1].split()[0]).is_file()
    assert "python -m pytest" in tests


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, tests = _readme_commands()
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in lines


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    (built,) = out.glob("walint-*.whl")
    return built


def test_wheel_contains_rules_fixtures_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    rules = {n for n in names if n.startswith("walint/_rules/") and n.endswith(".yaml")}
    assert len(rules) == len(list((ROOT / "rules").glob("*.yaml")))
    assert "walint/data/best-practices.tsv" in names
    assert "walint/data/rule-schema.json" in names
    assert any(n.startswith("walint/_fixtures/WA-SEC-002/") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_lints_without_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)], check=True
    )
    template = tmp_path / "db.yaml"
    template.write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Db:\n    Type: AWS::RDS::DBInstance\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import sys, walint, walint.catalog as c; "
        "assert walint.__file__.startswith(sys.argv[1]), walint.__file__; "
        "assert c.builtin_rules_dir().name == '_rules'; "
        "from walint.cli import main; sys.exit(main(['check', sys.argv[2], '-f', 'json', '--select', 'WA-SEC-002']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(target), str(template)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert [f["rule_id"] for f in json.loads(proc.stdout)["findings"]] == ["WA-SEC-002"]
