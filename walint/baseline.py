"""Baselines: record today's findings so that only new ones are reported.

The file keys findings by fingerprint (rule, file, resource, property path; no line numbers), so
edits elsewhere do not resurface old findings and the same problem in another file is new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from walint import __version__
from walint.findings import FileResult, Finding
from walint.fingerprint import fingerprint, stable_path

VERSION = 1


class BaselineError(Exception):
    pass


def write(path: str, findings: Iterable[Finding]) -> int:
    entries = sorted(
        (
            {
                "fingerprint": fingerprint(f),
                "rule": f.rule_id,
                "file": f.location.file,
                "resource": f.location.resource,
                "path": [str(p) for p in stable_path(f.location.path)],
                "outcome": f.outcome.value,
            }
            for f in findings
            if f.suppressed is None
        ),
        key=lambda e: (e["file"], e["rule"], e["resource"] or "", e["fingerprint"]),
    )
    document = {"version": VERSION, "tool": {"name": "walint", "version": __version__}, "entries": entries}
    try:
        Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return len(entries)


def load(path: str) -> frozenset[str]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"{path}: not a walint baseline (invalid JSON: {exc})") from None
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list) or document.get("version") != VERSION:
        raise BaselineError(f"{path}: not a walint baseline (expected version {VERSION} with entries)")
    return frozenset(e["fingerprint"] for e in entries if isinstance(e, dict) and isinstance(e.get("fingerprint"), str))


def apply(results: Iterable[FileResult], known: frozenset[str]) -> tuple[list[FileResult], int]:
    """The results without baselined findings, and how many were dropped."""
    kept: list[FileResult] = []
    dropped = 0
    for result in results:
        fresh = tuple(f for f in result.findings if f.suppressed is not None or fingerprint(f) not in known)
        dropped += len(result.findings) - len(fresh)
        kept.append(replace(result, findings=fresh))
    return kept, dropped
