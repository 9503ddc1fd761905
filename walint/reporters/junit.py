"""JUnit XML: a test suite per template, a test case per rule and resource, failures for findings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from walint.catalog import Rule
from walint.findings import Finding, Outcome, RunResult
from walint.reporters.resource import label


def render(run: RunResult, rules: Sequence[Rule]) -> str:
    suites = ET.Element("testsuites", name="walint")
    total_tests = total_failures = total_errors = total_skipped = 0
    for result in run.files:
        if result.status.value == "skipped":
            continue
        suite = ET.SubElement(suites, "testsuite", name=result.path)
        tests = failures = errors = skipped = 0
        if result.status.value == "error":
            case = ET.SubElement(suite, "testcase", name="parse", classname=result.path)
            ET.SubElement(case, "error", message=result.error or "could not be linted")
            tests, errors = 1, 1
        grouped: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for f in result.findings:
            grouped[(f.rule_id, f.location.resource or "")].append(f)
        for (rule_id, _), found in sorted(grouped.items()):
            first = found[0]
            # The construct path is the resource's (the same for the whole group); which SAM-generated
            # resource failed can differ within the group, so it goes on each failure line.
            resource = label(first.location, generated=False)
            case = ET.SubElement(
                suite, "testcase", name=f"{rule_id} {resource}".strip(), classname=f"{result.path}.{rule_id}"
            )
            tests += 1
            if all(f.suppressed for f in found):
                ET.SubElement(
                    case, "skipped", message=f"suppressed: {first.suppressed.reason if first.suppressed else ''}"
                )
                skipped += 1
            elif all(f.outcome is Outcome.UNKNOWN for f in found):
                ET.SubElement(case, "skipped", message=f"undecided: {first.message}")
                skipped += 1
            else:
                failure = ET.SubElement(case, "failure", message=first.message, type=first.risk.value)
                failure.text = "\n".join(
                    f"{_where(f)} {f.rule_id} {f.risk.value} {f.message}"
                    f"{f' (generated {f.location.generated})' if f.location.generated else ''}"
                    f"\nBest practice {f.best_practice}: {f.remediation_url}"
                    for f in found
                )
                failures += 1
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
        total_tests += tests
        total_failures += failures
        total_errors += errors
        total_skipped += skipped
    suites.set("tests", str(total_tests))
    suites.set("failures", str(total_failures))
    suites.set("errors", str(total_errors))
    suites.set("skipped", str(total_skipped))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _where(f: Finding) -> str:
    return f"{f.location.file}:{f.location.span.line}:{f.location.span.column}"
