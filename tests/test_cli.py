"""The command line as users and CI meet it: exit codes, formats, configuration, suppressions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from walint.cli import main

PLAIN_DB = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  PlainDb:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      StorageEncrypted: false
"""
GOOD_DB = PLAIN_DB.replace("false", "true")
PARAM_DB = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Encrypt: {Type: String}
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      StorageEncrypted: !Ref Encrypt
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no configuration file from the repository applies
    (tmp_path / ".git").mkdir()
    monkeypatch.delenv("FORCE_COLOR", raising=False)


def test_json_contract_and_exit_code_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "db.yaml", PLAIN_DB)
    code, out, _ = run(capsys, "check", "db.yaml", "--select", "WA-SEC-002", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["version"] == 1 and doc["tool"]["name"] == "walint"
    assert doc["files"] == [
        {
            "path": "db.yaml",
            "status": "linted",
            "error": None,
            "reason": None,
            "resources": 1,
            "notes": [],
            "nested_in": [],
        }
    ]
    (finding,) = doc["findings"]
    assert finding["rule_id"] == "WA-SEC-002"
    assert finding["pillar"] == "security" and finding["best_practice"] == "SEC08-BP02"
    assert finding["risk"] == "high" and finding["outcome"] == "fail"
    assert (finding["file"], finding["line"], finding["column"]) == ("db.yaml", 7, 7)
    assert finding["path"] == ["Resources", "PlainDb", "Properties", "StorageEncrypted"]
    assert finding["resource"] == "PlainDb" and finding["resource_type"] == "AWS::RDS::DBInstance"
    assert finding["remediation_url"].startswith("https://docs.aws.amazon.com/wellarchitected/")
    assert finding["suppressed"] is None
    assert doc["summary"]["by_risk"]["high"] == 1
    assert doc["summary"]["by_pillar"]["security"]["fail"] == 1


def test_shorthand_and_clean_run_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "db.yaml", GOOD_DB)
    code, out, _ = run(capsys, "db.yaml", "--select", "WA-SEC-002")
    assert code == 0
    assert "0 findings" in out


def test_text_output_is_plain_when_not_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "db.yaml", PLAIN_DB)
    code, out, _ = run(capsys, "check", "db.yaml", "--select", "WA-SEC")
    assert code == 1
    assert "\x1b[" not in out
    assert "db.yaml:7:7  WA-SEC-002  high" in out
    assert "PlainDb stores its data unencrypted at rest (PlainDb)" in out
    assert "sec_protect_data_rest_encrypt.html" in out


def test_fail_on_and_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "db.yaml", PLAIN_DB)
    assert run(capsys, "db.yaml", "--select", "WA-SEC-002", "--fail-on", "critical")[0] == 0
    assert run(capsys, "db.yaml", "--select", "WA-SEC-002", "--fail-on", "high")[0] == 1
    assert run(capsys, "db.yaml", "--select", "WA-SEC-002", "--fail-on", "none")[0] == 0
    assert run(capsys, "db.yaml", "--select", "WA-SEC-002", "--exit-zero")[0] == 0
    code, _, err = run(capsys, "db.yaml", "--fail-on", "severe")
    assert code == 2 and "--fail-on" in err


def test_unknown_does_not_fail_unless_strict_and_parameters_decide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "db.yaml", PARAM_DB)
    code, out, _ = run(capsys, "db.yaml", "--select", "WA-SEC-002")
    assert code == 0 and "Could not be decided" in out and "parameter Encrypt" in out
    assert run(capsys, "db.yaml", "--select", "WA-SEC-002", "--strict")[0] == 1
    assert run(capsys, "db.yaml", "--select", "WA-SEC-002", "--parameter", "Encrypt=false")[0] == 1
    code, out, _ = run(capsys, "db.yaml", "--select", "WA-SEC-002", "--parameter", "Encrypt=true", "-f", "json")
    assert code == 0 and json.loads(out)["findings"] == []


def test_parse_error_wins_and_other_files_are_still_linted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "a/db.yaml", PLAIN_DB)
    write(tmp_path, "a/broken.yaml", "Resources:\n  A: [1,\n")
    write(tmp_path, "a/workflow.yml", "on: push\njobs: {}\n")
    code, out, _ = run(capsys, "a", "--select", "WA-SEC-002", "-f", "json")
    assert code == 2
    doc = json.loads(out)
    statuses = {f["path"]: f["status"] for f in doc["files"]}
    assert statuses == {"a/broken.yaml": "error", "a/db.yaml": "linted", "a/workflow.yml": "skipped"}
    broken = next(f for f in doc["files"] if f["path"] == "a/broken.yaml")
    assert broken["error"].startswith("line ")
    assert len(doc["findings"]) == 1


def test_missing_path_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "nope.yaml")
    assert code == 2 and "nope.yaml: no such file or directory" in out


def test_select_and_ignore_take_prefixes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "db.yaml", PLAIN_DB)
    code, out, _ = run(capsys, "db.yaml", "--select", "WA-SEC", "--ignore", "WA-SEC-00", "-f", "json")
    assert all(not f["rule_id"].startswith("WA-SEC-00") for f in json.loads(out)["findings"])
    code, out, _ = run(capsys, "db.yaml", "--select", "WA-REL-999", "-f", "json")
    assert json.loads(out)["findings"] == [] and code == 0


def test_suppression_needs_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    justified = PLAIN_DB.replace(
        "    Type: AWS::RDS::DBInstance\n",
        "    Type: AWS::RDS::DBInstance\n    Metadata:\n      walint:\n        suppress:\n"
        "          - {rule: WA-SEC-002, reason: throwaway test database}\n",
    )
    write(tmp_path, "ok.yaml", justified)
    code, out, _ = run(capsys, "ok.yaml", "--select", "WA-SEC-002", "-f", "json")
    (finding,) = json.loads(out)["findings"]
    assert code == 0
    assert finding["suppressed"] == {"reason": "throwaway test database", "source": "walint"}

    write(tmp_path, "bad.yaml", justified.replace(", reason: throwaway test database", ""))
    code, out, _ = run(capsys, "bad.yaml", "--select", "WA-SEC-002", "-f", "json")
    ids = sorted((f["rule_id"], f["suppressed"]) for f in json.loads(out)["findings"])
    assert ids == [("WA-META-001", None), ("WA-SEC-002", None)]
    assert code == 1


def test_template_wide_suppression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = PLAIN_DB + "Metadata:\n  walint:\n    suppress:\n      - rule: WA-SEC\n        reason: sandbox account\n"
    write(tmp_path, "db.yaml", text)
    code, out, _ = run(capsys, "db.yaml", "--select", "WA-SEC-002", "-f", "json")
    assert code == 0 and json.loads(out)["findings"][0]["suppressed"]["reason"] == "sandbox account"


def test_configuration_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "db.yaml", PLAIN_DB)
    write(tmp_path, ".walint.yaml", "select: [WA-SEC-002]\nfail-on: critical\n")
    assert run(capsys, "db.yaml")[0] == 0
    assert run(capsys, "db.yaml", "--fail-on", "high")[0] == 1  # the command line wins
    os.remove(tmp_path / ".walint.yaml")
    write(tmp_path, "pyproject.toml", '[tool.walint]\nselect = ["WA-SEC-002"]\nignore = ["WA-SEC-002"]\n')
    code, out, _ = run(capsys, "db.yaml", "-f", "json")
    assert code == 0 and json.loads(out)["findings"] == []
    write(tmp_path, "pyproject.toml", "[tool.walint]\nselct = []\n")
    code, _, err = run(capsys, "db.yaml")
    assert code == 2 and "pyproject.toml" in err and "unknown key 'selct'" in err


def test_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "db.yaml", PLAIN_DB)
    code, out, _ = run(capsys, "db.yaml", "--select", "WA-SEC-002", "-f", "json", "-o", "report.json")
    assert code == 1 and out == ""
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["failed"] == 1


def test_excludes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "t/db.yaml", PLAIN_DB)
    write(tmp_path, "t/gen/db.yaml", PLAIN_DB)
    code, out, _ = run(capsys, "t", "--select", "WA-SEC-002", "--exclude", "gen", "-f", "json")
    assert [f["path"] for f in json.loads(out)["files"]] == ["t/db.yaml"]
    # files named explicitly are linted unless --force-exclude (pre-commit passes files)
    code, out, _ = run(capsys, "t/gen/db.yaml", "--exclude", "gen", "-f", "json")
    assert len(json.loads(out)["files"]) == 1
    code, out, _ = run(capsys, "t/gen/db.yaml", "--exclude", "gen", "--force-exclude", "-f", "json")
    assert json.loads(out)["files"] == [] and code == 0


def test_symlink_loop_is_not_followed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "t/db.yaml", PLAIN_DB)
    os.symlink(tmp_path / "t", tmp_path / "t" / "loop")
    code, out, _ = run(capsys, "t", "--select", "WA-SEC-002", "-f", "json")
    assert [f["path"] for f in json.loads(out)["files"]] == ["t/db.yaml"]
    assert code == 1


def test_rules_and_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "--format", "json")
    rules = json.loads(out)["rules"]
    assert code == 0
    sec002 = next(r for r in rules if r["id"] == "WA-SEC-002")
    assert set(sec002) >= {
        "id",
        "title",
        "pillar",
        "best_practice",
        "risk",
        "resource_types",
        "remediation_url",
        "equivalents",
    }
    code, out, _ = run(capsys, "explain", "wa-sec-002")
    assert code == 0 and out.startswith("# WA-SEC-002") and "## How to fix" in out
    code, _, err = run(capsys, "explain", "WA-NOPE-1")
    assert code == 2 and "no rule" in err


def test_custom_rules_dir_errors_name_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "db.yaml", PLAIN_DB)
    write(tmp_path, "custom/ORG-001.yaml", "id: ORG-001\ntitle: x\n")
    code, _, err = run(capsys, "db.yaml", "--rules-dir", "custom")
    assert code == 2 and "ORG-001.yaml" in err and "missing required key" in err


def test_the_hook_path_imports_only_what_it_needs(tmp_path: Path) -> None:
    """cfn-lint and jsonschema cost most of a second to import; rich is only for text output."""
    import subprocess
    import sys

    write(tmp_path, "db.yaml", PLAIN_DB)
    code = (
        "import sys; from walint.cli import main; rc = main(['check', 'db.yaml', '-f', 'json']); "
        "print('IMPORTED=' + ','.join(sorted(m for m in ('cfnlint', 'jsonschema', 'rich') if m in sys.modules)))"
    )
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip().splitlines()[-1] == "IMPORTED="
