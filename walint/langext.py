"""Expand the AWS::LanguageExtensions transform before the resource graph is built.

Only templates that declare the transform (`Transform: AWS::LanguageExtensions`, alone or in a
list, e.g. with the SAM transform) are touched; any other document is returned as it is.

What is expanded, as CloudFormation's transform does it:

* `"Fn::ForEach::Name": [Identifier, Collection, {OutputKey: OutputValue, ...}]` is allowed as a
  key of the `Resources`, `Outputs` and `Conditions` sections and of any mapping inside a
  resource's `Properties`; loops nest (the fragment may hold further loops, whose bodies see the
  identifiers of every enclosing loop). For each item of the collection the fragment is copied
  into the mapping that holds the loop, in place of the loop key, with:
  - `${Identifier}` and `&{Identifier}` replaced in every mapping key of the fragment and in the
    strings of `Fn::Sub` (`&{}` drops the non-alphanumeric characters of the item, so that it can
    form a logical id); an `Fn::Sub` string left with no variable becomes a plain string;
  - `{"Ref": Identifier}` replaced by the item.
  Plain strings outside `Fn::Sub` are not rewritten (neither does CloudFormation).
* The collection is a literal list of strings (items may be intrinsics that resolve to one
  string), a `Ref` to a `CommaDelimitedList` or `List<…>` parameter, `Fn::FindInMap`, `Fn::Split`,
  `Fn::If`, or another intrinsic `walint.values` resolves to a list. Parameter values come from the
  user (`parameters`) or, with `assume_defaults`, from the parameter's `Default`.
* `Fn::Length` of a list (literal, or an intrinsic that resolves to a list) becomes an integer;
  `Fn::ToJsonString` of a mapping or list without intrinsics becomes its compact JSON text;
  `Fn::FindInMap` with a fourth argument `{"DefaultValue": x}` becomes the map value, or x when the
  map, key or second key is missing, once its three keys are known. Anything that cannot be
  evaluated stays as written, so the value model reports it as unknown.
* `DeletionPolicy`/`UpdateReplacePolicy` given as `Ref`/`Fn::If` stay as written: the value model
  (`walint.values.Resolver`) resolves them like any other value.

A loop whose collection cannot be resolved stays in place and is listed in
`Expansion.unexpanded`. So does a loop one of whose directly nested loops cannot be expanded
(expanding the outer one would put several copies of the inner loop key in one mapping). Loops in
`Properties` of an expanded resource that cannot be expanded stay inside each copy.

User errors raise `walint.graph.TemplateError` with the path of the offending node *in the
original document*: a loop that is not a list of three items, a missing loop name, a loop name
used twice or equal to a logical id, an identifier that is also a parameter or resource name or
the identifier of an enclosing loop, an output key without the identifier, a collection that is
not a list, keys that the expansion duplicates, logical ids that are not alphanumeric, a
malformed `DefaultValue`, and an expansion beyond `MAX_NODES` nodes.

Marks: every node of the new document keeps the span of the node it was copied from, so a finding
on an expanded resource points at the line in the loop body; the expanded key (e.g. a logical id)
has the span of the loop's OutputKey. The new document holds fresh containers: `doc.data` is never
mutated.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from walint import parse
from walint.findings import Path, Span
from walint.graph import Resource, Template, TemplateError, shape
from walint.parse import Document
from walint.values import Alt, Kind, Resolver, intrinsic

TRANSFORM = "AWS::LanguageExtensions"

#: Upper bound on the nodes of an expanded document (looked up at run time, so tests can lower it).
MAX_NODES = parse.MAX_NODES

_LOOP = "Fn::ForEach"
_LOOP_PREFIX = "Fn::ForEach::"
_ALNUM = re.compile(r"[A-Za-z0-9]+")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Unexpanded:
    """A loop left in place: its path in the expanded document, the types of the resources its
    body would create (for a loop inside Properties, the type of the enclosing resource), and why."""

    path: Path
    resource_types: tuple[str, ...]
    reason: str
    #: The logical id of the enclosing resource, for a loop inside a resource's Properties.
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class Expansion:
    doc: Document
    unexpanded: tuple[Unexpanded, ...] = ()
    notes: tuple[str, ...] = ()


def declares_transform(data: Any) -> bool:
    """Whether a decoded template asks for AWS::LanguageExtensions."""
    if not isinstance(data, dict):
        return False
    transform = data.get("Transform")
    return transform == TRANSFORM or (isinstance(transform, list) and TRANSFORM in transform)


def expand(doc: Document, parameters: Mapping[str, str], assume_defaults: bool) -> Expansion:
    """Expand AWS::LanguageExtensions in `doc`; the document itself when it does not declare it.
    Raises TemplateError (with a path in `doc`) for templates the transform would reject."""
    if not declares_transform(doc.data):
        return Expansion(doc)
    expander = _Expander(doc, parameters, assume_defaults)
    try:
        data = expander.run()
    except RecursionError as exc:
        raise TemplateError("the template nests too deeply to expand its AWS::LanguageExtensions") from exc
    return Expansion(
        Document(doc.path, data, expander.marks),
        tuple(expander.unexpanded),
        tuple(dict.fromkeys(expander.notes)),
    )


class _Place(enum.Enum):
    """Where a node sits, which decides whether loops may appear and intrinsics are evaluated."""

    RESOURCES = "resources"  # the Resources mapping: loops allowed, keys are logical ids
    OUTPUTS = "outputs"
    CONDITIONS = "conditions"
    RESOURCE = "resource"  # one resource entry (Type, Properties, DependsOn …)
    PROPERTIES = "properties"  # anything under a resource's Properties: loops allowed
    VALUE = "value"  # other values of Resources/Outputs/Conditions: intrinsics evaluated
    RAW = "raw"  # Parameters, Mappings, Metadata …: copied as they are


_LOOP_PLACES = frozenset({_Place.RESOURCES, _Place.OUTPUTS, _Place.CONDITIONS, _Place.PROPERTIES})
_ID_PLACES = frozenset({_Place.RESOURCES, _Place.OUTPUTS, _Place.CONDITIONS})
_SECTIONS = {"Resources": _Place.RESOURCES, "Outputs": _Place.OUTPUTS, "Conditions": _Place.CONDITIONS}


def _child_place(place: _Place, key: Any) -> _Place:
    if place is _Place.RESOURCES:
        return _Place.RESOURCE
    if place is _Place.RESOURCE:
        return _Place.PROPERTIES if key == "Properties" else _Place.VALUE
    if place in (_Place.PROPERTIES, _Place.RAW):
        return place
    return _Place.VALUE


@dataclass(frozen=True, slots=True)
class _Loop:
    key: str  # "Fn::ForEach::Name"
    src: Path  # path of the key in the original document
    identifier: str
    collection: Any
    body: dict[str, Any]


# The owner of a node: (logical id, type) of the resource it belongs to, if any.
_Owner = tuple[str, str] | None
# Identifier → item of the enclosing loops.
_Env = Mapping[str, str]


class _Expander:
    def __init__(self, doc: Document, parameters: Mapping[str, str], assume_defaults: bool) -> None:
        self.doc = doc
        self.values = dict(parameters)
        self.assume_defaults = assume_defaults
        self.marks: dict[Path, Span] = {}
        self.unexpanded: list[Unexpanded] = []
        self.notes: list[str] = []
        self.count = 0
        data: dict[str, Any] = doc.data
        self.parameters = {n: (s if isinstance(s, dict) else {}) for n, s in _dict(data.get("Parameters")).items()}
        resources = _dict(data.get("Resources"))
        self.resource_ids = {k for k in resources if isinstance(k, str) and not k.startswith(_LOOP)}
        self.mappings = _dict(data.get("Mappings"))
        self.conditions = _dict(data.get("Conditions"))
        self.loop_names: dict[str, Path] = {}
        self.outermost: Path = ()  # the outermost loop being expanded, for the size error
        self._resolver: Resolver | None = None

    # -- driver ---------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        data: dict[str, Any] = self.doc.data
        done: dict[str, Any] = {}
        # Conditions first: a collection chosen by Fn::If may test a condition a loop creates.
        for key in sorted(data, key=lambda k: k != "Conditions"):
            if key.startswith(_LOOP):
                raise TemplateError(f"{key} is not allowed at the top level of a template", (key,))
            self._mark((key,), (key,))
            done[key] = self._node(data[key], (key,), (key,), {}, _SECTIONS.get(key, _Place.RAW), None)
            if key == "Conditions" and isinstance(done[key], dict):
                self.conditions = done[key]
                self._resolver = None
        return {key: done[key] for key in data}

    @property
    def resolver(self) -> Resolver:
        if self._resolver is None:
            template = Template(
                doc=self.doc,
                resources={rid: Resource(rid, "", {}, None) for rid in self.resource_ids},
                parameters=self.parameters,
                conditions=self.conditions,
                mappings=self.mappings,
                outputs={},
                transforms=(TRANSFORM,),
                metadata={},
            )
            self._resolver = Resolver(template, self.values, assume_defaults=self.assume_defaults)
        return self._resolver

    # -- walking --------------------------------------------------------------------------------

    def _node(self, value: Any, src: Path, dst: Path, env: _Env, place: _Place, owner: _Owner) -> Any:
        self._tick()
        if isinstance(value, dict):
            if place is not _Place.RAW and len(value) == 1:
                ((name, arg),) = value.items()
                if name == "Ref" and isinstance(arg, str) and arg in env:
                    return env[arg]
                if name == "Fn::Sub" and env:
                    text = arg[0] if isinstance(arg, list) and arg else arg
                    if isinstance(text, str):
                        new = _substitute(text, env)
                        if isinstance(arg, str) and new != text and not _SUB_VAR.search(new):
                            return new.replace("${!", "${")
                        value = {name: new if isinstance(arg, str) else [new, *arg[1:]]}
                elif name == "Fn::Length":
                    return self._length(arg, src, dst, env, place, owner)
                elif name == "Fn::ToJsonString":
                    return self._to_json(arg, src, dst, env, place, owner)
                elif name == "Fn::FindInMap" and isinstance(arg, list) and len(arg) == 4:
                    return self._find_in_map(arg, src, dst, env, place, owner)
            return self._mapping(value, src, dst, env, place, owner)
        if isinstance(value, list):
            inner = _child_place(place, None)
            out = []
            for i, item in enumerate(value):
                self._mark(src + (i,), dst + (i,))
                out.append(self._node(item, src + (i,), dst + (i,), env, inner, owner))
            return out
        return value  # scalars are immutable: sharing them is safe

    def _mapping(
        self, value: dict[str, Any], src: Path, dst: Path, env: _Env, place: _Place, owner: _Owner
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, child in value.items():
            ksrc = src + (key,)
            if key.startswith(_LOOP):
                if place not in _LOOP_PLACES:
                    raise TemplateError(
                        f"{key} is not allowed here: AWS::LanguageExtensions expands Fn::ForEach only in "
                        "Resources, resource Properties, Outputs and Conditions",
                        ksrc,
                    )
                self._loop(key, child, ksrc, out, dst, env, place, owner)
                continue
            new_key = _substitute(key, env) if env else key
            if new_key != key and place in _ID_PLACES and not _ALNUM.fullmatch(new_key):
                raise TemplateError(
                    f"the loop produces the logical id {new_key!r}, which is not alphanumeric "
                    "(use &{Identifier} to drop the other characters)",
                    ksrc,
                )
            if new_key in out:
                raise TemplateError(f"the loop produces the key {new_key!r} twice", ksrc)
            kdst = dst + (new_key,)
            self._mark(ksrc, kdst)
            child_owner = owner
            if place is _Place.RESOURCES:
                rtype = child.get("Type") if isinstance(child, dict) else None
                child_owner = (new_key, rtype if isinstance(rtype, str) else "")
            out[new_key] = self._node(child, ksrc, kdst, env, _child_place(place, key), child_owner)
        return out

    # -- Fn::ForEach ----------------------------------------------------------------------------

    def _loop(
        self,
        key: str,
        value: Any,
        src: Path,
        out: dict[str, Any],
        dst: Path,
        env: _Env,
        place: _Place,
        owner: _Owner,
    ) -> None:
        loop = self._header(key, value, src, env)
        items = self._items(loop, env)
        if isinstance(items, str):
            self._keep(loop, value, out, dst, place, owner, items)
            return
        self._check_size(loop, items)
        reason = self._plan(loop, items, env)
        if reason is not None:
            self._keep(loop, value, out, dst, place, owner, reason)
            return
        outermost = not self.outermost
        if outermost:
            self.outermost = src
        try:
            for item in items:
                produced = self._mapping(loop.body, src + (2,), dst, {**env, loop.identifier: item}, place, owner)
                for name, child in produced.items():
                    if name in out:
                        raise TemplateError(f"{key} produces {name!r}, which is already defined", src)
                    out[name] = child
        finally:
            if outermost:
                self.outermost = ()

    def _header(self, key: str, value: Any, src: Path, env: _Env) -> _Loop:
        name = key[len(_LOOP_PREFIX) :] if key.startswith(_LOOP_PREFIX) else ""
        if not name:
            raise TemplateError(f"{key} needs a loop name: Fn::ForEach::LoopName", src)
        first = self.loop_names.setdefault(name, src)
        if first != src:
            raise TemplateError(
                f"the loop name {name} is used twice (also on line {self.doc.span(first).line}); "
                "loop names must be unique in a template",
                src,
            )
        if name in self.resource_ids:
            raise TemplateError(f"the loop name {name} is also the logical id of a resource", src)
        if not (isinstance(value, list) and len(value) == 3):
            raise TemplateError(
                f"{key} must be a list of three items [Identifier, Collection, {{OutputKey: OutputValue}}], "
                f"not {_shape(value)}",
                src,
            )
        identifier, collection, body = value
        if not isinstance(identifier, str) or not identifier:
            raise TemplateError(f"the identifier of {key} must be a string, not {_shape(identifier)}", src + (0,))
        clash = (
            "the identifier of an enclosing loop"
            if identifier in env
            else "the name of a parameter"
            if identifier in self.parameters
            else "the logical id of a resource"
            if identifier in self.resource_ids
            else None
        )
        if clash:
            raise TemplateError(f"the identifier {identifier} of {key} is also {clash}; rename one", src + (0,))
        if not isinstance(body, dict):
            raise TemplateError(
                f"the third item of {key} must be a mapping {{OutputKey: OutputValue}}, not {_shape(body)}", src + (2,)
            )
        for output_key in body:
            if not output_key.startswith(_LOOP) and not (
                f"${{{identifier}}}" in output_key or f"&{{{identifier}}}" in output_key
            ):
                raise TemplateError(
                    f"the output key {output_key!r} of {key} must contain ${{{identifier}}} or &{{{identifier}}}",
                    src + (2, output_key),
                )
        return _Loop(key, src, identifier, collection, body)

    def _plan(self, loop: _Loop, items: list[str], env: _Env) -> str | None:
        """Why the loop cannot be expanded because of a loop nested directly in its body (whose
        keys would land in the same mapping), or None."""
        nested = [(k, v) for k, v in loop.body.items() if k.startswith(_LOOP)]
        if not nested:
            return None
        for item in items:
            inner_env = {**env, loop.identifier: item}
            for key, value in nested:
                self._tick()
                inner = self._header(key, value, loop.src + (2, key), inner_env)
                inner_items = self._items(inner, inner_env)
                reason = inner_items if isinstance(inner_items, str) else self._plan(inner, inner_items, inner_env)
                if reason is not None:
                    return f"the nested loop {key} cannot be expanded: {reason}"
        return None

    def _keep(
        self, loop: _Loop, value: Any, out: dict[str, Any], dst: Path, place: _Place, owner: _Owner, reason: str
    ) -> None:
        """Leave a loop that cannot be expanded as it is (graph.py notes it) and record it."""
        where = dst + (loop.key,)
        self._mark(loop.src, where)
        out[loop.key] = self._copy(value, loop.src, where)
        if place is _Place.RESOURCES:
            types = _body_types(loop.body)
        elif owner is not None and owner[1]:
            types = (owner[1],)
        else:
            types = ()
        resource = owner[0] if owner is not None and place is _Place.PROPERTIES else None
        self.unexpanded.append(Unexpanded(where, types, reason, resource))

    def _items(self, loop: _Loop, env: _Env) -> list[str] | str:
        """The items of a loop's collection, or why they are not known. Raises TemplateError when
        the collection cannot be a list of strings."""
        where = loop.src + (1,)
        collection = self._scratch(lambda: self._node(loop.collection, where, where, env, _Place.VALUE, None))[0]
        literal = isinstance(collection, list)
        if literal:
            found: list[Any] | str = collection
        elif intrinsic(collection) is None:
            raise TemplateError(f"the collection of {loop.key} must be a list, not {_shape(collection)}", where)
        else:
            found = self._list_value(collection, loop, where)
        if isinstance(found, str):
            return found
        items: list[str] = []
        for i, item in enumerate(found):
            if intrinsic(item) is not None:
                alts = self.resolver.resolve(item)
                if len(alts) != 1 or alts[0].kind is not Kind.KNOWN:
                    return f"item {i + 1} of the collection is not known: {_why(alts)}"
                item = alts[0].value
            items.append(self._item_text(item, loop, where + (i,) if literal else where))
        return items

    def _item_text(self, item: Any, loop: _Loop, where: Path) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, (str, int, float)):
            return str(item)
        raise TemplateError(f"the collection of {loop.key} must hold strings, not {_shape(item)}", where)

    def _list_value(self, value: Any, loop: _Loop, where: Path) -> list[Any] | str:
        """The list an intrinsic collection resolves to, or why it is not known."""
        found = intrinsic(value)
        assert found is not None
        name, arg = found
        if name == "Ref" and isinstance(arg, str) and arg in self.parameters:
            spec = self.parameters[arg]
            ptype = str(spec.get("Type", "String"))
            # Also matches the SSM forms, AWS::SSM::Parameter::Value<List<String>> and the like.
            if "List<" not in ptype and "CommaDelimitedList" not in ptype:
                raise TemplateError(
                    f"the collection of {loop.key} is parameter {arg} of type {ptype}, "
                    "not a list (CommaDelimitedList or List<…>)",
                    where,
                )
            alts = self.resolver.parameter(arg, spec)
            if len(alts) == 1 and alts[0].kind is Kind.KNOWN:
                return self._a_list(alts[0].value, loop, where)
            if ptype.startswith("AWS::SSM::"):
                return f"the collection is parameter {arg}, which is read from SSM at deploy time"
            hint = ""
            if "Default" in spec and not self.assume_defaults:
                hint = f", or use --assume-defaults for its default {spec['Default']!r}"
            return f"the collection is parameter {arg}, which has no value; give it with --parameter {arg}=a,b{hint}"
        if name == "Fn::Split":
            if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
                raise TemplateError("Fn::Split needs [delimiter, text]", where)
            alts = self.resolver.resolve(arg[1])
            if len(alts) == 1 and alts[0].kind is Kind.KNOWN and isinstance(alts[0].value, str):
                return alts[0].value.split(arg[0]) if arg[0] else [alts[0].value]
            return f"the collection splits a text that is not known: {_why(alts)}"
        if name == "Fn::If":
            live = self.resolver.branches(arg)
            if live is None:
                raise TemplateError("Fn::If needs [condition, value if true, value if false]", where)
            if len(live) == 1:
                branch = live[0][0]
                if isinstance(branch, list):
                    return branch
                if intrinsic(branch) is None:
                    return self._a_list(branch, loop, where)
                return self._list_value(branch, loop, where)
            return f"the collection depends on condition {arg[0]}, which the parameters given do not decide"
        if name == "Fn::FindInMap" and isinstance(arg, list) and len(arg) == 4:
            # Not replaced while walking the collection, so one of its keys is unknown.
            return "the collection is looked up in a mapping with keys that are not known"
        alts = self.resolver.resolve(value)
        if len(alts) == 1 and alts[0].kind is Kind.KNOWN:
            if alts[0].assumptions:
                line = self.doc.span(loop.src).line
                self.notes.append(f"line {line}: {loop.key} was expanded assuming {' and '.join(alts[0].assumptions)}")
            return self._a_list(alts[0].value, loop, where)
        if len(alts) > 1:
            return f"the collection has {len(alts)} possible values, depending on parameters not given"
        if alts[0].kind is Kind.REF:
            return f"the collection is a reference to {alts[0].value[0]}, known only at deploy time"
        return f"the collection is not known: {_why(alts)}"

    def _a_list(self, value: Any, loop: _Loop, where: Path) -> list[Any]:
        if not isinstance(value, list):
            raise TemplateError(f"the collection of {loop.key} must be a list, not {_shape(value)}", where)
        return value

    def _check_size(self, loop: _Loop, items: list[str]) -> None:
        # Refuse before building when the size is known to be too large (nested literal loops
        # multiply); `_tick` catches what the estimate cannot see.
        if self.count + len(items) * _size(loop.body) > MAX_NODES:
            self._too_big(loop.src)

    def _tick(self) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            self._too_big(self.outermost)

    def _too_big(self, where: Path) -> None:
        raise TemplateError(
            f"expanding Fn::ForEach produces more than {MAX_NODES:,} nodes (an unreasonably large expansion)",
            where,
        )

    # -- other language extensions --------------------------------------------------------------

    def _length(self, arg: Any, src: Path, dst: Path, env: _Env, place: _Place, owner: _Owner) -> Any:
        name = "Fn::Length"
        walked, scratch = self._scratch(lambda: self._walk_arg(name, arg, src, dst, env, place, owner))
        if isinstance(walked, list):
            return len(walked)
        if intrinsic(walked) is None:
            raise TemplateError(f"Fn::Length needs a list, not {_shape(walked)}", src + (name,))
        found = self._length_of(walked, src + (name,))
        if isinstance(found, int):
            return found
        self.marks.update(scratch)
        self.notes.append(f"line {self.doc.span(src + (name,)).line}: Fn::Length was not evaluated: {found}")
        return {name: walked}

    def _length_of(self, value: Any, where: Path) -> int | str:
        alts = self.resolver.resolve(value)
        if len(alts) == 1 and alts[0].kind is Kind.KNOWN:
            if not isinstance(alts[0].value, list):
                raise TemplateError(f"Fn::Length needs a list, not {_shape(alts[0].value)}", where)
            return len(alts[0].value)
        return _why(alts)

    def _to_json(self, arg: Any, src: Path, dst: Path, env: _Env, place: _Place, owner: _Owner) -> Any:
        name = "Fn::ToJsonString"
        walked, scratch = self._scratch(lambda: self._walk_arg(name, arg, src, dst, env, place, owner))
        if isinstance(walked, (dict, list)) and not _has_intrinsic(walked):
            return json.dumps(walked, separators=(",", ":"), ensure_ascii=False)
        self.marks.update(scratch)
        return {name: walked}

    def _find_in_map(self, arg: list[Any], src: Path, dst: Path, env: _Env, place: _Place, owner: _Owner) -> Any:
        name = "Fn::FindInMap"
        default = arg[3]
        if not (isinstance(default, dict) and list(default) == ["DefaultValue"]):
            raise TemplateError(
                f"the fourth argument of Fn::FindInMap must be {{DefaultValue: …}}, not {_shape(default)}",
                src + (name, 3),
            )
        keys = self._scratch(
            lambda: [self._node(k, src + (name, i), dst + (name, i), env, place, owner) for i, k in enumerate(arg[:3])]
        )[0]
        texts = [t for t in (self._text(k) for k in keys) if t is not None]
        if len(texts) != 3:
            self.notes.append(
                f"line {self.doc.span(src + (name,)).line}: Fn::FindInMap with a DefaultValue was not "
                "evaluated: its keys are not known"
            )
            return self._mapping({name: arg}, src, dst, env, place, owner)
        map_name, top, second = texts
        table = self.mappings.get(map_name)
        entry = table.get(top) if isinstance(table, dict) else None
        if isinstance(entry, dict) and second in entry:
            return self._copy(entry[second], None, dst)
        return self._node(default["DefaultValue"], src + (name, 3, "DefaultValue"), dst, env, place, owner)

    def _walk_arg(self, name: str, arg: Any, src: Path, dst: Path, env: _Env, place: _Place, owner: _Owner) -> Any:
        self._mark(src + (name,), dst + (name,))
        return self._node(arg, src + (name,), dst + (name,), env, place, owner)

    def _text(self, value: Any) -> str | None:
        """A mapping key: a literal, or an intrinsic that resolves to one known scalar."""
        if intrinsic(value) is not None:
            alts = self.resolver.resolve(value)
            if len(alts) != 1 or alts[0].kind is not Kind.KNOWN:
                return None
            value = alts[0].value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        return None

    # -- helpers --------------------------------------------------------------------------------

    def _mark(self, src: Path, dst: Path) -> None:
        span = self.doc.marks.get(src)
        if span is not None:
            self.marks[dst] = span

    def _scratch(self, build: Callable[[], _T]) -> tuple[_T, dict[Path, Span]]:
        """Build with marks kept aside, for values that may be replaced by what they evaluate to."""
        saved = self.marks
        self.marks = {}
        try:
            result = build()
        finally:
            scratch, self.marks = self.marks, saved
        return result, scratch

    def _copy(self, value: Any, src: Path | None, dst: Path) -> Any:
        """A fresh copy of `value` at `dst`, with the marks of `src` when it comes from the file."""
        self._tick()
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, child in value.items():
                self._copy_mark(src, key, dst)
                out[key] = self._copy(child, None if src is None else src + (key,), dst + (key,))
            return out
        if isinstance(value, list):
            items = []
            for i, child in enumerate(value):
                self._copy_mark(src, i, dst)
                items.append(self._copy(child, None if src is None else src + (i,), dst + (i,)))
            return items
        return value  # scalars are immutable

    def _copy_mark(self, src: Path | None, key: str | int, dst: Path) -> None:
        if src is not None:
            self._mark(src + (key,), dst + (key,))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _substitute(text: str, env: _Env) -> str:
    """`${Identifier}` → item and `&{Identifier}` → item without non-alphanumeric characters."""
    if "{" not in text:
        return text
    for identifier, item in env.items():
        text = text.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", _NOT_ALNUM.sub("", item))
    return text


def _why(alts: list[Alt]) -> str:
    reasons = [a.reason for a in alts if a.reason]
    if reasons:
        return reasons[0]
    if len(alts) > 1:
        return "it has several possible values, depending on parameters not given"
    return "it is known only at deploy time"


def _has_intrinsic(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if intrinsic(node) is not None:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _body_types(body: dict[str, Any]) -> tuple[str, ...]:
    """The resource types a loop body in Resources creates, nested loops included."""
    found: list[str] = []
    stack: list[dict[str, Any]] = [body]
    while stack:
        for key, entry in stack.pop().items():
            if key.startswith(_LOOP):
                if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], dict):
                    stack.append(entry[2])
            elif isinstance(entry, dict) and isinstance(entry.get("Type"), str):
                found.append(entry["Type"])
    return tuple(dict.fromkeys(found))


def _size(value: Any) -> int:
    """Nodes a body expands to, counting nested loops over literal lists by their length."""
    if isinstance(value, dict):
        total = 1
        for key, child in value.items():
            if key.startswith(_LOOP) and isinstance(child, list) and len(child) == 3 and isinstance(child[1], list):
                total += len(child[1]) * _size(child[2])
            else:
                total += _size(child)
        return total
    if isinstance(value, list):
        return 1 + sum(_size(child) for child in value)
    return 1


def _shape(value: Any) -> str:
    """graph.shape, with the length of a list (a loop wants exactly three items)."""
    return f"a list of {len(value)} items" if isinstance(value, list) else shape(value)


__all__ = ["MAX_NODES", "TRANSFORM", "Expansion", "Unexpanded", "declares_transform", "expand"]
