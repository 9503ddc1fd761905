"""The core predicates: ports_open and has_tags."""

from __future__ import annotations

import pytest
from helpers import evaluate

SG = """
Parameters:
  Proto: {Type: String, AllowedValues: [tcp, "-1"]}
  Port: {Type: Number}
Conditions:
  IsProd: !Equals [!Ref Proto, tcp]
Resources:
  G:
    Type: AWS::EC2::SecurityGroup
    Properties:
      Rules:
        - {IpProtocol: tcp, FromPort: 22, ToPort: 22}
        - {IpProtocol: tcp, FromPort: 0, ToPort: 1024}
        - {IpProtocol: "-1"}
        - {IpProtocol: udp, FromPort: 53, ToPort: 53}
        - {IpProtocol: icmp, FromPort: -1, ToPort: -1}
        - {IpProtocol: tcp, FromPort: 443, ToPort: 443}
        - {IpProtocol: !Ref Proto, FromPort: 443, ToPort: 443}
        - {IpProtocol: tcp, FromPort: !Ref Port, ToPort: !Ref Port}
        - {IpProtocol: 6, FromPort: "3380", ToPort: "3390"}
        - {IpProtocol: tcp, FromPort: -1, ToPort: -1}
"""


@pytest.mark.parametrize(
    ("index", "args", "expected"),
    [
        (0, {"ports": [22, 3389]}, True),
        (1, {"ports": [22]}, True),  # a range covering the port
        (1, {"ports": ["2000-3000"]}, False),
        (2, {"ports": [22]}, True),  # all traffic
        (2, {"all": True}, True),
        (1, {"all": True}, False),
        (3, {"ports": [53]}, True),  # udp counts
        (4, {"ports": [22]}, False),  # icmp has no ports
        (5, {"ports": [22, 3389]}, False),
        (6, {"ports": [22]}, None),  # tcp 443 or all traffic, by parameter
        (7, {"ports": [22]}, None),  # port from a parameter without AllowedValues
        (8, {"ports": [3389]}, True),  # protocol number, string ports
        (9, {"ports": [8080]}, True),  # -1 ports mean all ports
        (9, {"all": True}, True),
    ],
)
def test_ports_open(index: int, args: dict, expected: bool | None) -> None:  # type: ignore[type-arg]
    clause = {"path": f"Properties.Rules[{index}]", "predicate": "ports_open", "args": args}
    assert evaluate(SG, clause, "G").tri is expected


def test_ports_open_unknown_names_the_parameter() -> None:
    result = evaluate(SG, {"path": "Properties.Rules[7]", "predicate": "ports_open", "args": {"ports": [22]}}, "G")
    assert any("parameter Port" in r for r in result.reasons)


TAGS = """
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod]}
  Key: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Full:
    Type: AWS::S3::Bucket
    Properties:
      Tags: [{Key: Owner, Value: a}, {Key: Environment, Value: b}, {Key: Project, Value: c}]
  Map:
    Type: AWS::SSM::Parameter
    Properties:
      Tags: {Team: a, Environment: b, Project: c}
  Missing:
    Type: AWS::S3::Bucket
    Properties:
      Tags: [{Key: Owner, Value: a}]
  None:
    Type: AWS::S3::Bucket
  BothBranches:
    Type: AWS::S3::Bucket
    Properties:
      Tags:
        - {Key: Owner, Value: a}
        - {Key: Project, Value: c}
        - !If [IsProd, {Key: Environment, Value: prod}, {Key: Environment, Value: dev}]
  OneBranch:
    Type: AWS::S3::Bucket
    Properties:
      Tags:
        - {Key: Owner, Value: a}
        - {Key: Project, Value: c}
        - !If [IsProd, {Key: Environment, Value: prod}, !Ref AWS::NoValue]
  UnknownKey:
    Type: AWS::S3::Bucket
    Properties:
      Tags: [{Key: Owner, Value: a}, {Key: Project, Value: c}, {Key: !Ref Key, Value: x}]
  UnknownKeyTooFew:
    Type: AWS::S3::Bucket
    Properties:
      Tags: [{Key: !Ref Key, Value: x}]
"""
REQUIRED = {"required": [["Team", "Owner"], ["Environment"], ["Project"]]}


@pytest.mark.parametrize(
    ("resource", "args", "expected"),
    [
        ("Full", REQUIRED, True),
        ("Map", REQUIRED, True),
        ("Missing", REQUIRED, False),
        ("None", REQUIRED, False),
        ("None", {**REQUIRED, "stack_tags": ["Owner", "Environment", "Project"]}, True),
        ("BothBranches", REQUIRED, True),
        ("OneBranch", REQUIRED, None),
        ("UnknownKey", REQUIRED, None),
        ("UnknownKeyTooFew", REQUIRED, False),  # one unknown key cannot supply two groups
    ],
)
def test_has_tags(resource: str, args: dict, expected: bool | None) -> None:  # type: ignore[type-arg]
    assert evaluate(TAGS, {"predicate": "has_tags", "args": args}, resource).tri is expected


def test_has_tags_names_what_is_missing() -> None:
    result = evaluate(TAGS, {"predicate": "has_tags", "args": REQUIRED}, "Missing")
    assert result.detail == "missing tag Environment, Project"
