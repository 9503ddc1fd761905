"""Pure data passed between the pipeline stages: outcomes, locations, findings, file results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

PathKey = str | int
Path = tuple[PathKey, ...]


def without_if(path: Path) -> Path:
    """A path without its Fn::If plumbing ("Fn::If" and the branch index), as a user reads it:
    wrapping a value in a condition does not change where it is."""
    out: list[PathKey] = []
    skip = 0
    for part in path:
        if skip:
            skip -= 1
        elif part == "Fn::If":
            skip = 1
        else:
            out.append(part)
    return tuple(out)


class Risk(enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe; used for --fail-on and sorting."""
        return _RISK_RANK[self]

    @classmethod
    def parse(cls, text: str) -> Risk:
        return cls(text.strip().lower())


_RISK_RANK = {Risk.CRITICAL: 5, Risk.HIGH: 4, Risk.MEDIUM: 3, Risk.LOW: 2, Risk.INFO: 1}

PILLARS = (
    "operational-excellence",
    "security",
    "reliability",
    "performance-efficiency",
    "cost-optimization",
    "sustainability",
)

PILLAR_TITLES = {
    "operational-excellence": "Operational excellence",
    "security": "Security",
    "reliability": "Reliability",
    "performance-efficiency": "Performance efficiency",
    "cost-optimization": "Cost optimization",
    "sustainability": "Sustainability",
}

PILLAR_PREFIX = {
    "OPS": "operational-excellence",
    "SEC": "security",
    "REL": "reliability",
    "PERF": "performance-efficiency",
    "COST": "cost-optimization",
    "SUS": "sustainability",
}


#: Findings about walint's own in-template configuration (a suppression without a reason).
META_RULE_ID = "WA-META-001"
META_URL = "https://github.com/walint/walint/blob/main/README.md#suppressing-a-finding"


class Outcome(enum.Enum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not-applicable"


class FileStatus(enum.Enum):
    LINTED = "linted"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Span:
    """A 1-based source region."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    span: Span
    resource: str | None
    resource_type: str | None
    path: Path
    #: The CDK construct path (`aws:cdk:path` metadata) of the resource, so a CDK user finds the
    #: construct rather than a synthesized logical id.
    cdk_path: str | None = None
    #: The logical id of the resource a transform (SAM) generated and the rule judged, when the
    #: finding is reported on the resource the user wrote (`resource`).
    generated: str | None = None


@dataclass(frozen=True, slots=True)
class Suppression:
    reason: str
    source: str  # "walint" today; other tools' suppressions later


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    title: str
    pillar: str
    best_practice: str
    risk: Risk
    outcome: Outcome  # FAIL or UNKNOWN
    message: str
    location: Location
    remediation_url: str
    reasons: tuple[str, ...] = ()
    suppressed: Suppression | None = None

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (
            self.location.file,
            self.location.span.line,
            self.location.span.column,
            self.rule_id,
            self.location.resource or "",
        )


@dataclass(frozen=True, slots=True)
class RuleTally:
    """Per (file, rule) counts of evaluated resources, for pass rates and scorecards."""

    rule_id: str
    passed: int
    failed: int
    unknown: int


@dataclass(frozen=True, slots=True)
class NestedStack:
    """A nested stack whose template is a local file: linted with the values its parent passes."""

    resource: str  # the parent's AWS::CloudFormation::Stack or AWS::Serverless::Application
    template: str  # TemplateURL / Location as written, relative to the parent's directory
    parameters: tuple[tuple[str, str], ...]  # values the parent passes that are known
    undecided: tuple[str, ...] = ()  # parameters the parent passes with values it cannot know


@dataclass(frozen=True, slots=True)
class FileResult:
    path: str
    status: FileStatus
    error: str | None = None
    resources: int = 0
    findings: tuple[Finding, ...] = ()
    tallies: tuple[RuleTally, ...] = field(default=())
    notes: tuple[str, ...] = ()  # what could not be checked in a linted file, and why
    nested: tuple[NestedStack, ...] = ()  # local nested-stack templates, for the runner to lint
    #: For a template linted as a nested stack: "Data of parent.yaml", each use once.
    nested_in: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunResult:
    """Everything one run produced, in deterministic order; reporters read only this."""

    files: tuple[FileResult, ...]
    fail_on: Risk | None
    strict: bool
    baselined: int = 0  # findings left out because the baseline already records them

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for r in self.files for f in r.findings)

    def is_failing(self, finding: Finding) -> bool:
        """Whether this finding fails the run (exit code 1)."""
        if finding.suppressed is not None or self.fail_on is None:
            return False
        if finding.outcome is Outcome.UNKNOWN and not self.strict:
            return False
        return finding.risk.rank >= self.fail_on.rank

    @property
    def exit_code(self) -> int:
        if any(r.status is FileStatus.ERROR for r in self.files):
            return 2  # a file that could not be linted wins over findings: the gate is blind there
        return 1 if any(self.is_failing(f) for f in self.findings) else 0
