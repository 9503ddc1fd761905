"""Turn command-line paths (files, directories, globs) into the files to lint."""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable
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


def _display(path: str, cwd: str) -> str:
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
        display = _display(path, cwd)
        if (not explicit or force_exclude) and excluded(display, patterns):
            return
        key = os.path.realpath(path)
        found.setdefault(key, Candidate(path, display, explicit))

    for raw in paths:
        if os.path.isdir(raw):
            for path in _walk(raw, patterns, cwd):
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


def _walk(root: str, patterns: tuple[str, ...], cwd: str) -> Iterable[str]:
    # followlinks=False: a symlinked directory is never entered, so loops cannot happen.
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not excluded(_display(os.path.join(directory, d), cwd), patterns))
        for name in sorted(filenames):
            if name.endswith(TEMPLATE_SUFFIXES):
                yield os.path.join(directory, name)
