"""Deployment parameter files (`--parameters FILE`): formats, errors, precedence, validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import template

from walint.cli import main
from walint.params import ParameterFileError, load_parameter_file, violations
from walint.values import Kind, Resolver

DATA = Path(__file__).resolve().parent / "data" / "params"

#: S3 bucket encryption (WA-SEC-001) and RDS encryption (WA-SEC-002) decided by one parameter,
#: through a Condition and Fn::If.
ENCRYPTED = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  EncryptData:
    Type: String
    AllowedPattern: "true|false"
  Env:
    Type: String
    AllowedValues: [dev, prod]
Conditions:
  Encrypted: !Equals [!Ref EncryptData, "true"]
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption: !If
        - Encrypted
        - ServerSideEncryptionConfiguration:
            - ServerSideEncryptionByDefault:
                SSEAlgorithm: aws:kms
        - !Ref AWS::NoValue
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      StorageEncrypted: !If [Encrypted, true, false]
"""

VALIDATED = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env:
    Type: String
    AllowedValues: [dev, prod]
  Name:
    Type: String
    AllowedPattern: "[a-z]+"
    MinLength: 3
    MaxLength: 8
  Count:
    Type: Number
    MinValue: 1
    MaxValue: 10
  Zones:
    Type: CommaDelimitedList
    AllowedValues: [a, b, c]
  Sizes:
    Type: List<Number>
    AllowedValues: [1, 2]
  Flag:
    Type: String
    AllowedValues: [true, false]
  Ami:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    AllowedValues: [ami-1]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no configuration file from the repository applies
    (tmp_path / ".git").mkdir()
    return tmp_path


# -- formats -------------------------------------------------------------------------------


def test_aws_cli_json_leaves_out_previous_values_and_names_them() -> None:
    values = load_parameter_file(str(DATA / "cli.json"))
    assert values == {"Env": "prod", "InstanceCount": "3"}
    assert values.previous == ("DbPassword",)


def test_deploy_parameter_overrides_list() -> None:
    values = load_parameter_file(str(DATA / "overrides.json"))
    assert values == {"Env": "prod", "InstanceCount": "3", "Banner": "a=b c"}


def test_cli_input_json_parameters_list(tmp_path: Path) -> None:
    text = json.dumps({"StackName": "app", "Parameters": [{"ParameterKey": "Env", "ParameterValue": "dev"}]})
    assert load_parameter_file(write(tmp_path, "input.json", text)) == {"Env": "dev"}


def test_codepipeline_template_configuration() -> None:
    assert load_parameter_file(str(DATA / "pipeline.json")) == {"Env": "prod", "InstanceCount": "3"}


def test_flat_yaml_values_take_their_cloudformation_string_form() -> None:
    assert load_parameter_file(str(DATA / "flat.yaml")) == {
        "Env": "prod",
        "InstanceCount": "3",
        "Multi": "true",
        "Ratio": "0.5",
        "Subnets": "subnet-1,subnet-2",
        "Created": "2024-01-31",
    }


def test_flat_json(tmp_path: Path) -> None:
    path = write(tmp_path, "prod.json", '{"Env": "prod", "Count": 2, "Debug": false}')
    assert load_parameter_file(path) == {"Env": "prod", "Count": "2", "Debug": "false"}


def test_samconfig_toml_deploy_section_with_shell_quoting_and_legacy_pairs() -> None:
    values = load_parameter_file(str(DATA / "samconfig.toml"))
    assert values == {"Env": "prod", "Banner": "hello world", "InstanceCount": "3"}


def test_samconfig_toml_falls_back_to_global_then_build() -> None:
    staging = load_parameter_file(str(DATA / "samconfig.toml"), "staging")
    assert staging == {"Env": "staging", "Banner": "quoted", "Greeting": "hi there"}
    assert load_parameter_file(str(DATA / "samconfig.toml"), "build-only") == {"Env": "build"}


def test_samconfig_yaml() -> None:
    assert load_parameter_file(str(DATA / "samconfig.yaml")) == {"Env": "prod", "InstanceCount": "3"}
    assert load_parameter_file(str(DATA / "samconfig.yaml"), "prod") == {"Env": "prod"}


def test_samconfig_yaml_is_recognised_by_content_under_another_name(tmp_path: Path) -> None:
    text = (DATA / "samconfig.yaml").read_text()
    assert load_parameter_file(write(tmp_path, "sam-prod.yaml", text)) == {"Env": "prod", "InstanceCount": "3"}


# -- malformed files -------------------------------------------------------------------------


def error_of(path: str, env: str = "default") -> str:
    with pytest.raises(ParameterFileError) as caught:
        load_parameter_file(path, env)
    message = str(caught.value)
    assert message.startswith(path + ": ")
    return message.removeprefix(path + ": ")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.json", '[\n  {"ParameterKey": "Env" "ParameterValue": "prod"}\n]', "line 2: not valid YAML or JSON"),
        ("empty.json", "", "empty file"),
        ("scalar.json", '"prod"', "not a string"),
        ("nokey.json", '[\n  {"ParameterValue": "prod"}\n]', "line 2: an entry needs a ParameterKey"),
        ("emptykey.json", '[{"ParameterKey": "", "ParameterValue": "x"}]', "needs a ParameterKey"),
        ("numkey.json", '[{"ParameterKey": 5, "ParameterValue": "x"}]', "needs a ParameterKey"),
        ("novalue.json", '[{"ParameterKey": "Env"}]', "parameter Env has no ParameterValue"),
        (
            "both.json",
            '[{"ParameterKey": "Env", "ParameterValue": "x", "UsePreviousValue": true}]',
            "both UsePreviousValue and a ParameterValue",
        ),
        ("typo.json", '[{"ParameterKey": "Env", "ParameterVal": "x"}]', "unknown key 'ParameterVal'"),
        ("twice.json", '["Env=dev",\n "Env=prod"]', "line 2: parameter Env is given twice"),
        ("noeq.json", '["Env"]', "expected Key=Value, got 'Env'"),
        ("number.json", "[1]", "mapping or 'Key=Value', not a number"),
        ("nested.yaml", "Env:\n  Name: prod\n", "line 1: parameter Env has a mapping"),
        ("null.yaml", "Env:\n", 'parameter Env has no value (write "" for an empty string)'),
        ("emptyname.yaml", '"": x\n', "a parameter name must not be empty"),
        ("dup.yaml", "Env: dev\nEnv: prod\n", "line 2: duplicate key 'Env'"),
        (
            "pipeline.json",
            '{"Parameters": {"Env": "x"}, "Tag": {}}',
            "a CodePipeline template configuration has only Parameters, Tags and StackPolicy, not Tag",
        ),
        ("stack.yaml", "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n", "a CloudFormation template"),
    ],
)
def test_malformed_files_are_errors_naming_the_file(tmp_path: Path, name: str, text: str, expected: str) -> None:
    assert expected in error_of(write(tmp_path, name, text))


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read" in error_of(str(tmp_path / "nope.json"))


def test_samconfig_missing_environment_names_the_ones_it_has() -> None:
    message = error_of(str(DATA / "samconfig.toml"), "prod")
    assert "no SAM configuration environment 'prod'" in message
    assert "default, nothing, staging" in message.replace("build-only, ", "")


def test_samconfig_environment_without_overrides() -> None:
    assert "no parameter_overrides in [nothing.deploy.parameters]" in error_of(str(DATA / "samconfig.toml"), "nothing")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[default.deploy.parameters]\nparameter_overrides = "Env=\\"prod"\n', "No closing quotation"),
        ('[default.deploy.parameters]\nparameter_overrides = "Env prod"\n', "expected Key=Value, got 'Env'"),
        ('[default.deploy.parameters]\nparameter_overrides = "=prod"\n', "a parameter name must not be empty"),
        ("[default.deploy.parameters]\nparameter_overrides = 3\n", "must be a string of Key=Value pairs"),
        ("[default.deploy.parameters\n", "not valid TOML"),
    ],
)
def test_malformed_samconfig(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(write(tmp_path, "samconfig.toml", "version = 0.1\n" + text))


def test_samconfig_yaml_errors_have_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "samconfig.yaml",
        "version: 0.1\ndefault:\n  deploy:\n    parameters:\n      parameter_overrides: {}\n",
    )
    assert error_of(path).startswith("line 5: [default.deploy.parameters] parameter_overrides must be")


# -- validation ------------------------------------------------------------------------------


def problems(**values: str) -> list[tuple[tuple[str | int, ...], str]]:
    return violations(template(VALIDATED).doc, values)


def test_valid_values_and_undeclared_parameters_pass() -> None:
    assert problems(Env="prod", Name="abc", Count="10", Zones="a, c", Sizes="1,2.0", Flag="true", Other="x") == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Env", "qa", "parameter Env: 'qa' is not one of its AllowedValues (dev, prod)"),
        ("Env", "Prod", "parameter Env: 'Prod' is not one of its AllowedValues (dev, prod)"),
        ("Name", "abc1", "parameter Name: 'abc1' does not match its AllowedPattern '[a-z]+'"),
        ("Name", "ab", "parameter Name: 'ab' is shorter than its MinLength 3 (2 characters)"),
        ("Name", "abcdefghi", "parameter Name: 'abcdefghi' is longer than its MaxLength 8 (9 characters)"),
        ("Count", "0", "parameter Count: '0' is less than its MinValue 1"),
        ("Count", "10.5", "parameter Count: '10.5' is more than its MaxValue 10"),
        ("Count", "three", "parameter Count: 'three' is not a number (Type Number)"),
        ("Zones", "a,d", "parameter Zones: 'd' (in 'a,d') is not one of its AllowedValues (a, b, c)"),
        ("Sizes", "1,x", "parameter Sizes: 'x' (in '1,x') is not a number (Type List<Number>)"),
        ("Sizes", "3", "parameter Sizes: '3' (in '3') is not one of its AllowedValues (1, 2)"),
        ("Flag", "yes", "parameter Flag: 'yes' is not one of its AllowedValues (true, false)"),
    ],
)
def test_rejected_values(name: str, value: str, message: str) -> None:
    assert problems(**{name: value}) == [(("Parameters", name), message)]


def test_the_name_of_an_ssm_parameter_is_not_validated_nor_taken_as_its_value() -> None:
    assert problems(Ami="/golden/ami") == []
    (alt,) = Resolver(template(VALIDATED), {"Ami": "/golden/ami"}).resolve({"Ref": "Ami"})
    assert alt.kind is Kind.UNKNOWN and "SSM" in alt.reason


def test_given_values_of_list_and_number_parameters() -> None:
    resolver = Resolver(template(VALIDATED), {"Zones": "a, b", "Sizes": "1,2", "Count": "4"})
    assert resolver.resolve({"Ref": "Zones"})[0].value == ["a", "b"]
    assert resolver.resolve({"Ref": "Sizes"})[0].value == ["1", "2"]
    assert resolver._equals({"Ref": "Count"}, 4) is True


# -- the command line ------------------------------------------------------------------------


def outcome(out: str, rule: str) -> str:
    """The outcome of `rule` on the one template in a JSON report: fail, unknown or pass."""
    found = [f["outcome"] for f in json.loads(out)["findings"] if f["rule_id"] == rule]
    return found[0] if found else "pass"


def cli_json(value: str) -> str:
    return json.dumps(
        [{"ParameterKey": "EncryptData", "ParameterValue": value}, {"ParameterKey": "Env", "ParameterValue": "dev"}]
    )


FORMATS = {
    "cli.json": cli_json,
    "overrides.json": lambda v: json.dumps([f"EncryptData={v}"]),
    "pipeline.json": lambda v: json.dumps({"Parameters": {"EncryptData": v}, "Tags": {"Team": "data"}}),
    "env.yaml": lambda v: f"EncryptData: {v}\n",
    "samconfig.toml": lambda v: (
        f'version = 0.1\n[default.deploy.parameters]\nparameter_overrides = "EncryptData={v}"\n'
    ),
    "samconfig.yaml": lambda v: (
        f"version: 0.1\ndefault:\n  global:\n    parameters:\n      parameter_overrides: EncryptData={v}\n"
    ),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_parameter_file_decides_what_a_condition_left_undecided(
    isolated: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    write(isolated, "stack.yaml", ENCRYPTED)
    select = ("--select", "WA-SEC-001,WA-SEC-002", "-f", "json")
    code, out, _ = run(capsys, "stack.yaml", *select)
    assert code == 0
    assert (outcome(out, "WA-SEC-001"), outcome(out, "WA-SEC-002")) == ("unknown", "unknown")
    write(isolated, f"off/{name}", FORMATS[name]("false"))
    code, out, _ = run(capsys, "stack.yaml", "--parameters", f"off/{name}", *select)
    assert code == 1
    assert (outcome(out, "WA-SEC-001"), outcome(out, "WA-SEC-002")) == ("fail", "fail")
    write(isolated, f"on/{name}", FORMATS[name]("true"))
    code, out, err = run(capsys, "stack.yaml", "--parameters", f"on/{name}", *select)
    assert (code, err) == (0, "")
    assert (outcome(out, "WA-SEC-001"), outcome(out, "WA-SEC-002")) == ("pass", "pass")


def test_later_files_win_and_parameter_wins_over_all(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(isolated, "stack.yaml", ENCRYPTED)
    write(isolated, "on.yaml", "EncryptData: true\n")
    write(isolated, "off.json", '["EncryptData=false"]')
    select = ("--select", "WA-SEC-002", "-f", "json")
    assert run(capsys, "stack.yaml", "--parameters", "on.yaml", "--parameters", "off.json", *select)[0] == 1
    assert run(capsys, "stack.yaml", "--parameters", "off.json", "--parameters", "on.yaml", *select)[0] == 0
    code = run(capsys, "stack.yaml", "--parameters", "on.yaml", "--parameter", "EncryptData=false", *select)[0]
    assert code == 1


def test_use_previous_value_is_undecided_and_said(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(isolated, "stack.yaml", ENCRYPTED)
    write(isolated, "common.yaml", "EncryptData: true\n")
    write(isolated, "update.json", '[{"ParameterKey": "EncryptData", "UsePreviousValue": true}]')
    code, out, err = run(
        capsys,
        "stack.yaml",
        "--parameters",
        "common.yaml",
        "--parameters",
        "update.json",
        "--select",
        "WA-SEC-002",
        "-f",
        "json",
    )
    assert code == 0 and outcome(out, "WA-SEC-002") == "unknown"
    assert "update.json: EncryptData keeps its previous value (UsePreviousValue)" in err
    code, _, err = run(
        capsys,
        "stack.yaml",
        "--parameters",
        "update.json",
        "--parameter",
        "EncryptData=false",
        "--select",
        "WA-SEC-002",
    )
    assert code == 1 and err == ""  # the value is given after all


def test_configuration_parameter_files(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(isolated, "stack.yaml", ENCRYPTED)
    write(isolated, "deploy/samconfig.toml", FORMATS["samconfig.toml"]("false").replace("default", "prod"))
    write(isolated, "deploy/on.yaml", "EncryptData: true\n")
    # paths are relative to the configuration file, wherever walint runs
    write(
        isolated,
        "deploy/.walint.yaml",
        "select: [WA-SEC-002]\nparameter-files: [samconfig.toml]\nsam-config-env: prod\n",
    )
    assert run(capsys, "stack.yaml", "--config", "deploy/.walint.yaml")[0] == 1
    # --parameters replaces the configuration's files
    assert run(capsys, "stack.yaml", "--config", "deploy/.walint.yaml", "--parameters", "deploy/on.yaml")[0] == 0
    # inline parameters of the configuration win over its files
    write(
        isolated,
        ".walint.yaml",
        "select: [WA-SEC-002]\nparameter-files: [deploy/on.yaml]\nparameters: {EncryptData: 'false'}\n",
    )
    assert run(capsys, "stack.yaml")[0] == 1
    write(isolated, "pyproject.toml", '[tool.walint]\nselect = ["WA-SEC-002"]\nparameter-files = ["deploy/on.yaml"]\n')
    (isolated / ".walint.yaml").unlink()
    assert run(capsys, "stack.yaml")[0] == 0
    # --sam-config-env on the command line wins over the configuration's
    code, _, err = run(capsys, "stack.yaml", "--config", "deploy/.walint.yaml", "--sam-config-env", "qa")
    assert code == 2 and "samconfig.toml: no SAM configuration environment 'qa'" in err


def test_bad_configuration_values(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(isolated, "stack.yaml", ENCRYPTED)
    write(isolated, ".walint.yaml", "sam-config-env: [prod]\n")
    code, _, err = run(capsys, "stack.yaml")
    assert code == 2 and "'sam-config-env' must be a non-empty string" in err
    write(isolated, ".walint.yaml", "parameter-files: {a: b}\n")
    code, _, err = run(capsys, "stack.yaml")
    assert code == 2 and "'parameter-files' must be a list of strings" in err


def test_a_bad_parameter_file_stops_the_run(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(isolated, "stack.yaml", ENCRYPTED)
    write(isolated, "bad.json", '{"EncryptData": [1, {"a": 2}]}')
    code, out, err = run(capsys, "stack.yaml", "--parameters", "bad.json")
    assert code == 2 and out == ""
    assert err == (
        "walint: error: bad.json: line 1: parameter EncryptData: a list value takes only strings, numbers "
        "and booleans\n"
    )


def test_rejected_values_are_an_error_for_that_file_only(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(isolated, "t/stack.yaml", ENCRYPTED)
    write(isolated, "t/other.yaml", ENCRYPTED.replace("[dev, prod]", "[dev, qa]"))
    write(isolated, "t/plain.yaml", "Resources:\n  B:\n    Type: AWS::S3::Bucket\n")
    write(isolated, "qa.json", '[{"ParameterKey": "Env", "ParameterValue": "qa"}, "EncryptData=false"]')
    code, out, _ = run(capsys, "t", "--parameters", "qa.json", "--select", "WA-SEC-001", "-f", "json")
    assert code == 2
    doc = json.loads(out)
    files = {f["path"]: f for f in doc["files"]}
    assert files["t/stack.yaml"]["status"] == "error"
    assert files["t/stack.yaml"]["error"] == "line 6: parameter Env: 'qa' is not one of its AllowedValues (dev, prod)"
    assert files["t/other.yaml"]["status"] == files["t/plain.yaml"]["status"] == "linted"
    assert {(f["file"], f["outcome"]) for f in doc["findings"]} == {("t/other.yaml", "fail"), ("t/plain.yaml", "fail")}


def test_several_rejected_values_are_all_named_in_text(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(isolated, "stack.yaml", ENCRYPTED)
    code, out, _ = run(capsys, "stack.yaml", "--parameter", "Env=qa", "--parameter", "EncryptData=yes")
    assert code == 2
    assert (
        "stack.yaml: line 3: parameter EncryptData: 'yes' does not match its AllowedPattern 'true|false'; "
        "line 6: parameter Env: 'qa' is not one of its AllowedValues (dev, prod)"
    ) in out


def test_defaults_are_not_validated(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        isolated,
        "stack.yaml",
        ENCRYPTED.replace("AllowedValues: [dev, prod]", "AllowedValues: [dev, prod]\n    Default: qa"),
    )
    code, out, _ = run(capsys, "stack.yaml", "--assume-defaults", "--select", "WA-SEC-002", "-f", "json")
    assert code == 0 and json.loads(out)["files"][0]["status"] == "linted"
