"""Rule clauses: compiled once from the rule YAML, evaluated with Kleene three-valued logic.

    clause     := leaf | logic | quantifier | relation | predicate
    leaf       := {path: P, <op>: V [, default: D]}   op ∈ exists equals in matches gte lte
    logic      := {all: [clause…]} | {any: [clause…]} | {not: clause}
    quantifier := {each: P, check: clause} | {some: P, check: clause}
    relation   := {references: {path: P, type: T [, check: clause]}}
                | {referenced_by: {type: T [, via: P] [, check: clause]}}
    predicate  := {path: P, predicate: NAME [, args: {…}]}

A clause evaluates to True, False or None (unknown) with the path that decided it and, when
unknown, the reasons. Where a value has several alternatives (Fn::If, a parameter's
AllowedValues), a leaf is decided only when every alternative agrees.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from walint.findings import Path, without_if
from walint.graph import Edge, Resource, Template
from walint.selectors import Focus, Selector, SelectorError, compile_selector, elements, expand, select
from walint.values import Resolver, Tri, as_number, normalize, tri_all


class ClauseError(ValueError):
    """A clause that does not compile; `where` names the key path inside the rule."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where


@dataclass(frozen=True, slots=True)
class Result:
    tri: Tri
    path: Path = ()
    reasons: tuple[str, ...] = ()
    detail: str = ""


@dataclass
class Scope:
    """What a clause evaluates against: the template, its resolver, the current resource."""

    template: Template
    resolver: Resolver
    resource: Resource
    options: Mapping[str, Any] = field(default_factory=dict)

    def at(self, resource: Resource) -> Scope:
        return Scope(self.template, self.resolver, resource, self.options)


def display(path: Path) -> str:
    """A resource-relative path as users write it: Properties.Tags[0].Key."""
    parts = path[2:] if len(path) >= 2 and path[0] == "Resources" else path
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or (str(path[1]) if len(path) >= 2 else "template")


class Clause:
    def evaluate(self, scope: Scope, focus: Focus) -> Result:
        raise NotImplementedError


# -- leaves ----------------------------------------------------------------------------------

_MISSING = object()
_OPS = ("exists", "equals", "in", "matches", "gte", "lte")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "a structure"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Leaf(Clause):
    selector: Selector
    op: str
    arg: Any
    default: Any = _MISSING
    pattern: re.Pattern[str] | None = None

    def test(self, value: Any) -> bool:
        if self.op == "equals":
            return bool(normalize(value) == normalize(self.arg))
        if self.op == "in":
            norm = normalize(value)
            return any(norm == normalize(a) for a in self.arg)
        if self.op == "matches":
            return (
                isinstance(value, (str, int, float))
                and not isinstance(value, bool)
                and bool(self.pattern and self.pattern.search(str(value)))
            ) or (isinstance(value, bool) and bool(self.pattern and self.pattern.search(_show(value))))
        number = as_number(value)
        limit = as_number(self.arg)
        if number is None or limit is None:
            return False
        return number >= limit if self.op == "gte" else number <= limit

    def judge(self, node: Focus) -> Tri:
        if self.op == "exists":
            return (not node.absent) == bool(self.arg)
        if node.absent:
            return False if self.default is _MISSING else self.test(self.default)
        if node.unknown:
            return None
        return self.test(node.value)

    def evaluate(self, scope: Scope, focus: Focus) -> Result:
        nodes = [n for f in select(self.selector, focus, scope.resolver) for n in expand(f, scope.resolver)]
        return superpose([(self.judge(n), n) for n in nodes])


def superpose(judged: Sequence[tuple[Tri, Focus]]) -> Result:
    """Combine the alternatives of one value: decided only when all agree."""
    if not judged:
        return Result(False)
    tris = {t for t, _ in judged}
    if len(tris) == 1 and None not in tris:
        first = judged[0][1]
        return Result(tris.pop(), first.path)
    reasons: list[str] = []
    for tri, node in judged:
        where = display(node.path)
        if tri is None:
            reasons.append(f"{where}: {node.unknown}")
        elif node.assumptions:
            state = "not set" if node.absent else "set at deploy time" if node.unknown else _show(node.value)
            reasons.append(f"{_base(node.path)} is {state} when {' and '.join(node.assumptions)}")
    path = next((n.path for t, n in judged if t is None), judged[0][1].path)
    return Result(None, path, tuple(dict.fromkeys(reasons)))


def _base(path: Path) -> str:
    """The display path without the Fn::If plumbing."""
    return display(without_if(path))


# -- logic -----------------------------------------------------------------------------------


def _is_type_guard(path: Path) -> bool:
    """A resource's Type: what `any` alternatives test to dispatch on the resource type."""
    return len(path) == 3 and path[0] == "Resources" and path[2] == "Type"


def _combine(results: list[Result], decisive: bool) -> Result:
    """Kleene all (decisive=False) or any (decisive=True) over evaluated children."""
    for r in results:
        if r.tri is decisive:
            return r
    unknown = [r for r in results if r.tri is None]
    if unknown:
        reasons = tuple(dict.fromkeys(reason for r in unknown for reason in r.reasons))
        return Result(None, unknown[0].path, reasons, unknown[0].detail)
    if results and decisive:
        # No alternative of an `any` held: point at the most specific place that was checked,
        # not at a type guard of the first alternative.
        deepest = max(results, key=lambda r: (not _is_type_guard(r.path), len(r.path)))
        return Result(False, deepest.path, (), next((r.detail for r in results if r.detail), ""))
    if results:
        return Result(True, results[0].path, (), results[0].detail)
    return Result(not decisive)


@dataclass(frozen=True)
class All(Clause):
    parts: tuple[Clause, ...]

    def evaluate(self, scope: Scope, focus: Focus) -> Result:
        results = []
        for part in self.parts:
            result = part.evaluate(scope, focus)
            if result.tri is False:
                return result
            results.append(result)
        return _combine(results, False)


@dataclass(frozen=True)
class AnyOf(Clause):
    parts: tuple[Clause, ...]

    def evaluate(self, scope: Scope, focus: Focus) -> Result:
        results = []
        for part in self.parts:
            result = part.evaluate(scope, focus)
            if result.tri is True:
                return result
            results.append(result)
        return _combine(results, True)


@dataclass(frozen=True)
class Not(Clause):
    part: Clause

    def evaluate(self, scope: Scope, focus: Focus) -> Result:
        r = self.part.evaluate(scope, focus)
        return Result(None if r.tri is None else not r.tri, r.path, r.reasons, r.detail)


# -- quantifiers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantifier(Clause):
    selector: Selector
    check: Clause
    every: bool  # each (True) or some (False)

    def evaluate(self, scope: Scope, focus: Focus) -> Result:
        decisive = not self.every  # each is decided by a False, some by a True
        results: list[Result] = []
        nodes = select(self.selector, focus, scope.resolver)
        for node in nodes:
            for element in elements(node, scope.resolver):
                if element.unknown and not element.target:
                    results.append(Result(None, element.path, (f"{display(element.path)}: {element.unknown}",)))
                    continue
                r = self.check.evaluate(scope, element)
                if r.tri is decisive and element.assumptions:
                    # The element exists only in some deployments: not certain either way.
                    why = f"{display(element.path)} exists only when {' and '.join(element.assumptions)}"
                    r = Result(None, r.path, (why, *r.reasons), r.detail)
                if r.tri is decisive:
                    return r
                results.append(r)
        where = nodes[0].path if nodes else focus.path
        if not results:
            # No elements: point at the list (or where it would be), not at the resource.
            return Result(self.every, where)
        return _combine(results, decisive)


# -- relations -------------------------------------------------------------------------------


def _type_matches(resource_type: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(resource_type, p) for p in patterns)


def _condition(scope: Scope, name: str) -> Tri:
    """A condition's truth where the judged resource exists: its own condition holds there."""
    if name == scope.resource.condition:
        return True
    return scope.resolver.condition(name)


def _edge_presence(scope: Scope, source: Resource, edge: Edge) -> Tri:
    """Whether the edge exists in the deployment: Fn::If branches and resource conditions."""
    presence: Tri = True
    node: Any = source.data
    for i, part in enumerate(edge.path):
        if part == "Fn::If" and isinstance(node, dict) and i + 1 < len(edge.path):
            arg = node.get("Fn::If")
            branch = edge.path[i + 1]
            if isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str) and branch in (1, 2):
                truth = _condition(scope, arg[0])
                taken = None if truth is None else (truth if branch == 1 else not truth)
                presence = tri_all([presence, taken])
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
    if source.condition:
        presence = tri_all([presence, _condition(scope, source.condition)])
    return presence


def _related(
    scope: Scope, candidates: list[tuple[Edge, Resource, Resource]], check: Clause | None, here: Path
) -> list[Result]:
    """One result per edge: the edge exists and its other end satisfies `check`. Results are
    located `here`, in the judged resource, so that findings point at the resource judged."""
    results = []
    for edge, source, other in candidates:
        presence = _edge_presence(scope, source, edge)
        if other.condition:
            presence = tri_all([presence, _condition(scope, other.condition)])
        if presence is False:
            continue
        r = check.evaluate(scope.at(other), Focus(other.data, other.path)) if check else Result(True, other.path)
        tri = tri_all([presence, r.tri])
        reasons = r.reasons
        if presence is None and r.tri is not False:
            reasons = (f"{source.logical_id} refers to {edge.target} only under a condition",) + reasons
        results.append(Result(tri, here, reasons, r.detail))
    return results


@dataclass(frozen=True)
class References(Clause):
    selector: Selector | None
    types: tuple[str, ...]
    check: Clause | None

    def evaluate(self, scope: Scope, focus: Focus) -> Result:
        resource = scope.resource
        prefixes: list[Path] = []
        unknown: list[str] = []
        if self.selector is None:
            prefixes.append(resource.path)
        else:
            for node in select(self.selector, focus, scope.resolver):
                for item in expand(node, scope.resolver):
                    if item.unknown and not item.target:
                        unknown.append(f"{display(item.path)}: {item.unknown}")
                    prefixes.append(node.path)
        candidates = []
        for edge in scope.template.edges_from.get(resource.logical_id, ()):
            full = resource.path + edge.path
            target = scope.template.resources.get(edge.target)
            if target is None or not _type_matches(target.type, self.types):
                continue
            if any(full[: len(p)] == p for p in prefixes):
                candidates.append((edge, resource, target))
        where = prefixes[0] if prefixes else focus.path
        results = _related(scope, candidates, self.check, where)
        if unknown:
            results.append(Result(None, where, tuple(unknown)))
        combined = _combine(results, True)
        return combined if results else Result(False, where)


def _via_matches(selector: Selector, path: Path) -> bool:
    path = without_if(path)
    if len(path) < len(selector.steps):
        return False
    for step, part in zip(selector.steps, path, strict=False):
        if step.kind == "field" and part != step.name:
            return False
        if step.kind == "index" and part != step.index:
            return False
    return True


@dataclass(frozen=True)
class ReferencedBy(Clause):
    types: tuple[str, ...]
    via: Selector | None
    check: Clause | None

    def evaluate(self, scope: Scope, focus: Focus) -> Result:
        resource = scope.resource
        candidates = []
        for edge in scope.template.edges_to.get(resource.logical_id, ()):
            source = scope.template.resources.get(edge.source)
            if source is None or not _type_matches(source.type, self.types):
                continue
            if self.via is not None and not _via_matches(self.via, edge.path):
                continue
            candidates.append((edge, source, source))
        results = _related(scope, candidates, self.check, focus.path)
        return _combine(results, True) if results else Result(False, focus.path)


# -- predicates ------------------------------------------------------------------------------

PredicateFn = Callable[[Scope, list[Focus], Mapping[str, Any]], Result]
PREDICATES: dict[str, PredicateFn] = {}


def predicate(name: str) -> Callable[[PredicateFn], PredicateFn]:
    def register(fn: PredicateFn) -> PredicateFn:
        if name in PREDICATES and PREDICATES[name] is not fn:
            raise ValueError(f"predicate {name!r} is registered twice ({PREDICATES[name].__module__}, {fn.__module__})")
        PREDICATES[name] = fn
        return fn

    return register


def check_arg(args: Mapping[str, Any], key: str = "check") -> Clause | None:
    """A predicate's clause argument, compiled when its rule loaded (see _predicate)."""
    value = args.get(key)
    if value is None or isinstance(value, Clause):
        return value
    raise ClauseError(f"'{key}' was not compiled as a clause", key)


@dataclass(frozen=True)
class Predicate(Clause):
    selector: Selector
    name: str
    args: Mapping[str, Any]
    option_keys: tuple[str, ...] = ()

    def evaluate(self, scope: Scope, focus: Focus) -> Result:
        overrides = {key: scope.options[key] for key in self.option_keys if key in scope.options}
        # The rule's own mapping when nothing is overridden: predicates may memoise per clause on it.
        args = {**self.args, **overrides} if overrides else self.args
        nodes = select(self.selector, focus, scope.resolver)
        return PREDICATES[self.name](scope, nodes, args)


# -- compilation -----------------------------------------------------------------------------

_LEAF_KEYS = {"path", "default", *_OPS}


def compile_clause(spec: Any, where: str, options: Mapping[str, Any] | None = None) -> Clause:
    """Compile a clause from rule YAML. `where` names the key path for error messages."""
    from walint import predicates as _  # noqa: F401, PLC0415 - registers the predicates

    if not isinstance(spec, dict) or not spec:
        raise ClauseError("expected a clause (a mapping such as {path: …, equals: …})", where)
    keys = set(spec)
    try:
        if keys in ({"all"}, {"any"}):
            ((name, parts),) = spec.items()
            if not isinstance(parts, list) or not parts:
                raise ClauseError(f"'{name}' takes a non-empty list of clauses", f"{where}.{name}")
            compiled = tuple(compile_clause(p, f"{where}.{name}[{i}]", options) for i, p in enumerate(parts))
            return All(compiled) if name == "all" else AnyOf(compiled)
        if keys == {"not"}:
            return Not(compile_clause(spec["not"], f"{where}.not", options))
        if keys in ({"each", "check"}, {"some", "check"}):
            name = "each" if "each" in keys else "some"
            return Quantifier(
                _selector(spec[name], f"{where}.{name}"),
                compile_clause(spec["check"], f"{where}.check", options),
                every=name == "each",
            )
        if keys in ({"references"}, {"referenced_by"}):
            return _relation(spec, where, options)
        if "predicate" in keys:
            return _predicate(spec, where, options)
        return _leaf(spec, where)
    except SelectorError as exc:
        raise ClauseError(str(exc), where) from exc


def _selector(text: Any, where: str) -> Selector:
    if not isinstance(text, str):
        raise ClauseError("a path must be a string (JSONPath)", where)
    try:
        return compile_selector(text)
    except SelectorError as exc:
        raise ClauseError(str(exc), where) from exc


def _types(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ClauseError("'type' takes a resource type or a list of them", where)


def _relation(spec: dict[str, Any], where: str, options: Mapping[str, Any] | None) -> Clause:
    ((name, body),) = spec.items()
    here = f"{where}.{name}"
    if not isinstance(body, dict):
        raise ClauseError(f"'{name}' takes a mapping", here)
    allowed = {"path", "type", "check"} if name == "references" else {"type", "via", "check"}
    unknown = set(body) - allowed
    if unknown:
        raise ClauseError(f"unknown key(s) {sorted(unknown)}; expected {sorted(allowed)}", here)
    if "type" not in body:
        raise ClauseError("'type' is required", here)
    types = _types(body["type"], f"{here}.type")
    check = compile_clause(body["check"], f"{here}.check", options) if "check" in body else None
    if name == "references":
        selector = _selector(body["path"], f"{here}.path") if "path" in body else None
        return References(selector, types, check)
    via = _selector(body["via"], f"{here}.via") if "via" in body else None
    if via is not None and any(s.kind == "descend" for s in via.steps):
        raise ClauseError("'via' does not support '..'", f"{here}.via")
    return ReferencedBy(types, via, check)


def _predicate(spec: dict[str, Any], where: str, options: Mapping[str, Any] | None) -> Clause:
    unknown = set(spec) - {"path", "predicate", "args", "options"}
    if unknown:
        raise ClauseError(f"unknown key(s) {sorted(unknown)} in a predicate clause", where)
    name = spec["predicate"]
    if name not in PREDICATES:
        raise ClauseError(f"unknown predicate {name!r}; known: {sorted(PREDICATES)}", f"{where}.predicate")
    args = spec.get("args", {})
    if not isinstance(args, dict):
        raise ClauseError("'args' takes a mapping", f"{where}.args")
    option_keys = spec.get("options", [])
    if not isinstance(option_keys, list) or not all(isinstance(k, str) for k in option_keys):
        raise ClauseError("'options' takes a list of argument names users may configure", f"{where}.options")
    if "check" in args:
        # A nested clause is compiled with the rule, so that its errors surface when rules load.
        args = {**args, "check": compile_clause(args["check"], f"{where}.args.check", options)}
    return Predicate(_selector(spec.get("path", "@"), f"{where}.path"), name, args, tuple(option_keys))


def _leaf(spec: dict[str, Any], where: str) -> Clause:
    unknown = set(spec) - _LEAF_KEYS
    if unknown:
        raise ClauseError(
            f"unknown key(s) {sorted(unknown)}; a leaf has 'path', one of {list(_OPS)} and optionally 'default'",
            where,
        )
    ops = [k for k in _OPS if k in spec]
    if len(ops) != 1:
        raise ClauseError(f"a leaf needs exactly one operator of {list(_OPS)}, found {ops or 'none'}", where)
    if "path" not in spec:
        raise ClauseError("a leaf needs a 'path'", where)
    op = ops[0]
    arg = spec[op]
    selector = _selector(spec["path"], f"{where}.path")
    if selector.has_wildcard:
        raise ClauseError("a leaf path selects one value; use each/some to test list elements", f"{where}.path")
    if op == "exists" and not isinstance(arg, bool):
        raise ClauseError("'exists' takes true or false", f"{where}.exists")
    if op == "exists" and "default" in spec:
        raise ClauseError("'default' makes no sense with 'exists'", f"{where}.default")
    if op == "in" and not isinstance(arg, list):
        raise ClauseError("'in' takes a list of values", f"{where}.in")
    if op in ("gte", "lte") and as_number(arg) is None:
        raise ClauseError(f"'{op}' takes a number", f"{where}.{op}")
    pattern = None
    if op == "matches":
        if not isinstance(arg, str):
            raise ClauseError("'matches' takes a regular expression string", f"{where}.matches")
        try:
            pattern = re.compile(arg)
        except re.error as exc:
            raise ClauseError(f"invalid regular expression: {exc}", f"{where}.matches") from exc
    return Leaf(selector, op, arg, spec.get("default", _MISSING), pattern)
