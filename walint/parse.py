"""Decode YAML and JSON templates into plain data plus a line/column for every node.

We compose with PyYAML's C parser (libyaml when present) and build the data ourselves, so that
short-form intrinsics (`!Ref`, `!GetAtt a.b` …) become their long form, duplicate keys are
errors (as in CloudFormation), aliases are never expanded exponentially, and every mapping key
and sequence item gets a 1-based span keyed by its path. cfn-lint's decoder would do most of
this but costs ~0.7 s of import on every pre-commit run; this module costs ~30 ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from walint.findings import Path, Span

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Upper bound on constructed nodes, so that a YAML alias bomb costs bounded work.
MAX_NODES = 2_000_000

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"

# Short-form tags whose long form is not simply "Fn::<Name>".
_TAG_NAMES = {"!Ref": "Ref", "!Condition": "Condition"}


class ParseError(Exception):
    """A template that cannot be decoded; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True, slots=True)
class Document:
    """A decoded file: its data and the span of every key and item, by path."""

    path: str
    data: Any
    marks: Mapping[Path, Span]

    def span(self, path: Path) -> Span:
        """The span of the deepest node of `path` that exists in the file."""
        for end in range(len(path), -1, -1):
            found = self.marks.get(path[:end])
            if found is not None:
                return found
        return Span(1, 1, 1, 1)

    def deepest(self, path: Path) -> Path:
        """The longest prefix of `path` that exists in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.marks:
                return path[:end]
        return ()


class _Builder:
    """Turns a composed YAML node tree into data and marks."""

    def __init__(self) -> None:
        self.marks: dict[Path, Span] = {}
        self.count = 0
        self._scalars = yaml.SafeLoader("")  # only its scalar constructors are used

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise ParseError(
                f"the document expands to more than {MAX_NODES:,} nodes "
                "(a YAML alias bomb or an unreasonably large template)",
                node.start_mark.line + 1,
            )
        tag = node.tag
        if tag.startswith("!"):
            return self._intrinsic(node, path)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self._item(child, path + (i,)) for i, child in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self._scalar(node)

    def _item(self, node: Node, path: Path) -> Any:
        self.marks[path] = _span(node, scalar_end=isinstance(node, ScalarNode))
        return self.build(node, path)

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag in (_INT, _FLOAT, _BOOL, _NULL):
            try:
                return self._scalars.construct_object(node)
            except (yaml.YAMLError, ValueError):
                return node.value
        # Timestamps and everything else stay strings, as CloudFormation reads them
        # (`AWSTemplateFormatVersion: 2010-09-09` is a string, not a date).
        return node.value

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                raise ParseError(
                    "YAML merge keys (<<) are not supported by CloudFormation",
                    key_node.start_mark.line + 1,
                )
            if not isinstance(key_node, ScalarNode):
                raise ParseError("a mapping key must be a scalar", key_node.start_mark.line + 1)
            key = str(self._scalar(key_node)) if key_node.tag != _NULL else "null"
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ParseError(f"duplicate key {key!r} (first defined on line {seen[key]})", line)
            seen[key] = line
            child = path + (key,)
            end = value_node if isinstance(value_node, ScalarNode) else key_node
            self.marks[child] = Span(
                line,
                key_node.start_mark.column + 1,
                end.end_mark.line + 1,
                end.end_mark.column + 1,
            )
            result[key] = self.build(value_node, child)
        return result

    def _intrinsic(self, node: Node, path: Path) -> dict[str, Any]:
        name = _TAG_NAMES.get(node.tag, "Fn::" + node.tag[1:])
        child = path + (name,)
        self.marks[child] = _span(node, scalar_end=isinstance(node, ScalarNode))
        if isinstance(node, ScalarNode):
            value: Any = node.value
            if name == "Fn::GetAtt":
                resource, _, attribute = node.value.partition(".")
                value = [resource, attribute]
        elif isinstance(node, MappingNode):
            value = self._mapping(node, child)
        else:
            value = [self._item(item, child + (i,)) for i, item in enumerate(node.value)]
        return {name: value}


def _span(node: Node, *, scalar_end: bool) -> Span:
    start = node.start_mark
    if scalar_end:
        return Span(start.line + 1, start.column + 1, node.end_mark.line + 1, node.end_mark.column + 1)
    return Span(start.line + 1, start.column + 1, start.line + 1, start.column + 2)


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """How many nodes the tree has once aliases are expanded, counted over the shared graph
    (each distinct node once), so that an alias bomb is caught before it is expanded."""
    known = memo.get(id(node))
    if known is not None:
        return known
    total = 1
    if isinstance(node, MappingNode):
        for key, value in node.value:
            total += _expanded_size(key, memo) + _expanded_size(value, memo)
    elif isinstance(node, SequenceNode):
        for child in node.value:
            total += _expanded_size(child, memo)
    memo[id(node)] = total
    return total


def decode(path: str, raw: bytes) -> Document:
    """Decode template bytes. Raises ParseError with a line number where there is one."""
    if b"\x00" in raw[:8192]:
        raise ParseError("binary file (contains NUL bytes), not a template")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ParseError("invalid UTF-8 (CloudFormation reads templates as UTF-8)", line) from exc
    if not text.strip():
        raise ParseError("empty file")
    if "\t" in text and text.lstrip().startswith("{"):
        # JSON allows tabs as white space, YAML does not in block context; flow style
        # (JSON) tolerates them only between tokens, so expand them as spaces: columns shift,
        # lines do not.
        text = text.replace("\t", " ")
    builder = _Builder()
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        raise ParseError(f"not valid YAML or JSON: {problem}", mark.line + 1 if mark else None) from exc
    except yaml.YAMLError as exc:
        raise ParseError(f"not valid YAML or JSON: {exc}") from exc
    except RecursionError as exc:
        raise ParseError("nesting is too deep to decode") from exc
    if node is None:
        raise ParseError("empty document")
    try:
        size = _expanded_size(node, {})
        if size > MAX_NODES:
            raise ParseError(
                f"the document expands to {size:,} nodes, more than {MAX_NODES:,} "
                "(a YAML alias bomb or an unreasonably large template)"
            )
        data = builder.build(node, ())
    except RecursionError as exc:
        raise ParseError("nesting is too deep to decode") from exc
    return Document(path=path, data=data, marks=builder.marks)
