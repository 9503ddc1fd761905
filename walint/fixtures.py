"""The fixture convention: templates annotated with the findings they must produce.

    Properties:                  # walint-expect: WA-SEC-002            (a FAIL on this line)
      Encrypt: !Ref P            # walint-expect-unknown: WA-SEC-002    (an UNKNOWN)
      …                          # walint-expect-suppressed: WA-SEC-011 (a suppressed FAIL)
      …                          # walint-todo: WA-SEC-002              (a known miss: nothing today)

JSON has no comments: `fail.json` is annotated by `fail.json.expect`, one `LINE KIND RULE` per
line (`8 fail WA-SEC-002`). Used by the test suite and by the documentation generator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from walint.findings import FileResult

_ANNOTATION = re.compile(r"#\s*walint-(expect|expect-unknown|expect-suppressed|todo):\s*([A-Z0-9\-, ]+)")
_KINDS = {"expect": "fail", "expect-unknown": "unknown", "expect-suppressed": "suppressed", "todo": "todo"}
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")


@dataclass(frozen=True, slots=True)
class Expectation:
    line: int
    kind: str  # fail | unknown | suppressed | todo
    rule_id: str


def expectations(path: Path) -> set[Expectation]:
    found: set[Expectation] = set()
    sidecar = path.with_name(path.name + ".expect")
    if sidecar.exists():
        for raw in sidecar.read_text(encoding="utf-8").splitlines():
            raw = raw.split("#", 1)[0].strip()
            if raw:
                line, kind, rule_id = raw.split()
                found.add(Expectation(int(line), kind, rule_id))
        return found
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for match in _ANNOTATION.finditer(text):
            for rule_id in match.group(2).replace(",", " ").split():
                found.add(Expectation(number, _KINDS[match.group(1)], rule_id))
    return found


def observed(result: FileResult) -> set[Expectation]:
    out = set()
    for finding in result.findings:
        kind = "suppressed" if finding.suppressed else finding.outcome.value
        out.add(Expectation(finding.location.span.line, kind, finding.rule_id))
    return out


def fixture_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in TEMPLATE_SUFFIXES)
