"""The value model of design.md §4."""

from __future__ import annotations

from helpers import template

from walint.values import Kind, Resolver, normalize

TPL = """
Parameters:
  Free: {Type: String, Default: "true"}
  Choice: {Type: String, AllowedValues: ["true", "false"]}
  Env: {Type: String, AllowedValues: [dev, prod]}
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>"}
  Ami: {Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", Default: /aws/ami}
Mappings:
  Sizes:
    dev: {Class: db.t3.micro}
    prod: {Class: db.r6g.large}
  Same:
    us-east-1: {Flag: "true"}
    eu-west-1: {Flag: "true"}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsFree: !Equals [!Ref Free, "yes"]
  NotProd: !Not [!Condition IsProd]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
"""


def resolver(**params: str) -> Resolver:
    return Resolver(template(TPL), params)


def kinds(alts):  # type: ignore[no-untyped-def]
    return [(a.kind, a.value) for a in alts]


def test_literals_are_known() -> None:
    assert kinds(resolver().resolve(True)) == [(Kind.KNOWN, True)]
    assert kinds(resolver().resolve({"a": 1})) == [(Kind.KNOWN, {"a": 1})]


def test_novalue_is_absent() -> None:
    assert resolver().resolve({"Ref": "AWS::NoValue"})[0].kind is Kind.ABSENT


def test_parameter_with_allowed_values_is_each_of_them() -> None:
    alts = resolver().resolve({"Ref": "Choice"})
    assert kinds(alts) == [(Kind.KNOWN, "true"), (Kind.KNOWN, "false")]
    assert alts[1].assumptions == ("parameter Choice is 'false'",)


def test_parameter_without_allowed_values_is_unknown_and_its_default_is_not_used() -> None:
    (alt,) = resolver().resolve({"Ref": "Free"})
    assert alt.kind is Kind.UNKNOWN
    assert "parameter Free" in alt.reason and "default 'true'" in alt.reason


def test_default_is_used_only_when_asked() -> None:
    r = Resolver(template(TPL), {}, assume_defaults=True)
    assert kinds(r.resolve({"Ref": "Free"})) == [(Kind.KNOWN, "true")]


def test_given_parameter_values_decide() -> None:
    assert kinds(resolver(Free="false").resolve({"Ref": "Free"})) == [(Kind.KNOWN, "false")]
    assert kinds(resolver(Subnets="a, b").resolve({"Ref": "Subnets"})) == [(Kind.KNOWN, ["a", "b"])]


def test_ssm_parameters_stay_unknown() -> None:
    (alt,) = Resolver(template(TPL), {}, assume_defaults=True).resolve({"Ref": "Ami"})
    assert alt.kind is Kind.UNKNOWN and "SSM" in alt.reason


def test_fn_if_is_both_branches_with_the_condition_named() -> None:
    alts = resolver().resolve({"Fn::If": ["IsProd", True, {"Ref": "AWS::NoValue"}]})
    assert [(a.kind, a.assumptions) for a in alts] == [
        (Kind.KNOWN, ("condition IsProd is true",)),
        (Kind.ABSENT, ("condition IsProd is false",)),
    ]


def test_conditions_are_evaluated_with_parameters() -> None:
    r = resolver(Env="prod")
    assert r.condition("IsProd") is True
    assert r.condition("NotProd") is False
    assert kinds(r.resolve({"Fn::If": ["IsProd", 1, 2]})) == [(Kind.KNOWN, 1)]
    assert resolver().condition("IsFree") is None  # Free has no AllowedValues and no value


def test_condition_decided_when_every_allowed_value_agrees() -> None:
    tpl = template(TPL.replace('IsFree: !Equals [!Ref Free, "yes"]', "IsStaging: !Equals [!Ref Env, staging]"))
    assert Resolver(tpl).condition("IsStaging") is False  # no allowed value is "staging"
    assert Resolver(tpl).condition("IsProd") is None  # dev or prod


def test_find_in_map_with_literal_keys_and_with_unknown_keys() -> None:
    assert kinds(resolver().resolve({"Fn::FindInMap": ["Sizes", "prod", "Class"]})) == [(Kind.KNOWN, "db.r6g.large")]
    # a Region key is unknown, but every entry has the same value
    alts = resolver().resolve({"Fn::FindInMap": ["Same", {"Ref": "AWS::Region"}, "Flag"]})
    assert {a.value for a in alts} == {"true"}
    # a key from a parameter with allowed values
    alts = resolver().resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Class"]})
    assert [a.value for a in alts] == ["db.t3.micro", "db.r6g.large"]


def test_sub_and_join_of_literals_resolve() -> None:
    r = resolver(Env="dev")
    assert kinds(r.resolve({"Fn::Sub": "app-${Env}"})) == [(Kind.KNOWN, "app-dev")]
    assert kinds(r.resolve({"Fn::Sub": ["${A}-${B}", {"A": "x", "B": 2}]})) == [(Kind.KNOWN, "x-2")]
    assert kinds(r.resolve({"Fn::Join": ["-", ["a", {"Ref": "Env"}]]})) == [(Kind.KNOWN, "a-dev")]
    assert resolver().resolve({"Fn::Sub": "${AWS::Region}"})[0].kind is Kind.UNKNOWN


def test_references_to_resources() -> None:
    assert kinds(resolver().resolve({"Ref": "Bucket"})) == [(Kind.REF, ("Bucket", None))]
    assert kinds(resolver().resolve({"Fn::GetAtt": ["Bucket", "Arn"]})) == [(Kind.REF, ("Bucket", "Arn"))]


def test_deploy_time_values_are_unknown_with_a_reason() -> None:
    for value in (
        {"Fn::ImportValue": "x"},
        "{{resolve:secretsmanager:db:SecretString:password}}",
        {"Ref": "AWS::Region"},
        {"Fn::GetAZs": ""},
        {"Ref": "Undefined"},
    ):
        (alt,) = resolver().resolve(value)
        assert alt.kind is Kind.UNKNOWN and alt.reason


def test_comparisons_follow_cloudformation() -> None:
    assert normalize(True) == normalize("true") == normalize("True")
    assert normalize(5) == normalize("5") == normalize(5.0)
    assert normalize("05a") == "05a"
