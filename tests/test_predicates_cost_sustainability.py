"""Unit tests of the cost-optimization / sustainability predicates."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from walint.conditions import Result, Scope, compile_clause
from walint.graph import Template, build
from walint.parse import decode
from walint.predicates.cost_sustainability import merge_globals, symbolic
from walint.selectors import Focus
from walint.values import Resolver


def _template(text: str) -> Template:
    return build(decode("t.yaml", textwrap.dedent(text).encode()))


def _evaluate(text: str, clause: dict[str, Any], resource: str, parameters: dict[str, str] | None = None) -> Result:
    tpl = _template(text)
    res = tpl.resources[resource]
    scope = Scope(tpl, Resolver(tpl, parameters), res)
    return compile_clause(clause, "test").evaluate(scope, Focus(res.data, res.path))


# -- with_sam_globals ---------------------------------------------------------------------

SAM = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.9
    Tags: {Team: a}
    Layers: [layer-1]
Resources:
  FromGlobals:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Tags: {Project: p}
  Overrides:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Layers: [layer-2]
  NoProperties:
    Type: AWS::Serverless::Function
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Handler: index.handler
"""


def _globals(check: dict[str, Any]) -> dict[str, Any]:
    return {"predicate": "with_sam_globals", "args": {"check": check}}


@pytest.mark.parametrize(
    ("resource", "check", "expected"),
    [
        ("FromGlobals", {"path": "Properties.Runtime", "equals": "python3.9"}, True),
        ("Overrides", {"path": "Properties.Runtime", "equals": "python3.13"}, True),
        ("NoProperties", {"path": "Properties.Runtime", "equals": "python3.9"}, True),
        # Only AWS::Serverless::* resources take Globals.
        ("Plain", {"path": "Properties.Runtime", "exists": True}, False),
        # Maps are merged, the resource's keys added to the global ones.
        ("FromGlobals", {"path": "Properties.Tags.Team", "exists": True}, True),
        ("FromGlobals", {"path": "Properties.Tags.Project", "exists": True}, True),
        # Lists are concatenated, globals first.
        ("Overrides", {"path": "Properties.Layers[0]", "equals": "layer-1"}, True),
        ("Overrides", {"path": "Properties.Layers[1]", "equals": "layer-2"}, True),
    ],
)
def test_with_sam_globals(resource: str, check: dict[str, Any], expected: bool) -> None:
    assert _evaluate(SAM, _globals(check), resource).tri is expected


def test_with_sam_globals_without_globals_checks_as_written() -> None:
    text = """
    AWSTemplateFormatVersion: "2010-09-09"
    Resources:
      F:
        Type: AWS::Serverless::Function
        Properties: {Runtime: python3.8}
    """
    assert _evaluate(text, _globals({"path": "Properties.Runtime", "equals": "python3.8"}), "F").tri is True


def test_with_sam_globals_unknown_for_intrinsic_section() -> None:
    text = """
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters: {P: {Type: String}}
    Conditions: {C: !Equals [!Ref P, x]}
    Globals:
      Function: !If [C, {Runtime: python3.8}, {Runtime: python3.13}]
    Resources:
      F:
        Type: AWS::Serverless::Function
    """
    result = _evaluate(text, _globals({"path": "Properties.Runtime", "exists": True}), "F")
    assert result.tri is None
    assert "Globals.Function" in result.reasons[0]


def test_with_sam_globals_keeps_unknowns_and_options() -> None:
    text = """
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters: {R: {Type: String}}
    Globals:
      Function: {Runtime: !Ref R}
    Resources:
      F:
        Type: AWS::Serverless::Function
    """
    assert _evaluate(text, _globals({"path": "Properties.Runtime", "equals": "python3.8"}), "F").tri is None
    tpl = _template(text)
    res = tpl.resources["F"]
    clause = compile_clause(
        _globals({"predicate": "has_tags", "args": {"required": [["Team"]]}, "options": ["stack_tags"]}), "t"
    )
    scope = Scope(tpl, Resolver(tpl), res, {"stack_tags": ["Team"]})
    assert clause.evaluate(scope, Focus(res.data, res.path)).tri is True


def test_merge_globals_resource_wins() -> None:
    merged = merge_globals(
        {"Timeout": 30, "Environment": {"Variables": {"A": "1", "B": "1"}}},
        {"Timeout": 5, "Environment": {"Variables": {"B": "2"}}},
    )
    assert merged == {"Timeout": 5, "Environment": {"Variables": {"A": "1", "B": "2"}}}


# -- service_name_matches ----------------------------------------------------------------

ENDPOINTS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Service: {Type: String}
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Sub: {Type: AWS::EC2::VPCEndpoint, Properties: {ServiceName: !Sub "com.amazonaws.${AWS::Region}.s3"}}
  Join:
    Type: AWS::EC2::VPCEndpoint
    Properties: {ServiceName: !Join ["", [com.amazonaws., !Ref "AWS::Region", .s3]]}
  Literal: {Type: AWS::EC2::VPCEndpoint, Properties: {ServiceName: com.amazonaws.eu-west-1.s3}}
  Express: {Type: AWS::EC2::VPCEndpoint, Properties: {ServiceName: !Sub "com.amazonaws.${AWS::Region}.s3express"}}
  Dynamo: {Type: AWS::EC2::VPCEndpoint, Properties: {ServiceName: !Sub "com.amazonaws.${AWS::Region}.dynamodb"}}
  Param: {Type: AWS::EC2::VPCEndpoint, Properties: {ServiceName: !Ref Service}}
  SubParam: {Type: AWS::EC2::VPCEndpoint, Properties: {ServiceName: !Sub "com.amazonaws.${AWS::Region}.${Service}"}}
  Branches:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      ServiceName: !If [IsProd, !Sub "com.amazonaws.${AWS::Region}.s3", !Sub "com.amazonaws.${AWS::Region}.ssm"]
  Absent: {Type: AWS::EC2::VPCEndpoint, Properties: {VpcId: vpc-1}}
"""


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("Sub", True),
        ("Join", True),
        ("Literal", True),
        ("Express", False),
        ("Dynamo", False),
        ("Param", None),
        ("SubParam", None),
        ("Branches", None),
        ("Absent", False),
    ],
)
def test_service_name_matches(resource: str, expected: bool | None) -> None:
    clause = {"path": "Properties.ServiceName", "predicate": "service_name_matches", "args": {"services": ["s3"]}}
    assert _evaluate(ENDPOINTS, clause, resource).tri is expected


def test_service_name_matches_with_parameter_value() -> None:
    clause = {"path": "Properties.ServiceName", "predicate": "service_name_matches", "args": {"services": ["s3"]}}
    assert _evaluate(ENDPOINTS, clause, "SubParam", {"Service": "s3"}).tri is True


# -- symbolic ----------------------------------------------------------------------------


def test_symbolic_keeps_parameters_and_resources_as_placeholders() -> None:
    tpl = _template("""
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters: {P: {Type: String}, Q: {Type: String, AllowedValues: [a, b]}}
    Mappings: {M: {k: {v: mapped}}}
    Resources:
      R: {Type: AWS::SNS::Topic}
    """)
    scope = Scope(tpl, Resolver(tpl), tpl.resources["R"])
    assert symbolic(scope, {"Fn::Sub": "/aws/lambda/${P}"}) == "/aws/lambda/${P}"
    assert symbolic(scope, {"Fn::Join": ["", ["/aws/lambda/", {"Ref": "R"}]]}) == "/aws/lambda/${R}"
    assert symbolic(scope, {"Fn::Sub": ["${X}-1", {"X": {"Fn::FindInMap": ["M", "k", "v"]}}]}) == "mapped-1"
    assert symbolic(scope, {"Ref": "Q"}) == "${Q}"
    assert symbolic(scope, {"Fn::GetAtt": ["R", "TopicName"]}) == "${R.TopicName}"
    assert symbolic(scope, {"Fn::ImportValue": "x"}) is None
    assert symbolic(scope, 5) == "5"


# -- function_log_group ------------------------------------------------------------------

LOGS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Name: {Type: String}
  GroupName: {Type: String}
Resources:
  BySub: {Type: AWS::Lambda::Function}
  BySubLogs: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Sub "/aws/lambda/${BySub}"}}
  Named: {Type: AWS::Lambda::Function, Properties: {FunctionName: worker}}
  NamedLogs: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: /aws/lambda/worker}}
  ParamNamed: {Type: AWS::Lambda::Function, Properties: {FunctionName: !Ref Name}}
  ParamNamedLogs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: !Join ["", [/aws/lambda/, !Ref Name]]}
  Configured:
    Type: AWS::Lambda::Function
    Properties: {LoggingConfig: {LogGroup: /shared}}
  Orphan: {Type: AWS::Lambda::Function}
  NamedOrphan: {Type: AWS::Lambda::Function, Properties: {FunctionName: lonely}}
  Retention:
    Type: Custom::LogRetention
    Properties: {LogGroupName: !Join ["", [/aws/lambda/, !Ref Cdk]], RetentionInDays: 7}
  Cdk: {Type: AWS::Lambda::Function}
  Filter:
    # A metric filter does not declare the log group.
    Type: AWS::Logs::MetricFilter
    Properties: {LogGroupName: !Sub "/aws/lambda/${Orphan}", FilterPattern: x, MetricTransformations: []}
"""


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("BySub", True),
        ("Named", True),
        ("ParamNamed", True),
        ("Configured", True),
        ("Cdk", True),
        ("Orphan", False),
        ("NamedOrphan", False),
    ],
)
def test_function_log_group(resource: str, expected: bool) -> None:
    result = _evaluate(LOGS, {"predicate": "function_log_group"}, resource)
    assert result.tri is expected
    if expected is False:
        assert "without expiry" in result.detail


def test_function_log_group_unknown_when_a_parameter_may_name_it() -> None:
    text = (
        LOGS
        + """
  ParamLogs: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Ref GroupName}}
"""
    )
    assert _evaluate(text, {"predicate": "function_log_group"}, "NamedOrphan").tri is None
    # A generated function name cannot be known to a parameter.
    assert _evaluate(text, {"predicate": "function_log_group"}, "Orphan").tri is False


# -- in_outputs / used_by ----------------------------------------------------------------

USES = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters: {Env: {Type: String}, Nat: {Type: String}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  WithNat: !Equals [!Ref Nat, "yes"]
Resources:
  Volume: {Type: AWS::EC2::Volume}
  Attachment: {Type: AWS::EC2::VolumeAttachment, Properties: {VolumeId: !Ref Volume}}
  Lonely: {Type: AWS::EC2::Volume}
  Exported: {Type: AWS::EC2::Volume}
  Gw: {Type: AWS::EC2::NatGateway, Condition: WithNat}
  Route: {Type: AWS::EC2::Route, Condition: WithNat, Properties: {NatGatewayId: !Ref Gw}}
  ProdGw: {Type: AWS::EC2::NatGateway}
  ProdRoute: {Type: AWS::EC2::Route, Condition: IsProd, Properties: {NatGatewayId: !Ref ProdGw}}
  BranchGw: {Type: AWS::EC2::NatGateway}
  BranchRoute:
    Type: AWS::EC2::Route
    Properties: {NatGatewayId: !If [IsProd, !Ref BranchGw, !Ref "AWS::NoValue"]}
  AlarmedGw: {Type: AWS::EC2::NatGateway}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {Dimensions: [{Name: NatGatewayId, Value: !Ref AlarmedGw}]}
Outputs:
  VolumeId: {Value: !Sub "${Exported}"}
"""


@pytest.mark.parametrize(
    ("resource", "args", "expected"),
    [
        ("Volume", {"types": ["*"]}, True),
        ("Volume", {"types": ["AWS::EC2::VolumeAttachment"], "via": "Properties.VolumeId"}, True),
        ("Volume", {"types": ["AWS::EC2::VolumeAttachment"], "via": "Properties.InstanceId"}, False),
        ("Lonely", {"types": ["*"]}, False),
        # Same condition as the gateway: the route exists whenever the gateway does.
        ("Gw", {"types": ["AWS::EC2::Route"], "via": "Properties.NatGatewayId"}, True),
        ("ProdGw", {"types": ["AWS::EC2::Route"], "via": "Properties.NatGatewayId"}, None),
        ("BranchGw", {"types": ["AWS::EC2::Route"], "via": "Properties.NatGatewayId"}, None),
        ("AlarmedGw", {"types": ["AWS::EC2::Route"]}, False),
        ("AlarmedGw", {"types": ["AWS::CloudWatch::*"]}, True),
    ],
)
def test_used_by(resource: str, args: dict[str, Any], expected: bool | None) -> None:
    assert _evaluate(USES, {"predicate": "used_by", "args": args}, resource).tri is expected


def test_used_by_with_parameter_values() -> None:
    clause = {"predicate": "used_by", "args": {"types": ["AWS::EC2::Route"]}}
    assert _evaluate(USES, clause, "ProdGw", {"Env": "prod"}).tri is True
    assert _evaluate(USES, clause, "ProdGw", {"Env": "dev"}).tri is False


@pytest.mark.parametrize(("resource", "expected"), [("Exported", True), ("Lonely", False)])
def test_in_outputs(resource: str, expected: bool) -> None:
    assert _evaluate(USES, {"predicate": "in_outputs"}, resource).tri is expected


# -- wildcard_arn ------------------------------------------------------------------------

SELECTIONS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Arns: {Type: CommaDelimitedList}
  Kind: {Type: String}
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Star: {Type: X::Y::Z, Properties: {R: ["*"]}}
  Volumes: {Type: X::Y::Z, Properties: {R: ["arn:aws:ec2:*:*:volume/*"]}}
  RegionalSub:
    Type: X::Y::Z
    Properties: {R: [!Sub "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*"]}
  Specific: {Type: X::Y::Z, Properties: {R: [!GetAtt Table.Arn, "arn:aws:dynamodb:eu-west-1:123456789012:table/t"]}}
  SpecificSub:
    Type: X::Y::Z
    Properties: {R: [!Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}"]}
  FromList: {Type: X::Y::Z, Properties: {R: !Ref Arns}}
  FromParameter: {Type: X::Y::Z, Properties: {R: [!Sub "arn:aws:ec2:*:*:${Kind}"]}}
  Conditional: {Type: X::Y::Z, Properties: {R: [!If [IsProd, "*", !GetAtt Table.Arn]]}}
  Single: {Type: X::Y::Z, Properties: {R: "*"}}
"""


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("Star", True),
        ("Volumes", True),
        ("RegionalSub", True),
        ("Single", True),
        ("Specific", False),
        ("SpecificSub", False),
        ("FromList", None),
        ("FromParameter", None),
        ("Conditional", None),
    ],
)
def test_wildcard_arn(resource: str, expected: bool | None) -> None:
    assert _evaluate(SELECTIONS, {"path": "Properties.R", "predicate": "wildcard_arn"}, resource).tri is expected
