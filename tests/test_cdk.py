"""CDK output: `walint check cdk.out` lints the stack templates of a real cloud assembly (made by
`cdk synth`, see tests/data/cdk/README.md) and every report shows the construct behind a finding."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from conftest import ROOT, shared_or_skip

from walint.catalog import Rule, taggable_types
from walint.cli import main
from walint.discover import discover
from walint.engine import RuleIndex
from walint.findings import FileResult, FileStatus, Finding, Location, Outcome, Risk, RunResult, Span
from walint.fingerprint import fingerprint
from walint.reporters import FORMATS, render
from walint.reporters.resource import construct_path, label

DATA = ROOT / "tests" / "data" / "cdk"
ASSEMBLY = DATA / "cdk.out"
DEMO = "cdk.out/WalintDemo.template.json"
NESTED_STACK = "cdk.out/WalintDemoAlertsF3A68B57.nested.template.json"
STAGE_STACK = "cdk.out/assembly-Prod/ProdApi2466CF1F.template.json"
TEMPLATES = {DEMO, NESTED_STACK, STAGE_STACK}
ASSET = "cdk.out/asset.b6cbec8ce6153537b526cc43fec2b4b0583eecd857845c4525be23a48d68fd64"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture as a user's CDK app: the checked-in app source beside its cdk.out."""
    shutil.copytree(DATA, tmp_path / "app", dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path / "app")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return tmp_path / "app"


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    return code, capsys.readouterr().out


def check_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out = check(capsys, *args, "--format", "json")
    doc: dict[str, Any] = json.loads(out)
    assert code == 1, doc["files"]  # findings, and no file that could not be linted
    return doc


def findings_on(doc: dict[str, Any], resource: str) -> dict[str, dict[str, Any]]:
    return {f["rule_id"]: f for f in doc["findings"] if f["resource"] == resource}


def line_of(path: Path, resource: str, key: str) -> int:
    """The 1-based line of `key` inside the resource's block of a synthesized template."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, text in enumerate(lines) if text.strip() == f'"{resource}": {{')
    return next(i for i in range(start, len(lines)) if lines[i].strip().startswith(f'"{key}"')) + 1


# -- discovery --------------------------------------------------------------------------------


def test_only_the_stack_templates_of_the_assembly_are_linted(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = check_json(capsys, "cdk.out")
    # Manifest stacks, the Stage's nested assembly and the NestedStack template; not manifest.json,
    # tree.json, *.assets.json, *.metadata.json, validation-report.json, the cdk.out marker or assets.
    assert {f["path"] for f in doc["files"]} == TEMPLATES
    assert {f["status"] for f in doc["files"]} == {"linted"}
    assert not [f for f in doc["findings"] if f["file"].startswith(ASSET)]


def test_the_asset_template_would_be_reported_if_it_were_walked(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The decoy in the asset directory is a template with findings: skipping it is discovery's doing.
    decoy = f"{ASSET}/template.yaml"
    code, out = check(capsys, decoy, "--format", "json")
    assert code == 1 and any(f["file"] == decoy for f in json.loads(out)["findings"])


def test_the_parent_directory_finds_the_same_templates(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = check_json(capsys, ".")
    linted = {f["path"] for f in doc["files"] if f["status"] == "linted"}
    # The app's own handler directory holds the template the asset was bundled from: a source
    # file of the repository, linted as any other (an --exclude leaves it out).
    assert linted == TEMPLATES | {"app/handler/template.yaml"}
    assert {f["path"] for f in doc["files"] if f["status"] == "skipped"} == {"app/cdk.json", "app/package.json"}
    doc = check_json(capsys, ".", "--exclude", "app")
    assert {f["path"] for f in doc["files"]} == TEMPLATES


def test_an_assembly_named_by_its_absolute_path(tmp_path: Path) -> None:
    candidates, problems = discover([str(ASSEMBLY)], cwd=str(tmp_path))
    assert not problems
    assert {Path(c.path).relative_to(DATA).as_posix() for c in candidates} == TEMPLATES


def _assembly(root: Path, manifest: object, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(
        manifest if isinstance(manifest, str) else json.dumps(manifest), encoding="utf-8"
    )
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


TEMPLATE = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}'


def _stack(template_file: str) -> dict[str, Any]:
    return {"type": "aws:cloudformation:stack", "properties": {"templateFile": template_file}}


def test_unreadable_manifest_falls_back_to_template_files(tmp_path: Path) -> None:
    _assembly(
        tmp_path / "cdk.out",
        "{ not json",
        {
            "cdk.out": '{"version":"36.0.0"}',
            "A.template.json": TEMPLATE,
            "tree.json": "{}",
            "asset.1234/template.yaml": "Resources: {}",
            "assembly-Stage/B.template.json": TEMPLATE,
            "assembly-Stage/asset.5678/C.template.json": TEMPLATE,
        },
    )
    candidates, problems = discover([str(tmp_path)], cwd=str(tmp_path))
    assert not problems
    assert [c.display for c in candidates] == ["cdk.out/A.template.json", "cdk.out/assembly-Stage/B.template.json"]


def test_broken_assemblies_are_reported_not_guessed(tmp_path: Path) -> None:
    _assembly(
        tmp_path / "cdk.out",
        {
            "version": "36.0.0",
            "artifacts": {
                "Gone": _stack("Gone.template.json"),
                "Escapes": _stack("../outside.template.json"),
                "Absolute": _stack("/etc/passwd"),
                "NoFile": {"type": "aws:cloudformation:stack", "properties": {}},
                "Here": _stack("Here.template.json"),
                "Self": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "."}},
                "Missing": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-X"}},
                "Odd": "not an artifact",
            },
        },
        {"Here.template.json": TEMPLATE},
    )
    (tmp_path / "outside.template.json").write_text(TEMPLATE, encoding="utf-8")
    candidates, problems = discover([str(tmp_path / "cdk.out")], cwd=str(tmp_path))
    assert [c.display for c in candidates] == ["cdk.out/Here.template.json"]
    assert sorted(problems) == [
        ("cdk.out/Gone.template.json", "the template of stack Gone does not exist (synthesize again)"),
        ("cdk.out/manifest.json", "nested assembly Missing names no directory inside the assembly"),
        ("cdk.out/manifest.json", "nested assembly Self names no directory inside the assembly"),
        ("cdk.out/manifest.json", "stack Absolute names no template file inside the assembly"),
        ("cdk.out/manifest.json", "stack Escapes names no template file inside the assembly"),
        ("cdk.out/manifest.json", "stack NoFile names no template file inside the assembly"),
    ]


def test_broken_assembly_is_an_error_of_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _assembly(tmp_path / "cdk.out", {"artifacts": {"Gone": _stack("Gone.template.json")}}, {})
    code, out = check(capsys, str(tmp_path / "cdk.out"), "--format", "json")
    assert code == 2
    (error,) = json.loads(out)["files"]
    assert error["path"].endswith("cdk.out/Gone.template.json") and "does not exist" in error["error"]


def test_a_nested_assembly_named_twice_is_read_once(tmp_path: Path) -> None:
    nested = {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-A"}}
    again = {"type": "cdk:cloud-assembly", "properties": {"directoryName": "./assembly-A/"}}
    _assembly(
        tmp_path / "out",
        {"artifacts": {"A": nested, "Again": again, "S": _stack("S.template.json")}},
        {"S.template.json": "{}"},
    )
    _assembly(
        tmp_path / "out" / "assembly-A", {"artifacts": {"T": _stack("T.template.json")}}, {"T.template.json": "{}"}
    )
    candidates, problems = discover([str(tmp_path)], cwd=str(tmp_path))
    assert not problems
    assert [c.display for c in candidates] == ["out/S.template.json", "out/assembly-A/T.template.json"]


def test_a_loop_through_a_symlinked_directory_ends(tmp_path: Path) -> None:
    loop = {"type": "cdk:cloud-assembly", "properties": {"directoryName": "up/assembly-A"}}
    nested = {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-A"}}
    _assembly(tmp_path / "out", {"artifacts": {"A": nested}}, {})
    inner = _assembly(
        tmp_path / "out" / "assembly-A",
        {"artifacts": {"L": loop, "T": _stack("T.template.json")}},
        {"T.template.json": "{}"},
    )
    try:
        (inner / "up").symlink_to("..", target_is_directory=True)
    except OSError:
        pytest.skip("symbolic links are not available here")
    candidates, problems = discover([str(tmp_path / "out")], cwd=str(tmp_path))
    assert not problems
    assert [c.display for c in candidates] == ["out/assembly-A/T.template.json"]


def test_a_web_manifest_is_not_an_assembly(tmp_path: Path) -> None:
    site = tmp_path / "public"
    site.mkdir()
    (site / "manifest.json").write_text('{"name": "My app", "icons": []}', encoding="utf-8")
    (site / "stack.yaml").write_text("Resources: {}", encoding="utf-8")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{", encoding="utf-8")
    candidates, problems = discover([str(tmp_path)], cwd=str(tmp_path))
    assert not problems
    assert [c.display for c in candidates] == ["broken/manifest.json", "public/manifest.json", "public/stack.yaml"]


# -- findings on the synthesized templates ------------------------------------------------------


def test_findings_carry_the_construct_path_and_the_synthesized_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = check_json(capsys, "cdk.out")
    template = workdir / DEMO
    bucket = findings_on(doc, "Uploads4F6EB0FD")
    for rule in ("WA-REL-017", "WA-SEC-001"):  # no versioning; no encryption (BucketEncryption.UNENCRYPTED)
        assert bucket[rule]["cdk_path"] == "WalintDemo/Uploads/Resource"
        assert bucket[rule]["file"] == DEMO
        assert bucket[rule]["line"] == line_of(template, "Uploads4F6EB0FD", "Properties")
    table = findings_on(doc, "OrdersA9B65338")["WA-REL-011"]  # no point-in-time recovery
    assert table["cdk_path"] == "WalintDemo/Orders/Resource"
    assert table["line"] == line_of(template, "OrdersA9B65338", "Properties")
    assert findings_on(doc, "Worker11F36D0F")["WA-OPS-003"]["cdk_path"] == "WalintDemo/Worker/Resource"
    assert findings_on(doc, "TopicBFC7AF6E")["WA-COST-001"]["cdk_path"] == "WalintDemo/Alerts/Topic/Resource"
    handler = findings_on(doc, "Handler886CB40B")["WA-OPS-003"]
    assert (handler["file"], handler["cdk_path"]) == (STAGE_STACK, "Prod/Api/Handler/Resource")
    # Every finding of CDK output is on a resource CDK wrote, so every one carries its path.
    assert all(f["cdk_path"] and f["generated"] is None for f in doc["findings"])


def test_cdk_plumbing_produces_nothing(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = check_json(capsys, "cdk.out")
    assert not [f for f in doc["findings"] if f["resource_type"] == "AWS::CDK::Metadata"]
    assert not [f for f in doc["findings"] if f["resource"] is None]  # BootstrapVersion, CheckBootstrapVersion
    for key in ("BootstrapVersion", "CheckBootstrapVersion", "CDKMetadataAvailable", "CDKMetadata"):
        assert not [f for f in doc["findings"] if key in json.dumps(f)], key
    # The CDKMetadataAvailable condition (a Region list) makes nothing undecided.
    assert doc["summary"]["unknown"] == 0
    assert all(not f["notes"] for f in doc["files"])


def test_no_rule_is_written_for_cdk_metadata(rules: list[Rule]) -> None:
    assert "AWS::CDK::Metadata" not in taggable_types()
    assert not [r.id for r in rules if "AWS::CDK::Metadata" in r.resource_types]
    # Rules for every type (hard-coded secrets, Regions) meet it, and pass on what CDK writes there.
    wildcard = {r.id for r in RuleIndex(rules).for_type("AWS::CDK::Metadata")}
    assert "WA-COST-001" not in wildcard


# -- reports ----------------------------------------------------------------------------------


def test_text_shows_the_construct_path(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys, "cdk.out", "--select", "WA-REL-017,WA-REL-011")
    assert code == 1
    assert "(Uploads4F6EB0FD, WalintDemo/Uploads)" in out
    assert "(OrdersA9B65338, WalintDemo/Orders)" in out
    assert "/Resource" not in out


def test_sarif_carries_the_construct_path_and_validates(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(shared_or_skip("schemas", "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    _, out = check(capsys, "cdk.out", "--format", "sarif", "--sarif-unknown", "--sarif-suppressed")
    doc = json.loads(out)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=str)
    assert not errors, errors[0]
    results = doc["runs"][0]["results"]
    versioning = next(
        r
        for r in results
        if r["ruleId"] == "WA-REL-017" and r["locations"][0]["logicalLocations"][0]["name"] == "Uploads4F6EB0FD"
    )
    logical = versioning["locations"][0]["logicalLocations"]
    assert {"name": "Uploads", "kind": "resource", "fullyQualifiedName": "WalintDemo/Uploads/Resource"} in logical
    assert versioning["properties"]["cdkPath"] == "WalintDemo/Uploads/Resource"
    assert "Uploads4F6EB0FD (WalintDemo/Uploads)" in versioning["message"]["text"]
    assert all("cdkPath" in r["properties"] for r in results)


def test_construct_paths_are_shown_without_the_l1_ids() -> None:
    assert construct_path("MyStack/Bucket/Resource") == "MyStack/Bucket"
    assert construct_path("MyStack/Custom/Default") == "MyStack/Custom"
    assert construct_path("MyStack/Thing/Default/Resource") == "MyStack/Thing"
    assert construct_path("MyStack/ResourceGroup") == "MyStack/ResourceGroup"
    assert construct_path("Resource") == "Resource"


def _finding(resource: str | None, cdk_path: str | None = None, generated: str | None = None) -> Finding:
    return Finding(
        rule_id="WA-SEC-002",
        title="Database storage is not encrypted at rest",
        pillar="security",
        best_practice="SEC08-BP02",
        risk=Risk.HIGH,
        outcome=Outcome.FAIL,
        message=f"{resource} is open",
        location=Location(
            "stack.yaml",
            Span(4, 3, 4, 20),
            resource,
            "AWS::Serverless::Function",
            ("Resources", "Fn"),
            cdk_path,
            generated,
        ),
        remediation_url="https://example.invalid/fix",
    )


def test_sam_generated_resources_are_named_in_every_format(rules: list[Rule]) -> None:
    # The engine fills `generated` for findings SAM's output produced; render what it says.
    both = _finding("MyFunction", "App/MyFunction/Resource", "MyFunctionRole")
    run = RunResult((FileResult("stack.yaml", FileStatus.LINTED, None, 1, (both,)),), Risk.MEDIUM, False)
    assert label(both.location) == "MyFunction (App/MyFunction, generated MyFunctionRole)"
    assert label(_finding("MyFunction", None, "MyFunctionRole").location) == "MyFunction (generated MyFunctionRole)"
    assert label(_finding(None, "App/X/Resource").location) == ""
    selected = [r for r in rules if r.id == "WA-SEC-002"]
    for fmt in FORMATS:
        out = render(fmt, run, selected)
        assert "MyFunctionRole" in out, fmt
        assert "App/MyFunction" in out, fmt
    doc = json.loads(render("json", run, selected))
    assert (doc["findings"][0]["cdk_path"], doc["findings"][0]["generated"]) == (
        "App/MyFunction/Resource",
        "MyFunctionRole",
    )
    sarif = json.loads(render("sarif", run, selected))["runs"][0]["results"][0]
    assert sarif["properties"]["generatedResource"] == "MyFunctionRole"
    case = ET.fromstring(render("junit", run, selected)).find("testsuite/testcase")
    assert case is not None and case.get("name") == "WA-SEC-002 MyFunction (App/MyFunction)"


def test_fingerprints_and_baselines_ignore_the_construct_path() -> None:
    # CDK derives a logical id from the construct path, so the id already changes when the
    # construct moves; keying on the path too would only break baselines written before it existed.
    plain = _finding("Bucket83908E77")
    assert fingerprint(plain) == fingerprint(replace(plain, location=replace(plain.location, cdk_path="S/Bucket")))
    assert fingerprint(plain) == fingerprint(replace(plain, location=replace(plain.location, generated="Role")))


def test_baseline_of_cdk_output(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(capsys, "cdk.out", "--write-baseline", "base.json", "--format", "json")[0] == 1
    entries = json.loads((workdir / "base.json").read_text(encoding="utf-8"))["entries"]
    assert entries and all("cdk_path" not in e for e in entries)
    code, out = check(capsys, "cdk.out", "--baseline", "base.json", "--format", "json")
    assert code == 0 and json.loads(out)["summary"]["failed"] == 0
