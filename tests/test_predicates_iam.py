"""Unit tests of the identity / least-privilege / secrets predicates (walint/predicates/iam.py)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from walint.conditions import Result, Scope, compile_clause
from walint.graph import Template, build
from walint.parse import decode
from walint.selectors import Focus
from walint.values import Resolver


def _template(text: str) -> Template:
    return build(decode("t.yaml", textwrap.dedent(text).encode()))


def _evaluate(text: str, clause: dict[str, Any], resource: str) -> Result:
    tpl = _template(text)
    res = tpl.resources[resource]
    scope = Scope(tpl, Resolver(tpl), res)
    return compile_clause(clause, "test").evaluate(scope, Focus(res.data, res.path))


# -- policy_document ----------------------------------------------------------------------------

ADMIN = {
    "some": "Statement",
    "check": {
        "all": [
            {"path": "Effect", "equals": "Allow"},
            {"some": "Action", "check": {"path": "@", "equals": "*"}},
            {"some": "Resource", "check": {"path": "@", "equals": "*"}},
        ]
    },
}

DOCS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Act:
    Type: String
  Env:
    Type: String
Conditions:
  IsDev: !Equals [!Ref Env, dev]
Resources:
  Structure:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement: {Effect: Allow, Action: "*", Resource: "*"}
  Text:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: '{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
  SubText:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !Sub '{"Statement": [{"Effect": "Allow", "Action": "s3:*",
        "Resource": "arn:${AWS::Partition}:s3:::b"}]}'
  SubWholeVariable:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !Sub '{"Statement": [{"Effect": "Allow", "Action": "${Act}", "Resource": "*"}]}'
  SubLocalVariable:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Fn::Sub:
          - '{"Statement": [{"Effect": "Allow", "Action": "${A}", "Resource": "*"}]}'
          - {A: "*"}
  NotJson:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: '{"Statement": ['
  Branches:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !If
        - IsDev
        - {Statement: {Effect: Allow, Action: "*", Resource: "*"}}
        - {Statement: {Effect: Allow, Action: "s3:GetObject", Resource: "*"}}
  NoDocument:
    Type: AWS::IAM::Role
"""


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("Structure", True),
        ("Text", True),
        ("SubText", False),
        ("SubWholeVariable", None),
        ("SubLocalVariable", True),
        ("NotJson", None),
        ("Branches", None),
        ("NoDocument", False),
    ],
)
def test_policy_document(resource: str, expected: bool | None) -> None:
    clause = {"path": "Properties.PolicyDocument", "predicate": "policy_document", "args": {"check": ADMIN}}
    result = _evaluate(DOCS, clause, resource)
    assert result.tri is expected, result
    if expected is None:
        assert result.reasons


# -- some_text_matches --------------------------------------------------------------------------

TEXTS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Free:
    Type: String
  Names:
    Type: CommaDelimitedList
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  Org:
    Type: AWS::Organizations::Organization
  R:
    Type: Custom::Thing
    Properties:
      Star: "*"
      List: [arn:aws:s3:::a, "*"]
      SubArn: !Sub arn:${AWS::Partition}:s3:::${Free}/*
      SubAll: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*
      Pseudo: !Ref AWS::AccountId
      Param: !Ref Free
      ParamList: !Ref Names
      ResourceRef: !GetAtt Bucket.Arn
      OrgRoot: !GetAtt Org.RootId
      Structure: {S3ReadPolicy: {BucketName: b}}
      Join: !Join ["", ["arn:", !Ref "AWS::Partition", ":iam::aws:policy/AdministratorAccess"]]
"""


@pytest.mark.parametrize(
    ("path", "pattern", "refs", "expected"),
    [
        ("Properties.Star", r"^\*$", [], True),
        ("Properties.List", r"^\*$", [], True),
        ("Properties.SubArn", r"^\*$", [], False),
        ("Properties.SubAll", r"^arn:[^:]*:iam::[^:]*:role/\*$", [], True),
        ("Properties.Pseudo", r"^\*$", [], False),
        ("Properties.Param", r"^\*$", [], None),
        ("Properties.ParamList", r"^\*$", [], None),
        ("Properties.ResourceRef", r"^\*$", [], False),
        ("Properties.OrgRoot", r"^r-", [], False),
        ("Properties.OrgRoot", r"^r-", ["AWS::Organizations::Organization"], True),
        ("Properties.Structure", r".", [], False),
        ("Properties.Join", r"/AdministratorAccess$", [], True),
        ("Properties.Missing", r".", [], False),
    ],
)
def test_some_text_matches(path: str, pattern: str, refs: list[str], expected: bool | None) -> None:
    clause = {"path": path, "predicate": "some_text_matches", "args": {"pattern": pattern, "reference_types": refs}}
    result = _evaluate(TEXTS, clause, "R")
    assert result.tri is expected, result


def test_some_text_matches_names_the_match() -> None:
    clause = {"path": "Properties.Join", "predicate": "some_text_matches", "args": {"pattern": "Admin"}}
    result = _evaluate(TEXTS, clause, "R")
    assert result.detail == "arn:…:iam::aws:policy/AdministratorAccess"


# -- has_elements ---------------------------------------------------------------------------------

LISTS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Names:
    Type: CommaDelimitedList
  Env:
    Type: String
Conditions:
  IsDev: !Equals [!Ref Env, dev]
Resources:
  U:
    Type: AWS::IAM::User
  R:
    Type: Custom::Thing
    Properties:
      Empty: []
      Refs: [!Ref U]
      Single: one
      FromParameter: !Ref Names
      Conditional: [!If [IsDev, x, !Ref "AWS::NoValue"]]
      OnlyNoValue: [!Ref "AWS::NoValue"]
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Properties.Empty", False),
        ("Properties.Missing", False),
        ("Properties.Refs", True),
        ("Properties.Single", True),
        ("Properties.FromParameter", None),
        ("Properties.Conditional", None),
        ("Properties.OnlyNoValue", False),
    ],
)
def test_has_elements(path: str, expected: bool | None) -> None:
    result = _evaluate(LISTS, {"path": path, "predicate": "has_elements"}, "R")
    assert result.tri is expected, result


# -- output_exposes -------------------------------------------------------------------------------

OUTPUTS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env:
    Type: String
Conditions:
  IsDev: !Equals [!Ref Env, dev]
Resources:
  Shown:
    Type: AWS::IAM::AccessKey
    Properties: {UserName: u}
  ShownUnderCondition:
    Type: AWS::IAM::AccessKey
    Properties: {UserName: u}
  IdOnly:
    Type: AWS::IAM::AccessKey
    Properties: {UserName: u}
Outputs:
  Secret:
    Value: !Join ["", ["k=", !GetAtt Shown.SecretAccessKey]]
  Maybe:
    Condition: IsDev
    Value: !Sub "${ShownUnderCondition.SecretAccessKey}"
  Id:
    Value: !Ref IdOnly
"""


@pytest.mark.parametrize(("resource", "expected"), [("Shown", True), ("ShownUnderCondition", None), ("IdOnly", False)])
def test_output_exposes(resource: str, expected: bool | None) -> None:
    clause = {"predicate": "output_exposes", "args": {"attributes": ["SecretAccessKey"]}}
    result = _evaluate(OUTPUTS, clause, resource)
    assert result.tri is expected, result
    if expected:
        assert result.path == ("Outputs", "Secret", "Value")


# -- hardcoded_secrets ----------------------------------------------------------------------------

SECRETS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  WithDefault:
    Type: String
    NoEcho: true
    Default: s3cr3t-value
  NoDefault:
    Type: String
    NoEcho: true
  Prompt:
    Type: String
    Default: "<enter password>"
  Choice:
    Type: String
    AllowedValues: [Enabled, Disabled]
    Default: Enabled
  AdminPassword:
    Type: String
    Default: admin123
Mappings:
  M:
    k: {v: literal-token}
Conditions:
  Never: !Equals [a, b]
Resources:
  Literal:
    Type: AWS::RDS::DBInstance
    Properties: {MasterUserPassword: hunter22}
  Default:
    Type: AWS::RDS::DBInstance
    Properties: {MasterUserPassword: !Ref WithDefault}
  DefaultAgain:
    Type: AWS::RDS::DBInstance
    Properties: {MasterUserPassword: !Ref WithDefault}
  NoEcho:
    Type: AWS::RDS::DBInstance
    Properties: {MasterUserPassword: !Ref NoDefault}
  Dynamic:
    Type: AWS::RDS::DBInstance
    Properties: {MasterUserPassword: "{{resolve:secretsmanager:db:SecretString:password}}"}
  PromptDefault:
    Type: AWS::RDS::DBInstance
    Properties: {MasterUserPassword: !Ref Prompt}
  Mapping:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties: {AuthToken: !FindInMap [M, k, v]}
  EitherBranch:
    Type: AWS::IAM::User
    Properties:
      LoginProfile: {Password: !If [Never, literal-pw, "{{resolve:secretsmanager:pw}}"]}
  NamedParameterInUserData:
    Type: AWS::EC2::Instance
    Properties:
      UserData: !Base64 {"Fn::Sub": "echo ${AdminPassword}"}
  AccessKeyId:
    Type: AWS::EC2::Instance
    Metadata:
      Init: {content: "aws_access_key_id=AKIAIOSFODNN7EXAMPLE"}
  Flags:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      GenerateSecret: true
      IdempotencyToken: abc
      TokenValidityUnits: {AccessToken: hours}
      SecretArn: arn:aws:secretsmanager:eu-west-1:123456789012:secret:x
  EnumParameter:
    Type: AWS::EKS::Cluster
    Properties: {ClusterSecret: !Ref Choice}
  Undefined:
    Type: AWS::RDS::DBInstance
    Properties: {MasterUserPassword: !Ref Nowhere}
  EnvironmentIsAnotherRule:
    Type: AWS::Lambda::Function
    Properties:
      Environment: {Variables: {API_TOKEN: literal}}
"""


@pytest.mark.parametrize(
    ("resource", "expected", "path"),
    [
        ("Literal", True, ("Resources", "Literal", "Properties", "MasterUserPassword")),
        ("Default", True, ("Parameters", "WithDefault", "Default")),
        ("DefaultAgain", False, None),  # the Default is reported once, on its first user
        ("NoEcho", False, None),
        ("Dynamic", False, None),
        ("PromptDefault", False, None),
        ("Mapping", True, None),
        ("EitherBranch", True, None),
        ("NamedParameterInUserData", True, ("Parameters", "AdminPassword", "Default")),
        ("AccessKeyId", True, None),
        ("Flags", False, None),
        ("EnumParameter", False, None),
        ("Undefined", None, None),
        ("EnvironmentIsAnotherRule", False, None),
    ],
)
def test_hardcoded_secrets(resource: str, expected: bool | None, path: tuple[str, ...] | None) -> None:
    result = _evaluate(SECRETS, {"predicate": "hardcoded_secrets"}, resource)
    assert result.tri is expected, result
    if path:
        assert result.path == path


# -- secret_parameter_exposed ---------------------------------------------------------------------

EXPOSED = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  DbPass:
    Type: String
  ApiToken:
    Type: String
    NoEcho: true
  QuietToken:
    Type: String
    NoEcho: "true"
  SecretName:
    Type: String
  Mode:
    Type: String
    AllowedValues: [a, b]
Resources:
  First:
    Type: AWS::RDS::DBInstance
    Properties: {MasterUserPassword: !Ref DbPass}
  Second:
    Type: AWS::RDS::DBInstance
    Properties: {MasterUserPassword: !Ref DbPass}
  Token:
    Type: Custom::Thing
    Properties: {Value: !Sub "${ApiToken}"}
  Quiet:
    Type: Custom::Thing
    Properties: {Value: !Ref QuietToken}
  ByName:
    Type: AWS::RDS::DBInstance
    Properties: {MasterUserPassword: !Sub "{{resolve:secretsmanager:${SecretName}:SecretString:password}}"}
Outputs:
  Leak:
    Value: !Ref ApiToken
"""


@pytest.mark.parametrize(
    ("resource", "expected", "path"),
    [
        ("First", True, ("Parameters", "DbPass")),
        ("Second", False, None),  # reported once, on the first user
        ("Token", True, ("Outputs", "Leak", "Value")),
        ("Quiet", False, None),
        ("ByName", False, None),  # a name inside a dynamic reference is not the secret
    ],
)
def test_secret_parameter_exposed(resource: str, expected: bool, path: tuple[str, ...] | None) -> None:
    result = _evaluate(EXPOSED, {"predicate": "secret_parameter_exposed"}, resource)
    assert result.tri is expected, result
    if path:
        assert result.path == path


# -- secret_env -----------------------------------------------------------------------------------

ENV = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Key:
    Type: String
    NoEcho: true
  Env:
    Type: String
Conditions:
  IsDev: !Equals [!Ref Env, dev]
Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
  R:
    Type: Custom::Thing
    Properties:
      Literal: {DB_PASSWORD: hunter22}
      Resolved: {API_TOKEN: "{{resolve:secretsmanager:t}}"}
      Parameter: {API_KEY: !Ref Key}
      Names: {DB_SECRET_ARN: !Ref Secret, PASSWORD_PATH: /app/password, TABLE: t, DB_SECRET: !Ref Secret}
      Conditional: {API_KEY: !If [IsDev, dev-key, !Ref "AWS::NoValue"]}
      Ecs: [{Name: JWT_SECRET, Value: abc123}]
      CodeBuild: [{Name: NPM_TOKEN, Type: SECRETS_MANAGER, Value: npm:token}]
      Beanstalk:
        - {Namespace: "aws:autoscaling:launchconfiguration", OptionName: SECRET, Value: x1}
        - {Namespace: "aws:elasticbeanstalk:application:environment", OptionName: SECRET, Value: x2}
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Properties.Literal", True),
        ("Properties.Resolved", True),
        ("Properties.Parameter", True),
        ("Properties.Names", False),
        ("Properties.Conditional", None),
        ("Properties.Ecs", True),
        ("Properties.CodeBuild", False),
        ("Properties.Beanstalk", True),
        ("Properties.Missing", False),
    ],
)
def test_secret_env(path: str, expected: bool | None) -> None:
    result = _evaluate(ENV, {"path": path, "predicate": "secret_env"}, "R")
    assert result.tri is expected, result


def test_secret_env_beanstalk_points_at_the_application_setting() -> None:
    result = _evaluate(ENV, {"path": "Properties.Beanstalk", "predicate": "secret_env"}, "R")
    assert result.path[-2:] == (1, "Value")


def test_secret_env_sam_globals_on_first_function_only() -> None:
    text = """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        Environment:
          Variables: {SLACK_TOKEN: xoxb-literal}
    Resources:
      A:
        Type: AWS::Serverless::Function
      B:
        Type: AWS::Serverless::Function
    """
    clause = {"path": "Properties.Environment.Variables", "predicate": "secret_env", "args": {"sam_globals": True}}
    first = _evaluate(text, clause, "A")
    assert first.tri is True
    assert first.path[:2] == ("Globals", "Function")
    assert _evaluate(text, clause, "B").tri is False


# -- condition_key --------------------------------------------------------------------------------

CONDITIONS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Subject:
    Type: String
Resources:
  R:
    Type: Custom::Thing
    Properties:
      Exact: {StringEquals: {"token.actions.githubusercontent.com:sub": "repo:org/app:ref:refs/heads/main"}}
      Wildcard: {StringLike: {"token.actions.githubusercontent.com:sub": "repo:*"}}
      AudOnly: {StringEquals: {"token.actions.githubusercontent.com:aud": sts.amazonaws.com}}
      Negated: {StringNotEquals: {"token.actions.githubusercontent.com:sub": "repo:org/app:*"}}
      FromParameter: {StringLike: {"x:sub": !Ref Subject}}
      ListWithWildcard: {StringLike: {"x:sub": ["*", "repo:org/app:*"]}}
      ListOfRepos: {StringLike: {"x:sub": ["repo:org/a:*", "repo:org/b:*"]}}
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Properties.Exact", True),
        ("Properties.Wildcard", False),
        ("Properties.AudOnly", False),
        ("Properties.Negated", False),
        ("Properties.FromParameter", True),
        ("Properties.ListWithWildcard", False),
        ("Properties.ListOfRepos", True),
        ("Properties.Missing", False),
    ],
)
def test_condition_key(path: str, expected: bool) -> None:
    result = _evaluate(CONDITIONS, {"path": path, "predicate": "condition_key", "args": {"pattern": ":sub$"}}, "R")
    assert result.tri is expected, result
