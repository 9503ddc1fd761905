"""Unit tests of the `zones_spanned` predicate (walint/predicates/rel_zones.py)."""

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
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>"}
  OneSubnet: {Type: "AWS::EC2::Subnet::Id"}
  Zones: {Type: "List<AWS::EC2::AvailabilityZone::Name>"}
  ZoneA: {Type: "AWS::EC2::AvailabilityZone::Name"}
  Choice: {Type: String, AllowedValues: [eu-west-1a, eu-west-1b]}
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  A0:
    Type: AWS::EC2::Subnet
    Properties: {AvailabilityZone: !Select [0, !GetAZs ""]}
  A0bis:
    Type: AWS::EC2::Subnet
    Properties: {AvailabilityZone: !Select ["0", !GetAZs {Ref: "AWS::Region"}]}
  A1:
    Type: AWS::EC2::Subnet
    Properties: {AvailabilityZone: !Select [1, !GetAZs ""]}
  Named:
    Type: AWS::EC2::Subnet
    Properties: {AvailabilityZone: eu-west-1a}
  ById:
    Type: AWS::EC2::Subnet
    Properties: {AvailabilityZoneId: euw1-az2}
  SubA:
    Type: AWS::EC2::Subnet
    Properties: {AvailabilityZone: !Sub "${AWS::Region}a"}
  SubB:
    Type: AWS::EC2::Subnet
    Properties: {AvailabilityZone: !Join ["", [!Ref "AWS::Region", b]]}
  FromParam:
    Type: AWS::EC2::Subnet
    Properties: {AvailabilityZone: !Ref ZoneA}
  FromListParam0:
    Type: AWS::EC2::Subnet
    Properties: {AvailabilityZone: !Select [0, !Ref Zones]}
  FromListParam1:
    Type: AWS::EC2::Subnet
    Properties: {AvailabilityZone: !Select [1, !Ref Zones]}
  Anywhere:
    Type: AWS::EC2::Subnet
    Properties: {CidrBlock: 10.0.0.0/24}
  NotASubnet:
    Type: AWS::EC2::VPC
  Holder:
    Type: AWS::AutoScaling::AutoScalingGroup
"""


def judge(value: Any, minimum: int = 2) -> Result:
    """Put `value` at Properties.List of the Holder resource and evaluate the predicate."""
    tpl_data = textwrap.dedent(TPL)
    tpl = build(decode("t.yaml", tpl_data.encode()))
    holder = tpl.resources["Holder"]
    data = dict(holder.data)
    data["Properties"] = {"List": value}
    object.__setattr__(holder, "data", data)
    scope = Scope(tpl, Resolver(tpl), holder)
    clause = compile_clause({"path": "Properties.List", "predicate": "zones_spanned", "args": {"min": minimum}}, "t")
    return clause.evaluate(scope, Focus(holder.data, holder.path))


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def select(index: int, source: Any) -> dict[str, Any]:
    return {"Fn::Select": [index, source]}


GETAZS = {"Fn::GetAZs": ""}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([ref("A0"), ref("A1")], True),
        ([ref("A0"), {"Fn::GetAtt": ["A1", "SubnetId"]}], True),
        ([ref("A0"), {"Fn::GetAtt": "A1.SubnetId"}], True),
        ([ref("A0")], False),
        ([ref("A0"), ref("A0bis")], False),
        ([ref("SubA"), ref("SubB")], True),
        ([ref("SubA"), ref("SubA")], False),
        ([ref("Named"), ref("ById")], True),
        ([ref("FromListParam0"), ref("FromListParam1")], True),
        ([select(0, GETAZS), select(1, GETAZS)], True),
        ([select(1, GETAZS), select(1, GETAZS)], False),
        (GETAZS, True),
        (["eu-west-1a", "eu-west-1b"], True),
        (["eu-west-1a"], False),
        ("eu-west-1a", False),
        ([], False),
        (None, False),
        # too few items whatever their zones
        ([ref("OneSubnet")], False),
        (["subnet-0123"], False),
        ([ref("FromParam")], False),
        # undecidable
        (ref("Subnets"), None),
        ([ref("A0"), ref("FromParam")], None),
        ([ref("A0"), ref("Anywhere")], None),
        ([ref("A0"), "subnet-0123"], None),
        ([ref("A0"), {"Fn::ImportValue": "x"}], None),
        ([{"Fn::ImportValue": "x"}], None),  # an export may hold several subnet ids
        ({"Fn::Split": [",", {"Fn::ImportValue": "x"}]}, None),
        ([ref("A0"), ref("NotASubnet")], None),
        # known part already suffices
        ([ref("A0"), ref("A1"), {"Fn::ImportValue": "x"}], True),
        # conditions
        ({"Fn::If": ["IsProd", [ref("A0"), ref("A1")], [ref("A0")]]}, None),
        ({"Fn::If": ["IsProd", [ref("A0"), ref("A1")], [ref("Named"), ref("ById")]]}, True),
        ({"Fn::If": ["IsProd", [ref("A0")], [ref("A1")]]}, False),
        ([ref("A0"), {"Fn::If": ["IsProd", ref("A1"), ref("AWS::NoValue")]}], None),
        ([ref("A0"), {"Fn::If": ["IsProd", ref("A1"), ref("Named")]}], True),
        ([ref("Choice"), "eu-west-1c"], True),
        ([ref("Choice"), "eu-west-1a"], None),
    ],
)
def test_zones_spanned(value: Any, expected: bool | None) -> None:
    result = judge(value)
    assert result.tri is expected, result
    if expected is None:
        assert result.reasons


def test_minimum_three() -> None:
    assert judge([ref("A0"), ref("A1")], minimum=3).tri is False
    assert judge([ref("A0"), ref("A1"), ref("Named")], minimum=3).tri is True
    assert judge(GETAZS, minimum=3).tri is None


def test_details_and_reasons() -> None:
    assert "!Select [0, !GetAZs]" in judge([ref("A0"), ref("A0bis")]).detail
    assert judge([ref("OneSubnet")]).detail == "it lists a single subnet"
    unknown = judge([ref("A0"), ref("Anywhere")])
    assert any("Anywhere sets no AvailabilityZone" in r for r in unknown.reasons)
    conditional = judge({"Fn::If": ["IsProd", [ref("A0"), ref("A1")], [ref("A0")]]})
    assert any("condition IsProd is false" in r for r in conditional.reasons)


def judge_args(value: Any, **args: Any) -> Result:
    tpl = build(decode("t.yaml", textwrap.dedent(TPL).encode()))
    holder = tpl.resources["Holder"]
    object.__setattr__(holder, "data", {**holder.data, "Properties": {"List": value}})
    scope = Scope(tpl, Resolver(tpl), holder)
    clause = compile_clause({"path": "Properties.List", "predicate": "zones_spanned", "args": args}, "t")
    return clause.evaluate(scope, Focus(holder.data, holder.path))


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ([{"SubnetId": ref("A0")}, {"SubnetId": ref("A1"), "AllocationId": "eipalloc-1"}], {"field": "SubnetId"}, True),
        ([{"SubnetId": ref("A0")}], {"field": "SubnetId"}, False),
        ([{"SubnetId": ref("A0")}, {"SubnetId": ref("A0bis")}], {"field": "SubnetId"}, False),
        ([{"SubnetId": ref("A0")}, {"SubnetId": {"Fn::ImportValue": "x"}}], {"field": "SubnetId"}, None),
        ([{"AllocationId": "x"}], {"field": "SubnetId"}, False),
        # one subnet per zone: distinct subnets are distinct zones
        ([{"Fn::ImportValue": "a"}, {"Fn::ImportValue": "b"}], {"one_per_zone": True}, True),
        ([ref("OneSubnet"), ref("OneSubnet")], {"one_per_zone": True}, False),
        (["subnet-1", "subnet-2"], {"one_per_zone": True}, True),
        ([{"SubnetId": "subnet-1"}, {"SubnetId": "subnet-2"}], {"field": "SubnetId", "one_per_zone": True}, True),
        (ref("Subnets"), {"one_per_zone": True}, None),
        ({"Fn::Split": [",", {"Fn::ImportValue": "x"}]}, {"one_per_zone": True}, None),
    ],
)
def test_zones_spanned_options(value: Any, args: dict[str, Any], expected: bool | None) -> None:
    assert judge_args(value, **args).tri is expected


CLUSTERS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Two:
    Type: AWS::RDS::DBCluster
    Properties: {DBClusterIdentifier: two}
  TwoA:
    Type: AWS::RDS::DBInstance
    Properties: {DBClusterIdentifier: !Ref Two}
  TwoB:
    Type: AWS::RDS::DBInstance
    Properties: {DBClusterIdentifier: two}
  One:
    Type: AWS::RDS::DBCluster
  OneA:
    Type: AWS::RDS::DBInstance
    Properties: {DBClusterIdentifier: !Ref One}
  NotAMember:
    Type: AWS::DocDB::DBInstance
    Properties: {DBClusterIdentifier: !Ref One}
  Pinned:
    Type: AWS::RDS::DBCluster
  PinnedA:
    Type: AWS::RDS::DBInstance
    Properties: {DBClusterIdentifier: !Ref Pinned, AvailabilityZone: !Select [0, !GetAZs ""]}
  PinnedB:
    Type: AWS::RDS::DBInstance
    Properties: {DBClusterIdentifier: !Ref Pinned, AvailabilityZone: !Select [0, !GetAZs ""]}
  Spread:
    Type: AWS::RDS::DBCluster
  SpreadA:
    Type: AWS::RDS::DBInstance
    Properties: {DBClusterIdentifier: !Ref Spread, AvailabilityZone: !Select [0, !GetAZs ""]}
  SpreadB:
    Type: AWS::RDS::DBInstance
    Properties: {DBClusterIdentifier: !Ref Spread}
  Conditional:
    Type: AWS::RDS::DBCluster
  ConditionalA:
    Type: AWS::RDS::DBInstance
    Properties: {DBClusterIdentifier: !Ref Conditional}
  ConditionalB:
    Type: AWS::RDS::DBInstance
    Condition: IsProd
    Properties: {DBClusterIdentifier: !Ref Conditional}
  ConditionalRef:
    Type: AWS::RDS::DBCluster
  ConditionalRefA:
    Type: AWS::RDS::DBInstance
    Properties: {DBClusterIdentifier: !Ref ConditionalRef}
  ConditionalRefB:
    Type: AWS::RDS::DBInstance
    Properties: {DBClusterIdentifier: !If [IsProd, !Ref ConditionalRef, elsewhere]}
  Empty:
    Type: AWS::RDS::DBCluster
"""


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        ("Two", True),
        ("One", False),
        ("Pinned", False),
        ("Spread", True),
        ("Conditional", None),
        ("ConditionalRef", None),
        ("Empty", None),
    ],
)
def test_cluster_members(cluster: str, expected: bool | None) -> None:
    tpl = build(decode("t.yaml", textwrap.dedent(CLUSTERS).encode()))
    res = tpl.resources[cluster]
    scope = Scope(tpl, Resolver(tpl), res)
    spec = {"predicate": "cluster_members", "args": {"types": {"AWS::RDS::DBCluster": ["AWS::RDS::DBInstance"]}}}
    result = compile_clause(spec, "t").evaluate(scope, Focus(res.data, res.path))
    assert result.tri is expected, result
    if expected is False:
        assert result.detail


NAT = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String}
  Sub: {Type: "AWS::EC2::Subnet::Id"}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  PubA: {Type: AWS::EC2::Subnet, Properties: {AvailabilityZone: !Select [0, !GetAZs ""]}}
  PubB: {Type: AWS::EC2::Subnet, Properties: {AvailabilityZone: !Select [1, !GetAZs ""]}}
  PrivA: {Type: AWS::EC2::Subnet, Properties: {AvailabilityZone: !Select [0, !GetAZs ""]}}
  PrivB: {Type: AWS::EC2::Subnet, Properties: {AvailabilityZone: !Select [1, !GetAZs ""]}}
  Named: {Type: AWS::EC2::Subnet, Properties: {AvailabilityZone: eu-west-1a}}
  NatA: {Type: AWS::EC2::NatGateway, Properties: {SubnetId: !Ref PubA}}
  NatB: {Type: AWS::EC2::NatGateway, Properties: {SubnetId: !Ref PubB}}
  T1: {Type: AWS::EC2::RouteTable}
  T2: {Type: AWS::EC2::RouteTable}
  T3: {Type: AWS::EC2::RouteTable}
  T4: {Type: AWS::EC2::RouteTable}
  T5: {Type: AWS::EC2::RouteTable}
  A1: {Type: AWS::EC2::SubnetRouteTableAssociation, Properties: {RouteTableId: !Ref T1, SubnetId: !Ref PrivA}}
  A2a: {Type: AWS::EC2::SubnetRouteTableAssociation, Properties: {RouteTableId: !Ref T2, SubnetId: !Ref PrivA}}
  A2b: {Type: AWS::EC2::SubnetRouteTableAssociation, Properties: {RouteTableId: !Ref T2, SubnetId: !Ref PrivB}}
  A3: {Type: AWS::EC2::SubnetRouteTableAssociation, Properties: {RouteTableId: !Ref T3, SubnetId: !Ref Named}}
  A4: {Type: AWS::EC2::SubnetRouteTableAssociation, Properties: {RouteTableId: !Ref T4, SubnetId: !Ref Sub}}
  A5:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Condition: IsProd
    Properties: {RouteTableId: !Ref T5, SubnetId: !Ref PrivB}
  Same: {Type: AWS::EC2::Route, Properties: {RouteTableId: !Ref T1, NatGatewayId: !Ref NatA}}
  Shared: {Type: AWS::EC2::Route, Properties: {RouteTableId: !Ref T2, NatGatewayId: !Ref NatA}}
  Mixed: {Type: AWS::EC2::Route, Properties: {RouteTableId: !Ref T3, NatGatewayId: !Ref NatA}}
  Param: {Type: AWS::EC2::Route, Properties: {RouteTableId: !Ref T4, NatGatewayId: !Ref NatA}}
  Cond: {Type: AWS::EC2::Route, Properties: {RouteTableId: !Ref T5, NatGatewayId: !Ref NatA}}
  Switch: {Type: AWS::EC2::Route, Properties: {RouteTableId: !Ref T1, NatGatewayId: !If [IsProd, !Ref NatA, !Ref NatB]}}
  Imported: {Type: AWS::EC2::Route, Properties: {RouteTableId: !Ref T1, NatGatewayId: !ImportValue nat}}
"""


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("Same", True),
        ("Shared", False),
        ("Mixed", None),
        ("Param", None),
        ("Cond", None),
        ("Switch", None),
        ("Imported", None),
    ],
)
def test_nat_route_in_zone(route: str, expected: bool | None) -> None:
    tpl = build(decode("t.yaml", textwrap.dedent(NAT).encode()))
    res = tpl.resources[route]
    scope = Scope(tpl, Resolver(tpl), res)
    result = compile_clause({"predicate": "nat_route_in_zone"}, "t").evaluate(scope, Focus(res.data, res.path))
    assert result.tri is expected, result
    if expected is False:
        assert "PrivB" in result.detail
