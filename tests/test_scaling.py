"""Evaluation work grows linearly with template size: counted in Python function calls, not seconds."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from walint.catalog import Rule
from walint.engine import LintOptions, RuleIndex, lint_bytes


def _template(units: int) -> bytes:
    """Resources of common kinds that refer to each other (alarms, policies, subnets)."""
    lines = ["AWSTemplateFormatVersion: '2010-09-09'", "Resources:"]
    for i in range(units):
        lines += [
            f"  Bucket{i}:",
            "    Type: AWS::S3::Bucket",
            f"  Policy{i}:",
            "    Type: AWS::S3::BucketPolicy",
            "    Properties:",
            f"      Bucket: !Ref Bucket{i}",
            "      PolicyDocument: {Statement: [{Effect: Deny, Principal: '*', Action: 's3:*', "
            f"Resource: !Sub '${{Bucket{i}.Arn}}/*', Condition: {{Bool: {{aws:SecureTransport: 'false'}}}}}}]}}",
            f"  Queue{i}:",
            "    Type: AWS::SQS::Queue",
            f"  Alarm{i}:",
            "    Type: AWS::CloudWatch::Alarm",
            "    Properties:",
            "      MetricName: ApproximateAgeOfOldestMessage",
            f"      Dimensions: [{{Name: QueueName, Value: !GetAtt Queue{i}.QueueName}}]",
            f"  Subnet{i}:",
            "    Type: AWS::EC2::Subnet",
            f"    Properties: {{VpcId: vpc-1, CidrBlock: 10.0.{i % 250}.0/24, "
            f"AvailabilityZone: !Select [{i % 3}, !GetAZs '']}}",
            f"  Function{i}:",
            "    Type: AWS::Lambda::Function",
            f"    Properties: {{Runtime: python3.12, Handler: a.b, Role: arn:aws:iam::1:role/r, Code: {{ZipFile: x}}, "
            f"VpcConfig: {{SubnetIds: [!Ref Subnet{i}]}}}}",
        ]
    return ("\n".join(lines) + "\n").encode()


def _calls(raw: bytes, index: RuleIndex) -> int:
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        result = lint_bytes("t.yaml", raw, index, LintOptions())
    finally:
        sys.setprofile(None)
    assert result.status.value == "linted"
    return count


def test_work_is_linear_in_the_number_of_resources(rules: list[Rule]) -> None:
    index = RuleIndex(rules)
    _calls(_template(5), index)  # warm caches that are paid once per process
    small = _calls(_template(100), index)
    large = _calls(_template(400), index)
    assert large / small < 4 * 1.15, f"4x the resources cost {large / small:.2f}x the calls"
