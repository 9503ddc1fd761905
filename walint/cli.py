"""Command line: `walint check PATH…` (or `walint PATH…`), `walint rules`, `walint explain ID`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from walint import __version__
from walint.catalog import Rule, RuleError, id_matches, load_rules
from walint.config import Config, ConfigError, load, parse_fail_on
from walint.findings import FileResult, FileStatus, RunResult

SUBCOMMANDS = ("check", "rules", "explain")
EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _split(values: Sequence[str] | None) -> tuple[str, ...] | None:
    if not values:
        return None
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="walint",
        description="Review CloudFormation templates against the AWS Well-Architected Framework.",
        epilog="Exit codes: 0 no failing findings, 1 failing findings, 2 usage, configuration or parse errors.",
    )
    parser.add_argument("--version", action="version", version=f"walint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{check,rules,explain}")

    check = sub.add_parser("check", help="lint templates (the default command)")
    check.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="files, directories or globs")
    check.add_argument(
        "-f",
        "--format",
        action="append",
        metavar="FORMAT[:FILE]",
        help="text (default), json, sarif, github, junit or markdown; repeat for several reports, "
        "each to its own file (--format text --format sarif:walint.sarif)",
    )
    check.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    check.add_argument("--sarif-unknown", action="store_true", help="include undecided results in SARIF (as notes)")
    check.add_argument(
        "--sarif-suppressed", action="store_true", help="include suppressed results in SARIF, with their justification"
    )
    check.add_argument("--baseline", metavar="FILE", help="report only findings that are not in this baseline")
    check.add_argument("--write-baseline", metavar="FILE", help="record the current findings as a baseline")
    check.add_argument(
        "--no-other-tool-suppressions",
        action="store_true",
        help="ignore checkov, cfn_nag and cfn-guard suppressions in template Metadata",
    )
    check.add_argument("--select", action="append", metavar="IDS", help="only these rule ids or prefixes (WA-SEC)")
    check.add_argument("--ignore", action="append", metavar="IDS", help="skip these rule ids or prefixes")
    check.add_argument(
        "--fail-on",
        metavar="RISK",
        help="lowest risk that fails the run: critical, high, medium (default), low, info or none",
    )
    check.add_argument("--strict", action="store_true", default=None, help="undecided (UNKNOWN) results fail too")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even with failing findings")
    check.add_argument(
        "--config", metavar="FILE", help="configuration file (default: nearest .walint.yaml or pyproject.toml)"
    )
    check.add_argument("--exclude", action="append", metavar="GLOB", help="skip matching paths (repeatable)")
    check.add_argument(
        "--force-exclude", action="store_true", help="apply excludes to files named explicitly too (for pre-commit)"
    )
    check.add_argument("--rules-dir", action="append", metavar="DIR", help="also load custom rules from DIR")
    check.add_argument(
        "-j", "--jobs", type=int, metavar="N", help="lint files in N processes (default: the number of cores)"
    )
    check.add_argument(
        "--parameter", action="append", metavar="KEY=VALUE", help="a deployment parameter value (repeatable)"
    )
    check.add_argument(
        "--parameters",
        action="append",
        metavar="FILE",
        help="deployment parameter values from a file: AWS CLI JSON, CodePipeline template configuration, "
        "a JSON/YAML mapping or samconfig.toml (repeatable; later files win, --parameter wins over all)",
    )
    check.add_argument(
        "--sam-config-env", metavar="ENV", help="the samconfig environment to read parameters from (default: default)"
    )
    check.add_argument(
        "--assume-defaults", action="store_true", default=None, help="treat parameter defaults as deployed values"
    )

    rules = sub.add_parser("rules", help="list the rules")
    rules.add_argument("-f", "--format", choices=("text", "json"), default="text")
    rules.add_argument("--select", action="append", metavar="IDS")

    explain = sub.add_parser("explain", help="show a rule's documentation")
    explain.add_argument("rule", metavar="RULE_ID")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in SUBCOMMANDS and args_list[0] not in ("-h", "--help", "--version"):
        args_list.insert(0, "check")  # `walint PATH…` is `walint check PATH…`
    if not args_list:
        args_list = ["check"]
    try:
        return _dispatch(_parser().parse_args(args_list))
    except BrokenPipeError:
        # `walint rules | head`: the reader went away; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


def _error(message: str) -> int:
    print(f"walint: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "rules":
        return _rules(args)
    if args.command == "explain":
        return _explain(args)
    return _check(args)


def _load(config: Config) -> list[Rule]:
    rules = load_rules(config.rules_dirs, config.rule_options)
    if config.select:
        rules = [r for r in rules if any(id_matches(r.id, s) for s in config.select)]
    if config.ignore:
        rules = [r for r in rules if not any(id_matches(r.id, s) for s in config.ignore)]
    return rules


def _check(args: argparse.Namespace) -> int:
    try:
        config = load(args.config, Path.cwd())
        parameters = _parameters(args, config)
        if isinstance(parameters, str):
            return _error(parameters)
        config = config.merged(
            select=_split(args.select),
            ignore=_split(args.ignore),
            strict=args.strict,
            exclude=(config.exclude + tuple(args.exclude)) if args.exclude else None,
            rules_dirs=(config.rules_dirs + tuple(args.rules_dir)) if args.rules_dir else None,
            parameters=parameters,
            assume_defaults=args.assume_defaults,
        )
        if args.fail_on is not None:
            try:
                config = replace(config, fail_on=parse_fail_on(args.fail_on))
            except ValueError:
                return _error("--fail-on must be one of critical, high, medium, low, info, none")
        rules = _load(config)
    except (ConfigError, RuleError) as exc:
        return _error(str(exc))

    outputs = _outputs(args.format or ["text"], args.output)
    if isinstance(outputs, str):
        return _error(outputs)

    from walint import baseline  # noqa: PLC0415
    from walint.discover import discover  # noqa: PLC0415
    from walint.engine import LintOptions  # noqa: PLC0415
    from walint.reporters import RenderOptions, render  # noqa: PLC0415
    from walint.runner import default_jobs, lint_all  # noqa: PLC0415

    try:
        known = baseline.load(args.baseline) if args.baseline else frozenset()
    except baseline.BaselineError as exc:
        return _error(str(exc))
    candidates, problems = discover(args.paths, config.exclude, force_exclude=args.force_exclude)
    if args.jobs is not None and args.jobs < 1:
        return _error("--jobs takes a positive number")
    options = LintOptions(
        config.parameters,
        config.assume_defaults,
        config.rule_options,
        other_tool_suppressions=not args.no_other_tool_suppressions,
    )
    results: list[FileResult] = [FileResult(path, FileStatus.ERROR, problem) for path, problem in problems]
    results += lint_all(candidates, rules, options, args.jobs or default_jobs())
    if args.write_baseline:
        try:
            count = baseline.write(args.write_baseline, (f for r in results for f in r.findings))
        except baseline.BaselineError as exc:
            return _error(str(exc))
        print(f"walint: wrote {count} findings to the baseline {args.write_baseline}", file=sys.stderr)
    baselined = 0
    if known:
        results, baselined = baseline.apply(results, known)
    run = RunResult(tuple(results), config.fail_on, config.strict, baselined)
    for fmt, target in outputs:
        render_options = RenderOptions(
            color=target is None and _color(), sarif_unknown=args.sarif_unknown, sarif_suppressed=args.sarif_suppressed
        )
        report = render(fmt, run, rules, render_options)
        if target is None:
            sys.stdout.write(report)
            continue
        try:
            Path(target).write_text(report, encoding="utf-8")
        except OSError as exc:
            return _error(f"cannot write {target}: {exc.strerror or exc}")
    code = run.exit_code
    return EXIT_OK if args.exit_zero and code == EXIT_FINDINGS else code


def _parameters(args: argparse.Namespace, config: Config) -> dict[str, str] | str:
    """The deployment parameter values, or the error. The command line wins over the configuration,
    and values given one by one win over files from the same place; `--parameters` replaces the
    configuration's `parameter-files` (a run is one environment, not a mix of two)."""
    from walint.params import ParameterFileError, key_value, load_parameter_file  # noqa: PLC0415

    env = args.sam_config_env or config.sam_config_env
    layers: list[tuple[str | None, Mapping[str, str], tuple[str, ...]]] = []
    try:
        if args.parameters:
            layers.append((None, config.parameters, ()))
            files = args.parameters
        else:
            files = list(config.parameter_files)
        for name in files:
            read = load_parameter_file(name, env)
            layers.append((name, read, read.previous))
    except ParameterFileError as exc:
        return str(exc)
    if not args.parameters:
        layers.append((None, config.parameters, ()))
    given: dict[str, str] = {}
    for item in args.parameter or []:
        pair = key_value(item)
        if pair is None:
            return f"--parameter expects KEY=VALUE, got {item!r}"
        given[pair[0]] = pair[1]
    layers.append((None, given, ()))
    parameters: dict[str, str] = {}
    unknown: dict[str, str] = {}  # parameter → the file that leaves it at its previous value
    for name, values, previous in layers:
        for key in previous:
            parameters.pop(key, None)  # a later file's "previous value" is not an earlier file's value
            unknown[key] = name or ""
        for key, value in values.items():
            parameters[key] = value
            unknown.pop(key, None)
    for key, name in unknown.items():
        print(
            f"walint: note: {name}: {key} keeps its previous value (UsePreviousValue), which walint cannot "
            "know; results that depend on it stay undecided",
            file=sys.stderr,
        )
    return parameters


def _outputs(formats: Sequence[str], output: str | None) -> list[tuple[str, str | None]] | str:
    """(format, file or None for stdout) for each --format, or the usage error."""
    from walint.reporters import FORMATS  # noqa: PLC0415

    outputs: list[tuple[str, str | None]] = []
    for item in formats:
        fmt, _, target = item.partition(":")
        fmt = fmt.strip().lower()
        if fmt not in FORMATS:
            return f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}"
        outputs.append((fmt, target or None))
    to_stdout = [i for i, (_, target) in enumerate(outputs) if target is None]
    if output is not None:
        if len(to_stdout) != 1:
            return "--output goes with exactly one --format that has no :FILE of its own"
        fmt, _ = outputs[to_stdout[0]]
        outputs[to_stdout[0]] = (fmt, output)
    elif len(to_stdout) > 1:
        return "only one format can go to standard output; give the others a file (--format sarif:walint.sarif)"
    return outputs


def _color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _rules(args: argparse.Namespace) -> int:
    try:
        rules = _load(Config(select=_split(args.select) or ()))
    except RuleError as exc:
        return _error(str(exc))
    if args.format == "json":
        payload = {
            "rules": [
                {
                    "id": r.id,
                    "title": r.title,
                    "pillar": r.pillar,
                    "best_practice": r.best_practice,
                    "related_best_practices": list(r.related_best_practices),
                    "risk": r.risk.value,
                    "resource_types": list(r.resource_types),
                    "remediation_url": r.remediation_url,
                    "equivalents": {k: list(v) for k, v in r.equivalents.items()},
                }
                for r in rules
            ]
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return EXIT_OK
    for r in rules:
        sys.stdout.write(f"{r.id:<12} {r.risk.value:<8} {r.best_practice:<11} {r.title}\n")
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from walint.docs import rule_page  # noqa: PLC0415

    try:
        rules = {r.id: r for r in load_rules()}
    except RuleError as exc:
        return _error(str(exc))
    rule = rules.get(args.rule.strip().upper())
    if rule is None:
        return _error(f"no rule {args.rule!r}; `walint rules` lists them")
    page = rule_page(rule)
    if _color():
        from rich.console import Console  # noqa: PLC0415
        from rich.markdown import Markdown  # noqa: PLC0415

        Console().print(Markdown(page))
    else:
        sys.stdout.write(page)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
