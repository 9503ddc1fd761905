"""Line-independent finding fingerprints, shared by SARIF and baselines.

A fingerprint is the rule, the file, the resource and the property path: an edit elsewhere in the
file does not change it, and the same problem in another file is a different finding.
"""

from __future__ import annotations

import hashlib

from walint.findings import Finding, Path, without_if


def stable_path(path: Path) -> Path:
    """The property path without Fn::If plumbing, so that wrapping a value in a condition does
    not make an old finding new."""
    return without_if(path)


def fingerprint(finding: Finding) -> str:
    parts = [
        finding.rule_id,
        finding.location.file.replace("\\", "/"),
        finding.location.resource or "",
        "/".join(str(p) for p in stable_path(finding.location.path)),
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
