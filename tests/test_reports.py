"""Every output format, pinned by snapshots, plus SARIF schema validation, baselines and other
tools' suppressions. Regenerate snapshots with WALINT_UPDATE_SNAPSHOTS=1 after an intended change."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from conftest import ROOT, shared_or_skip

from walint.cli import main

DATA = ROOT / "tests" / "data" / "report"
SNAPSHOTS = ROOT / "tests" / "snapshots"
FORMATS = {"text": "txt", "json": "json", "sarif": "sarif", "github": "txt", "junit": "xml", "markdown": "md"}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(DATA, tmp_path / "templates")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", "templates", "--select", "WA-SEC-002", *args])
    return code, capsys.readouterr().out


def normalise(text: str) -> str:
    from walint import __version__

    return text.replace(__version__, "VERSION")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_format_snapshot(fmt: str, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "--format", fmt)
    assert code == 2  # broken.yaml could not be linted; that wins over the findings
    snapshot = SNAPSHOTS / f"report.{fmt}.{FORMATS[fmt]}"
    if os.environ.get("WALINT_UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(normalise(out), encoding="utf-8")
    assert normalise(out) == snapshot.read_text(encoding="utf-8"), f"regenerate with WALINT_UPDATE_SNAPSHOTS=1 ({fmt})"


def _sarif_validator():  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(shared_or_skip("schemas", "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def test_sarif_validates_and_carries_what_code_scanning_reads(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    validator = _sarif_validator()
    _, out = run(capsys, "--format", "sarif", "--sarif-unknown", "--sarif-suppressed")
    doc = json.loads(out)
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, errors[0]
    (sarif_run,) = doc["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "walint" and driver["version"] and driver["informationUri"]
    rule = driver["rules"][0]
    assert rule["id"] == "WA-SEC-002"
    for key in ("shortDescription", "fullDescription", "help", "helpUri", "defaultConfiguration"):
        assert rule[key]
    assert rule["help"]["text"] and rule["help"]["markdown"]
    assert "security" in rule["properties"]["tags"] and "wa/SEC08-BP02" in rule["properties"]["tags"]
    assert rule["properties"]["security-severity"] == "8.0"
    results = sarif_run["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "templates/with%20space/stack%2C%20100%25.yaml" in uris
    for result in results:
        assert result["ruleIndex"] == 0 and result["ruleId"] == "WA-SEC-002"
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["endColumn"] > region["startColumn"] - 1
        assert "walint/v1" in result["partialFingerprints"]
        assert "suppressions" in result  # all or none, as the spec requires
    levels = {(r["properties"]["outcome"], r["level"]) for r in results}
    assert ("unknown", "note") in levels and ("fail", "error") in levels
    justified = [r for r in results if r["suppressions"]]
    assert {s["justification"] for r in justified for s in r["suppressions"]} >= {
        "Throwaway test data, re-created nightly"
    }
    assert sarif_run["invocations"][0]["toolExecutionNotifications"]  # broken.yaml


def test_sarif_leaves_out_unknown_and_suppressed_by_default(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = run(capsys, "--format", "sarif")
    results = json.loads(out)["runs"][0]["results"]
    assert {r["properties"]["outcome"] for r in results} == {"fail"}
    assert all("suppressions" not in r for r in results)


def test_fingerprints_survive_moved_lines(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, before = run(capsys, "--format", "sarif")
    path = workdir / "templates" / "db.yaml"
    path.write_text("# a comment that moves every line\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    _, after = run(capsys, "--format", "sarif")

    def prints(text: str) -> dict[str, int]:
        return {
            r["partialFingerprints"]["walint/v1"]: r["locations"][0]["physicalLocation"]["region"]["startLine"]
            for r in json.loads(text)["runs"][0]["results"]
        }

    assert set(prints(before)) == set(prints(after))
    assert prints(before) != prints(after)


def test_several_formats_in_one_run(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = run(capsys, "--format", "text", "--format", "sarif:out.sarif", "--format", "junit:out.xml")
    assert "WA-SEC-002" in out
    assert json.loads((workdir / "out.sarif").read_text())["version"] == "2.1.0"
    suites = ET.parse(workdir / "out.xml").getroot()
    assert suites.tag == "testsuites" and int(suites.get("failures", "0")) >= 2
    assert main(["check", "templates", "-f", "json", "-f", "sarif"]) == 2
    assert "only one format can go to standard output" in capsys.readouterr().err


def test_github_annotations_are_escaped(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = run(capsys, "--format", "github")
    line = next(line for line in out.splitlines() if "Warehouse" in line)
    assert line.startswith("::error file=templates/with space/stack%2C 100%25.yaml,line=5,")
    assert "%0ABest practice SEC08-BP02" in line


def test_baseline_reports_only_new_findings(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--write-baseline", "base.json", "-f", "json")[0] == 2
    entries = json.loads((workdir / "base.json").read_text())["entries"]
    assert all("line" not in e for e in entries)
    # edits elsewhere in the file do not resurface old findings
    db = workdir / "templates" / "db.yaml"
    db.write_text(db.read_text().replace("Parameters:", "Description: moved\nParameters:"), encoding="utf-8")
    (workdir / "templates" / "broken.yaml").unlink()
    code, out = run(capsys, "--baseline", "base.json", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and doc["summary"]["failed"] == 0 and doc["summary"]["baselined"] >= 2
    # the same problem in another file is new
    shutil.copy(db, workdir / "templates" / "copy.yaml")
    code, out = run(capsys, "--baseline", "base.json", "-f", "json")
    assert code == 1
    assert {f["file"] for f in json.loads(out)["findings"] if not f["suppressed"]} == {"templates/copy.yaml"}


def test_other_tools_suppressions_are_honoured_and_can_be_turned_off(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = run(capsys, "-f", "json")
    nagged = next(f for f in json.loads(out)["findings"] if f["resource"] == "NaggedDb")
    assert nagged["suppressed"] == {
        "reason": "Encrypted by the snapshot it restores (suppressed for cfn_nag F27)",
        "source": "cfn_nag",
    }
    _, out = run(capsys, "-f", "json", "--no-other-tool-suppressions")
    nagged = next(f for f in json.loads(out)["findings"] if f["resource"] == "NaggedDb")
    assert nagged["suppressed"] is None
