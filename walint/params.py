"""Deployment parameter files (`--parameters FILE`) and the checks CloudFormation makes on the values.

The formats teams keep beside their templates, recognised by name and content:

- AWS CLI: `[{"ParameterKey": "Env", "ParameterValue": "prod"}, …]` (create-stack, deploy, or the
  `Parameters` list of a `--cli-input-json` file), and `["Env=prod", …]`
  (`aws cloudformation deploy --parameter-overrides file://…`);
- CodePipeline template configuration: `{"Parameters": {"Env": "prod"}, "Tags": …, "StackPolicy": …}`;
- a flat JSON or YAML object of scalars: `{"Env": "prod"}`;
- SAM CLI `samconfig.toml` / `samconfig.yaml`: `parameter_overrides` of one environment.
"""

from __future__ import annotations

import math
import re
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path as FilePath
from typing import Any

from walint.discover import FileTooBigOrUnreadable, read_limited
from walint.findings import Path
from walint.graph import is_template, shape
from walint.parse import Document, ParseError, decode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: A parameter file is a few kilobytes; refuse to read something that is clearly not one.
MAX_FILE_BYTES = 5 * 1024 * 1024

#: Where SAM CLI looks for `parameter_overrides` in one environment, in order.
SAM_SECTIONS = ("deploy", "global", "sync", "build")

_PIPELINE_KEYS = frozenset({"Parameters", "Tags", "StackPolicy"})
_CLI_ENTRY_KEYS = frozenset({"ParameterKey", "ParameterValue", "UsePreviousValue", "ResolvedValue"})
_LEGACY_PAIR = re.compile(r"ParameterKey=([^,]*),ParameterValue=(.*)", re.DOTALL)

#: Makes the error for a node of the file (its path, for the line when the format keeps one).
_Error = Callable[[Path, str], "ParameterFileError"]


class ParameterFileError(Exception):
    """A parameter file that cannot be read; the message names the file (and line when known)."""


class ParameterValues(dict[str, str]):
    """Parameter values read from a file. `previous` names the parameters the file leaves at their
    previous value (`UsePreviousValue`): those are not known, so they are not among the values."""

    def __init__(self, values: Mapping[str, str] | None = None, previous: tuple[str, ...] = ()) -> None:
        super().__init__(values or {})
        self.previous = previous


def load_parameter_file(path: str, sam_env: str = "default") -> ParameterValues:
    """The parameter values of one file. Raises ParameterFileError for anything malformed."""
    file = FilePath(path)
    try:
        raw = read_limited(path, MAX_FILE_BYTES)
    except FileTooBigOrUnreadable as exc:
        raise ParameterFileError(f"{path}: {exc}, not a parameter file") from None
    if file.suffix.lower() == ".toml":
        return _samconfig_toml(path, raw, sam_env)
    try:
        doc = decode(path, raw)
    except ParseError as exc:
        raise ParameterFileError(f"{path}: {exc}") from None
    reader = _Reader(path, doc)
    if file.name.lower().startswith("samconfig") or _looks_like_samconfig(doc.data):
        return reader.samconfig(sam_env)
    return reader.any_format()


# -- the formats ------------------------------------------------------------------------------


class _Reader:
    """Reads the JSON/YAML formats of one decoded file; errors carry the line of the offending node."""

    def __init__(self, path: str, doc: Document) -> None:
        self.path = path
        self.doc = doc

    def error(self, where: Path, problem: str) -> ParameterFileError:
        if where and where in self.doc.marks:
            return ParameterFileError(f"{self.path}: line {self.doc.span(where).line}: {problem}")
        return ParameterFileError(f"{self.path}: {problem}")

    def any_format(self) -> ParameterValues:
        data = self.doc.data
        if isinstance(data, list):
            return self.cli_list(data, ())
        if not isinstance(data, dict):
            raise self.error(
                (),
                f"expected a list of ParameterKey/ParameterValue entries or a mapping of parameter values, "
                f"not {shape(data)}",
            )
        if is_template(data):
            raise self.error((), "this is a CloudFormation template, not a parameter file")
        parameters = data.get("Parameters")
        if isinstance(parameters, list):
            # `aws cloudformation create-stack --cli-input-json`: the other keys are stack options.
            return self.cli_list(parameters, ("Parameters",))
        if isinstance(parameters, dict):
            extra = sorted(str(k) for k in data if k not in _PIPELINE_KEYS)
            if extra:
                raise self.error(
                    (extra[0],),
                    f"a CodePipeline template configuration has only Parameters, Tags and StackPolicy, "
                    f"not {', '.join(extra)}",
                )
            return ParameterValues(self.flat(parameters, ("Parameters",)))
        return ParameterValues(self.flat(data, ()))

    def flat(self, data: Mapping[str, Any], base: Path) -> dict[str, str]:
        values: dict[str, str] = {}
        for key, value in data.items():
            where = (*base, key)
            if not key.strip():
                raise self.error(where, "a parameter name must not be empty")
            values[key] = self.value(value, where, key)
        return values

    def value(self, value: Any, where: Path, name: str) -> str:
        text = cloudformation_text(value)
        if text is not None:
            return text
        if value is None:
            raise self.error(where, f'parameter {name} has no value (write "" for an empty string)')
        if isinstance(value, list):
            raise self.error(where, f"parameter {name}: a list value takes only strings, numbers and booleans")
        raise self.error(where, f"parameter {name} has {shape(value)}; expected a string, number, boolean or list")

    def cli_list(self, entries: list[Any], base: Path) -> ParameterValues:
        values: dict[str, str] = {}
        previous: list[str] = []
        for i, entry in enumerate(entries):
            where = (*base, i)
            if isinstance(entry, str):
                pair = key_value(entry)
                if pair is None:
                    raise self.error(where, f"expected Key=Value, got {entry!r}")
                key, value = pair
            elif isinstance(entry, dict):
                key, value, keep = self.cli_entry(entry, where)
                if keep:
                    previous.append(key)
                    values.pop(key, None)
                    continue
            else:
                raise self.error(
                    where,
                    f"entry {i + 1} must be a ParameterKey/ParameterValue mapping or 'Key=Value', not {shape(entry)}",
                )
            if key in values or key in previous:
                raise self.error(where, f"parameter {key} is given twice")
            values[key] = value
        return ParameterValues(values, tuple(previous))

    def cli_entry(self, entry: Mapping[str, Any], where: Path) -> tuple[str, str, bool]:
        """(key, value, uses the previous value) of one ParameterKey/ParameterValue entry."""
        unknown = sorted(str(k) for k in entry if k not in _CLI_ENTRY_KEYS)
        if unknown:
            raise self.error(
                (*where, unknown[0]),
                f"unknown key {unknown[0]!r}; an entry has ParameterKey, ParameterValue and UsePreviousValue",
            )
        key = entry.get("ParameterKey")
        if not isinstance(key, str) or not key.strip():
            raise self.error(where, "an entry needs a ParameterKey (a non-empty string)")
        use_previous = entry.get("UsePreviousValue", False)
        if not isinstance(use_previous, bool):
            raise self.error((*where, "UsePreviousValue"), f"UsePreviousValue of {key} must be true or false")
        if use_previous:
            if entry.get("ParameterValue") not in (None, ""):
                raise self.error(where, f"parameter {key} has both UsePreviousValue and a ParameterValue")
            return key, "", True
        if "ParameterValue" not in entry:
            raise self.error(where, f"parameter {key} has no ParameterValue")
        return key, self.value(entry["ParameterValue"], (*where, "ParameterValue"), key), False

    def samconfig(self, env: str) -> ParameterValues:
        data = self.doc.data
        if not isinstance(data, dict):
            raise self.error((), f"a SAM configuration must be a mapping, not {shape(data)}")
        return _sam_overrides(data, env, self.error)


def _samconfig_toml(path: str, raw: bytes, env: str) -> ParameterValues:
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ParameterFileError(f"{path}: invalid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterFileError(f"{path}: not valid TOML: {exc}") from None

    def error(where: Path, problem: str) -> ParameterFileError:
        return ParameterFileError(f"{path}: {problem}")  # tomllib keeps no positions

    return _sam_overrides(data, env, error)


def _sam_overrides(data: Mapping[str, Any], env: str, error: _Error) -> ParameterValues:
    environment = data.get(env)
    if not isinstance(environment, dict):
        found = sorted(str(k) for k, v in data.items() if isinstance(v, dict))
        listing = f"; it has {', '.join(found)}" if found else ""
        raise error((), f"no SAM configuration environment {env!r}{listing} (choose one with --sam-config-env)")
    for section in SAM_SECTIONS:
        command = environment.get(section)
        parameters = command.get("parameters") if isinstance(command, dict) else None
        if isinstance(parameters, dict) and "parameter_overrides" in parameters:
            where: Path = (env, section, "parameters", "parameter_overrides")
            label = f"[{env}.{section}.parameters] parameter_overrides"
            return ParameterValues(_overrides(parameters["parameter_overrides"], label, where, error))
    sections = " or ".join(f"[{env}.{s}.parameters]" for s in SAM_SECTIONS)
    raise error((env,), f"no parameter_overrides in {sections}")


def _overrides(value: Any, label: str, where: Path, error: _Error) -> dict[str, str]:
    """`Key=Value Key2="v w"` (shell-like quoting) or a list of `Key=Value` strings."""
    if isinstance(value, str):
        try:
            tokens = shlex.split(value)
        except ValueError as exc:
            raise error(where, f"{label}: {exc}") from None
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        # One item is one pair, so a space in a value needs no quotes; quotes around it are removed.
        tokens = []
        for item in value:
            key, sep, text = item.partition("=")
            tokens.append(key + sep + _unquote(text))
    else:
        raise error(where, f"{label} must be a string of Key=Value pairs or a list of them")
    values: dict[str, str] = {}
    for token in tokens:
        legacy = _LEGACY_PAIR.fullmatch(token)
        if legacy:
            key, text = legacy.group(1), legacy.group(2)
        else:
            key, sep, text = token.partition("=")
            if not sep:
                raise error(where, f"{label}: expected Key=Value, got {token!r}")
        if not key.strip():
            raise error(where, f"{label}: a parameter name must not be empty in {token!r}")
        values[key.strip()] = text
    return values


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _looks_like_samconfig(data: Any) -> bool:
    """A samconfig.yaml under another name: `version` and environments of command sections."""
    if not isinstance(data, dict) or "version" not in data:
        return False
    return any(
        isinstance(env, dict)
        and any(isinstance(env.get(s), dict) and isinstance(env[s].get("parameters"), dict) for s in SAM_SECTIONS)
        for env in data.values()
    )


def key_value(text: str) -> tuple[str, str] | None:
    """`Key=Value` as (key, value), the key stripped; None without an `=` or a key."""
    key, sep, value = text.partition("=")
    return (key.strip(), value) if sep and key.strip() else None


def cloudformation_text(value: Any) -> str | None:
    """A scalar (or list, for CommaDelimitedList) as the string CloudFormation receives; None if
    the value has no string form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [cloudformation_text(v) if not isinstance(v, list) else None for v in value]
        return None if any(p is None for p in parts) else ",".join(p for p in parts if p is not None)
    return None


# -- validation -------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def violations(doc: Document, values: Mapping[str, str]) -> list[tuple[Path, str]]:
    """Given values CloudFormation would reject for this template: (path of the parameter's
    declaration, message). Values for parameters the template does not declare are ignored, since
    one parameter file often serves a whole directory of templates. Runs before the transforms,
    which would otherwise be the first to trip over a bad value."""
    found: list[tuple[Path, str]] = []
    declared = doc.data.get("Parameters") if isinstance(doc.data, dict) else None
    if not values or not isinstance(declared, dict):
        return found
    for name, spec in declared.items():
        if name in values and isinstance(spec, dict):
            found += [(("Parameters", name), f"parameter {name}: {p}") for p in _problems(spec, values[name])]
    return found


def _problems(spec: Mapping[str, Any], value: str) -> list[str]:
    ptype = str(spec.get("Type", "String"))
    if ptype.startswith("AWS::SSM::Parameter::"):
        return []  # the value is the name of an SSM parameter; its content is read at deploy time
    is_list = ptype.startswith("List<") or ptype == "CommaDelimitedList"
    numeric = ptype in ("Number", "List<Number>")
    items = [part.strip() for part in value.split(",")] if is_list and value else [value] if not is_list else []
    problems: list[str] = []
    for item in items:
        shown = f"{item!r} (in {value!r})" if is_list else repr(item)
        if numeric and not _NUMBER.fullmatch(item):
            problems.append(f"{shown} is not a number (Type {ptype})")
            continue
        problems += [f"{shown} {p}" for p in _item_problems(spec, item, numeric=numeric, is_list=is_list)]
    return problems


def _item_problems(spec: Mapping[str, Any], item: str, *, numeric: bool, is_list: bool) -> list[str]:
    problems: list[str] = []
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and allowed:
        texts = [cloudformation_text(a) for a in allowed]
        if numeric:
            hit = any(t is not None and _NUMBER.fullmatch(t) and float(t) == float(item) for t in texts)
        else:
            hit = item in texts
        if not hit:
            problems.append(f"is not one of its AllowedValues ({', '.join(t or '?' for t in texts)})")
    pattern = spec.get("AllowedPattern")
    if isinstance(pattern, str) and not numeric:
        try:
            matched = re.fullmatch(pattern, item) is not None
        except re.error:
            matched = True  # a pattern Python cannot read (Java syntax): CloudFormation judges it
        if not matched:
            problems.append(f"does not match its AllowedPattern {pattern!r}")
    if numeric:
        number = float(item)
        low, high = _bound(spec.get("MinValue")), _bound(spec.get("MaxValue"))
        if low is not None and number < low:
            problems.append(f"is less than its MinValue {_plain(low)}")
        if high is not None and number > high:
            problems.append(f"is more than its MaxValue {_plain(high)}")
    elif not is_list:
        shortest, longest = _bound(spec.get("MinLength")), _bound(spec.get("MaxLength"))
        if shortest is not None and len(item) < shortest:
            problems.append(f"is shorter than its MinLength {_plain(shortest)} ({len(item)} characters)")
        if longest is not None and len(item) > longest:
            problems.append(f"is longer than its MaxLength {_plain(longest)} ({len(item)} characters)")
    return problems


def _bound(value: Any) -> float | None:
    text = cloudformation_text(value) if not isinstance(value, (bool, list)) else None
    return float(text) if text is not None and _NUMBER.fullmatch(text.strip()) else None


def _plain(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)
