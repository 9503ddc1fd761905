"""Hostile and malformed input: every file ends in one status with a message, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from walint.catalog import Rule
from walint.cli import main
from walint.engine import LintOptions, RuleIndex, lint_bytes, read_and_lint
from walint.findings import FileStatus


@pytest.fixture(scope="module")
def index(rules: list[Rule]) -> RuleIndex:
    return RuleIndex(rules)


def lint(text: str | bytes, index: RuleIndex) -> tuple[FileStatus, str | None, int]:
    raw = text.encode() if isinstance(text, str) else text
    result = lint_bytes("t.yaml", raw, index, LintOptions())
    internal = [f for f in result.findings if any("internal error" in r for r in f.reasons)]
    assert not internal, internal[0].reasons
    return result.status, result.error, len(result.findings)


HEAD = "AWSTemplateFormatVersion: '2010-09-09'\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (HEAD + "Resources: [a, b]\n", "Resources must be a mapping, not a list"),
        (HEAD + "Resources:\n", "Resources must be a mapping, not empty"),
        (HEAD + "Resources: text\n", "not a string"),
        (HEAD + "Resources:\n  A: {Properties: {}}\n", "resource A has no Type"),
        (HEAD + "Resources:\n  A: {Type: [AWS::S3::Bucket]}\n", "resource A has no Type"),
        (HEAD + "Resources:\n  A: {Type: !Rain::Module x.yml}\n", "Type !Rain::Module"),
        (HEAD + "Resources:\n  A: {Type: AWS::S3::Bucket}\n  A: {Type: AWS::S3::Bucket}\n", "duplicate key 'A'"),
        (HEAD + "Parameters:\nResources:\n  A: {Type: AWS::S3::Bucket}\n", None),  # empty Parameters is fine
    ],
)
def test_invalid_templates_are_errors_with_a_line(text: str, fragment: str | None, index: RuleIndex) -> None:
    status, error, _ = lint(text, index)
    if fragment is None:
        assert status is FileStatus.LINTED
    else:
        assert status is FileStatus.ERROR
        assert error and error.startswith("line ") and fragment in error


@pytest.mark.parametrize(
    "properties",
    [
        "Properties: [1, 2]",
        "Properties: just a string",
        "Properties: null",
        "Properties: {BucketEncryption: 5, Tags: {Key: x}, VersioningConfiguration: [Enabled]}",
        "Properties: {Tags: [[], 5, {Key: [a]}, {Value: x}], PublicAccessBlockConfiguration: !Ref AWS::NoValue}",
    ],
)
def test_properties_of_the_wrong_shape_are_linted(properties: str, index: RuleIndex) -> None:
    text = (
        HEAD
        + "Resources:\n"
        + "".join(
            f"  R{t.replace(':', '')}:\n    Type: {t}\n    {properties}\n"
            for t in (
                "AWS::S3::Bucket",
                "AWS::EC2::SecurityGroup",
                "AWS::IAM::Role",
                "AWS::RDS::DBInstance",
                "AWS::Lambda::Function",
                "AWS::AutoScaling::AutoScalingGroup",
                "AWS::EC2::Instance",
            )
        )
    )
    status, error, _ = lint(text, index)
    assert status is FileStatus.LINTED, error


@pytest.mark.parametrize(
    "value",
    [
        "!If [OnlyOne]",
        "!If [NoSuchCondition, a, b]",
        "!Sub 5",
        "!Sub [a, b, c]",
        "!GetAtt NoDot",
        "!GetAtt [Missing, Arn]",
        "!Select [x, [a]]",
        "!Select [9, [a]]",
        "!FindInMap [NoMap, a, b]",
        "!Join [',']",
        "!Ref 5",
        "!Ref Undefined",
        "!Foo bar",
        "{'Fn::Base64': {'Fn::If': [C, {'Fn::Sub': '${AWS::Region}'}, !Ref AWS::NoValue]}}",
        "{'Fn::ImportValue': {'Fn::Sub': '${AWS::StackName}-x'}}",
    ],
)
def test_intrinsics_with_wrong_arguments_or_unknown_names(value: str, index: RuleIndex) -> None:
    text = (
        HEAD
        + "Conditions:\n  C: !Equals [a, b]\n"
        + "Resources:\n"
        + f"  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: {value}\n"
        + f"      VersioningConfiguration: {{Status: {value}}}\n"
        + "  G:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      SecurityGroupIngress:\n"
        + f"        - {{IpProtocol: {value}, FromPort: {value}, ToPort: 22, CidrIp: {value}}}\n"
        + f"  D:\n    Type: AWS::RDS::DBInstance\n    Properties:\n      StorageEncrypted: {value}\n"
        + f"      MultiAZ: {value}\n"
    )
    status, error, _ = lint(text, index)
    assert status is FileStatus.LINTED, error


def test_reference_and_condition_cycles(index: RuleIndex) -> None:
    text = (
        HEAD
        + "Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\n"
        + "Resources:\n"
        + "  X:\n    Type: AWS::SQS::Queue\n    DependsOn: Y\n    Condition: A\n"
        + "    Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt Y.Arn}}\n"
        + "  Y:\n    Type: AWS::SQS::Queue\n    DependsOn: X\n"
        + "    Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt X.Arn}}\n"
        + "  A1:\n    Type: AWS::CloudWatch::Alarm\n    Properties: {Dimensions: [{Name: Q, Value: !Ref X}], "
        + "AlarmActions: [!Ref A1]}\n"
    )
    status, error, _ = lint(text, index)
    assert status is FileStatus.LINTED, error


def test_deep_nesting_inside_properties(index: RuleIndex) -> None:
    depth = 300
    nested = "{a: " * depth + "1" + "}" * depth
    status, error, _ = lint(HEAD + f"Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Metadata: {nested}\n", index)
    assert status is FileStatus.LINTED, error
    deeper = "[" * 50_000 + "]" * 50_000
    status, error, _ = lint(HEAD + f"Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Metadata: {deeper}\n", index)
    assert status is FileStatus.ERROR and error


def test_a_multi_megabyte_string(index: RuleIndex) -> None:
    big = "x" * (5 * 1024 * 1024)
    text = HEAD + f"Resources:\n  I:\n    Type: AWS::EC2::Instance\n    Properties:\n      UserData: '{big}'\n"
    status, error, _ = lint(text, index)
    assert status is FileStatus.LINTED, error


def test_ten_thousand_resources(index: RuleIndex) -> None:
    lines = [HEAD + "Resources:"]
    lines += [f"  Q{i}:\n    Type: AWS::SQS::Queue\n    Properties: {{DelaySeconds: {i % 900}}}" for i in range(10_000)]
    status, error, findings = lint("\n".join(lines) + "\n", index)
    assert status is FileStatus.LINTED, error
    assert findings >= 10_000


def test_unreadable_and_oversized_files(tmp_path: Path, index: RuleIndex) -> None:
    directory = tmp_path / "looks-like.yaml"
    directory.mkdir()
    result = read_and_lint(str(directory), index, LintOptions())
    assert result.status is FileStatus.ERROR and result.error and result.error.startswith("cannot read")
    fifo = tmp_path / "missing.yaml"
    result = read_and_lint(str(fifo), index, LintOptions())
    assert result.status is FileStatus.ERROR


def test_a_bad_file_does_not_hide_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.yaml").write_bytes(b"Resources\x00\xff\xfe binary")
    (tmp_path / "b.yaml").write_text(HEAD + "Resources:\n  D: {Type: AWS::RDS::DBInstance}\n")
    (tmp_path / "c.json").write_text('{"Resources": {"A": {"Type": "AWS::S3::Bucket"}')
    (tmp_path / "d.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")  # binary, not a template: skipped
    os.symlink(tmp_path / "nowhere.yaml", tmp_path / "dangling.yaml")
    code = main(["check", ".", "-f", "json", "--select", "WA-SEC-002"])
    doc = json.loads(capsys.readouterr().out)
    statuses = {f["path"]: f["status"] for f in doc["files"]}
    assert statuses == {
        "a.yaml": "error",
        "b.yaml": "linted",
        "c.json": "error",
        "d.yaml": "skipped",
        "dangling.yaml": "error",
    }
    errors = {f["path"]: f["error"] for f in doc["files"] if f["status"] == "error"}
    assert "binary" in errors["a.yaml"] and errors["c.json"].startswith("line ")
    assert [f["resource"] for f in doc["findings"]] == ["D"]
    assert code == 2


def test_a_failing_rule_is_reported_and_the_rest_goes_on(rules: list[Rule], monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in one rule's evaluation becomes an UNKNOWN 'internal error' on that resource."""
    from walint.conditions import PREDICATES

    def broken(*args: object) -> None:
        raise KeyError("boom")

    monkeypatch.setitem(PREDICATES, "ports_open", broken)
    text = (
        HEAD
        + "Resources:\n  G:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      SecurityGroupIngress:\n"
        + "        - {IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIp: 0.0.0.0/0}\n"
        + "  D:\n    Type: AWS::RDS::DBInstance\n"
    )
    result = lint_bytes("t.yaml", text.encode(), RuleIndex(rules), LintOptions())
    assert result.status is FileStatus.LINTED
    broken_findings = [f for f in result.findings if any("internal error" in r for r in f.reasons)]
    assert {f.rule_id for f in broken_findings} >= {"WA-SEC-025"}
    assert all(f.outcome.value == "unknown" and "KeyError" in f.reasons[0] for f in broken_findings)
    assert any(f.rule_id == "WA-SEC-002" and f.outcome.value == "fail" for f in result.findings)


def test_linting_touches_no_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("walint opened a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / "t.yaml").write_text(HEAD + "Resources:\n  D: {Type: AWS::RDS::DBInstance}\n")
    for fmt in ("text", "json", "sarif", "github", "junit", "markdown"):
        assert main(["check", "t.yaml", "-f", fmt, "--jobs", "1"]) == 1
    capsys.readouterr()
