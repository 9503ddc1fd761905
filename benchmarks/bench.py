"""Time walint beside cfn-lint and checkov on the same machine, in the same run.

    python benchmarks/bench.py [--corpus ../shared/corpus] [--runs 3] [--tools walint,cfn-lint,checkov]
                               [--output docs/benchmarks.md]

Measures, for each tool found on PATH (or given with --cfn-lint / --checkov):
  - one small template, whole process, as a pre-commit hook runs it (and one small SAM template);
  - the whole corpus in one invocation (templates that abort a tool's run are left out of that
    tool's run only, from ../shared/bench/bench_exclude.txt);
and for walint also: the time to only parse the corpus (the floor), and templates of 1,000 to
10,000 resources (cost must be linear). Reports medians, ratios and peak memory (max RSS of the
process tree's largest process, from wait4), with the machine described, and rewrites
docs/benchmarks.md with the command that produced it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT_EXCLUDE = ROOT.parent / "shared" / "bench" / "bench_exclude.txt"
SUFFIXES = (".yaml", ".yml", ".json", ".template")
ONE_RESOURCE = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
#: A small SAM template: walint runs AWS's SAM translator on it, which a plain template does not pay.
ONE_SAM = (
    "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
    "    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: src/\n"
    "      Policies: [AWSLambdaBasicExecutionRole]\n"
)


@dataclass
class Sample:
    wall: float
    rss_mb: float
    code: int


# Every tool runs as installed: with its bytecode cached. (Some machines set
# PYTHONDONTWRITEBYTECODE, which would make walint, run from a source tree, recompile itself on
# every start while the installed tools load their cached bytecode.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(cmd: list[str], cwd: Path | None = None) -> Sample:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Sample(wall, usage.ru_maxrss / 1024, proc.returncode)


def repeat(cmd: list[str], runs: int, cwd: Path | None = None, *, warm: bool = False) -> list[Sample]:
    if warm:
        measure(cmd, cwd)  # not counted: file cache and bytecode as in everyday use
    return [measure(cmd, cwd) for _ in range(runs)]


def median(samples: list[Sample]) -> float:
    return statistics.median(s.wall for s in samples)


def peak(samples: list[Sample]) -> float:
    return max(s.rss_mb for s in samples)


def machine() -> list[str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [
        f"- {platform.system()} {platform.release()} {platform.machine()}, {cores} cores ({model or 'unknown CPU'}), "
        f"{memory} memory; 1-minute load at the start: {load:.2f}",
        f"- Python {platform.python_version()}",
    ]


def version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[-1] if (out.stdout or out.stderr).strip() else "?"


def synthetic(resources: int, path: Path) -> None:
    lines = ["AWSTemplateFormatVersion: '2010-09-09'", "Resources:"]
    for i in range(resources // 4):
        lines += [
            f"  Bucket{i}:",
            "    Type: AWS::S3::Bucket",
            "    Properties:",
            f"      BucketName: !Sub 'b-{i}-${{AWS::AccountId}}'",
            f"  Queue{i}:",
            "    Type: AWS::SQS::Queue",
            "    Properties:",
            "      VisibilityTimeout: 60",
            f"  Role{i}:",
            "    Type: AWS::IAM::Role",
            "    Properties:",
            "      AssumeRolePolicyDocument:",
            "        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]",
            f"  Alarm{i}:",
            "    Type: AWS::CloudWatch::Alarm",
            "    Properties:",
            "      MetricName: Errors",
            "      Namespace: AWS/SQS",
            "      Statistic: Sum",
            "      Period: 60",
            "      EvaluationPeriods: 1",
            "      Threshold: 1",
            "      ComparisonOperator: GreaterThanThreshold",
            f"      Dimensions: [{{Name: QueueName, Value: !GetAtt Queue{i}.QueueName}}]",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default="walint,cfn-lint,checkov")
    parser.add_argument("--exclude", type=Path, default=DEFAULT_EXCLUDE)
    parser.add_argument(
        "--walint",
        default="",
        help="the walint command to time, e.g. a venv made with `pip install .` (default: this interpreter's "
        "walint, which in a dev environment also carries the test extras)",
    )
    parser.add_argument("--cfn-lint", default=shutil.which("cfn-lint") or "")
    parser.add_argument("--checkov", default=shutil.which("checkov") or "")
    parser.add_argument("--scaling", default="1000,5000,10000", help="synthetic template sizes for walint ('' to skip)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    files = sorted(p for p in args.corpus.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    excluded: set[str] = set()
    if args.exclude.is_file():
        excluded = {
            line.strip() for line in args.exclude.read_text().splitlines() if line.strip() and not line.startswith("#")
        }
    walint = [args.walint] if args.walint else [sys.executable, "-m", "walint.cli"]
    commands = {
        "walint": (walint + ["check", "--fail-on", "none", "-f", "json", "-o", os.devnull], "walint"),
        "cfn-lint": ([args.cfn_lint, "--format", "parseable"] if args.cfn_lint else [], "cfn-lint"),
        "checkov": (
            [args.checkov, "--framework", "cloudformation", "-o", "json", "--quiet", "--skip-download"]
            if args.checkov
            else [],
            "checkov",
        ),
    }
    rows: list[tuple[str, str, float, float, int]] = []
    notes: list[str] = []
    versions = {"walint": version(walint + ["--version"])}
    if args.cfn_lint:
        versions["cfn-lint"] = version([args.cfn_lint, "--version"])
    if args.checkov:
        versions["checkov"] = version([args.checkov, "--version"])
    results: dict[tuple[str, str], list[Sample]] = {}

    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.yaml"
        one.write_text(ONE_RESOURCE, encoding="utf-8")
        one_sam = Path(tmp) / "one-sam.yaml"
        one_sam.write_text(ONE_SAM, encoding="utf-8")
        for tool in tools:
            base, _ = commands[tool]
            if not base:
                notes.append(f"{tool} is not installed here; its rows are missing.")
                continue
            single = base + (["-f", str(one)] if tool == "checkov" else [str(one)])
            print(f"{tool}: one template …", file=sys.stderr)
            results[(tool, "one")] = repeat(single, args.runs, warm=True)
            single_sam = base + (["-f", str(one_sam)] if tool == "checkov" else [str(one_sam)])
            print(f"{tool}: one SAM template …", file=sys.stderr)
            results[(tool, "one-sam")] = repeat(single_sam, args.runs, warm=True)
            # A template that aborts a tool's whole run is left out of that tool's run only.
            skip = set() if tool == "walint" else excluded
            corpus_files = [str(f) for f in files if f.relative_to(args.corpus).as_posix() not in skip]
            if tool == "checkov":
                skips = [arg for name in sorted(skip) for arg in ("--skip-path", name)]
                whole = base + ["-d", str(args.corpus), *skips]
            else:
                whole = base + corpus_files
            print(f"{tool}: whole corpus ({len(corpus_files)} templates) …", file=sys.stderr)
            results[(tool, "corpus")] = repeat(whole, args.runs)
        if "walint" in tools:
            # The floor is measured in one process; so is walint with --jobs 1, for a fair gap.
            serial = commands["walint"][0] + ["--jobs", "1", *[str(f) for f in files]]
            print("walint: whole corpus, one process …", file=sys.stderr)
            results[("walint", "corpus-serial")] = repeat(serial, args.runs)
            parse_only = [sys.executable, str(ROOT / "benchmarks" / "parse_only.py"), *[str(f) for f in files]]
            results[("walint", "parse")] = repeat(parse_only, args.runs)
            for size in [int(s) for s in args.scaling.split(",") if s.strip()]:
                big = Path(tmp) / f"big-{size}.yaml"
                synthetic(size, big)
                print(f"walint: {size} resources …", file=sys.stderr)
                scaled = walint + ["check", "--fail-on", "none", "-f", "json", "-o", os.devnull, str(big)]
                results[("walint", f"scale-{size}")] = repeat(scaled, 1)

    for (tool, what), samples in results.items():
        rows.append((tool, what, median(samples), peak(samples), samples[0].code))

    def wall(tool: str, what: str) -> float | None:
        found = results.get((tool, what))
        return median(found) if found else None

    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/bench.py "
        + " ".join(a for a in sys.argv[1:])
        + f"` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; do not edit by hand.",
        "",
        "## Machine and tools",
        "",
        *machine(),
        *[f"- {tool}: {v}" for tool, v in versions.items()],
        f"- Corpus: {len(files)} files under `{args.corpus.name}/`; {len(excluded)} excluded from the other tools' "
        "runs because they abort them (`shared/bench/bench_exclude.txt`); walint lints all of them.",
        f"- {args.runs} run(s) per measurement; medians of wall time; peak memory is the largest max RSS.",
        "",
        "## Results",
        "",
        "| tool | measurement | median wall (s) | peak RSS (MB) | exit |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    labels = {
        "one": "one small template, whole process",
        "one-sam": "one small SAM template, whole process",
        "corpus": "whole corpus, one invocation",
        "corpus-serial": "whole corpus, one invocation, --jobs 1",
        "parse": "parse only, one process (the floor)",
    }
    for tool, what, seconds, rss, code in rows:
        label = labels.get(what, f"synthetic template, {what.removeprefix('scale-')} resources")
        lines.append(f"| {tool} | {label} | {seconds:.2f} | {rss:.0f} | {code} |")
    lines += ["", "## Ratios", ""]
    for other in ("cfn-lint", "checkov"):
        for what in ("one", "one-sam", "corpus"):
            mine, theirs = wall("walint", what), wall(other, what)
            if mine and theirs:
                lines.append(f"- {labels[what]}: walint is **{theirs / mine:.1f}×** faster than {other}.")
    parse, serial_wall = wall("walint", "parse"), wall("walint", "corpus-serial")
    if parse and serial_wall:
        lines.append(
            f"- In one process, walint's whole-corpus time is {serial_wall / parse:.1f}× the time to only parse "
            "and build the graphs of the same files."
        )
    scale = [(int(w.removeprefix("scale-")), wall("walint", w)) for (_, w) in results if w.startswith("scale-")]
    if len(scale) >= 2:
        (n0, t0), (n1, t1) = scale[0], scale[-1]
        if t0 and t1:
            lines.append(
                f"- {n1:,} resources take {t1 / t0:.1f}× the time of {n0:,} ({n1 / n0:.0f}× the resources): "
                "cost grows linearly."
            )
    reference = ROOT.parent / "shared" / "bench" / "corpus-bench.md"
    if reference.is_file():
        notes.append(
            "For comparison, `shared/bench/corpus-bench.md` measured cfn-lint 1.58 at 135-145 s and checkov 3.3.30 "
            "at 108-120 s on the whole corpus, and 0.6-0.9 s and 1.8-2.2 s on one template, on a machine of "
            "the same kind: the ratios above hold against those numbers too."
        )
    if notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in notes]]
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
