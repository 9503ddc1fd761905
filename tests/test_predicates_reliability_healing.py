"""Unit tests of walint/predicates/reliability_healing.py."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import evaluate


def _tri(text: str, clause: dict[str, Any], resource: str, **params: str) -> bool | None:
    return evaluate(text, clause, resource, params or None).tri


# -- numbers_ordered -------------------------------------------------------------------------

ASG = """
Parameters:
  Free: {Type: Number}
  Choice: {Type: String, AllowedValues: ["1", "4"]}
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Ok: {Type: ASG, Properties: {MinSize: "1", DesiredCapacity: "2", MaxSize: "3"}}
  NoDesired: {Type: ASG, Properties: {MinSize: "2", MaxSize: "2"}}
  High: {Type: ASG, Properties: {MinSize: 1, DesiredCapacity: 5, MaxSize: 4}}
  MinOverMax: {Type: ASG, Properties: {MinSize: "4", MaxSize: "2"}}
  FreeAsg: {Type: ASG, Properties: {MinSize: "1", DesiredCapacity: !Ref Free, MaxSize: "3"}}
  FreeButBroken: {Type: ASG, Properties: {MinSize: "5", DesiredCapacity: !Ref Free, MaxSize: "3"}}
  Choice: {Type: ASG, Properties: {MinSize: "1", DesiredCapacity: "2", MaxSize: !Ref Choice}}
  BothOk: {Type: ASG, Properties: {MinSize: "1", DesiredCapacity: !If [IsProd, "2", "3"], MaxSize: "3"}}
""".replace("Type: ASG", "Type: AWS::AutoScaling::AutoScalingGroup")
ORDERED = {
    "path": "@",
    "predicate": "numbers_ordered",
    "args": {"paths": ["Properties.MinSize", "Properties.DesiredCapacity", "Properties.MaxSize"]},
}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("Ok", True),
        ("NoDesired", True),
        ("High", False),
        ("MinOverMax", False),
        ("FreeAsg", None),
        ("FreeButBroken", False),
        ("Choice", None),
        ("BothOk", True),
    ],
)
def test_numbers_ordered(resource: str, expected: bool | None) -> None:
    assert _tri(ASG, ORDERED, resource) is expected


def test_numbers_ordered_points_at_desired_and_explains() -> None:
    result = evaluate(ASG, ORDERED, "High")
    assert result.path[-1] == "DesiredCapacity"
    assert result.detail == "DesiredCapacity 5 is greater than MaxSize 4"


def test_numbers_ordered_parameter_value_decides() -> None:
    assert _tri(ASG, ORDERED, "FreeAsg", Free="3") is True
    assert _tri(ASG, ORDERED, "FreeAsg", Free="9") is False


def test_numbers_ordered_needs_two_paths() -> None:
    with pytest.raises(ValueError, match="at least two"):
        evaluate(ASG, {"path": "@", "predicate": "numbers_ordered", "args": {"paths": ["A"]}}, "Ok")


# -- sqs_visibility_covers_timeout -----------------------------------------------------------

SQS = """
Parameters:
  Arn: {Type: String}
Globals:
  Function:
    Timeout: 20
Resources:
  Q30: {Type: AWS::SQS::Queue}
  Q600: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 600}}
  F10: {Type: AWS::Lambda::Function, Properties: {Timeout: 10}}
  FDefault: {Type: AWS::Lambda::Function, Properties: {}}
  Alias: {Type: AWS::Lambda::Alias, Properties: {FunctionName: !Ref F10, Name: live, FunctionVersion: "1"}}
  Stream: {Type: AWS::Kinesis::Stream, Properties: {ShardCount: 1}}
  M1: {Type: AWS::Lambda::EventSourceMapping, Properties: {EventSourceArn: !GetAtt Q30.Arn, FunctionName: !Ref F10}}
  M2:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt Q30.Arn, FunctionName: !Ref FDefault}
  M3: {Type: AWS::Lambda::EventSourceMapping, Properties: {EventSourceArn: !GetAtt Q600.Arn, FunctionName: !Ref Alias}}
  M4: {Type: AWS::Lambda::EventSourceMapping, Properties: {EventSourceArn: !Ref Arn, FunctionName: !Ref F10}}
  M5: {Type: AWS::Lambda::EventSourceMapping, Properties: {EventSourceArn: !GetAtt Stream.Arn, FunctionName: !Ref F10}}
  M6:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt Q600.Arn, FunctionName: elsewhere}
  Sam:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: SQS, Properties: {Queue: !GetAtt Q30.Arn}}
  SamLong:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: SQS, Properties: {Queue: !GetAtt Q600.Arn}}
"""


def _sqs(factor: float = 6) -> dict[str, Any]:
    return {"path": "@", "predicate": "sqs_visibility_covers_timeout", "args": {"factor": factor}}


@pytest.mark.parametrize(
    ("resource", "factor", "expected"),
    [
        ("M1", 6, False),  # 30 < 60
        ("M1", 1, True),  # 30 >= 10
        ("M2", 6, True),  # 30 >= 6 × 3 (defaults)
        ("M3", 6, True),  # through an alias: 600 >= 60
        ("M4", 6, None),  # queue from a parameter
        ("M5", 6, True),  # a stream is not judged
        ("M6", 6, None),  # function not in the template
        ("Sam", 6, False),  # Globals Timeout 20: 30 < 120
        ("SamLong", 6, True),  # 600 >= 120
    ],
)
def test_sqs_visibility_covers_timeout(resource: str, factor: float, expected: bool | None) -> None:
    assert _tri(SQS, _sqs(factor), resource) is expected


def test_sqs_visibility_detail() -> None:
    result = evaluate(SQS, _sqs(), "M1")
    assert "30 s" in result.detail
    assert "Timeout of 10 s" in result.detail


# -- subnet_cidr_within_vpc / peering_cidrs_disjoint -----------------------------------------

NET = """
Parameters:
  Cidr: {Type: String}
  VpcParam: {Type: String}
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  Extra: {Type: AWS::EC2::VPCCidrBlock, Properties: {VpcId: !Ref Vpc, CidrBlock: 100.64.0.0/16}}
  ParamVpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: !Ref Cidr}}
  Far: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.1.0.0/16}}
  Near: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.200.0/24}}
  In: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24}}
  InExtra: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 100.64.3.0/24}}
  Out: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 192.168.0.0/24}}
  Clash: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/23}}
  Carved: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref ParamVpc, CidrBlock: !Select [0, !Cidr [!Ref Cidr, 4, 8]]}}
  CarvedGetAtt:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: !Select [9, !Cidr [!GetAtt Vpc.CidrBlock, 16, 8]]}
  Unknown: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref ParamVpc, CidrBlock: 10.0.0.0/24}}
  External: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref VpcParam, CidrBlock: 10.0.0.0/24}}
  Ipv6Only: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, Ipv6Native: true, Ipv6CidrBlock: "2001:db8::/64"}}
  PeerOk: {Type: AWS::EC2::VPCPeeringConnection, Properties: {VpcId: !Ref Vpc, PeerVpcId: !Ref Far}}
  PeerBad: {Type: AWS::EC2::VPCPeeringConnection, Properties: {VpcId: !Ref Vpc, PeerVpcId: !Ref Near}}
  PeerExt: {Type: AWS::EC2::VPCPeeringConnection, Properties: {VpcId: !Ref Vpc, PeerVpcId: !Ref VpcParam}}
  PeerParam: {Type: AWS::EC2::VPCPeeringConnection, Properties: {VpcId: !Ref ParamVpc, PeerVpcId: !Ref Far}}
"""
WITHIN = {"path": "@", "predicate": "subnet_cidr_within_vpc", "args": {"siblings": True}}
DISJOINT = {"path": "@", "predicate": "peering_cidrs_disjoint"}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("In", False),  # overlaps Clash (10.0.0.0/23)
        ("InExtra", True),
        ("Out", False),
        ("Clash", False),
        ("Carved", True),
        ("CarvedGetAtt", True),
        ("Unknown", None),
        ("External", None),
        ("Ipv6Only", True),
    ],
)
def test_subnet_cidr_within_vpc(resource: str, expected: bool | None) -> None:
    assert _tri(NET, WITHIN, resource) is expected


def test_subnet_cidr_within_vpc_without_siblings() -> None:
    clause = {**WITHIN, "args": {"siblings": False}}
    assert _tri(NET, clause, "In") is True
    assert "not inside" in evaluate(NET, clause, "Out").detail


@pytest.mark.parametrize(
    ("resource", "expected"),
    [("PeerOk", True), ("PeerBad", False), ("PeerExt", None), ("PeerParam", None)],
)
def test_peering_cidrs_disjoint(resource: str, expected: bool | None) -> None:
    assert _tri(NET, DISJOINT, resource) is expected


def test_peering_parameter_value_decides() -> None:
    assert _tri(NET, DISJOINT, "PeerParam", Cidr="10.1.5.0/24") is False
    assert _tri(NET, DISJOINT, "PeerParam", Cidr="172.16.0.0/16") is True


# -- logical_id_matches / globals_refer_to_resource ------------------------------------------

SAM = """
Globals:
  Function:
    DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Parking.Arn}
    Environment:
      Variables:
        TOPIC: !Sub "${Topic}"
Resources:
  Parking: {Type: AWS::SQS::Queue}
  OrdersDLQ: {Type: AWS::SQS::Queue}
  Topic: {Type: AWS::SNS::Topic}
  Other: {Type: AWS::SQS::Queue}
"""


def test_logical_id_matches() -> None:
    clause = {"path": "@", "predicate": "logical_id_matches", "args": {"pattern": "(?i)dlq"}}
    assert _tri(SAM, clause, "OrdersDLQ") is True
    assert _tri(SAM, clause, "Other") is False


def test_globals_refer_to_resource() -> None:
    clause = {"path": "@", "predicate": "globals_refer_to_resource", "args": {"section": "Function"}}
    assert _tri(SAM, clause, "Parking") is True
    assert _tri(SAM, clause, "Topic") is True
    assert _tri(SAM, clause, "Other") is False
    assert _tri("Resources:\n  Other: {Type: AWS::SQS::Queue}\n", clause, "Other") is False


# -- literal_text_matches --------------------------------------------------------------------

LITERAL = """
Mappings:
  M: {us-east-1: {Ami: ami-0123456789abcdef0}}
Resources:
  A: {Type: AWS::EC2::Instance, Properties: {ImageId: ami-0123456789abcdef0}}
  B: {Type: AWS::EC2::Instance, Properties: {ImageId: !FindInMap [M, !Ref "AWS::Region", Ami]}}
  C: {Type: AWS::SNS::Topic, Properties: {Name: !Sub "arn:aws:sns:${AWS::Region}:123456789012:x"}}
  D: {Type: AWS::SNS::Topic, Properties: {Name: !Join ["", ["arn:aws:sns:eu-west-1:", "123456789012:x"]]}}
  E: {Type: AWS::SNS::Topic, Properties: {Name: !If [Cond, arn:aws:sns:eu-west-1:123456789012:x, y]}}
"""
PATTERNS = {
    "AMI": "^ami-[0-9a-f]{17}$",
    "ARN": "arn:aws:[a-z]+:[a-z]{2}-[a-z]+-[0-9]:[0-9]{12}:",
}


@pytest.mark.parametrize(("resource", "expected"), [("A", True), ("B", False), ("C", False), ("D", False), ("E", True)])
def test_literal_text_matches(resource: str, expected: bool) -> None:
    clause = {"path": "Properties", "predicate": "literal_text_matches", "args": {"patterns": PATTERNS}}
    assert _tri(LITERAL, clause, resource) is expected


def test_literal_text_matches_points_at_text() -> None:
    clause = {"path": "Properties", "predicate": "literal_text_matches", "args": {"patterns": PATTERNS}}
    result = evaluate(LITERAL, clause, "E")
    assert result.path[-2:] == ("Fn::If", 1)
    assert result.detail.startswith("ARN ")


# -- asl_tasks_resilient ---------------------------------------------------------------------

ASL = """
Resources:
  Good:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      Definition:
        StartAt: A
        States:
          A: {Type: Task, Resource: x, Retry: [{ErrorEquals: [States.ALL]}], Next: B}
          B: {Type: Pass, End: true}
  NoRetry:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      Definition:
        StartAt: M
        States:
          M:
            Type: Map
            End: true
            Iterator:
              StartAt: T
              States:
                T: {Type: Task, Resource: x, End: true}
  Callback:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      Definition:
        StartAt: T
        States:
          T: {Type: Task, Resource: "arn:aws:states:::sqs:sendMessage.waitForTaskToken", Retry: [{}], End: true}
  Json:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionString: '{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "x", "End": true}}}'
  Broken:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionString: 'not json'
  Sub:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionString: !Sub '{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "${Good}"}}}'
"""


@pytest.mark.parametrize(
    ("resource", "path", "expected"),
    [
        ("Good", "Properties.Definition", True),
        ("NoRetry", "Properties.Definition", False),
        ("Callback", "Properties.Definition", False),
        ("Json", "Properties.DefinitionString", False),
        ("Broken", "Properties.DefinitionString", None),
        ("Sub", "Properties.DefinitionString", None),
    ],
)
def test_asl_tasks_resilient(resource: str, path: str, expected: bool | None) -> None:
    assert _tri(ASL, {"path": path, "predicate": "asl_tasks_resilient"}, resource) is expected


def test_asl_points_at_nested_state() -> None:
    result = evaluate(ASL, {"path": "Properties.Definition", "predicate": "asl_tasks_resilient"}, "NoRetry")
    assert result.path[-3:] == ("Iterator", "States", "T")
    assert "'T' has no Retry" in result.detail


# -- api_timeout_covers_function -------------------------------------------------------------

API = """
Parameters:
  T: {Type: Number}
Globals:
  Function:
    Timeout: 40
Resources:
  Fast: {Type: AWS::Lambda::Function, Properties: {Timeout: 29}}
  Slow: {Type: AWS::Lambda::Function, Properties: {Timeout: 30}}
  Free: {Type: AWS::Lambda::Function, Properties: {Timeout: !Ref T}}
  MFast:
    Type: AWS::ApiGateway::Method
    Properties:
      Integration: {Type: AWS_PROXY, Uri: !Sub "arn:aws:apigateway:r:lambda:path/functions/${Fast.Arn}/invocations"}
  MSlow:
    Type: AWS::ApiGateway::Method
    Properties:
      Integration: {Type: AWS_PROXY, Uri: !Sub "arn:aws:apigateway:r:lambda:path/functions/${Slow.Arn}/invocations"}
  MSlowRaised:
    Type: AWS::ApiGateway::Method
    Properties:
      Integration:
        Type: AWS_PROXY
        TimeoutInMillis: 60000
        Uri: !Sub "arn:aws:apigateway:r:lambda:path/functions/${Slow.Arn}/invocations"
  MAsync:
    Type: AWS::ApiGateway::Method
    Properties:
      Integration:
        Type: AWS
        Uri: !Sub "arn:aws:apigateway:r:lambda:path/functions/${Slow.Arn}/invocations"
        RequestParameters: {integration.request.header.X-Amz-Invocation-Type: "'Event'"}
  MFree:
    Type: AWS::ApiGateway::Method
    Properties:
      Integration: {Type: AWS_PROXY, Uri: !Sub "arn:aws:apigateway:r:lambda:path/functions/${Free.Arn}/invocations"}
  MHttp:
    Type: AWS::ApiGateway::Method
    Properties:
      Integration: {Type: HTTP_PROXY, Uri: https://example.com}
  V2: {Type: AWS::ApiGatewayV2::Integration, Properties: {IntegrationUri: !GetAtt Slow.Arn}}
  SamGlobal:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: Api, Properties: {Path: /, Method: get}}
  SamHttp:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 30
      Events:
        A: {Type: HttpApi, Properties: {Path: /, Method: get}}
"""


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("MFast", True),
        ("MSlow", False),
        ("MSlowRaised", True),
        ("MAsync", True),
        ("MFree", None),
        ("MHttp", True),
        ("V2", True),  # 30 s ≤ 30 s
        ("SamGlobal", False),  # Globals Timeout 40 > 29
        ("SamHttp", True),
    ],
)
def test_api_timeout_covers_function(resource: str, expected: bool | None) -> None:
    assert _tri(API, {"path": "@", "predicate": "api_timeout_covers_function"}, resource) is expected


# -- type_ordinal_within / resource_type_in --------------------------------------------------

COUNT = """
Parameters:
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  E1: {Type: AWS::EC2::EIP}
  E2: {Type: AWS::EC2::EIP, Condition: IsProd}
  V1: {Type: AWS::EC2::VPC}
  E3: {Type: AWS::EC2::EIP}
  E4: {Type: AWS::EC2::EIP}
"""


def test_type_ordinal_within() -> None:
    clause = {"path": "@", "predicate": "type_ordinal_within", "args": {"max": 2}}
    assert _tri(COUNT, clause, "E1") is True
    assert _tri(COUNT, clause, "E3") is None  # E2 may or may not exist
    assert _tri(COUNT, clause, "E4") is False
    assert _tri(COUNT, clause, "E3", Env="dev") is True
    assert _tri(COUNT, clause, "V1") is True


def test_resource_type_in_points_at_resource() -> None:
    clause = {"path": "@", "predicate": "resource_type_in", "args": {"types": ["AWS::EC2::VPC"]}}
    assert _tri(COUNT, clause, "V1") is True
    result = evaluate(COUNT, clause, "E1")
    assert result.tri is False
    assert result.path == ("Resources", "E1")


# -- dlq_outlives_source ---------------------------------------------------------------------

DLQ = """
Parameters:
  R: {Type: Number}
Resources:
  Long: {Type: AWS::SQS::Queue, Properties: {MessageRetentionPeriod: 1209600}}
  Default: {Type: AWS::SQS::Queue}
  Free: {Type: AWS::SQS::Queue, Properties: {MessageRetentionPeriod: !Ref R}}
  Good: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt Long.Arn}}}
  Same: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt Default.Arn}}}
  Json:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 60
      RedrivePolicy: !Sub '{"deadLetterTargetArn": "${Default.Arn}", "maxReceiveCount": 2}'
  Fifo:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true, RedrivePolicy: {deadLetterTargetArn: !GetAtt Default.Arn}}
  External: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: "arn:aws:sqs:r:1:q"}}}
  ToFree: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt Free.Arn}}}
"""


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("Default", True),  # no redrive policy
        ("Good", True),
        ("Same", False),
        ("Json", True),
        ("Fifo", True),
        ("External", None),
        ("ToFree", None),
    ],
)
def test_dlq_outlives_source(resource: str, expected: bool | None) -> None:
    assert _tri(DLQ, {"path": "@", "predicate": "dlq_outlives_source"}, resource) is expected


def test_dlq_outlives_source_parameter_decides() -> None:
    clause = {"path": "@", "predicate": "dlq_outlives_source"}
    assert _tri(DLQ, clause, "ToFree", R="1209600") is True
    assert _tri(DLQ, clause, "ToFree", R="60") is False
