"""Property-based fuzzing: templates mixing valid structure with random intrinsics, types and
shapes. walint never raises, gives every file a status, and is deterministic.

A short budget runs in CI; WALINT_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py runs longer.
"""

from __future__ import annotations

import json
import os
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walint.catalog import load_rules
from walint.engine import LintOptions, RuleIndex, lint_bytes
from walint.findings import FileStatus

INDEX = RuleIndex(load_rules())
EXAMPLES = int(os.environ.get("WALINT_FUZZ_EXAMPLES", "120"))

TYPES = sorted({t for rule in INDEX.rules for t in rule.resource_types if "*" not in t and not t.startswith("@")})
KEYS = [
    "StorageEncrypted",
    "Encrypted",
    "MultiAZ",
    "Tags",
    "Key",
    "Value",
    "SecurityGroupIngress",
    "CidrIp",
    "CidrIpv6",
    "IpProtocol",
    "FromPort",
    "ToPort",
    "PolicyDocument",
    "Statement",
    "Effect",
    "Action",
    "Resource",
    "Principal",
    "Condition",
    "Policies",
    "BucketEncryption",
    "PublicAccessBlockConfiguration",
    "VPCZoneIdentifier",
    "SubnetIds",
    "Dimensions",
    "UserData",
    "Environment",
    "Variables",
    "Runtime",
    "BackupRetentionPeriod",
    "DBClusterIdentifier",
    "LifecycleConfiguration",
    "Rules",
    "Status",
    "Properties",
    "Type",
    "LoadBalancerArn",
    "DefaultActions",
    "Protocol",
    "Port",
    "Listeners",
    "AvailabilityZone",
]
NAMES = ["P1", "P2", "R0", "R1", "R2", "AWS::Region", "AWS::NoValue", "Nope"]
FUNCTIONS = [
    "Fn::If",
    "Fn::Sub",
    "Fn::GetAtt",
    "Fn::Join",
    "Fn::Select",
    "Fn::FindInMap",
    "Fn::ImportValue",
    "Fn::Base64",
    "Fn::Split",
    "Fn::GetAZs",
    "Fn::Equals",
    "Fn::Not",
    "Fn::Cidr",
    "Fn::Bogus",
    "Condition",
]

scalars = st.one_of(
    st.booleans(),
    st.integers(-5, 70000),
    st.sampled_from(["0.0.0.0/0", "::/0", "*", "true", "Allow", "tcp", "-1"]),
    st.text(max_size=12),
    st.none(),
)


def intrinsics(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda n: {"Ref": n}, st.sampled_from(NAMES)),
        st.builds(lambda f, a: {f: a}, st.sampled_from(FUNCTIONS), st.one_of(children, st.lists(children, max_size=4))),
        st.builds(lambda c, a, b: {"Fn::If": [c, a, b]}, st.sampled_from(["C1", "C2", "Missing"]), children, children),
        st.builds(lambda s: {"Fn::Sub": s}, st.sampled_from(["${P1}", "${R0.Arn}-x", "${AWS::Region}", "lit"])),
    )


values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
        intrinsics(children),
    ),
    max_leaves=25,
)

resources = st.dictionaries(
    st.sampled_from(["R0", "R1", "R2", "R3"]),
    st.fixed_dictionaries(
        {"Type": st.sampled_from(TYPES)},
        optional={
            "Properties": st.one_of(st.dictionaries(st.sampled_from(KEYS), values, max_size=6), values),
            "Condition": st.sampled_from(["C1", "C2", "Missing"]),
            "DependsOn": st.one_of(st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), max_size=3)),
            "Metadata": values,
            "DeletionPolicy": st.sampled_from(["Retain", "Delete", "Snapshot"]),
        },
    ),
    min_size=1,
    max_size=4,
)

templates = st.fixed_dictionaries(
    {"AWSTemplateFormatVersion": st.just("2010-09-09"), "Resources": resources},
    optional={
        "Parameters": st.fixed_dictionaries(
            {
                "P1": st.fixed_dictionaries(
                    {"Type": st.just("String")}, optional={"AllowedValues": st.lists(scalars, max_size=3)}
                ),
                "P2": st.fixed_dictionaries({"Type": st.sampled_from(["String", "CommaDelimitedList", "Number"])}),
            }
        ),
        "Conditions": st.fixed_dictionaries(
            {"C1": st.builds(lambda a, b: {"Fn::Equals": [a, b]}, values, values), "C2": values}
        ),
        "Mappings": st.just({"M": {"a": {"b": "c"}}}),
    },
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template=templates, as_yaml=st.booleans())
def test_walint_never_raises_and_is_deterministic(template: dict[str, Any], as_yaml: bool) -> None:
    raw = (yaml.safe_dump(template) if as_yaml else json.dumps(template)).encode()
    first = lint_bytes("fuzz.yaml", raw, INDEX, LintOptions())
    second = lint_bytes("fuzz.yaml", raw, INDEX, LintOptions())
    assert first.status in (FileStatus.LINTED, FileStatus.ERROR, FileStatus.SKIPPED)
    assert first == second
    internal = [f.reasons for f in first.findings if any("internal error" in r for r in f.reasons)]
    assert not internal, internal[0]
