"""Unit tests of the operational-excellence / performance-efficiency predicates."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from walint.conditions import Result, Scope, compile_clause
from walint.graph import build
from walint.parse import decode
from walint.selectors import Focus
from walint.values import Resolver

TPL = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Name: {Type: String}
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Ref Name
  Other:
    Type: AWS::Lambda::Function
  ByParameter:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Dimensions:
        - {Name: FunctionName, Value: !Ref Name}
  ByReference:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Dimensions:
        - {Name: FunctionName, Value: !Ref Other}
        - {Name: Joined, Value: !Join ["-", [!GetAtt Other.Arn, x]]}
        - {Name: Subbed, Value: !Sub "${Other}-x"}
        - {Name: LocalSub, Value: !Sub ["${Other}", {Other: literal}]}
        - {Name: Literal, Value: plain}
        - {Name: Pseudo, Value: !Ref AWS::Region}
        - {Name: Import, Value: !ImportValue shared-name}
  ProdQueue:
    Type: AWS::SQS::Queue
    Condition: IsProd
"""


def _evaluate(
    clause: dict[str, Any], resource: str, text: str = TPL, parameters: dict[str, str] | None = None
) -> Result:
    tpl = build(decode("t.yaml", textwrap.dedent(text).encode()))
    res = tpl.resources[resource]
    scope = Scope(tpl, Resolver(tpl, parameters), res)
    return compile_clause(clause, "test").evaluate(scope, Focus(res.data, res.path))


def _value_refers(alarm: str, index: int) -> bool | None:
    clause = {"path": f"Properties.Dimensions[{index}].Value", "predicate": "refers_to_resource"}
    return _evaluate(clause, alarm).tri


def test_refers_to_resource_true_for_ref_getatt_sub() -> None:
    assert _value_refers("ByReference", 0) is True
    assert _value_refers("ByReference", 1) is True  # GetAtt inside a Join
    assert _value_refers("ByReference", 2) is True  # Sub variable naming a resource


def test_refers_to_resource_false_for_parameters_literals_imports() -> None:
    assert _value_refers("ByParameter", 0) is False
    assert _value_refers("ByReference", 3) is False  # the Sub variable is a local one
    assert _value_refers("ByReference", 4) is False
    assert _value_refers("ByReference", 5) is False
    assert _value_refers("ByReference", 6) is False
    assert _value_refers("ByReference", 9) is False  # absent


def test_template_has_finds_matching_resource() -> None:
    clause = {
        "predicate": "template_has",
        "args": {
            "type": "AWS::CloudWatch::Alarm",
            "check": {
                "some": "Properties.Dimensions",
                "check": {"not": {"path": "Value", "predicate": "refers_to_resource"}},
            },
        },
    }
    result = _evaluate(clause, "Fn")
    assert result.tri is True
    assert result.detail == "ByParameter"


def test_template_has_false_without_match_and_skips_self() -> None:
    assert _evaluate({"predicate": "template_has", "args": {"type": "AWS::S3::Bucket"}}, "Fn").tri is False
    # Fn is the only function besides Other; excluding Other's type check leaves only itself.
    named = {"path": "Properties.FunctionName", "exists": True}
    only_self = {"predicate": "template_has", "args": {"type": "AWS::Lambda::Function", "check": named}}
    assert _evaluate(only_self, "Fn").tri is False
    with_self = {"predicate": "template_has", "args": {"type": "AWS::Lambda::*", "include_self": True, "check": named}}
    assert _evaluate(with_self, "Fn").tri is True


def test_template_has_unknown_for_conditional_resource() -> None:
    clause = {"predicate": "template_has", "args": {"type": ["AWS::SQS::Queue"]}}
    result = _evaluate(clause, "Fn")
    assert result.tri is None
    assert any("IsProd" in r for r in result.reasons)
    assert _evaluate(clause, "Fn", parameters={"Env": "prod"}).tri is True
    assert _evaluate(clause, "Fn", parameters={"Env": "dev"}).tri is False


def test_template_has_unknown_when_check_is_unknown() -> None:
    clause = {
        "predicate": "template_has",
        "args": {"type": "AWS::Lambda::Function", "check": {"path": "Properties.FunctionName", "equals": "x"}},
    }
    # Fn's FunctionName comes from a parameter without AllowedValues.
    assert _evaluate(clause, "Other").tri is None


def test_template_has_requires_type() -> None:
    with pytest.raises(ValueError, match="template_has needs"):
        _evaluate({"predicate": "template_has", "args": {}}, "Fn")


ACTIONS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  TopicArn: {Type: String}
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Nested:
    Type: AWS::CloudFormation::Stack
  Literal:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions: [arn:aws:sns:us-east-1:123456789012:ops]
  Recover:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions: [!Ref Topic, !Sub "arn:${AWS::Partition}:automate:${AWS::Region}:ec2:recover"]
  OnlyResource:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions: !Ref Topic
  FromParameter:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions: [!Ref TopicArn]
  FromNested:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions: [!GetAtt Nested.Outputs.TopicArn]
  Conditional:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions:
        - !If [IsProd, arn:aws:sns:us-east-1:123456789012:ops, !Ref AWS::NoValue]
  None:
    Type: AWS::CloudWatch::Alarm
    Properties:
      OKActions: [arn:aws:sns:us-east-1:123456789012:ops]
Outputs:
  TopicArn:
    Value: !Ref Topic
"""


def _arn(alarm: str, *services: str) -> Result:
    clause = {"path": "Properties.AlarmActions", "predicate": "arn_service_in", "args": {"services": list(services)}}
    return _evaluate(clause, alarm, ACTIONS)


def test_arn_service_in_literal_and_sub_with_pseudo_parameters() -> None:
    assert _arn("Literal", "sns").tri is True
    assert _arn("Literal", "automate").tri is False
    assert _arn("Recover", "automate").tri is True  # ${AWS::Partition} does not hide the service
    assert _arn("Recover", "sns").tri is False  # the Ref to a template topic is skipped


def test_arn_service_in_skips_resources_and_absent_lists() -> None:
    assert _arn("OnlyResource", "sns").tri is False
    assert _arn("None", "sns").tri is False


def test_arn_service_in_unknown_for_parameters_nested_stacks_conditions() -> None:
    param = _arn("FromParameter", "sns")
    assert param.tri is None
    assert any("TopicArn" in r for r in param.reasons)
    nested = _arn("FromNested", "sns")
    assert nested.tri is None
    assert any("nested stack" in r for r in nested.reasons)
    assert _arn("Conditional", "sns").tri is None
    assert (
        _evaluate(
            {"path": "Properties.AlarmActions", "predicate": "arn_service_in", "args": {"services": ["sns"]}},
            "Conditional",
            ACTIONS,
            {"Env": "prod"},
        ).tri
        is True
    )


def test_arn_service_in_requires_services() -> None:
    with pytest.raises(ValueError, match="arn_service_in needs"):
        _arn("Literal")


def test_exported_unknown() -> None:
    exported = _evaluate({"predicate": "exported_unknown"}, "Topic", ACTIONS)
    assert exported.tri is None
    assert "TopicArn" in exported.reasons[0]
    assert _evaluate({"predicate": "exported_unknown"}, "Nested", ACTIONS).tri is False


ENDPOINTS = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Db:
    Type: AWS::RDS::DBInstance
  Queue:
    Type: AWS::SQS::Queue
  ByGetAtt:
    Type: AWS::Lambda::Function
    Properties:
      Environment:
        Variables:
          HOST: !GetAtt Db.Endpoint.Address
  BySub:
    Type: AWS::Lambda::Function
    Properties:
      Environment:
        Variables:
          URL: !Sub "postgres://${Db.Endpoint.Address}:${Db.Endpoint.Port}/app"
  ByRef:
    Type: AWS::Lambda::Function
    Properties:
      Environment:
        Variables:
          DB_ID: !Ref Db
          QUEUE: !GetAtt Queue.Arn
"""


def _endpoint(resource: str, **args: Any) -> bool | None:
    clause = {"path": "Properties.Environment.Variables", "predicate": "refers_to_resource", "args": args}
    return _evaluate(clause, resource, ENDPOINTS).tri


def test_refers_to_resource_filters_types_and_attributes() -> None:
    rds = {"types": ["AWS::RDS::*"], "attribute": r"^(Endpoint|ReadEndpoint)\."}
    assert _endpoint("ByGetAtt", **rds) is True
    assert _endpoint("BySub", **rds) is True
    assert _endpoint("ByRef", **rds) is False  # a Ref has no attribute; the queue is not RDS
    assert _endpoint("ByRef", types="AWS::RDS::DBInstance") is True
    assert _endpoint("ByRef", types=["AWS::SNS::Topic"]) is False
    assert _endpoint("ByRef") is True


def test_refers_to_resource_unknown_in_one_branch_of_a_condition() -> None:
    text = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Db:
    Type: AWS::RDS::DBInstance
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Environment:
        Variables:
          HOST: !If [IsProd, !GetAtt Db.Endpoint.Address, localhost]
          BOTH: !If [IsProd, !Ref Db, !Ref Db]
"""
    host = {"path": "Properties.Environment.Variables.HOST", "predicate": "refers_to_resource"}
    both = {"path": "Properties.Environment.Variables.BOTH", "predicate": "refers_to_resource"}
    result = _evaluate(host, "Fn", text)
    assert result.tri is None
    assert result.reasons
    assert _evaluate(host, "Fn", text, {"Env": "prod"}).tri is True
    assert _evaluate(host, "Fn", text, {"Env": "dev"}).tri is False
    assert _evaluate(both, "Fn", text).tri is True
