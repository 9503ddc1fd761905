"""Turn command-line paths (files, directories, globs) into the files to lint.

A CDK cloud assembly (`cdk.out`) is linted through its manifest: its stack templates, never the
bundled assets, tree or asset manifests beside them.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")
DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    ".venv",
    "venv",
    ".tox",
    "__pycache__",
    ".aws-sam",  # SAM build output: copies of the sources
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)


@dataclass(frozen=True, slots=True)
class Candidate:
    path: str  # as opened
    display: str  # as reported: relative to the working directory when inside it
    explicit: bool  # named on the command line rather than found in a directory


def display_path(path: str, cwd: str) -> str:
    """How a path is reported: relative to the working directory when inside it."""
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, cwd)
    except ValueError:  # another drive on Windows
        return absolute
    return absolute if rel.startswith("..") else PurePosixPath(*rel.split(os.sep)).as_posix()


def excluded(display: str, patterns: Iterable[str]) -> bool:
    """A pattern excludes a path when it matches the whole relative path or any part of it."""
    parts = PurePosixPath(display).parts
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(display, pattern) or fnmatch.fnmatch(display, pattern + "/*"):
            return True
        if any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def discover(
    paths: Iterable[str], excludes: Iterable[str] = (), *, force_exclude: bool = False, cwd: str | None = None
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """The files to lint, and (path, problem) for paths that do not exist or match nothing."""
    cwd = cwd or os.getcwd()
    patterns = tuple(excludes) + DEFAULT_EXCLUDES
    found: dict[str, Candidate] = {}
    problems: list[tuple[str, str]] = []

    def add(path: str, explicit: bool) -> None:
        display = display_path(path, cwd)
        if (not explicit or force_exclude) and excluded(display, patterns):
            return
        key = os.path.realpath(path)
        found.setdefault(key, Candidate(path, display, explicit))

    for raw in paths:
        if os.path.isdir(raw):
            for path in _walk(raw, patterns, cwd, problems):
                add(path, explicit=False)
        elif os.path.exists(raw) or os.path.islink(raw):
            add(raw, explicit=True)
        elif any(ch in raw for ch in "*?["):
            matches = sorted(glob.glob(raw, recursive=True))
            files = [m for m in matches if os.path.isfile(m)]
            if not files:
                problems.append((raw, "no files match this pattern"))
            for path in files:
                add(path, explicit=True)
        else:
            problems.append((raw, "no such file or directory"))
    return sorted(found.values(), key=lambda c: c.display), problems


def _walk(root: str, patterns: tuple[str, ...], cwd: str, problems: list[tuple[str, str]]) -> Iterable[str]:
    # followlinks=False: a symlinked directory is never entered, so loops cannot happen.
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        if is_cloud_assembly(directory, filenames):
            dirnames[:] = []  # assets, tree and asset manifests: only the manifest's templates count
            broken: list[tuple[str, str]] = []
            yield from _assembly_templates(directory, set(), broken)
            problems += [(display_path(path, cwd), problem) for path, problem in broken]
            continue
        dirnames[:] = sorted(
            d for d in dirnames if not excluded(display_path(os.path.join(directory, d), cwd), patterns)
        )
        for name in sorted(filenames):
            if name.endswith(TEMPLATE_SUFFIXES):
                yield os.path.join(directory, name)


# -- CDK cloud assemblies ----------------------------------------------------------------------

#: A cloud assembly's manifest; `cdk.out` is the small version marker file CDK writes beside it.
MANIFEST = "manifest.json"
MARKER = "cdk.out"
STACK_ARTIFACT = "aws:cloudformation:stack"
NESTED_ASSEMBLY_ARTIFACT = "cdk:cloud-assembly"
#: CDK's NestedStack templates are file assets of their parent stack, not manifest artifacts.
NESTED_STACK_SUFFIX = ".nested.template.json"
FALLBACK_SUFFIX = ".template.json"
#: Manifests are tens of kilobytes; a bigger manifest.json is not CDK's, and is not read.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


class _Unreadable(Exception):
    pass


class FileTooBigOrUnreadable(Exception):
    """A file that cannot be read, or is larger than its limit; the message says which."""


def read_limited(path: str, limit: int) -> bytes:
    """A file's bytes, refusing files larger than `limit` before reading them whole."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise FileTooBigOrUnreadable(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise FileTooBigOrUnreadable(f"larger than {limit // (1024 * 1024)} MB")
    return raw


def is_cloud_assembly(directory: str, filenames: Iterable[str]) -> bool:
    """Whether a directory is CDK output: a `cdk.out` marker file, or a manifest with `artifacts`.
    Only directories that hold a manifest.json are read, so walking a tree stays cheap."""
    names = set(filenames)
    if MARKER in names:
        return True
    if MANIFEST not in names:
        return False
    try:
        return isinstance(_read_manifest(os.path.join(directory, MANIFEST)).get("artifacts"), dict)
    except _Unreadable:
        return False  # someone else's manifest.json (a web app's), not a cloud assembly


def _read_manifest(path: str) -> dict[str, object]:
    try:
        raw = read_limited(path, MAX_MANIFEST_BYTES)
    except FileTooBigOrUnreadable as exc:
        raise _Unreadable(str(exc)) from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _Unreadable(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _Unreadable("not a JSON object")
    return data


def _assembly_templates(directory: str, seen: set[str], problems: list[tuple[str, str]]) -> Iterator[str]:
    """The stack templates of a cloud assembly and of the assemblies nested in it (CDK Stages)."""
    real = os.path.realpath(directory)
    if real in seen:
        return  # a manifest that names its own directory, or a loop of nested assemblies
    seen.add(real)
    try:
        entries = sorted(os.listdir(directory))
    except OSError as exc:
        problems.append((directory, f"cannot read the CDK cloud assembly: {exc.strerror or exc}"))
        return
    files = [n for n in entries if os.path.isfile(os.path.join(directory, n))]
    manifest_path = os.path.join(directory, MANIFEST)
    try:
        if MANIFEST not in files:
            raise _Unreadable("it is missing")
        artifacts = _read_manifest(manifest_path).get("artifacts")
        if not isinstance(artifacts, dict):
            raise _Unreadable("it has no artifacts")
    except _Unreadable as exc:
        # An interrupted or hand-edited synth: CDK names stack templates *.template.json and puts
        # Stages in assembly-* directories.
        found = [os.path.join(directory, n) for n in files if n.endswith(FALLBACK_SUFFIX)]
        for name in entries:
            path = os.path.join(directory, name)
            if name.startswith("assembly-") and os.path.isdir(path) and not os.path.islink(path):
                found += _assembly_templates(path, seen, problems)
        if not found:
            problems.append((manifest_path, f"no CDK stack templates found, and the manifest cannot be used: {exc}"))
        yield from found
        return
    for name, artifact in sorted(artifacts.items()):
        if not isinstance(artifact, dict):
            continue
        properties = artifact.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        if artifact.get("type") == STACK_ARTIFACT:
            template = _inside(directory, properties.get("templateFile"))
            if template is None:
                problems.append((manifest_path, f"stack {name} names no template file inside the assembly"))
            elif not os.path.isfile(template):
                problems.append((template, f"the template of stack {name} does not exist (synthesize again)"))
            else:
                yield template
        elif artifact.get("type") == NESTED_ASSEMBLY_ARTIFACT:
            nested = _inside(directory, properties.get("directoryName"))
            # A symlinked directory is not followed, as when walking.
            if nested is None or os.path.islink(nested) or not os.path.isdir(nested):
                problems.append((manifest_path, f"nested assembly {name} names no directory inside the assembly"))
            else:
                yield from _assembly_templates(nested, seen, problems)
    yield from (os.path.join(directory, n) for n in files if n.endswith(NESTED_STACK_SUFFIX))


def _inside(directory: str, relative: object) -> str | None:
    """A manifest's relative path, when it stays inside the assembly directory."""
    if not isinstance(relative, str) or not relative or os.path.isabs(relative):
        return None
    path = os.path.normpath(os.path.join(directory, relative))
    base = os.path.normpath(directory)
    return path if os.path.commonpath([base, path]) == base and path != base else None
