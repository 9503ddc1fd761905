"""SAM templates are judged as CloudFormation deploys them, and reported where the user wrote them."""

from __future__ import annotations

import csv
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import shared_or_skip
from walint.catalog import Rule
from walint.engine import LintOptions, RuleIndex, lint_bytes
from walint.findings import FileResult, FileStatus, Finding, Outcome

HEADER = "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"


@pytest.fixture(scope="module")
def index(rules: list[Rule]) -> RuleIndex:
    return RuleIndex(rules)


def lint(index: RuleIndex, body: str, **options: object) -> FileResult:
    text = HEADER + textwrap.dedent(body)
    return lint_bytes("sam.yaml", text.encode(), index, LintOptions(**options))  # type: ignore[arg-type]


def line_of(body: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `needle` in HEADER + body."""
    lines = (HEADER + textwrap.dedent(body)).splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if needle in line]
    return hits[occurrence - 1]


def only(result: FileResult, rule_id: str, outcome: Outcome = Outcome.FAIL) -> list[Finding]:
    return [f for f in result.findings if f.rule_id == rule_id and f.outcome is outcome]


ADMIN_FUNCTION = """\
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Policies:
        - AWSLambdaBasicExecutionRole
        - Statement:
            - Effect: Allow
              Action: "*"
              Resource: "*"
"""


def test_admin_statement_is_reported_on_the_function_at_the_statement(index: RuleIndex) -> None:
    result = lint(index, ADMIN_FUNCTION)
    assert result.status is FileStatus.LINTED
    (finding,) = only(result, "WA-SEC-015")
    location = finding.location
    assert location.resource == "Api" and location.resource_type == "AWS::Serverless::Function"
    assert location.generated == "ApiRole"  # the role SAM writes is what the rule judged
    # inside the function's block, on the statement the user wrote (index 1: a managed policy comes first)
    assert location.path[:6] == ("Resources", "Api", "Properties", "Policies", 1, "Statement")
    assert location.span.line in {line_of(ADMIN_FUNCTION, 'Action: "*"'), line_of(ADMIN_FUNCTION, 'Resource: "*"')}


def test_simple_table_without_point_in_time_recovery_is_reported_on_the_table(index: RuleIndex) -> None:
    body = """\
    Resources:
      Orders:
        Type: AWS::Serverless::SimpleTable
        Properties:
          PrimaryKey: {Name: id, Type: String}
    """
    (finding,) = only(lint(index, body), "WA-REL-011")
    assert finding.location.resource == "Orders"
    assert finding.location.resource_type == "AWS::Serverless::SimpleTable"
    assert finding.location.span.line in {line_of(body, "Orders:"), line_of(body, "Properties:")}


def test_a_globals_value_is_reported_at_its_line_in_globals(index: RuleIndex) -> None:
    body = """\
    Globals:
      Function:
        Runtime: python3.12
        Tracing: PassThrough
    Resources:
      Worker:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.handler
          InlineCode: "def handler(event, context): pass"
    """
    (finding,) = only(lint(index, body), "WA-OPS-003")
    assert finding.location.resource == "Worker"
    assert finding.location.path == ("Globals", "Function", "Tracing")
    assert finding.location.span.line == line_of(body, "Tracing: PassThrough")


def test_a_function_setting_overrides_globals(index: RuleIndex) -> None:
    body = """\
    Globals:
      Function:
        Tracing: PassThrough
    Resources:
      Worker:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          Handler: app.handler
          InlineCode: x
          Tracing: Active
    """
    assert only(lint(index, body), "WA-OPS-003") == []


def function_with_policies(*entries: str) -> str:
    """A SAM function whose Policies list holds `entries` (YAML, one list item each)."""
    items = ""
    for entry in entries:
        first, *rest = textwrap.dedent(entry).strip("\n").splitlines()
        items += f"        - {first}\n" + "".join(f"          {line}\n" for line in rest)
    return (
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.12\n"
        "      Handler: app.handler\n"
        "      InlineCode: x\n"
        "      Policies:\n" + items
    )


READ_ONE_BUCKET = """\
Statement:
  - Effect: Allow
    Action: s3:GetObject
    Resource: arn:aws:s3:::bucket/*
"""


def test_policy_templates_are_expanded_and_judged(index: RuleIndex) -> None:
    body = function_with_policies("AWSLambdaBasicExecutionRole", READ_ONE_BUCKET, "SQSPollerPolicy: {QueueName: jobs}")
    result = lint(index, body)
    assert only(result, "WA-SEC-015") == [] and only(result, "WA-SEC-016") == []
    assert all(f.location.resource == "Fn" for f in result.findings)


def test_a_policy_template_finding_points_at_the_template_entry(index: RuleIndex) -> None:
    # SAM's TextractPolicy grants textract:* on every resource.
    body = function_with_policies("AWSLambdaBasicExecutionRole", READ_ONE_BUCKET, "TextractPolicy: {}")
    (finding,) = only(lint(index, body), "WA-SEC-016")
    assert finding.location.path == ("Resources", "Fn", "Properties", "Policies", 2)
    assert finding.location.span.line == line_of(body, "TextractPolicy")


def test_a_statement_finding_points_at_the_statement_after_managed_policies(index: RuleIndex) -> None:
    # Managed policies become ManagedPolicyArns, so the role's inline policy 1 is the user's entry 2.
    wildcard = READ_ONE_BUCKET.replace("Action: s3:GetObject", 'Action: "s3:*"').replace("arn:aws:s3:::bucket/*", '"*"')
    body = function_with_policies("AWSLambdaBasicExecutionRole", READ_ONE_BUCKET, wildcard)
    (finding,) = only(lint(index, body), "WA-SEC-016")
    assert finding.location.path[:5] == ("Resources", "Fn", "Properties", "Policies", 2)
    assert finding.location.span.line == line_of(body, 'Action: "s3:*"')


PUBLIC_FUNCTION = """\
Resources:
  Public:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      InlineCode: x
      Events:
        Get:
          Type: Api
          Properties: {Path: /, Method: get}
"""


def test_rules_written_for_sam_types_still_judge_them(index: RuleIndex) -> None:
    body = PUBLIC_FUNCTION
    result = lint(index, body)
    (open_api,) = only(result, "WA-SEC-037")
    assert open_api.location.resource == "Public" and open_api.location.generated is None
    # what SAM generates for the implicit API is reported on the event that asked for it
    stage_findings = [f for f in result.findings if (f.location.generated or "").startswith("ServerlessRestApi")]
    assert stage_findings
    assert {f.location.span.line for f in stage_findings} == {line_of(body, "Get:")}


def test_suppression_on_the_sam_resource_covers_what_it_generates(index: RuleIndex) -> None:
    body = ADMIN_FUNCTION.replace(
        "    Type: AWS::Serverless::Function\n",
        "    Type: AWS::Serverless::Function\n"
        "    Metadata:\n"
        "      walint:\n"
        "        suppress:\n"
        "          - rule: WA-SEC-015\n"
        "            reason: break-glass function, reviewed\n",
    )
    (finding,) = only(lint(index, body), "WA-SEC-015")
    assert finding.suppressed is not None and finding.suppressed.reason == "break-glass function, reviewed"


def test_plain_resources_in_a_sam_template_keep_their_lines(index: RuleIndex) -> None:
    body = ADMIN_FUNCTION + "  Logs:\n    Type: AWS::S3::Bucket\n"
    result = lint(index, body)
    bucket = [f for f in result.findings if f.location.resource == "Logs"]
    assert bucket and all(f.location.span.line == line_of(body, "Logs:") for f in bucket)
    assert all(f.location.generated is None for f in bucket)


def test_parameter_values_reach_sam_conditions(index: RuleIndex) -> None:
    body = """\
    Parameters:
      Env: {Type: String, AllowedValues: [dev, prod]}
    Conditions:
      IsProd: !Equals [!Ref Env, prod]
    Resources:
      Worker:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          Handler: app.handler
          InlineCode: x
          Tracing: !If [IsProd, Active, PassThrough]
    """
    (undecided,) = only(lint(index, body), "WA-OPS-003", Outcome.UNKNOWN)
    assert undecided.location.resource == "Worker"
    assert undecided.location.span.line == line_of(body, "Tracing: !If")
    (failed,) = only(lint(index, body, parameters={"Env": "dev"}), "WA-OPS-003")
    assert failed.location.span.line == line_of(body, "Tracing: !If")
    assert not [f for f in lint(index, body, parameters={"Env": "prod"}).findings if f.rule_id == "WA-OPS-003"]


def test_a_template_sam_rejects_is_a_clear_error(index: RuleIndex) -> None:
    body = """\
    Resources:
      Broken:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          Handler: app.handler
          InlineCode: x
          Events:
            Bad:
              Type: Api
              Properties: {Path: 42}
    """
    result = lint(index, body)
    assert result.status is FileStatus.ERROR
    assert result.error is not None and "SAM transform" in result.error and "Broken" in result.error


def test_serverless_repository_applications_need_no_network(index: RuleIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("walint opened a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    body = """\
    Resources:
      App:
        Type: AWS::Serverless::Application
        Properties:
          Location:
            ApplicationId: arn:aws:serverlessrepo:us-east-1:123456789012:applications/thing
            SemanticVersion: 1.0.0
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          Handler: app.handler
          CodeUri: src/
          Policies: [AmazonS3ReadOnlyAccess]
    """
    result = lint(index, body)
    assert result.status is FileStatus.LINTED, result.error


def test_a_finding_on_a_parameter_stays_on_the_parameter(index: RuleIndex) -> None:
    # WA-SEC-022 judges the generated function but blames the parameter that should be NoEcho.
    body = """\
    Parameters:
      ApiToken:
        Type: String
    Resources:
      Caller:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          Handler: app.handler
          InlineCode: x
          Environment:
            Variables:
              TOKEN: !Ref ApiToken
    """
    (finding,) = only(lint(index, body), "WA-SEC-022")
    assert finding.location.resource == "Caller"
    assert finding.location.path == ("Parameters", "ApiToken")
    assert finding.location.span.line == line_of(body, "ApiToken:")


IMPLICIT_API = "Globals:\n  Api:\n    TracingEnabled: true\n" + PUBLIC_FUNCTION


def test_an_implicit_api_setting_is_reported_in_globals_api(index: RuleIndex) -> None:
    result = lint(index, IMPLICIT_API)
    # Access logs and throttling of the implicit API's stage are set in Globals.Api.
    for rule_id in ("WA-SEC-049", "WA-REL-032"):
        (finding,) = only(result, rule_id)
        assert finding.location.generated == "ServerlessRestApiProdStage"
        assert finding.location.path == ("Globals", "Api")
        assert finding.location.span.line == line_of(IMPLICIT_API, "  Api:")
    # An alarm or a web ACL is no Globals.Api setting: reported on the event that made the API.
    (alarm,) = [f for f in only(result, "WA-OPS-001") if f.location.generated == "ServerlessRestApi"]
    assert alarm.location.span.line == line_of(IMPLICIT_API, "Get:")
    (waf,) = only(result, "WA-SEC-036")
    assert waf.location.span.line == line_of(IMPLICIT_API, "Get:")


def test_an_explicit_api_setting_is_reported_on_the_api_not_in_globals(index: RuleIndex) -> None:
    body = IMPLICIT_API.replace(
        "Resources:\n",
        "Resources:\n  Rest:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: prod\n",
    ).replace("Properties: {Path: /, Method: get}", "Properties: {Path: /, Method: get, RestApiId: !Ref Rest}")
    (finding,) = only(lint(index, body), "WA-SEC-049")
    assert finding.location.resource == "Rest"
    assert finding.location.path[:2] == ("Resources", "Rest")


def test_an_included_definition_is_not_taken_for_an_empty_one(index: RuleIndex) -> None:
    body = """\
    Resources:
      Rest:
        Type: AWS::Serverless::Api
        Properties:
          StageName: prod
          DefinitionBody:
            Fn::Transform:
              Name: AWS::Include
              Parameters: {Location: openapi.yaml}
    """
    result = lint(index, body)
    assert result.status is FileStatus.LINTED, result.error
    # The file may set x-amazon-apigateway-minimum-compression-size: undecided, not failed.
    assert only(result, "WA-SUS-010") == []
    (undecided,) = only(result, "WA-SUS-010", Outcome.UNKNOWN)
    assert undecided.location.resource == "Rest"


# -- the SAM templates of the corpus --------------------------------------------------------


def _sam_corpus() -> Iterator[Path]:
    root = shared_or_skip("corpus")
    with (root / "MANIFEST.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["sam"] == "1":
                yield root / row["path"]


def test_corpus_sam_templates_translate_and_findings_stay_in_the_sam_resource(index: RuleIndex) -> None:
    translated = errors = 0
    for path in _sam_corpus():
        result = lint_bytes(str(path), path.read_bytes(), index, LintOptions())
        if result.status is FileStatus.ERROR:
            assert result.error is not None
            # Duplicate keys are defects in those files; everything else must translate.
            assert "duplicate key" in result.error, f"{path}: {result.error}"
            errors += 1
            continue
        translated += 1
        lines = path.read_text(encoding="utf-8").splitlines()
        for finding in result.findings:
            location = finding.location
            assert 1 <= location.span.line <= len(lines), f"{path}: {finding}"
            if location.generated is not None:
                # A generated resource's finding is reported on a line of the SAM resource the
                # user wrote, or of the Globals section that shaped it.
                assert (
                    location.path[:2] in {("Resources", location.resource), ("Globals",)}
                    or location.path[0] == "Globals"
                ), f"{path}: {finding}"
    assert translated > 600 and errors < 20
