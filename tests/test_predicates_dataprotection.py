"""Unit tests of the data-protection predicates: public_statement and named_by."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from walint.conditions import Result, Scope, compile_clause
from walint.graph import build
from walint.parse import decode
from walint.selectors import Focus
from walint.values import Resolver

POLICY = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Who: {Type: String}
  Account: {Type: String, AllowedPattern: "^[0-9]{12}$"}
  Vpce: {Type: String}
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Role:
    Type: AWS::IAM::Role
  P:
    Type: AWS::S3::BucketPolicy
    Properties:
      PolicyDocument:
        Statement:
%s
"""


def statement(body: str, parameters: dict[str, str] | None = None, args: dict[str, Any] | None = None) -> Result:
    text = POLICY % textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 10)
    tpl = build(decode("t.yaml", text.encode()))
    res = tpl.resources["P"]
    clause: dict[str, Any] = {"path": "Properties.PolicyDocument.Statement[0]", "predicate": "public_statement"}
    if args:
        clause["args"] = args
    scope = Scope(tpl, Resolver(tpl, parameters), res)
    return compile_clause(clause, "test").evaluate(scope, Focus(res.data, res.path))


@pytest.mark.parametrize(
    "body",
    [
        "- {Effect: Allow, Principal: '*', Action: s3:GetObject}",
        "- {Effect: Allow, Principal: {AWS: '*'}, Action: s3:GetObject}",
        "- {Effect: Allow, Principal: {AWS: [arn:aws:iam::123456789012:root, '*']}, Action: s3:GetObject}",
        "- {Effect: Allow, NotPrincipal: {AWS: arn:aws:iam::123456789012:root}, Action: s3:GetObject}",
        "- {Effect: Allow, Principal: '*', Condition: {StringNotEquals: {aws:SourceVpce: vpce-1}}}",
        "- {Effect: Allow, Principal: '*', Condition: {StringEqualsIfExists: {aws:SourceVpce: vpce-1}}}",
        "- {Effect: Allow, Principal: '*', Condition: {IpAddress: {aws:SourceIp: 0.0.0.0/0}}}",
        "- {Effect: Allow, Principal: '*', Condition: {StringLike: {aws:SourceArn: '*'}}}",
        "- {Effect: Allow, Principal: '*', Condition: {StringEquals: {kms:ViaService: s3.eu-west-1.amazonaws.com}}}",
        "- {Effect: !If [IsProd, Allow, Allow], Principal: '*'}",
    ],
)
def test_public(body: str) -> None:
    result = statement(body)
    assert result.tri is True, result
    assert "everyone" in result.detail


@pytest.mark.parametrize(
    "body",
    [
        "- {Effect: Deny, Principal: '*', Action: 's3:*'}",
        "- {Effect: Allow, Principal: {Service: cloudfront.amazonaws.com}}",
        "- {Effect: Allow, Principal: {CanonicalUser: abc}}",
        "- {Effect: Allow, Principal: {AWS: arn:aws:iam::123456789012:root}}",
        "- {Effect: Allow, Principal: {AWS: !GetAtt Role.Arn}}",
        "- {Effect: Allow, Principal: {AWS: !Ref Role}}",
        "- {Effect: Allow, Principal: {AWS: !Ref AWS::AccountId}}",
        "- {Effect: Allow, Principal: {AWS: !Ref Account}}",
        "- {Effect: Allow, Principal: {AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'}}",
        "- {Effect: Allow, Principal: {AWS: [!Join ['', ['arn:aws:iam::', !Ref AWS::AccountId, ':root']]]}}",
        "- {Effect: Allow, Principal: '*', Condition: {StringEquals: {aws:SourceVpce: vpce-1}}}",
        "- {Effect: Allow, Principal: '*', Condition: {StringEquals: {AWS:SOURCEVPCE: vpce-1}}}",
        "- {Effect: Allow, Principal: '*', Condition: {StringEquals: {aws:PrincipalOrgID: [o-1]}}}",
        "- {Effect: Allow, Principal: '*', "
        "Condition: {ArnLike: {aws:SourceArn: !Sub 'arn:aws:cloudfront::${AWS::AccountId}:distribution/X'}}}",
        "- {Effect: Allow, Principal: '*', Condition: {StringEquals: {aws:SourceVpce: !Ref Vpce}}}",
        "- {Effect: Allow, Principal: '*', Condition: {IpAddress: {aws:SourceIp: [10.0.0.0/8]}}}",
        "- {Effect: Allow, Principal: '*', Condition: {StringEquals: {kms:CallerAccount: '111122223333'}}}",
        "- {Principal: '*', Action: s3:GetObject}",
    ],
)
def test_not_public(body: str) -> None:
    result = statement(body)
    assert result.tri is False, result


@pytest.mark.parametrize(
    "body",
    [
        "- {Effect: Allow, Principal: {AWS: !Ref Who}}",
        "- {Effect: Allow, Principal: {AWS: [!ImportValue shared-principal]}}",
        "- {Effect: Allow, Principal: !If [IsProd, '*', {Service: s3.amazonaws.com}]}",
        "- {Effect: Allow, Principal: '*', "
        "Condition: !If [IsProd, !Ref AWS::NoValue, {StringEquals: {aws:SourceVpce: v}}]}",
        "- {Effect: !Ref Who, Principal: '*'}",
    ],
)
def test_unknown(body: str) -> None:
    result = statement(body)
    assert result.tri is None, result
    assert result.reasons


def test_parameter_value_decides() -> None:
    assert statement("- {Effect: Allow, Principal: {AWS: !Ref Who}}", {"Who": "*"}).tri is True
    assert statement("- {Effect: Allow, Principal: {AWS: !Ref Who}}", {"Who": "arn:aws:iam::1:root"}).tri is False


def test_restricting_keys_are_configurable() -> None:
    body = "- {Effect: Allow, Principal: '*', Condition: {StringEquals: {kms:ViaService: s3.amazonaws.com}}}"
    assert statement(body, args={"restricting_keys": ["kms:ViaService"]}).tri is False
    vpce = "- {Effect: Allow, Principal: '*', Condition: {StringEquals: {aws:SourceVpce: v}}}"
    assert statement(vpce, args={"restricting_keys": ["kms:ViaService"]}).tri is True


BUCKETS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  AppName: {Type: String}
  External: {Type: String}
Resources:
  Named:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AppName}-data"
  Literal:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: literal-bucket
  Generated:
    Type: AWS::S3::Bucket
  Referenced:
    Type: AWS::S3::Bucket
%s
"""

DENY = """
      PolicyDocument:
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: "s3:*"
            Condition: {Bool: {aws:SecureTransport: false}}
"""

CHECK = {
    "some": "Properties.PolicyDocument.Statement",
    "check": {"path": "Effect", "equals": "Deny"},
}


def named(policies: str, bucket: str) -> Result:
    tpl = build(decode("t.yaml", (BUCKETS % policies).encode()))
    res = tpl.resources[bucket]
    clause = {
        "predicate": "named_by",
        "args": {
            "type": "AWS::S3::BucketPolicy",
            "via": "Properties.Bucket",
            "name": "Properties.BucketName",
            "check": CHECK,
        },
    }
    scope = Scope(tpl, Resolver(tpl), res)
    return compile_clause(clause, "test").evaluate(scope, Focus(res.data, res.path))


def policy(bucket: str, deny: bool = True) -> str:
    body = DENY if deny else DENY.replace("Effect: Deny", "Effect: Allow")
    return f"  Policy:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: {bucket}{body}"


def test_same_expression_names_the_bucket() -> None:
    assert named(policy('!Sub "${AppName}-data"'), "Named").tri is True
    assert named(policy('!Sub "${AppName}-data"', deny=False), "Named").tri is False


def test_same_literal_names_the_bucket() -> None:
    assert named(policy("literal-bucket"), "Literal").tri is True
    assert named(policy("other-bucket"), "Literal").tri is False


def test_a_reference_is_left_to_referenced_by() -> None:
    assert named(policy("!Ref Referenced"), "Referenced").tri is False
    assert named(policy("!Ref Referenced"), "Named").tri is False


def test_a_generated_name_cannot_be_spelled_out() -> None:
    assert named(policy("literal-bucket"), "Generated").tri is False
    assert named(policy("!Ref External"), "Generated").tri is None


def test_a_name_known_at_deploy_time_may_be_this_bucket() -> None:
    result = named(policy("!Ref External"), "Named")
    assert result.tri is None
    assert "may be Named" in result.reasons[0]
    # ... unless its check fails anyway.
    assert named(policy("!Ref External", deny=False), "Named").tri is False


def test_a_name_of_another_bucket_is_not_this_one() -> None:
    assert named(policy('!Sub "${AppName}-data"'), "Literal").tri is False
    assert named(policy('!Sub "${AppName}-data"'), "Generated").tri is False


def test_no_policy() -> None:
    assert named("", "Named").tri is False
