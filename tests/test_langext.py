"""AWS::LanguageExtensions expansion: Fn::ForEach, Fn::Length, Fn::ToJsonString, FindInMap defaults."""

from __future__ import annotations

import copy
import csv
import json
import textwrap
import time
from typing import Any

import pytest
from conftest import shared_or_skip

from walint import langext
from walint.findings import FileStatus, Finding, Outcome
from walint.graph import TemplateError, build
from walint.langext import Expansion, expand
from walint.parse import Document, decode
from walint.values import Kind, Resolver

HEAD = "Transform: AWS::LanguageExtensions\n"


def doc_of(body: str, head: str = HEAD) -> Document:
    # The body's first line is line 2: line 1 is the Transform.
    return decode("t.yaml", (head + textwrap.dedent(body).lstrip("\n")).encode())


def run(body: str, parameters: dict[str, str] | None = None, *, defaults: bool = False) -> Expansion:
    return expand(doc_of(body), parameters or {}, defaults)


def error(body: str, parameters: dict[str, str] | None = None) -> tuple[str, int]:
    """The message and line of the TemplateError that expanding `body` raises."""
    doc = doc_of(body)
    with pytest.raises(TemplateError) as caught:
        expand(doc, parameters or {}, False)
    return caught.value.message, doc.span(caught.value.path).line


def line(result: Expansion, *path: str | int) -> int:
    assert path in result.doc.marks, f"no mark for {path}"
    return result.doc.marks[path].line


# -- when it runs ---------------------------------------------------------------------------------


def test_template_without_the_transform_is_returned_as_is() -> None:
    doc = doc_of(
        """
        Resources:
          Fn::ForEach::Buckets: [Name, [A], {"B${Name}": {Type: AWS::S3::Bucket}}]
        """,
        head="Transform: AWS::Serverless-2016-10-31\n",
    )
    result = expand(doc, {}, False)
    assert result.doc is doc
    assert result.unexpanded == ()
    assert result.notes == ()


def test_transform_in_a_list_with_sam_is_recognised() -> None:
    result = expand(
        doc_of(
            """
            Resources:
              Fn::ForEach::Buckets: [Name, [A, B], {"B${Name}": {Type: AWS::S3::Bucket}}]
            """,
            head="Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\n",
        ),
        {},
        False,
    )
    assert list(result.doc.data["Resources"]) == ["BA", "BB"]


# -- Fn::ForEach in each place it is allowed ------------------------------------------------------

RESOURCES = """\
Resources:
  Before:
    Type: AWS::SNS::Topic
  Fn::ForEach::Queues:
    - Name
    - [Orders, Billing]
    - Queue${Name}:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !Sub "${Name}-${AWS::Region}-${!Name}"
          Label: !Sub "q-${Name}"
          Tag: !Ref Name
          Plain: "${Name}"
          Topic: !Ref Before
  After:
    Type: AWS::SNS::Topic
"""


def test_resources_loop_substitutes_keys_sub_strings_and_refs() -> None:
    result = expand(decode("t.yaml", (HEAD + RESOURCES).encode()), {}, False)
    resources = result.doc.data["Resources"]
    assert list(resources) == ["Before", "QueueOrders", "QueueBilling", "After"]
    props = resources["QueueBilling"]["Properties"]
    # Sub keeps deploy-time variables and escapes; a Sub with nothing left becomes a string.
    assert props["QueueName"] == {"Fn::Sub": "Billing-${AWS::Region}-${!Name}"}
    assert props["Label"] == "q-Billing"
    assert props["Tag"] == "Billing"
    assert props["Plain"] == "${Name}"  # CloudFormation does not rewrite plain strings
    assert props["Topic"] == {"Ref": "Before"}
    assert result.unexpanded == ()
    template = build(result.doc)
    assert [r.logical_id for r in template.of_type("AWS::SQS::Queue")] == ["QueueOrders", "QueueBilling"]
    assert {e.source for e in template.edges_to["Before"]} == {"QueueOrders", "QueueBilling"}
    assert template.notes == ()


def test_marks_of_expanded_nodes_point_at_the_loop_body() -> None:
    result = expand(decode("t.yaml", (HEAD + RESOURCES).encode()), {}, False)
    # Lines count the Transform line: the Resources key is on line 2.
    for name in ("QueueOrders", "QueueBilling"):
        assert line(result, "Resources", name) == 8  # the OutputKey Queue${Name}
        assert line(result, "Resources", name, "Type") == 9
        assert line(result, "Resources", name, "Properties") == 10
        assert line(result, "Resources", name, "Properties", "QueueName") == 11
        assert line(result, "Resources", name, "Properties", "QueueName", "Fn::Sub") == 11
        assert line(result, "Resources", name, "Properties", "Label") == 12
        assert line(result, "Resources", name, "Properties", "Tag") == 13
        assert line(result, "Resources", name, "Properties", "Topic", "Ref") == 15
    assert line(result, "Resources", "After") == 16
    assert line(result, "Resources", "Before", "Type") == 4
    span = result.doc.span(("Resources", "QueueBilling", "Properties", "Label"))
    assert (span.line, span.column) == (12, 11)
    # Nothing from the loop key itself survives.
    assert not any("Fn::ForEach::Queues" in p for p in result.doc.marks)


def test_json_template_marks() -> None:
    text = (
        '{"Transform": "AWS::LanguageExtensions",\n'
        ' "Resources": {\n'
        '  "Fn::ForEach::T": ["X", ["a", "b"], {\n'
        '    "Table${X}": {\n'
        '      "Type": "AWS::DynamoDB::Table",\n'
        '      "Properties": {"TableName": {"Ref": "X"}}}}]}}\n'
    )
    result = expand(decode("t.json", text.encode()), {}, False)
    assert result.doc.data["Resources"]["Tableb"]["Properties"]["TableName"] == "b"
    assert line(result, "Resources", "Tablea") == 4
    assert line(result, "Resources", "Tableb", "Properties", "TableName") == 6


def test_ampersand_strips_non_alphanumeric_characters() -> None:
    result = run(
        """
        Resources:
          Fn::ForEach::Buckets:
            - Domain
            - [example.com, my-site.org]
            - Bucket&{Domain}:
                Type: AWS::S3::Bucket
                Properties:
                  BucketName: !Sub "${Domain}"
                  Tag: !Sub "&{Domain}-x"
        """
    )
    resources = result.doc.data["Resources"]
    assert list(resources) == ["Bucketexamplecom", "Bucketmysiteorg"]
    assert resources["Bucketmysiteorg"]["Properties"] == {"BucketName": "my-site.org", "Tag": "mysiteorg-x"}


def test_outputs_loops_nest_and_use_outer_identifiers() -> None:
    result = run(
        """
        Resources:
          Fn::ForEach::Buckets:
            - Id
            - [A, B]
            - Bucket${Id}: {Type: AWS::S3::Bucket}
        Outputs:
          Fn::ForEach::BucketOutputs:
            - Id2
            - [A, B]
            - Fn::ForEach::Attributes:
                - Attr
                - [Arn, DomainName]
                - Bucket${Id2}${Attr}:
                    Value: !GetAtt [!Sub "Bucket${Id2}", !Ref Attr]
                    Export:
                      Name: !Sub "${AWS::StackName}-${Id2}-${Attr}"
        """
    )
    outputs = result.doc.data["Outputs"]
    assert list(outputs) == ["BucketAArn", "BucketADomainName", "BucketBArn", "BucketBDomainName"]
    assert outputs["BucketBDomainName"]["Value"] == {"Fn::GetAtt": ["BucketB", "DomainName"]}
    assert outputs["BucketBArn"]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-B-Arn"}
    assert line(result, "Outputs", "BucketADomainName") == 14
    assert line(result, "Outputs", "BucketADomainName", "Value", "Fn::GetAtt", 1) == 15


def test_conditions_loop_and_resources_that_use_its_conditions() -> None:
    result = run(
        """
        Parameters:
          Env: {Type: String}
        Conditions:
          Fn::ForEach::Envs:
            - E
            - [dev, prod]
            - Is&{E}: !Equals [!Ref Env, !Ref E]
        Resources:
          Fn::ForEach::Topics:
            - E2
            - [dev, prod]
            - Topic${E2}:
                Type: AWS::SNS::Topic
                Condition: !Sub "Is${E2}"
        """,
        {"Env": "prod"},
    )
    conditions = result.doc.data["Conditions"]
    assert conditions == {
        "Isdev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
        "Isprod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
    }
    template = build(result.doc)
    resolver = Resolver(template, {"Env": "prod"})
    assert resolver.condition("Isprod") is True
    assert resolver.condition("Isdev") is False
    assert line(result, "Conditions", "Isprod") == 8


def test_properties_loop_at_any_depth() -> None:
    result = run(
        """
        Resources:
          Function:
            Type: AWS::Lambda::Function
            Properties:
              Environment:
                Variables:
                  STAGE: prod
                  Fn::ForEach::Vars:
                    - Name
                    - [TABLE, QUEUE]
                    - ${Name}_ARN: !Sub "arn:${Name}"
                      ${Name}_SET: "yes"
        """
    )
    variables = result.doc.data["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert variables == {
        "STAGE": "prod",
        "TABLE_ARN": "arn:TABLE",
        "TABLE_SET": "yes",
        "QUEUE_ARN": "arn:QUEUE",
        "QUEUE_SET": "yes",
    }
    base = ("Resources", "Function", "Properties", "Environment", "Variables")
    assert line(result, *base, "QUEUE_ARN") == 12
    assert line(result, *base, "QUEUE_SET") == 13


def test_nested_resource_loops_and_properties_loop_inside_a_resource_loop() -> None:
    result = run(
        """
        Resources:
          Fn::ForEach::Envs:
            - Env
            - [Dev, Prod]
            - Fn::ForEach::Apps:
                - App
                - [Web, Api]
                - ${App}${Env}Queue:
                    Type: AWS::SQS::Queue
                    Properties:
                      Tags:
                        Fn::ForEach::TagLoop:
                          - Key
                          - [Owner]
                          - ${Key}: !Sub "${App}-${Env}-${Key}"
        """
    )
    resources = result.doc.data["Resources"]
    assert list(resources) == ["WebDevQueue", "ApiDevQueue", "WebProdQueue", "ApiProdQueue"]
    assert resources["ApiProdQueue"]["Properties"]["Tags"] == {"Owner": "Api-Prod-Owner"}
    assert line(result, "Resources", "ApiProdQueue") == 9
    assert line(result, "Resources", "ApiProdQueue", "Properties", "Tags", "Owner") == 16


# -- collections ----------------------------------------------------------------------------------

PARAMETER_LOOP = """
Parameters:
  Names:
    Type: CommaDelimitedList
    Default: "x, y"
Resources:
  Fn::ForEach::Topics:
    - Name
    - !Ref Names
    - Topic${Name}:
        Type: AWS::SNS::Topic
        Properties: {TopicName: !Ref Name}
"""


def test_collection_from_a_given_parameter_value() -> None:
    result = run(PARAMETER_LOOP, {"Names": "a, b,c"})
    assert list(result.doc.data["Resources"]) == ["Topica", "Topicb", "Topicc"]


def test_collection_from_the_default_with_assume_defaults() -> None:
    result = run(PARAMETER_LOOP, defaults=True)
    assert list(result.doc.data["Resources"]) == ["Topicx", "Topicy"]
    # A given value wins over the default.
    assert list(run(PARAMETER_LOOP, {"Names": "z"}, defaults=True).doc.data["Resources"]) == ["Topicz"]


def test_unexpandable_loop_stays_in_place_and_is_listed() -> None:
    result = run(PARAMETER_LOOP)
    resources = result.doc.data["Resources"]
    assert list(resources) == ["Fn::ForEach::Topics"]
    assert resources["Fn::ForEach::Topics"][1] == {"Ref": "Names"}
    (entry,) = result.unexpanded
    assert entry.path == ("Resources", "Fn::ForEach::Topics")
    assert entry.resource_types == ("AWS::SNS::Topic",)
    assert entry.resource is None
    assert entry.reason == (
        "the collection is parameter Names, which has no value; give it with --parameter Names=a,b, "
        "or use --assume-defaults for its default 'x, y'"
    )
    assert line(result, "Resources", "Fn::ForEach::Topics") == 7
    assert line(result, "Resources", "Fn::ForEach::Topics", 2, "Topic${Name}", "Type") == 11
    # The engine reports it (UNKNOWN findings with the reason); graph.py adds no second note.
    assert not build(result.doc).notes


def test_collection_from_list_parameter_types() -> None:
    result = run(
        """
        Parameters:
          Subnets: {Type: "List<AWS::EC2::Subnet::Id>"}
        Resources:
          Fn::ForEach::Endpoints:
            - Subnet
            - !Ref Subnets
            - Endpoint&{Subnet}:
                Type: AWS::EC2::NetworkInterface
                Properties: {SubnetId: !Ref Subnet}
        """,
        {"Subnets": "subnet-1,subnet-2"},
    )
    resources = result.doc.data["Resources"]
    assert list(resources) == ["Endpointsubnet1", "Endpointsubnet2"]
    assert resources["Endpointsubnet2"]["Properties"]["SubnetId"] == "subnet-2"


def test_collection_from_an_ssm_list_parameter_is_not_known() -> None:
    result = run(
        """
        Parameters:
          Names: {Type: "AWS::SSM::Parameter::Value<List<String>>"}
        Resources:
          Fn::ForEach::Topics:
            - Name
            - !Ref Names
            - Topic${Name}: {Type: AWS::SNS::Topic}
        """,
        {"Names": "/my/ssm/name"},
    )
    (entry,) = result.unexpanded
    assert entry.reason == "the collection is parameter Names, which is read from SSM at deploy time"


def test_collection_from_find_in_map_split_if_and_intrinsic_items() -> None:
    result = run(
        """
        Parameters:
          Stage: {Type: String}
          Extra: {Type: String}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
        Mappings:
          Queues:
            prod: {Names: [Orders, Billing]}
        Resources:
          Fn::ForEach::FromMap:
            - A
            - !FindInMap [Queues, !Ref Stage, Names]
            - Map${A}: {Type: AWS::SQS::Queue}
          Fn::ForEach::FromMissingWithDefault:
            - B
            - !FindInMap [Queues, dev, Names, {DefaultValue: [Fallback]}]
            - Default${B}: {Type: AWS::SQS::Queue}
          Fn::ForEach::FromSplit:
            - C
            - !Split [",", "x,y"]
            - Split${C}: {Type: AWS::SQS::Queue}
          Fn::ForEach::FromIf:
            - D
            - !If [IsProd, [p1, p2], [d1]]
            - If${D}: {Type: AWS::SQS::Queue}
          Fn::ForEach::IntrinsicItems:
            - E
            - [!Ref Extra, literal, 7]
            - Item${E}: {Type: AWS::SQS::Queue}
        """,
        {"Stage": "prod", "Extra": "given"},
    )
    assert list(result.doc.data["Resources"]) == [
        "MapOrders",
        "MapBilling",
        "DefaultFallback",
        "Splitx",
        "Splity",
        "Ifp1",
        "Ifp2",
        "Itemgiven",
        "Itemliteral",
        "Item7",
    ]
    assert result.unexpanded == ()


def test_undecided_collections_give_reasons() -> None:
    result = run(
        """
        Parameters:
          Stage: {Type: String}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
        Resources:
          Fn::ForEach::FromIf:
            - D
            - !If [IsProd, [p1, p2], [d1]]
            - If${D}: {Type: AWS::SQS::Queue}
          Fn::ForEach::FromItem:
            - E
            - [!Ref Stage]
            - Item${E}: {Type: AWS::SNS::Topic}
          Fn::ForEach::FromAtt:
            - F
            - !GetAtt Vpc.CidrBlockAssociations
            - Att${F}: {Type: AWS::EC2::Subnet}
          Vpc: {Type: AWS::EC2::VPC}
        """
    )
    reasons = {u.path[-1]: (u.resource_types, u.reason) for u in result.unexpanded}
    assert reasons["Fn::ForEach::FromIf"] == (
        ("AWS::SQS::Queue",),
        "the collection depends on condition IsProd, which the parameters given do not decide",
    )
    assert reasons["Fn::ForEach::FromItem"][1].startswith("item 1 of the collection is not known: ")
    assert "parameter Stage" in reasons["Fn::ForEach::FromItem"][1]
    assert reasons["Fn::ForEach::FromAtt"] == (
        ("AWS::EC2::Subnet",),
        "the collection is a reference to Vpc, known only at deploy time",
    )


def test_outer_loop_with_an_unexpandable_nested_loop_stays_whole() -> None:
    result = run(
        """
        Parameters:
          Names: {Type: CommaDelimitedList}
        Resources:
          Fn::ForEach::Outer:
            - Env
            - [Dev, Prod]
            - Fn::ForEach::Inner:
                - Name
                - !Ref Names
                - ${Name}${Env}: {Type: AWS::SQS::Queue}
              Log${Env}: {Type: AWS::Logs::LogGroup}
        """
    )
    assert list(result.doc.data["Resources"]) == ["Fn::ForEach::Outer"]
    (entry,) = result.unexpanded
    assert entry.path == ("Resources", "Fn::ForEach::Outer")
    assert entry.resource_types == ("AWS::Logs::LogGroup", "AWS::SQS::Queue")
    assert entry.reason == (
        "the nested loop Fn::ForEach::Inner cannot be expanded: the collection is parameter Names, "
        "which has no value; give it with --parameter Names=a,b"
    )


def test_unexpandable_properties_loop_stays_in_each_expanded_resource() -> None:
    result = run(
        """
        Parameters:
          Keys: {Type: CommaDelimitedList}
        Resources:
          Fn::ForEach::Queues:
            - Q
            - [A, B]
            - Queue${Q}:
                Type: AWS::SQS::Queue
                Properties:
                  Tags:
                    Fn::ForEach::Tags:
                      - Key
                      - !Ref Keys
                      - ${Key}: !Sub "${Q}"
        """
    )
    resources = result.doc.data["Resources"]
    assert list(resources) == ["QueueA", "QueueB"]
    assert list(resources["QueueB"]["Properties"]["Tags"]) == ["Fn::ForEach::Tags"]
    assert [(u.path, u.resource_types, u.resource) for u in result.unexpanded] == [
        (("Resources", "QueueA", "Properties", "Tags", "Fn::ForEach::Tags"), ("AWS::SQS::Queue",), "QueueA"),
        (("Resources", "QueueB", "Properties", "Tags", "Fn::ForEach::Tags"), ("AWS::SQS::Queue",), "QueueB"),
    ]
    assert line(result, "Resources", "QueueB", "Properties", "Tags", "Fn::ForEach::Tags") == 12


def test_empty_collection_expands_to_nothing() -> None:
    result = run(PARAMETER_LOOP, {"Names": ""})
    assert result.doc.data["Resources"] == {}
    assert result.unexpanded == ()


# -- Fn::Length, Fn::ToJsonString, Fn::FindInMap DefaultValue -------------------------------------


def test_length() -> None:
    result = run(
        """
        Parameters:
          Names: {Type: CommaDelimitedList}
          Unset: {Type: CommaDelimitedList}
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              Literal: !Length [a, b, !Ref AWS::Region]
              FromParameter: {"Fn::Length": !Ref Names}
              Unknown: !Length {Ref: Unset}
              InLoop:
                Fn::ForEach::L:
                  - X
                  - [a]
                  - N${X}: !Length [!Ref X, !Ref X]
        """,
        {"Names": "a,b,c,d"},
    )
    props = result.doc.data["Resources"]["Queue"]["Properties"]
    assert props["Literal"] == 3
    assert props["FromParameter"] == 4
    assert props["InLoop"] == {"Na": 2}
    assert props["Unknown"] == {"Fn::Length": {"Ref": "Unset"}}
    assert line(result, "Resources", "Queue", "Properties", "Unknown", "Fn::Length", "Ref") == 11
    assert len(result.notes) == 1
    assert result.notes[0].startswith("line 11: Fn::Length was not evaluated: ")


def test_length_of_a_non_list_is_an_error() -> None:
    message, at = error(
        """
        Parameters:
          Name: {Type: String}
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              Count: !Length {Ref: Name}
        """,
        {"Name": "x"},
    )
    assert message == "Fn::Length needs a list, not a string"
    assert at == 8


def test_to_json_string() -> None:
    result = run(
        """
        Resources:
          Fn::ForEach::Dashboards:
            - Name
            - [Main]
            - Dashboard${Name}:
                Type: AWS::CloudWatch::Dashboard
                Properties:
                  DashboardBody: !ToJsonString
                    title: !Sub "${Name} board"
                    widgets: [{width: 12, live: true, ratio: 0.5, note: "é"}]
                    count: !Length [a, b]
                  Dynamic: !ToJsonString {region: !Ref AWS::Region}
        """
    )
    props = result.doc.data["Resources"]["DashboardMain"]["Properties"]
    assert props["DashboardBody"] == (
        '{"title":"Main board","widgets":[{"width":12,"live":true,"ratio":0.5,"note":"é"}],"count":2}'
    )
    assert json.loads(props["DashboardBody"])["count"] == 2
    assert props["Dynamic"] == {"Fn::ToJsonString": {"region": {"Ref": "AWS::Region"}}}
    assert line(result, "Resources", "DashboardMain", "Properties", "DashboardBody") == 9
    assert line(result, "Resources", "DashboardMain", "Properties", "Dynamic", "Fn::ToJsonString", "region") == 13
    # The evaluated argument leaves no marks behind.
    assert not any("title" in p for p in result.doc.marks)


def test_find_in_map_default_value() -> None:
    result = run(
        """
        Parameters:
          Size: {Type: String}
        Mappings:
          Sizes:
            small: {Memory: 128}
        Resources:
          Fn::ForEach::Functions:
            - S
            - [small, large]
            - Function${S}:
                Type: AWS::Lambda::Function
                Properties:
                  MemorySize: !FindInMap [Sizes, !Ref S, Memory, {DefaultValue: 512}]
                  Layers: !FindInMap [Nope, x, y, {DefaultValue: [!Sub "arn:${S}"]}]
          Other:
            Type: AWS::Lambda::Function
            Properties:
              MemorySize: !FindInMap [Sizes, !Ref Size, Memory, {DefaultValue: 256}]
              Timeout: !FindInMap [Sizes, small, Memory]
        """
    )
    resources = result.doc.data["Resources"]
    assert resources["Functionsmall"]["Properties"]["MemorySize"] == 128
    assert resources["Functionlarge"]["Properties"]["MemorySize"] == 512
    assert resources["Functionlarge"]["Properties"]["Layers"] == ["arn:large"]
    assert line(result, "Resources", "Functionlarge", "Properties", "Layers", 0) == 15
    # Keys known only at deploy time: left as written, with a note.
    assert resources["Other"]["Properties"]["MemorySize"] == {
        "Fn::FindInMap": ["Sizes", {"Ref": "Size"}, "Memory", {"DefaultValue": 256}]
    }
    assert resources["Other"]["Properties"]["Timeout"] == {"Fn::FindInMap": ["Sizes", "small", "Memory"]}
    assert result.notes == ("line 19: Fn::FindInMap with a DefaultValue was not evaluated: its keys are not known",)
    # With the parameter given, the keys are known.
    given = run(
        """
        Parameters:
          Size: {Type: String}
        Mappings:
          Sizes:
            small: {Memory: 128}
        Resources:
          Other:
            Type: AWS::Lambda::Function
            Properties:
              MemorySize: !FindInMap [Sizes, !Ref Size, Memory, {DefaultValue: 256}]
        """,
        {"Size": "small"},
    )
    assert given.doc.data["Resources"]["Other"]["Properties"]["MemorySize"] == 128


def test_find_in_map_default_must_be_a_default_value_mapping() -> None:
    message, at = error(
        """
        Mappings:
          M: {a: {b: c}}
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              Name: !FindInMap [M, a, b, {Default: x}]
        """
    )
    assert message == "the fourth argument of Fn::FindInMap must be {DefaultValue: …}, not a mapping"
    assert at == 8


def test_deletion_policies_with_intrinsics_stay_and_resolve() -> None:
    result = run(
        """
        Parameters:
          Policy: {Type: String, AllowedValues: [Retain, Delete]}
          Stage: {Type: String}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
        Resources:
          Fn::ForEach::Buckets:
            - B
            - [A]
            - Bucket${B}:
                Type: AWS::S3::Bucket
                DeletionPolicy: !Ref Policy
                UpdateReplacePolicy: !If [IsProd, Retain, Delete]
        """
    )
    bucket = result.doc.data["Resources"]["BucketA"]
    assert bucket["DeletionPolicy"] == {"Ref": "Policy"}
    template = build(result.doc)
    given = Resolver(template, {"Policy": "Retain", "Stage": "prod"})
    assert [(a.kind, a.value) for a in given.resolve(bucket["DeletionPolicy"])] == [(Kind.KNOWN, "Retain")]
    assert [(a.kind, a.value) for a in given.resolve(bucket["UpdateReplacePolicy"])] == [(Kind.KNOWN, "Retain")]
    open_world = Resolver(template)
    assert {a.value for a in open_world.resolve(bucket["DeletionPolicy"])} == {"Retain", "Delete"}
    assert {a.value for a in open_world.resolve(bucket["UpdateReplacePolicy"])} == {"Retain", "Delete"}


# -- the source document is untouched -------------------------------------------------------------


def test_source_document_is_not_mutated_and_nothing_is_shared() -> None:
    doc = decode("t.yaml", (HEAD + RESOURCES).encode())
    before = copy.deepcopy(doc.data)
    marks = dict(doc.marks)
    result = expand(doc, {}, False)
    assert doc.data == before
    assert dict(doc.marks) == marks

    def containers(value: Any) -> list[int]:
        found = []
        stack = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, (dict, list)):
                found.append(id(node))
                stack.extend(node.values() if isinstance(node, dict) else node)
        return found

    assert not set(containers(result.doc.data)) & set(containers(doc.data))
    # Expanded copies do not share containers with each other either.
    resources = result.doc.data["Resources"]
    assert resources["QueueOrders"]["Properties"] is not resources["QueueBilling"]["Properties"]


# -- user errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message", "at"),
    [
        pytest.param(
            """
            Parameters:
              Name: {Type: String}
            Resources:
              Fn::ForEach::L:
                - Name
                - [a]
                - Q${Name}: {Type: AWS::SQS::Queue}
            """,
            "the identifier Name of Fn::ForEach::L is also the name of a parameter; rename one",
            6,
            id="identifier-is-a-parameter",
        ),
        pytest.param(
            """
            Resources:
              Queue: {Type: AWS::SQS::Queue}
              Fn::ForEach::L:
                - Queue
                - [a]
                - Q${Queue}: {Type: AWS::SQS::Queue}
            """,
            "the identifier Queue of Fn::ForEach::L is also the logical id of a resource; rename one",
            5,
            id="identifier-is-a-resource",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::Outer:
                - X
                - [a]
                - Fn::ForEach::Inner:
                    - X
                    - [b]
                    - Q${X}: {Type: AWS::SQS::Queue}
            """,
            "the identifier X of Fn::ForEach::Inner is also the identifier of an enclosing loop; rename one",
            7,
            id="identifier-shadows-outer",
        ),
        pytest.param(
            """
            Resources:
              QueueA: {Type: AWS::SQS::Queue}
              Fn::ForEach::L:
                - X
                - [A]
                - Queue${X}: {Type: AWS::SQS::Queue}
            """,
            "Fn::ForEach::L produces 'QueueA', which is already defined",
            4,
            id="duplicate-with-resource",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::L:
                - X
                - [A]
                - Queue${X}: {Type: AWS::SQS::Queue}
              QueueA: {Type: AWS::SQS::Queue}
            """,
            "the loop produces the key 'QueueA' twice",
            7,
            id="duplicate-resource-after-loop",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::One:
                - X
                - [A]
                - Queue${X}: {Type: AWS::SQS::Queue}
              Fn::ForEach::Two:
                - Y
                - [A]
                - Queue${Y}: {Type: AWS::SQS::Queue}
            """,
            "Fn::ForEach::Two produces 'QueueA', which is already defined",
            7,
            id="duplicate-between-loops",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::L:
                - X
                - [a-b, ab]
                - Queue&{X}: {Type: AWS::SQS::Queue}
            """,
            "Fn::ForEach::L produces 'Queueab', which is already defined",
            3,
            id="duplicate-from-ampersand",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::L:
                - X
                - [a.b]
                - Queue${X}: {Type: AWS::SQS::Queue}
            """,
            "the loop produces the logical id 'Queuea.b', which is not alphanumeric "
            "(use &{Identifier} to drop the other characters)",
            6,
            id="logical-id-not-alphanumeric",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::L:
                - X
                - a,b
                - Queue${X}: {Type: AWS::SQS::Queue}
            """,
            "the collection of Fn::ForEach::L must be a list, not a string",
            5,
            id="collection-is-a-string",
        ),
        pytest.param(
            """
            Parameters:
              Names: {Type: String}
            Resources:
              Fn::ForEach::L:
                - X
                - !Ref Names
                - Queue${X}: {Type: AWS::SQS::Queue}
            """,
            "the collection of Fn::ForEach::L is parameter Names of type String, "
            "not a list (CommaDelimitedList or List<…>)",
            7,
            id="collection-is-a-string-parameter",
        ),
        pytest.param(
            """
            Mappings:
              M: {a: {b: text}}
            Resources:
              Fn::ForEach::L:
                - X
                - !FindInMap [M, a, b]
                - Queue${X}: {Type: AWS::SQS::Queue}
            """,
            "the collection of Fn::ForEach::L must be a list, not a string",
            7,
            id="collection-resolves-to-a-string",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::L:
                - X
                - [[a]]
                - Queue${X}: {Type: AWS::SQS::Queue}
            """,
            "the collection of Fn::ForEach::L must hold strings, not a list of 1 items",
            5,
            id="collection-item-is-a-list",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::L:
                - X
                - [a]
            """,
            "Fn::ForEach::L must be a list of three items [Identifier, Collection, {OutputKey: OutputValue}], "
            "not a list of 2 items",
            3,
            id="arity",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::L: {X: [a]}
            """,
            "Fn::ForEach::L must be a list of three items [Identifier, Collection, {OutputKey: OutputValue}], "
            "not a mapping",
            3,
            id="not-a-list",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::L: [!Ref X, [a], {"Q${X}": {Type: AWS::SQS::Queue}}]
            """,
            "the identifier of Fn::ForEach::L must be a string, not a mapping",
            3,
            id="identifier-not-a-string",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::L: [X, [a], [{Type: AWS::SQS::Queue}]]
            """,
            "the third item of Fn::ForEach::L must be a mapping {OutputKey: OutputValue}, not a list of 1 items",
            3,
            id="body-not-a-mapping",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach::L:
                - X
                - [a]
                - Queue:
                    Type: AWS::SQS::Queue
            """,
            "the output key 'Queue' of Fn::ForEach::L must contain ${X} or &{X}",
            6,
            id="output-key-without-identifier",
        ),
        pytest.param(
            """
            Resources:
              Fn::ForEach: [X, [a], {"Q${X}": {Type: AWS::SQS::Queue}}]
            """,
            "Fn::ForEach needs a loop name: Fn::ForEach::LoopName",
            3,
            id="no-loop-name",
        ),
        pytest.param(
            """
            Conditions:
              Fn::ForEach::L: [X, [a], {"C${X}": !Equals [a, a]}]
            Resources:
              Fn::ForEach::L: [Y, [a], {"Q${Y}": {Type: AWS::SQS::Queue}}]
            """,
            "the loop name L is used twice (also on line 3); loop names must be unique in a template",
            5,
            id="duplicate-loop-name",
        ),
        pytest.param(
            """
            Resources:
              Queues: {Type: AWS::SQS::Queue}
              Fn::ForEach::Queues: [Y, [a], {"Q${Y}": {Type: AWS::SQS::Queue}}]
            """,
            "the loop name Queues is also the logical id of a resource",
            4,
            id="loop-name-is-a-logical-id",
        ),
        pytest.param(
            """
            Metadata:
              Fn::ForEach::L: [X, [a], {"M${X}": 1}]
            Resources: {}
            """,
            "Fn::ForEach::L is not allowed here: AWS::LanguageExtensions expands Fn::ForEach only in "
            "Resources, resource Properties, Outputs and Conditions",
            3,
            id="loop-in-metadata",
        ),
        pytest.param(
            """
            Resources:
              Queue:
                Type: AWS::SQS::Queue
                Fn::ForEach::L: [X, [a], {"DependsOn${X}": b}]
            """,
            "Fn::ForEach::L is not allowed here: AWS::LanguageExtensions expands Fn::ForEach only in "
            "Resources, resource Properties, Outputs and Conditions",
            5,
            id="loop-beside-type",
        ),
        pytest.param(
            """
            Resources: {}
            Fn::ForEach::L: [X, [a], {"M${X}": 1}]
            """,
            "Fn::ForEach::L is not allowed at the top level of a template",
            3,
            id="loop-at-top-level",
        ),
    ],
)
def test_user_errors_name_the_line(body: str, message: str, at: int) -> None:
    assert error(body) == (message, at)


def test_blow_up_is_refused_before_it_is_built() -> None:
    items = "[" + ", ".join(f"i{n}" for n in range(1000)) + "]"
    body = f"""
        Resources:
          Fn::ForEach::A:
            - X
            - {items}
            - Fn::ForEach::B:
                - Y
                - {items}
                - Fn::ForEach::C:
                    - Z
                    - {items}
                    - Q${{X}}${{Y}}${{Z}}: {{Type: AWS::SQS::Queue}}
        """
    started = time.perf_counter()
    message, at = error(body)
    assert time.perf_counter() - started < 2
    assert message.startswith(f"expanding Fn::ForEach produces more than {langext.MAX_NODES:,} nodes")
    assert at == 3


def test_blow_up_of_nested_loops_over_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(langext, "MAX_NODES", 500)
    body = """
        Parameters:
          Names: {Type: CommaDelimitedList}
        Resources:
          Fn::ForEach::A:
            - X
            - !Ref Names
            - Fn::ForEach::B:
                - Y
                - !Ref Names
                - Q${X}${Y}: {Type: AWS::SQS::Queue, Properties: {A: 1, B: 2}}
        """
    names = ",".join(f"n{i}" for i in range(30))
    message, at = error(body, {"Names": names})
    assert message.startswith("expanding Fn::ForEach produces more than 500 nodes")
    assert at == 8  # the nested loop whose expansion crosses the limit
    # Below the cap the same template expands.
    assert len(run(body, {"Names": "a,b"}).doc.data["Resources"]) == 4


def test_blow_up_the_estimate_cannot_see_is_caught_while_building(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(langext, "MAX_NODES", 500)
    items = ", ".join(f"i{n}" for n in range(100))
    body = f"""
        Mappings:
          M: {{a: {{b: [{items}]}}}}
        Resources:
          Fn::ForEach::A:
            - X
            - [a, b, c, d, e, f]
            - Q${{X}}:
                Type: AWS::SQS::Queue
                Properties: {{Copy: !FindInMap [M, a, b, {{DefaultValue: []}}]}}
        """
    message, at = error(body)
    assert message.startswith("expanding Fn::ForEach produces more than 500 nodes")
    assert at == 5  # the outermost loop being expanded


# -- the corpus ------------------------------------------------------------------------------------


def test_corpus_templates_with_for_each_expand() -> None:
    corpus = shared_or_skip("corpus")
    with open(corpus / "MANIFEST.csv", encoding="utf-8", newline="") as handle:
        names = [row["path"] for row in csv.DictReader(handle)]
    users = [n for n in names if b"Fn::ForEach" in (corpus / n).read_bytes()]
    assert len(users) >= 8
    counts: dict[str, dict[str, int]] = {}
    for name in users:
        doc = decode(name, (corpus / name).read_bytes())
        for defaults in (False, True):
            result = expand(doc, {}, defaults)
            template = build(result.doc)
            types: dict[str, int] = {}
            for resource in template.resources.values():
                types[resource.type] = types.get(resource.type, 0) + 1
            if defaults:
                counts[name] = types
            loops = [p for p in result.doc.marks if len(p) == 2 and str(p[1]).startswith("Fn::ForEach")]
            assert len(loops) == len(result.unexpanded), name
    base = "aws-cloudformation-templates/CloudFormation/"
    # Checked by hand: four tables, three buckets (and their three outputs).
    for suffix in ("yaml", "json"):
        assert counts[f"{base}fn-foreach-ddb.{suffix}"] == {"AWS::DynamoDB::Table": 4}
        assert counts[f"{base}fn-foreach-s3-outputs.{suffix}"] == {"AWS::S3::Bucket": 3}
    outputs = expand(decode("o", (corpus / base / "fn-foreach-s3-outputs.yaml").read_bytes()), {}, False)
    assert outputs.doc.data["Outputs"]["S3BucketCArn"]["Value"] == {"Fn::GetAtt": ["S3BucketC", "Arn"]}
    # The SecurityHub template: the default "FSBP, CIS" gives two standards beside seven resources.
    hub = counts["eijikominami-aws-cloudformation-templates/security/templates/securityhub.yaml"]
    assert hub["AWS::SecurityHub::Standard"] == 2
    assert sum(hub.values()) == 11
    # A parameter without a default stays unexpanded even with --assume-defaults ...
    webhook = "eijikominami-aws-cloudformation-templates/cloudops/templates/devopsagent-webhook-permissions.yaml"
    doc = decode(webhook, (corpus / webhook).read_bytes())
    (entry,) = expand(doc, {}, True).unexpanded
    assert entry.resource_types == ("AWS::Lambda::Permission",)
    # ... and expands once it is given.
    given = expand(doc, {"MemberAccountIds": "111111111111,222222222222"}, False)
    assert sorted(given.doc.data["Resources"]) == [
        "LambdaPermissionForWebhookForwarder111111111111",
        "LambdaPermissionForWebhookForwarder222222222222",
    ]
    assert given.doc.marks[("Resources", "LambdaPermissionForWebhookForwarder222222222222", "Properties")].line == 23


# -- through the engine: findings on the line in the loop body, UNKNOWN where a loop stays ------


ENGINE_LOOPS = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::LanguageExtensions
Parameters:
  Queues:
    Type: CommaDelimitedList
Resources:
  Fn::ForEach::Buckets:
    - Name
    - [logs, data]
    - ${Name}Bucket:
        Type: AWS::S3::Bucket
        Properties:
          VersioningConfiguration:
            Status: Suspended
  Fn::ForEach::Queues:
    - Name
    - !Ref Queues
    - ${Name}Queue:
        Type: AWS::SQS::Queue
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      Fn::ForEach::Settings:
        - Key
        - !Ref Queues
        - ${Key}: x
"""


def _engine(parameters: dict[str, str] | None = None) -> list[Finding]:
    from walint.catalog import load_rules
    from walint.engine import LintOptions, RuleIndex, lint_bytes

    result = lint_bytes("loops.yaml", ENGINE_LOOPS.encode(), RuleIndex(load_rules()), LintOptions(parameters or {}))
    assert result.status is FileStatus.LINTED, result.error
    return list(result.findings)


def test_findings_on_expanded_resources_point_into_the_loop_body() -> None:
    versioning = [f for f in _engine() if f.rule_id == "WA-REL-017"]
    assert {f.location.resource for f in versioning} == {"logsBucket", "dataBucket"}
    assert {f.location.span.line for f in versioning} == {14}  # Status: Suspended


def test_resources_of_a_loop_that_cannot_be_expanded_are_unknown_with_the_reason() -> None:
    queue = [f for f in _engine() if f.location.resource == "Fn::ForEach::Queues"]
    assert queue and all(f.outcome is Outcome.UNKNOWN for f in queue)
    assert {f.location.span.line for f in queue} == {15}
    assert all("parameter Queues, which has no value" in f.reasons[0] for f in queue)
    assert "WA-SEC-005" in {f.rule_id for f in queue}  # queue encryption, among others


def test_a_resource_whose_properties_hold_an_unexpanded_loop_gets_no_verdict() -> None:
    topic = [f for f in _engine() if f.location.resource == "Topic"]
    assert topic and all(f.outcome is Outcome.UNKNOWN for f in topic)
    assert all(f.location.span.line in (22, 23) for f in topic)  # Properties, or the loop in them


def test_given_values_expand_the_loop_and_decide() -> None:
    findings = _engine({"Queues": "jobs,mail"})
    assert not [f for f in findings if f.location.resource == "Fn::ForEach::Queues"]
    assert {"jobsQueue", "mailQueue"} <= {f.location.resource for f in findings}
    assert any(f.location.resource == "Topic" and f.outcome is Outcome.FAIL for f in findings)
