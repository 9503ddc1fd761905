"""The resource graph: resources by id and type, parameters, conditions, and reference edges."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from walint.findings import Path
from walint.parse import Document

if TYPE_CHECKING:
    from walint.langext import Unexpanded
    from walint.sam import Provenance


class TemplateError(Exception):
    """A decoded file that is a template but not a valid one (wrong shapes)."""

    def __init__(self, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass(frozen=True, slots=True)
class Resource:
    logical_id: str
    type: str
    data: Mapping[str, Any]  # the whole entry: Type, Properties, Condition, Metadata …
    condition: str | None

    @property
    def path(self) -> Path:
        return ("Resources", self.logical_id)

    @property
    def properties(self) -> Mapping[str, Any]:
        props = self.data.get("Properties")
        return props if isinstance(props, dict) else {}


@dataclass(frozen=True, slots=True)
class Edge:
    """`source` refers to `target` from `path` (relative to the source resource)."""

    source: str
    target: str
    kind: str  # Ref | GetAtt | Sub | DependsOn
    path: Path
    attribute: str | None = None


@dataclass(frozen=True)
class Template:
    doc: Document
    resources: Mapping[str, Resource]
    parameters: Mapping[str, Mapping[str, Any]]
    conditions: Mapping[str, Any]
    mappings: Mapping[str, Any]
    outputs: Mapping[str, Any]
    transforms: tuple[str, ...]
    metadata: Mapping[str, Any]
    notes: tuple[str, ...] = ()
    edges_from: Mapping[str, tuple[Edge, ...]] = field(default_factory=dict)
    edges_to: Mapping[str, tuple[Edge, ...]] = field(default_factory=dict)
    by_type: Mapping[str, tuple[Resource, ...]] = field(default_factory=dict)
    _matching: dict[tuple[str, ...], tuple[Resource, ...]] = field(default_factory=dict, compare=False, repr=False)
    #: For a template a transform (SAM) produced: where its generated resources came from.
    provenance: Provenance | None = field(default=None, compare=False, repr=False)
    #: AWS::LanguageExtensions loops that could not be expanded: what they create is undecided.
    unexpanded: tuple[Unexpanded, ...] = field(default=(), compare=False, repr=False)

    @property
    def path(self) -> str:
        return self.doc.path

    def of_type(self, resource_type: str) -> tuple[Resource, ...]:
        """The resources of one type, in template order (indexed: no scan of the template)."""
        return self.by_type.get(resource_type, ())

    def matching(self, patterns: Iterable[str]) -> tuple[Resource, ...]:
        """The resources whose type matches any of the glob patterns, in template order."""
        key = tuple(patterns)
        found = self._matching.get(key)
        if found is None:
            types = {t for t in self.by_type if any(fnmatch.fnmatchcase(t, p) for p in key)}
            found = tuple(r for r in self.resources.values() if r.type in types)
            self._matching[key] = found
        return found


def is_template(data: Any) -> bool:
    """A CloudFormation template has a Resources mapping and a CloudFormation marker."""
    if not isinstance(data, dict) or "Resources" not in data:
        return False
    if "AWSTemplateFormatVersion" in data or "Transform" in data:
        return True
    resources = data["Resources"]
    if not isinstance(resources, dict):
        return False
    return any(
        isinstance(r, dict) and isinstance(r.get("Type"), str) and r["Type"].startswith("AWS::")
        for r in resources.values()
    )


def _declares(data: dict[str, Any], transform: str) -> bool:
    declared = data.get("Transform")
    return declared == transform or (isinstance(declared, list) and transform in declared)


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateError(f"{name} must be a mapping, not {shape(value)}", (name,))
    return value


def shape(value: Any) -> str:
    """What a value is, for error messages ("a list", "a string" …)."""
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"


def build(doc: Document) -> Template:
    """Build the graph of a decoded template. Raises TemplateError on invalid shapes."""
    data = doc.data
    raw_resources = data.get("Resources")
    if not isinstance(raw_resources, dict):
        raise TemplateError(f"Resources must be a mapping, not {shape(raw_resources)}", ("Resources",))
    resources: dict[str, Resource] = {}
    notes: list[str] = []
    for logical_id, entry in raw_resources.items():
        where = ("Resources", logical_id)
        if logical_id.startswith("Fn::ForEach::"):
            # Loops are expanded before the graph is built (walint.langext), which reports those it
            # cannot expand; one left here has no transform to expand it.
            if not _declares(data, "AWS::LanguageExtensions"):
                notes.append(
                    f"{logical_id} (Fn::ForEach) needs Transform: AWS::LanguageExtensions, which the template "
                    "does not declare; the resources it would create were not checked"
                )
            continue
        if not isinstance(entry, dict):
            raise TemplateError(f"resource {logical_id} must be a mapping, not {shape(entry)}", where)
        rtype = entry.get("Type")
        if isinstance(rtype, dict) and len(rtype) == 1:
            tag = next(iter(rtype)).removeprefix("Fn::")
            raise TemplateError(
                f"resource {logical_id} has Type !{tag}, which CloudFormation does not accept "
                "(a Rain module or another pre-processor must run first)",
                where + ("Type",),
            )
        if not isinstance(rtype, str) or not rtype:
            raise TemplateError(f"resource {logical_id} has no Type", where)
        condition = entry.get("Condition")
        resources[logical_id] = Resource(logical_id, rtype, entry, condition if isinstance(condition, str) else None)
    transform = data.get("Transform")
    if isinstance(transform, str):
        transforms: tuple[str, ...] = (transform,)
    elif isinstance(transform, list):
        transforms = tuple(t for t in transform if isinstance(t, str))
    else:
        transforms = ()
    parameters = {name: (spec if isinstance(spec, dict) else {}) for name, spec in _section(data, "Parameters").items()}
    template = Template(
        doc=doc,
        resources=resources,
        parameters=parameters,
        conditions=_section(data, "Conditions"),
        mappings=_section(data, "Mappings"),
        outputs=_section(data, "Outputs"),
        transforms=transforms,
        metadata=_section(data, "Metadata"),
        notes=tuple(notes),
    )
    edges_from: dict[str, list[Edge]] = {}
    edges_to: dict[str, list[Edge]] = {}
    for resource in resources.values():
        for edge in _edges(resource, resources):
            edges_from.setdefault(edge.source, []).append(edge)
            edges_to.setdefault(edge.target, []).append(edge)
    by_type: dict[str, list[Resource]] = {}
    for resource in resources.values():
        by_type.setdefault(resource.type, []).append(resource)
    object.__setattr__(template, "by_type", {k: tuple(v) for k, v in by_type.items()})
    object.__setattr__(template, "edges_from", {k: tuple(v) for k, v in edges_from.items()})
    object.__setattr__(template, "edges_to", {k: tuple(v) for k, v in edges_to.items()})
    return template


_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")


def _edges(resource: Resource, resources: Mapping[str, Resource]) -> Iterator[Edge]:
    source = resource.logical_id
    depends = resource.data.get("DependsOn")
    names = [depends] if isinstance(depends, str) else depends if isinstance(depends, list) else []
    for i, name in enumerate(names):
        if isinstance(name, str) and name in resources:
            yield Edge(source, name, "DependsOn", ("DependsOn",) if isinstance(depends, str) else ("DependsOn", i))
    for key in ("Properties", "Metadata"):
        if key in resource.data:
            yield from _walk(source, resource.data[key], (key,), resources)


def _walk(source: str, value: Any, path: Path, resources: Mapping[str, Resource]) -> Iterator[Edge]:
    # Iterative, so that deeply nested properties cannot exhaust the Python stack.
    stack: list[tuple[Any, Path]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            if len(node) == 1:
                ((name, arg),) = node.items()
                if name == "Ref" and isinstance(arg, str):
                    if arg in resources:
                        yield Edge(source, arg, "Ref", where)
                    continue
                if name == "Fn::GetAtt":
                    target, attribute = _getatt_target(arg)
                    if target is not None and target in resources:
                        yield Edge(source, target, "GetAtt", where, attribute)
                    continue
                if name == "Fn::Sub":
                    yield from _sub_edges(source, arg, where, resources)
            for key, child in node.items():
                stack.append((child, where + (key,)))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                stack.append((child, where + (i,)))


def _getatt_target(arg: Any) -> tuple[str | None, str | None]:
    if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
        return arg[0], arg[1] if isinstance(arg[1], str) else None
    if isinstance(arg, str):
        target, _, attribute = arg.partition(".")
        return target, attribute or None
    return None, None


def _sub_edges(source: str, arg: Any, where: Path, resources: Mapping[str, Resource]) -> Iterator[Edge]:
    text = arg[0] if isinstance(arg, list) and arg else arg
    local = set(arg[1]) if isinstance(arg, list) and len(arg) > 1 and isinstance(arg[1], dict) else set()
    if not isinstance(text, str):
        return
    for match in _SUB_VAR.finditer(text):
        name, _, attribute = match.group(1).strip().partition(".")
        if name in resources and name not in local:
            yield Edge(source, name, "Sub", where + ("Fn::Sub",), attribute or None)
