"""Configuration: `[tool.walint]` in pyproject.toml or `.walint.yaml`, under the command line."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from walint.findings import Risk

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_NAMES = (".walint.yaml", ".walint.yml")


class ConfigError(Exception):
    """Invalid configuration; the message names the file and the key."""


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: Risk | None = Risk.MEDIUM  # None: never fail on findings (--fail-on none)
    strict: bool = False
    exclude: tuple[str, ...] = ()
    rules_dirs: tuple[str, ...] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)
    parameter_files: tuple[str, ...] = ()  # read in order; `parameters` go on top of them
    sam_config_env: str = "default"  # the samconfig environment read from parameter files
    assume_defaults: bool = False
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str | None = None  # the file it came from

    def merged(self, **overrides: Any) -> Config:
        """This configuration with the command line's explicit values on top."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


_KEYS = {
    "select": "list",
    "ignore": "list",
    "fail-on": "risk",
    "strict": "bool",
    "exclude": "list",
    "rules-dirs": "list",
    "parameters": "mapping",
    "parameter-files": "list",
    "sam-config-env": "string",
    "assume-defaults": "bool",
    "rule-options": "mapping",
}


def parse_fail_on(value: str) -> Risk | None:
    text = value.strip().lower()
    if text == "none":
        return None
    return Risk.parse(text)


def from_mapping(data: Any, source: str, base: Path) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the walint configuration must be a mapping")
    values: dict[str, Any] = {"source": source}
    for raw_key, value in data.items():
        key = str(raw_key).replace("_", "-")
        kind = _KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{source}: unknown key '{raw_key}'; known keys: {', '.join(sorted(_KEYS))}")
        attr = key.replace("-", "_")
        if kind == "list":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{source}: '{raw_key}' must be a list of strings")
            if key in ("rules-dirs", "parameter-files"):
                value = [str((base / v).resolve()) for v in value]
            values[attr] = tuple(value)
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: '{raw_key}' must be true or false")
            values[attr] = value
        elif kind == "string":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{source}: '{raw_key}' must be a non-empty string")
            values[attr] = value.strip()
        elif kind == "risk":
            try:
                values[attr] = parse_fail_on(str(value))
            except ValueError:
                raise ConfigError(
                    f"{source}: '{raw_key}' must be one of critical, high, medium, low, info, none"
                ) from None
        else:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{raw_key}' must be a mapping")
            if key == "parameters":
                values[attr] = {str(k): _scalar_text(v) for k, v in value.items()}
            else:
                for rule_id, opts in value.items():
                    if not isinstance(opts, dict):
                        raise ConfigError(f"{source}: 'rule-options.{rule_id}' must be a mapping of argument values")
                values[attr] = {str(k): dict(v) for k, v in value.items()}
    return Config(**values)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def load_file(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.name == "pyproject.toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        section = data.get("tool", {}).get("walint", {})
        return from_mapping(section, f"{path} [tool.walint]", path.parent)
    import yaml  # noqa: PLC0415

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return from_mapping(data or {}, str(path), path.parent)


def find_config(start: Path) -> Path | None:
    """The nearest .walint.yaml or pyproject.toml with [tool.walint], up to the repository root."""
    current = start.resolve()
    while True:
        for name in CONFIG_NAMES:
            candidate = current / name
            if candidate.is_file():
                return candidate
        pyproject = current / "pyproject.toml"
        if pyproject.is_file() and "[tool.walint" in pyproject.read_text(encoding="utf-8", errors="replace"):
            return pyproject
        if (current / ".git").exists() or current.parent == current:
            return None
        current = current.parent


def load(explicit: str | None, start: Path) -> Config:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{explicit}: configuration file not found")
        return load_file(path)
    found = find_config(start)
    return load_file(found) if found else Config()
