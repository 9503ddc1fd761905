"""Nested stacks with a local template are linted with the values their parent passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from walint.cli import main

PARENT = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod]}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Data:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: stacks/data.yaml
      Parameters:
        Encrypt: !If [IsProd, "true", "false"]
"""

CHILD = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Encrypt: {Type: String, AllowedValues: ["true", "false"]}
  Versioning: {Type: String, Default: Enabled}
Conditions:
  DoEncrypt: !Equals [!Ref Encrypt, "true"]
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      StorageEncrypted: !If [DoEncrypt, true, false]
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      VersioningConfiguration:
        Status: !Ref Versioning
"""


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / "stacks").mkdir()
    (tmp_path / "parent.yaml").write_text(PARENT, encoding="utf-8")
    (tmp_path / "stacks" / "data.yaml").write_text(CHILD, encoding="utf-8")


def lint(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    main(["check", *args, "--select", "WA-SEC-002,WA-REL-017", "--format", "json"])
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def outcomes(report: dict[str, Any], path: str) -> set[tuple[str, str, int]]:
    return {(f["rule_id"], f["outcome"], f["line"]) for f in report["findings"] if f["file"] == path}


def test_the_child_is_judged_with_what_the_parent_passes(capsys: pytest.CaptureFixture[str]) -> None:
    undecided = lint(capsys, "parent.yaml")
    assert outcomes(undecided, "stacks/data.yaml") == {("WA-SEC-002", "unknown", 12)}
    off = lint(capsys, "parent.yaml", "--parameter", "Env=dev")
    assert outcomes(off, "stacks/data.yaml") == {("WA-SEC-002", "fail", 12)}
    on = lint(capsys, "parent.yaml", "--parameter", "Env=prod")
    assert outcomes(on, "stacks/data.yaml") == set()
    child = next(f for f in on["files"] if f["path"] == "stacks/data.yaml")
    assert child["status"] == "linted" and child["nested_in"] == ["Data of parent.yaml"]


def test_a_parameter_the_parent_does_not_pass_takes_its_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Versioning defaults to Enabled: REL-017 passes without --assume-defaults.
    assert ("WA-REL-017", "fail", 17) not in outcomes(lint(capsys, "parent.yaml"), "stacks/data.yaml")
    (tmp_path / "stacks" / "data.yaml").write_text(CHILD.replace("Default: Enabled", "Default: Suspended"))
    assert ("WA-REL-017", "fail", 17) in outcomes(lint(capsys, "parent.yaml"), "stacks/data.yaml")


def test_in_context_replaces_the_stand_alone_result(capsys: pytest.CaptureFixture[str]) -> None:
    report = lint(capsys, ".", "--parameter", "Env=dev")
    children = [f for f in report["files"] if f["path"] == "stacks/data.yaml"]
    assert len(children) == 1 and children[0]["nested_in"] == ["Data of parent.yaml"]
    assert outcomes(report, "stacks/data.yaml") == {("WA-SEC-002", "fail", 12)}


def test_a_child_used_twice_reports_every_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    twice = PARENT + (
        "  Again:\n"
        "    Type: AWS::CloudFormation::Stack\n"
        "    Properties:\n"
        "      TemplateURL: ./stacks/data.yaml\n"
        "      Parameters: {Encrypt: 'true'}\n"
    )
    (tmp_path / "parent.yaml").write_text(twice, encoding="utf-8")
    report = lint(capsys, "parent.yaml", "--parameter", "Env=dev")
    (child,) = [f for f in report["files"] if f["path"] == "stacks/data.yaml"]
    assert child["nested_in"] == ["Data of parent.yaml", "Again of parent.yaml"]
    assert outcomes(report, "stacks/data.yaml") == {("WA-SEC-002", "fail", 12)}  # Data's use fails


def test_a_value_the_child_rejects_is_an_error_in_the_child(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "parent.yaml").write_text(PARENT.replace('"true", "false"', '"yes", "no"'), encoding="utf-8")
    code = main(["check", "parent.yaml", "--parameter", "Env=dev", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    (child,) = [f for f in report["files"] if f["path"] == "stacks/data.yaml"]
    assert code == 2 and child["status"] == "error" and "parameter Encrypt: 'no'" in child["error"]


def test_missing_templates_and_loops_are_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = CHILD + (
        "  Back:\n"
        "    Type: AWS::CloudFormation::Stack\n"
        "    Properties: {TemplateURL: ../parent.yaml}\n"
        "  Gone:\n"
        "    Type: AWS::CloudFormation::Stack\n"
        "    Properties: {TemplateURL: gone.yaml}\n"
        "  Remote:\n"
        "    Type: AWS::CloudFormation::Stack\n"
        "    Properties: {TemplateURL: https://bucket.s3.amazonaws.com/x.yaml}\n"
    )
    (tmp_path / "stacks" / "data.yaml").write_text(loop, encoding="utf-8")
    report = lint(capsys, "parent.yaml")
    (child,) = [f for f in report["files"] if f["path"] == "stacks/data.yaml"]
    assert any("Back: ../parent.yaml nests back into its parents" in n for n in child["notes"])
    assert any("Gone: its template gone.yaml is not a file" in n for n in child["notes"])
    assert not any("Remote" in n for n in child["notes"])  # an uploaded template is not ours to read
    assert [f["path"] for f in report["files"]] == ["parent.yaml", "stacks/data.yaml"]


def test_a_sam_application_with_a_local_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Data:\n"
        "    Type: AWS::Serverless::Application\n"
        "    Properties:\n"
        "      Location: stacks/data.yaml\n"
        "      Parameters: {Encrypt: 'false'}\n",
        encoding="utf-8",
    )
    report = lint(capsys, "app.yaml")
    assert outcomes(report, "stacks/data.yaml") == {("WA-SEC-002", "fail", 12)}


def test_corpus_nested_stacks_are_linted_in_context(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import shared_or_skip

    corpus = shared_or_skip("corpus", "aws-samples-serverless-patterns")
    main(["check", str(corpus / "cognito-restapi-vpclink"), "--format", "json", "--exit-zero"])
    report = json.loads(capsys.readouterr().out)
    children = {Path(f["path"]).name: f for f in report["files"] if f["nested_in"]}
    assert {"auth.yml", "ecs.yml", "network.yml", "targetgroup.yml"} <= set(children)
    assert all(f["status"] == "linted" for f in children.values())
    # each template appears once, in context where it is a child
    assert len({f["path"] for f in report["files"]}) == len(report["files"])


def test_a_cdk_nested_stack_is_linted_in_context(capsys: pytest.CaptureFixture[str]) -> None:
    # CDK uploads a NestedStack's template as an asset and names the local file in the metadata.
    assembly = Path(__file__).parent / "data" / "cdk" / "cdk.out"
    main(["check", str(assembly), "--format", "json", "--exit-zero"])
    report = json.loads(capsys.readouterr().out)
    (nested,) = [f for f in report["files"] if f["path"].endswith(".nested.template.json")]
    assert nested["nested_in"] and nested["nested_in"][0].startswith("AlertsNestedStack")
    assert len(report["files"]) == 3  # still one result per template
