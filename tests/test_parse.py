from __future__ import annotations

import pytest

from walint.parse import MAX_NODES, ParseError, decode


def doc(text: str):
    return decode("t.yaml", text.encode())


def test_short_form_intrinsics_become_long_form() -> None:
    d = doc(
        "Resources:\n"
        "  A:\n"
        "    Type: AWS::S3::Bucket\n"
        "    Properties:\n"
        "      BucketName: !Sub '${AWS::StackName}-x'\n"
        "      Other: !GetAtt B.Arn\n"
        "      Nested: !GetAtt B.Endpoint.Address\n"
        "      Ref: !Ref P\n"
        "      If: !If [C, !Ref AWS::NoValue, x]\n"
        "      Azs: !GetAZs ''\n"
        "      Cond: !Condition IsProd\n"
    ).data
    props = d["Resources"]["A"]["Properties"]
    assert props["BucketName"] == {"Fn::Sub": "${AWS::StackName}-x"}
    assert props["Other"] == {"Fn::GetAtt": ["B", "Arn"]}
    assert props["Nested"] == {"Fn::GetAtt": ["B", "Endpoint.Address"]}
    assert props["Ref"] == {"Ref": "P"}
    assert props["If"] == {"Fn::If": ["C", {"Ref": "AWS::NoValue"}, "x"]}
    assert props["Azs"] == {"Fn::GetAZs": ""}
    assert props["Cond"] == {"Condition": "IsProd"}


def test_every_key_and_item_has_a_one_based_span() -> None:
    d = doc("Resources:\n  A:\n    Type: T\n    Properties:\n      List:\n        - one\n        - two: 2\n")
    assert d.marks[("Resources",)].line == 1
    span = d.marks[("Resources", "A", "Type")]
    assert (span.line, span.column, span.end_line, span.end_column) == (3, 5, 3, 12)
    assert d.marks[("Resources", "A", "Properties", "List", 1)].line == 7
    assert d.marks[("Resources", "A", "Properties", "List", 1, "two")].line == 7
    # a path that does not exist locates its nearest existing ancestor
    assert d.span(("Resources", "A", "Properties", "Missing")).line == 4
    assert d.deepest(("Resources", "A", "Properties", "Missing")) == ("Resources", "A", "Properties")


def test_json_has_marks_and_tabs_are_tolerated() -> None:
    d = decode("t.json", b'{\n\t"Resources": {\n\t\t"A": {"Type": "AWS::S3::Bucket"}\n\t}\n}\n')
    assert d.data["Resources"]["A"]["Type"] == "AWS::S3::Bucket"
    assert d.marks[("Resources", "A", "Type")].line == 3


def test_scalars_follow_cloudformation() -> None:
    d = doc("AWSTemplateFormatVersion: 2010-09-09\nA: true\nB: 5\nC: '5'\nD: null\n").data
    assert d["AWSTemplateFormatVersion"] == "2010-09-09"  # not a date
    assert d["A"] is True and d["B"] == 5 and d["C"] == "5" and d["D"] is None


@pytest.mark.parametrize(
    ("raw", "message", "line"),
    [
        (b"A: 1\nA: 2\n", "duplicate key 'A' (first defined on line 1)", 2),
        (b"A: [1, 2\n", "not valid YAML or JSON", 2),
        (b'{"A": 1,,}', "not valid YAML or JSON", 1),
        (b"", "empty file", None),
        (b"   \n\n", "empty file", None),
        (b"\x00\x01\x02binary", "binary file", None),
        (b"A: 1\nB: \xff\xfe\n", "invalid UTF-8", 2),
        (b"base: &b {x: 1}\nA:\n  <<: *b\n", "merge keys", 3),
    ],
)
def test_bad_input_is_a_parse_error_with_a_line(raw: bytes, message: str, line: int | None) -> None:
    with pytest.raises(ParseError) as info:
        decode("bad.yaml", raw)
    assert message in info.value.message
    assert info.value.line == line


def test_alias_bomb_costs_bounded_work() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(ParseError) as info:
        decode("bomb.yaml", "\n".join(lines).encode())
    assert f"{MAX_NODES:,}" in info.value.message


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    depth = 100_000
    with pytest.raises(ParseError) as info:
        decode("deep.json", ("[" * depth + "]" * depth).encode())
    assert "too deep" in info.value.message or "not valid" in info.value.message
