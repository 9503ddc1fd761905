"""Rule selectors: JSONPath expressions evaluated over template data, aware of intrinsics.

Paths are JSONPath (jsonpath-ng syntax) relative to the node a clause looks at: a resource's
entry (`Properties.StorageEncrypted`, `DeletionPolicy`) or a list element (`CidrIp`). Plain
dotted paths are compiled without jsonpath-ng (its parser costs more than the whole lint of a
small template); anything else goes through jsonpath-ng and is turned into the same steps.
Navigation branches at `Fn::If`, drops `AWS::NoValue`, and stops with a reason at values that
exist only at deploy time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from walint.findings import Path
from walint.values import Kind, Resolver, intrinsic


class SelectorError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # field | index | all | descend
    name: str = ""
    index: int = 0


@dataclass(frozen=True, slots=True)
class Selector:
    text: str
    steps: tuple[Step, ...]

    @property
    def has_wildcard(self) -> bool:
        return any(s.kind in ("all", "descend") for s in self.steps)


_SIMPLE = re.compile(r"^[A-Za-z0-9_:\-]+(\.[A-Za-z0-9_:\-]+|\[\*\]|\[\d+\])*$")
_TOKEN = re.compile(r"\.?([A-Za-z0-9_:\-]+)|\[(\*|\d+)\]")


@lru_cache(maxsize=4096)
def compile_selector(text: str) -> Selector:
    text = text.strip()
    if text in ("", "@", "$"):
        return Selector(text, ())
    if _SIMPLE.match(text):
        steps = []
        for match in _TOKEN.finditer(text):
            name, bracket = match.groups()
            if name is not None:
                steps.append(Step("field", name))
            elif bracket == "*":
                steps.append(Step("all"))
            else:
                steps.append(Step("index", index=int(bracket)))
        return Selector(text, tuple(steps))
    return Selector(text, tuple(_from_jsonpath(text)))


def _from_jsonpath(text: str) -> list[Step]:
    try:
        from jsonpath_ng import jsonpath as jp  # noqa: PLC0415 - imported only for non-trivial paths
        from jsonpath_ng.parser import parse as jsonpath_parse  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise SelectorError("jsonpath-ng is required for this path") from exc
    try:
        expr = jsonpath_parse(text)
    except Exception as exc:  # jsonpath-ng raises bare Exceptions on syntax errors
        raise SelectorError(f"invalid JSONPath {text!r}: {exc}") from exc

    def walk(node: Any) -> list[Step]:
        if isinstance(node, (jp.Root, jp.This)):
            return []
        if isinstance(node, jp.Child):
            return walk(node.left) + walk(node.right)
        if isinstance(node, jp.Descendants):
            right = walk(node.right)
            if len(right) != 1 or right[0].kind != "field":
                raise SelectorError(f"{text!r}: '..' must be followed by one field name")
            return walk(node.left) + [Step("descend", right[0].name)]
        if isinstance(node, jp.Fields):
            if node.fields == ("@",):
                return []
            if len(node.fields) != 1:
                raise SelectorError(f"{text!r}: select one field at a time")
            name = node.fields[0]
            return [Step("all")] if name == "*" else [Step("field", name)]
        wildcard = getattr(jp, "Wildcard", None)  # older jsonpath-ng parse `*` as Fields('*')
        if wildcard is not None and isinstance(node, wildcard):
            return [Step("all")]
        if isinstance(node, jp.Index):
            if len(node.indices) != 1:
                raise SelectorError(f"{text!r}: select one index at a time")
            return [Step("index", index=node.indices[0])]
        if isinstance(node, jp.Slice) and node.start is None and node.end is None:
            return [Step("all")]
        raise SelectorError(
            f"{text!r}: {type(node).__name__} is not supported in selectors "
            "(use each/some with a check instead of filters)"
        )

    return walk(expr)


@dataclass(frozen=True, slots=True)
class Focus:
    """A node reached by a selector in one alternative world."""

    value: Any
    path: Path
    assumptions: tuple[str, ...] = ()
    absent: bool = False
    unknown: str = ""  # why the node cannot be known before deployment
    target: str = ""  # the logical id, when the node is a Ref/GetAtt to a resource

    def child(self, value: Any, key: str | int, *, absent: bool = False) -> Focus:
        return Focus(value, self.path + (key,), self.assumptions, absent)


def branches(focus: Focus, resolver: Resolver) -> list[Focus]:
    """The Fn::If alternatives of a node, with their assumptions; `!Ref AWS::NoValue` becomes
    absent and every other intrinsic is kept as written (for predicates that read raw values)."""
    out: list[Focus] = []
    pending = [focus]
    while pending:
        current = pending.pop()
        found = None if current.absent or current.unknown else intrinsic(current.value)
        if found and found[0] == "Fn::If":
            live = resolver.branches(found[1])
            if live is None:
                out.append(Focus(None, current.path, current.assumptions, unknown="Fn::If has malformed arguments"))
                continue
            for branch, assumptions, index in reversed(live):
                pending.append(Focus(branch, current.path + ("Fn::If", index), current.assumptions + assumptions))
        elif found == ("Ref", "AWS::NoValue"):
            out.append(Focus(None, current.path, current.assumptions, absent=True))
        else:
            out.append(current)
    return out


def expand(focus: Focus, resolver: Resolver) -> list[Focus]:
    """Resolve intrinsics standing where a structure is expected: Fn::If, NoValue, FindInMap."""
    out: list[Focus] = []
    for current in branches(focus, resolver):
        if current.absent or current.unknown or intrinsic(current.value) is None:
            out.append(current)
            continue
        for alt in resolver.resolve(current.value):
            extra = current.assumptions + alt.assumptions
            if alt.kind is Kind.ABSENT:
                out.append(Focus(None, current.path, extra, absent=True))
            elif alt.kind is Kind.KNOWN:
                out.append(Focus(alt.value, current.path, extra))
            elif alt.kind is Kind.REF:
                target, attribute = alt.value
                what = f"{target}.{attribute}" if attribute else target
                out.append(
                    Focus(current.value, current.path, extra, unknown=f"it is a reference to {what}", target=target)
                )
            else:
                out.append(Focus(None, current.path, extra, unknown=alt.reason))
    return out


def values_at(resolver: Resolver, node: Focus, path: str) -> list[Focus]:
    """Every alternative of the value at `path` under `node`, intrinsics expanded."""
    return [n for f in select(compile_selector(path), node, resolver) for n in expand(f, resolver)]


def select(selector: Selector, focus: Focus, resolver: Resolver) -> list[Focus]:
    """The nodes `selector` reaches from `focus`, in every alternative world."""
    current = [focus]
    for step in selector.steps:
        following: list[Focus] = []
        for node in current:
            for item in expand(node, resolver):
                following.extend(_step(step, item, resolver))
        current = following
    return current


def _step(step: Step, node: Focus, resolver: Resolver) -> list[Focus]:
    if node.absent or node.unknown:
        if step.kind in ("all", "descend"):
            return [] if node.absent else [node]
        key: str | int = step.name if step.kind == "field" else step.index
        return [Focus(None, node.path + (key,), node.assumptions, node.absent, node.unknown)]
    value = node.value
    if step.kind == "field":
        if isinstance(value, dict) and step.name in value:
            return [node.child(value[step.name], step.name)]
        return [node.child(None, step.name, absent=True)]
    if step.kind == "index":
        if isinstance(value, list) and -len(value) <= step.index < len(value):
            return [node.child(value[step.index], step.index % len(value))]
        return [node.child(None, step.index, absent=True)]
    if step.kind == "all":
        if isinstance(value, list):
            return [node.child(item, i) for i, item in enumerate(value)]
        if isinstance(value, dict):
            return [node.child(item, key) for key, item in value.items()]
        return []
    return list(_descend(step.name, node))


def _descend(name: str, node: Focus) -> list[Focus]:
    found: list[Focus] = []
    stack = [node]
    while stack:
        current = stack.pop()
        value = current.value
        if isinstance(value, dict):
            for key, child in reversed(list(value.items())):
                if key == name:
                    found.append(current.child(child, key))
                stack.append(current.child(child, key))
        elif isinstance(value, list):
            for i, child in reversed(list(enumerate(value))):
                stack.append(current.child(child, i))
    return found


def elements(focus: Focus, resolver: Resolver) -> list[Focus]:
    """The elements of a list node, for each/some. A single value counts as a list of one,
    as IAM allows for Statement, Action and Resource; an absent list has no elements."""
    out: list[Focus] = []
    for node in expand(focus, resolver):
        if node.absent:
            continue
        if node.unknown:
            out.append(node)
            continue
        if isinstance(node.value, list):
            for i, item in enumerate(node.value):
                for element in expand(node.child(item, i), resolver):
                    if not element.absent:
                        out.append(element)
        else:
            out.append(node)
    return out
