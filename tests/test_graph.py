from __future__ import annotations

import pytest
from helpers import template

from walint.graph import TemplateError, build, is_template
from walint.parse import decode


def test_edges_know_kind_attribute_and_path() -> None:
    tpl = template(
        """
        Resources:
          Topic: {Type: AWS::SNS::Topic}
          Key: {Type: AWS::KMS::Key}
          Queue:
            Type: AWS::SQS::Queue
            DependsOn: [Topic]
            Properties:
              KmsMasterKeyId: !Ref Key
              Policy:
                Resource: !GetAtt Key.Arn
                Other: !Sub "arn:${Topic}:${Key.Arn}:${!Literal}:${AWS::Region}"
                Local: !Sub ["${Topic}", {Topic: x}]
        """
    )
    edges = {(e.target, e.kind, e.path, e.attribute) for e in tpl.edges_from["Queue"]}
    assert edges == {
        ("Topic", "DependsOn", ("DependsOn", 0), None),
        ("Key", "Ref", ("Properties", "KmsMasterKeyId"), None),
        ("Key", "GetAtt", ("Properties", "Policy", "Resource"), "Arn"),
        ("Topic", "Sub", ("Properties", "Policy", "Other", "Fn::Sub"), None),
        ("Key", "Sub", ("Properties", "Policy", "Other", "Fn::Sub"), "Arn"),
    }
    assert {e.source for e in tpl.edges_to["Key"]} == {"Queue"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"Resources": {"A": {"Type": "AWS::S3::Bucket"}}}, True),
        ({"Resources": {"A": {"Type": "Custom::X"}}}, False),
        ({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}, True),
        ({"Transform": "AWS::Serverless-2016-10-31", "Resources": {}}, True),
        ({"on": "push", "jobs": {}}, False),
        ([1, 2], False),
    ],
)
def test_is_template(data: object, expected: bool) -> None:
    assert is_template(data) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AWSTemplateFormatVersion: '2010-09-09'\nResources: [a]\n", "Resources must be a mapping, not a list"),
        ("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n", "Resources must be a mapping, not empty"),
        ("AWSTemplateFormatVersion: '2010-09-09'\nResources: x\n", "not a string"),
        ("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  A: {Properties: {}}\n", "resource A has no Type"),
        ("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  A: [1]\n", "resource A must be a mapping"),
        ("Resources:\n  A: {Type: AWS::S3::Bucket}\nParameters: [x]\n", "Parameters must be a mapping"),
    ],
)
def test_invalid_shapes_are_template_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        build(decode("t.yaml", text.encode()))
    assert message in info.value.message


def test_a_loop_without_the_transform_is_noted_not_silently_passed() -> None:
    # With the transform, walint.langext expands loops before the graph is built.
    tpl = template(
        """
        Resources:
          Fn::ForEach::Buckets:
            - Name
            - [a, b]
            - ${Name}Bucket: {Type: AWS::S3::Bucket}
          Plain: {Type: AWS::S3::Bucket}
        """
    )
    assert list(tpl.resources) == ["Plain"]
    assert tpl.notes and "Fn::ForEach::Buckets" in tpl.notes[0] and "AWS::LanguageExtensions" in tpl.notes[0]
