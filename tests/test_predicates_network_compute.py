"""Unit tests of the network-exposure / compute-protection predicates."""

from __future__ import annotations

from tests.helpers import evaluate
from walint.conditions import Result

TPL = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  LatestAmiId:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    Default: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
  OldAmiId:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    Default: /aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2
  PlainAmi:
    Type: AWS::EC2::Image::Id
Mappings:
  Images:
    us-east-1: {Id: "resolve-me-al2023"}
Resources:
  FromParameter:
    Type: AWS::EC2::Instance
    Properties: {ImageId: !Ref LatestAmiId}
  FromOldParameter:
    Type: AWS::EC2::Instance
    Properties: {ImageId: !Ref OldAmiId}
  FromPlainParameter:
    Type: AWS::EC2::Instance
    Properties: {ImageId: !Ref PlainAmi}
  FromDynamicReference:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: "{{resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-minimal-kernel-default-arm64}}"
  FromLiteral:
    Type: AWS::EC2::Instance
    Properties: {ImageId: ami-12345678}
  FromMapping:
    Type: AWS::EC2::Instance
    Properties: {ImageId: !FindInMap [Images, us-east-1, Id]}
  NoImage:
    Type: AWS::EC2::Instance
    Properties: {InstanceType: t3.micro}
"""

CLAUSE = {"path": "Properties.ImageId", "predicate": "image_requires_imdsv2"}


def test_parameter_default_names_al2023() -> None:
    result = evaluate(TPL, CLAUSE, "FromParameter")
    assert result.tri is True
    assert "al2023" in result.detail


def test_dynamic_reference_names_al2023() -> None:
    assert evaluate(TPL, CLAUSE, "FromDynamicReference").tri is True


def test_resolved_value_names_al2023() -> None:
    assert evaluate(TPL, CLAUSE, "FromMapping").tri is True


def test_other_images_are_false() -> None:
    for name in ("FromOldParameter", "FromPlainParameter", "FromLiteral", "NoImage"):
        result = evaluate(TPL, CLAUSE, name)
        assert result.tri is False, name


SAM = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Authorizer: {Type: String}
Globals:
  Api:
    Auth:
      DefaultAuthorizer: MyCognito
  HttpApi:
    Auth:
      DefaultAuthorizer: NONE
  Function:
    Timeout: !Ref Authorizer
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: a.b, Runtime: python3.12}
"""


def _global(key: str, text: str = SAM) -> bool | None:
    clause = {"predicate": "sam_global_set", "args": {"key": key, "unless": ["NONE"]}}
    return evaluate(text, clause, "Fn").tri


def test_global_set() -> None:
    assert _global("Api.Auth.DefaultAuthorizer") is True


def test_global_set_to_an_excluded_value_or_absent() -> None:
    assert _global("HttpApi.Auth.DefaultAuthorizer") is False
    assert _global("Api.Auth.Missing") is False
    assert _global("Api.Auth.DefaultAuthorizer", SAM.replace("Globals:", "NotGlobals:")) is False


def test_global_from_a_parameter_is_unknown() -> None:
    result = evaluate(SAM, {"predicate": "sam_global_set", "args": {"key": "Function.Timeout"}}, "Fn")
    assert result.tri is None
    assert "Authorizer" in result.reasons[0]


KEYS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  KeyPair: {Type: "AWS::EC2::KeyPair::KeyName"}
  KeyText: {Type: String, Default: ""}
  Env: {Type: String}
Conditions:
  HasKey: !Not [!Equals [!Ref KeyText, ""]]
  IsDev: !Equals [!Ref Env, dev]
Resources:
  Literal:
    Type: AWS::EC2::Instance
    Properties: {KeyName: my-key}
  Empty:
    Type: AWS::EC2::Instance
    Properties: {KeyName: ""}
  Absent:
    Type: AWS::EC2::Instance
    Properties: {ImageId: ami-1}
  TypedParameter:
    Type: AWS::EC2::Instance
    Properties: {KeyName: !Ref KeyPair}
  TextParameter:
    Type: AWS::EC2::Instance
    Properties: {KeyName: !Ref KeyText}
  Optional:
    Type: AWS::EC2::Instance
    Properties: {KeyName: !If [HasKey, !Ref KeyText, !Ref "AWS::NoValue"]}
  OnlyInDev:
    Type: AWS::EC2::Instance
    Properties: {KeyName: !If [IsDev, !Ref KeyPair, !Ref "AWS::NoValue"]}
  Pair:
    Type: AWS::EC2::KeyPair
    Properties: {KeyName: generated}
  FromResource:
    Type: AWS::EC2::Instance
    Properties: {KeyName: !Ref Pair}
  BothBranches:
    Type: AWS::EC2::Instance
    Properties: {KeyName: !If [IsDev, dev-key, !Ref KeyPair]}
"""


def _key(resource: str) -> bool | None:
    return evaluate(KEYS, {"path": "Properties.KeyName", "predicate": "key_pair_named"}, resource).tri


def test_key_pair_named() -> None:
    assert _key("Literal") is True
    assert _key("TypedParameter") is True
    assert _key("BothBranches") is True
    assert _key("FromResource") is True


def test_no_key_pair() -> None:
    assert _key("Empty") is False
    assert _key("Absent") is False


def test_undecided_key_pair() -> None:
    assert _key("TextParameter") is None
    assert _key("Optional") is None
    assert _key("OnlyInDev") is None


SCRIPTS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Script: {Type: String}
  Secret: {Type: String, NoEcho: true}
Resources:
  Keys:
    Type: AWS::EC2::Instance
    Properties:
      UserData:
        Fn::Base64: !Sub |
          #!/bin/bash
          aws configure set aws_secret_access_key ${Secret}
          yum install -y httpd
  Joined:
    Type: AWS::EC2::Instance
    Properties:
      UserData: !Base64
        Fn::Join: ["", ["#!/bin/bash\\n", "export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\\n", !Ref Script]]
  Clean:
    Type: AWS::EC2::Instance
    Properties:
      UserData: !Base64 {"Fn::Sub": ["echo ${Region}", {Region: !Ref "AWS::Region"}]}
  Opaque:
    Type: AWS::EC2::Instance
    Properties:
      UserData: !Base64 {Ref: Script}
  Absent:
    Type: AWS::EC2::Instance
    Properties: {ImageId: ami-1}
"""

KEY_PATTERN = {"pattern": "AKIA[0-9A-Z]{16}|(?i:aws_secret_access_key)"}


def _script(resource: str) -> Result:
    clause = {"path": "Properties.UserData", "predicate": "script_text_matches", "args": KEY_PATTERN}
    return evaluate(SCRIPTS, clause, resource)


def test_literal_text_found() -> None:
    assert _script("Keys").tri is True
    joined = _script("Joined")
    assert joined.tri is True
    assert "AKIA" in joined.detail


def test_literal_text_absent_or_clean() -> None:
    assert _script("Clean").tri is False
    assert _script("Absent").tri is False


def test_literal_text_opaque() -> None:
    assert _script("Opaque").tri is None


CONDITIONAL = """
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod]}
Conditions:
  IsDev: !Equals [!Ref Env, dev]
Resources:
  OneBranch:
    Type: AWS::EC2::Instance
    Properties:
      UserData: !Base64 {"Fn::If": [IsDev, "export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP", "echo hi"]}
"""


def test_literal_text_in_one_branch_is_unknown_unless_decided() -> None:
    clause = {"path": "Properties.UserData", "predicate": "script_text_matches", "args": KEY_PATTERN}
    undecided = evaluate(CONDITIONAL, clause, "OneBranch")
    assert undecided.tri is None
    assert "condition IsDev is true" in undecided.reasons[0]
    assert evaluate(CONDITIONAL, clause, "OneBranch", {"Env": "dev"}).tri is True
    assert evaluate(CONDITIONAL, clause, "OneBranch", {"Env": "prod"}).tri is False


def test_literal_text_includes_mapping_keys() -> None:
    text = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Policy:
        Statement:
          - Effect: Allow
            Principal: "*"
            Action: execute-api:Invoke
            Condition: {StringEquals: {"aws:SourceVpce": !Ref Endpoint}}
"""
    clause = {"path": "Properties.Policy", "predicate": "script_text_matches", "args": {"pattern": "aws:SourceVpce"}}
    assert evaluate(text, clause, "Api").tri is True
