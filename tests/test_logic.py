"""Three-valued clause logic, quantifiers, relations and where findings point."""

from __future__ import annotations

import pytest
from helpers import evaluate

from walint.conditions import ClauseError, compile_clause

TPL = """
Parameters:
  Free: {Type: String}
  Env: {Type: String, AllowedValues: [dev, prod]}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      StorageEncrypted: true
      MultiAZ: !Ref Free
      BackupRetentionPeriod: "7"
      Size: !If [IsProd, 100, 20]
      Ingress:
        - {CidrIp: 10.0.0.0/8}
        - !If [IsProd, {CidrIp: 0.0.0.0/0}, !Ref AWS::NoValue]
      Actions: "s3:*"
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Dimensions:
        - Name: DBInstanceIdentifier
          Value: !Ref Db
  ProdAlarm:
    Type: AWS::CloudWatch::Alarm
    Condition: IsProd
    Properties:
      Dimensions: [{Name: X, Value: !Ref Other}]
  Other:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dlq.Arn
  Dlq:
    Type: AWS::SQS::Queue
"""

T = {"path": "Properties.StorageEncrypted", "equals": True}  # true
F = {"path": "Properties.StorageEncrypted", "equals": False}  # false
U = {"path": "Properties.MultiAZ", "equals": True}  # unknown


def tri(clause: dict, resource: str = "Db", **params: str) -> bool | None:  # type: ignore[type-arg]
    return evaluate(TPL, clause, resource, params or None).tri


@pytest.mark.parametrize(
    ("parts", "expected_all", "expected_any"),
    [
        ([T, T], True, True),
        ([T, F], False, True),
        ([F, F], False, False),
        ([T, U], None, True),
        ([F, U], False, None),
        ([U, U], None, None),
    ],
)
def test_kleene_all_and_any(parts: list, expected_all: bool | None, expected_any: bool | None) -> None:  # type: ignore[type-arg]
    assert tri({"all": parts}) is expected_all
    assert tri({"any": parts}) is expected_any


def test_kleene_not() -> None:
    assert tri({"not": T}) is False
    assert tri({"not": F}) is True
    assert tri({"not": U}) is None


def test_leaf_operators_and_defaults() -> None:
    assert tri({"path": "Properties.BackupRetentionPeriod", "gte": 7}) is True
    assert tri({"path": "Properties.BackupRetentionPeriod", "lte": 6}) is False
    assert tri({"path": "Properties.Missing", "equals": True, "default": True}) is True
    assert tri({"path": "Properties.Missing", "equals": True}) is False
    assert tri({"path": "Properties.Missing", "exists": False}) is True
    assert tri({"path": "Properties.MultiAZ", "exists": True}) is True
    assert tri({"path": "Type", "matches": "^AWS::RDS::"}) is True
    assert tri({"path": "Properties.Actions", "in": ["s3:*", "*"]}) is True


def test_fn_if_is_decided_only_when_both_branches_agree() -> None:
    assert tri({"path": "Properties.Size", "gte": 20}) is True
    assert tri({"path": "Properties.Size", "gte": 50}) is None
    assert tri({"path": "Properties.Size", "gte": 50}, Env="prod") is True
    assert tri({"path": "Properties.Size", "gte": 200}) is False


def test_unknown_names_the_parameter_or_condition() -> None:
    result = evaluate(TPL, U, "Db")
    assert result.reasons and "parameter Free" in result.reasons[0]
    result = evaluate(TPL, {"path": "Properties.Size", "gte": 50}, "Db")
    assert any("condition IsProd" in r for r in result.reasons)


def test_each_and_some_with_conditional_elements() -> None:
    open_world = {"path": "CidrIp", "equals": "0.0.0.0/0"}
    assert tri({"each": "Properties.Ingress", "check": {"not": open_world}}) is None
    assert tri({"each": "Properties.Ingress", "check": {"not": open_world}}, Env="dev") is True
    assert tri({"each": "Properties.Ingress", "check": {"not": open_world}}, Env="prod") is False
    assert tri({"some": "Properties.Ingress", "check": open_world}) is None
    assert tri({"some": "Properties.Missing", "check": open_world}) is False
    assert tri({"each": "Properties.Missing", "check": open_world}) is True
    # a single value counts as a list of one (IAM Action)
    assert tri({"some": "Properties.Actions", "check": {"path": "@", "equals": "s3:*"}}) is True


def test_failing_element_is_located() -> None:
    result = evaluate(
        TPL,
        {"each": "Properties.Ingress", "check": {"not": {"path": "CidrIp", "equals": "0.0.0.0/0"}}},
        "Db",
        {"Env": "prod"},
    )
    assert result.tri is False
    assert result.path[-1] == "CidrIp" and "Ingress" in result.path


def test_referenced_by_follows_edges_and_conditions() -> None:
    alarm = {"referenced_by": {"type": "AWS::CloudWatch::Alarm", "via": "Properties.Dimensions[*].Value"}}
    assert tri(alarm) is True
    assert tri(alarm, "Other") is None  # the only alarm exists when IsProd
    assert tri(alarm, "Other", Env="prod") is True
    assert tri(alarm, "Other", Env="dev") is False
    assert tri(alarm, "Dlq") is False
    wrong_path = {"referenced_by": {"type": "AWS::CloudWatch::Alarm", "via": "Properties.AlarmActions"}}
    assert tri(wrong_path) is False


def test_references_checks_the_target() -> None:
    dlq = {"references": {"path": "Properties.RedrivePolicy", "type": "AWS::SQS::Queue"}}
    assert tri(dlq, "Other") is True
    assert tri(dlq, "Dlq") is False
    checked = {
        "references": {
            "path": "Properties.RedrivePolicy",
            "type": "AWS::SQS::Queue",
            "check": {"path": "Properties.FifoQueue", "equals": True},
        }
    }
    assert tri(checked, "Other") is False


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        ({"path": "A", "equal": 1}, "unknown key"),
        ({"path": "A"}, "exactly one operator"),
        ({"path": "A", "equals": 1, "in": [1]}, "exactly one operator"),
        ({"path": "A[*]", "equals": 1}, "use each/some"),
        ({"path": "A[1:3]", "exists": True}, "not supported"),
        ({"path": "A[?(@.x == 1)]", "exists": True}, "invalid JSONPath"),
        ({"path": "A", "matches": "("}, "invalid regular expression"),
        ({"path": "A", "gte": "x"}, "takes a number"),
        ({"all": []}, "non-empty list"),
        ({"path": "@", "predicate": "nope"}, "unknown predicate"),
        ({"references": {"path": "A"}}, "'type' is required"),
        ("A", "expected a clause"),
    ],
)
def test_bad_clauses_are_rejected_with_the_key(clause: object, message: str) -> None:
    with pytest.raises(ClauseError) as info:
        compile_clause(clause, "assert")
    assert message in str(info.value)
    assert str(info.value).startswith("assert")
