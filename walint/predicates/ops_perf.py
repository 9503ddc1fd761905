"""Predicates for the operational-excellence and performance-efficiency rules.

* `template_has`: some other resource of the template (of the given types, satisfying an
  optional `check` clause evaluated on that resource) exists. Used where a rule needs to know
  whether the template holds something at all, e.g. an alarm that names its resource by a
  parameter or a literal, which no reference edge can tie to the resource being judged.
* `refers_to_resource`: the selected value refers to a resource of the template (optionally of
  given types, through a given attribute such as `Endpoint.Address`), as opposed to a literal, a
  parameter or an import.
* `arn_service_in`: a list of ARNs (alarm actions) holds an ARN of one of the given services;
  references to template resources are left to `references`, nested-stack outputs are unknown.
* `exported_unknown`: UNKNOWN when the template's Outputs refer to the resource (other stacks
  may complete it), FALSE otherwise; an alternative inside `any`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from walint.conditions import Result, Scope, check_arg, display, predicate
from walint.selectors import Focus, branches
from walint.values import Kind, Tri, intrinsic, tri_all, tri_any


def _types(args: Mapping[str, Any]) -> tuple[str, ...]:
    value = args.get("type")
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("template_has needs 'type': a resource type, a glob, or a list of them")


@predicate("template_has")
def template_has(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when another resource of `type` (a type, glob or list) exists in the template and
    satisfies `check` (a clause relative to that resource's entry; optional). A resource whose
    own `Condition` is undecided counts only as unknown; the resource being judged is skipped
    unless `include_self` is true. The path of the result is the first selected node, so that a
    rule can place its finding where it wants."""
    include_self = bool(args.get("include_self", False))
    here = nodes[0].path if nodes else scope.resource.path
    me = scope.resource.logical_id
    matches, maybes = _survey(scope, args)
    found = next((m for m in matches if include_self or m != me), None)
    if found is not None:
        return Result(True, here, (), found)
    unknown = [why for other, reasons in maybes if include_self or other != me for why in reasons]
    if unknown:
        return Result(None, here, tuple(dict.fromkeys(unknown)))
    return Result(False, here)


def _survey(scope: Scope, args: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, tuple[str, ...]]]]:
    """The resources of `type` that surely satisfy `check`, and those that may (with reasons).
    The check is judged on the other resource alone, so the survey is done once per template
    and clause, whatever resource is being judged: the rule's cost stays linear."""
    key = ("template_has", id(args))
    cached = scope.resolver.cache.get(key)
    if cached is not None and cached[0] is args:
        return cached[1], cached[2]
    check = check_arg(args)
    matches: list[str] = []
    maybes: list[tuple[str, tuple[str, ...]]] = []
    for other in scope.template.matching(_types(args)):
        presence: Tri = scope.resolver.condition(other.condition) if other.condition else True
        if presence is False:
            continue
        if check is None:
            tri: Tri = presence
            reasons: tuple[str, ...] = ()
        else:
            r = check.evaluate(scope.at(other), Focus(other.data, other.path))
            tri = tri_all([presence, r.tri])
            reasons = r.reasons
        if tri is True:
            matches.append(other.logical_id)
        elif tri is None:
            why = f"{other.logical_id} exists only when condition {other.condition} is true" if presence is None else ""
            maybes.append(
                (other.logical_id, tuple(([why] if why else []) + list(reasons or (f"{other.logical_id} may match",))))
            )
    scope.resolver.cache[key] = (args, matches, maybes)  # keep `args` alive so that its id is not reused
    return matches, maybes


def _names_resource(value: Any, resources: Mapping[str, Any], attribute: re.Pattern[str] | None = None) -> bool:
    """Whether a raw template value holds a Ref, Fn::GetAtt or Fn::Sub variable naming one of
    `resources`, anywhere inside it (Fn::If branches, Fn::Join parts …). With `attribute`, only
    an Fn::GetAtt or `${Name.Attribute}` whose attribute matches it counts (a Ref never does)."""
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if len(node) == 1:
                ((name, arg),) = node.items()
                if name == "Ref" and isinstance(arg, str) and arg in resources and attribute is None:
                    return True
                if name == "Fn::GetAtt":
                    target, attr = _getatt(arg)
                    if target in resources and (attribute is None or attribute.search(attr)):
                        return True
                if name == "Fn::Sub" and _sub_names(arg, resources, attribute):
                    return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _getatt(arg: Any) -> tuple[str, str]:
    if isinstance(arg, str):
        target, _, attr = arg.partition(".")
        return target, attr
    if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
        return arg[0], arg[1] if isinstance(arg[1], str) else ""
    return "", ""


def _sub_names(arg: Any, resources: Mapping[str, Any], attribute: re.Pattern[str] | None) -> bool:
    text = arg[0] if isinstance(arg, list) and arg else arg
    local = arg[1] if isinstance(arg, list) and len(arg) > 1 and isinstance(arg[1], dict) else {}
    if not isinstance(text, str):
        return False
    for var in _SUB_VAR.findall(text):
        head, _, attr = var.strip().partition(".")
        if head in resources and head not in local and (attribute is None or (attr and attribute.search(attr))):
            return True
    return False


_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")


def _tri_names(scope: Scope, value: Any, resources: Mapping[str, Any], attribute: re.Pattern[str] | None) -> Tri:
    """Like `_names_resource`, but an Fn::If whose condition the parameters do not decide counts
    only when both branches agree; otherwise the answer is unknown."""
    found = intrinsic(value)
    if found and found[0] == "Fn::If" and isinstance(found[1], list) and len(found[1]) == 3:
        condition, yes, no = found[1]
        truth = scope.resolver.condition(condition) if isinstance(condition, str) else None
        if truth is True:
            return _tri_names(scope, yes, resources, attribute)
        if truth is False:
            return _tri_names(scope, no, resources, attribute)
        both = {_tri_names(scope, yes, resources, attribute), _tri_names(scope, no, resources, attribute)}
        return both.pop() if len(both) == 1 else None
    if found is not None:
        return _names_resource(value, resources, attribute)
    children = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else []
    return tri_any([_tri_names(scope, child, resources, attribute) for child in children])


@predicate("refers_to_resource")
def refers_to_resource(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the selected value refers to a resource of the template (Ref, Fn::GetAtt or an
    Fn::Sub variable, anywhere inside it); False for literals, parameters, pseudo parameters and
    imports; unknown when the reference sits in one branch of an Fn::If that the parameters do not
    decide. An absent value is False. Optional `types` (resource types or globs) limits the
    resources that count; optional `attribute` (a regular expression) counts only Fn::GetAtt /
    `${Name.Attribute}` references whose attribute matches, e.g. `^(Endpoint|ReadEndpoint)\\.`."""
    resources: Mapping[str, Any] = scope.template.resources
    types = args.get("types")
    if types is not None:
        patterns = [types] if isinstance(types, str) else [str(t) for t in types]
        key = ("refers_to_resource", tuple(patterns))
        if key not in scope.resolver.cache:
            scope.resolver.cache[key] = {r.logical_id: r for r in scope.template.matching(patterns)}
        resources = scope.resolver.cache[key]
    attribute = re.compile(str(args["attribute"])) if "attribute" in args else None
    path = nodes[0].path if nodes else scope.resource.path
    unknown: list[str] = []
    for node in nodes:
        if node.absent or not resources:
            continue
        tri = _tri_names(scope, node.value, resources, attribute)
        if tri is True and not node.assumptions:
            return Result(True, node.path)
        if tri is None or tri is True:
            unknown.append(f"{display(node.path)} refers to a resource only under a condition")
    if unknown:
        return Result(None, path, tuple(unknown))
    return Result(False, path)


_NESTED_STACK_TYPES = frozenset({"AWS::CloudFormation::Stack", "AWS::Serverless::Application"})
_PSEUDO_SUB = re.compile(r"\$\{AWS::(Partition|Region|AccountId|URLSuffix|StackName|StackId)\}")
_ARN_SERVICE = re.compile(r"^arn:[^:]*:([^:]+):")


def _arn_texts(scope: Scope, value: Any) -> list[tuple[str | None, str]]:
    """The possible texts of an ARN value, with pseudo parameters in an Fn::Sub kept as
    placeholders (an ARN's service does not depend on them); (None, why) for an unknowable one."""
    found = intrinsic(value)
    if found and found[0] == "Fn::Sub" and isinstance(found[1], str):
        text = _PSEUDO_SUB.sub("X", found[1])
        if "${" not in text:
            return [(text, "")]
        value = {"Fn::Sub": text}
    out: list[tuple[str | None, str]] = []
    for alt in scope.resolver.resolve(value):
        if alt.kind is Kind.KNOWN and isinstance(alt.value, str):
            out.append((alt.value, ""))
        elif alt.kind is not Kind.ABSENT:
            out.append((None, alt.reason or "it is known only at deploy time"))
    return out


def _raw_elements(scope: Scope, node: Focus) -> list[Focus]:
    """The elements of a list node as written (a single value is a list of one)."""
    out: list[Focus] = []
    for alt in branches(node, scope.resolver):
        if alt.absent or alt.unknown:
            out.extend([alt] if alt.unknown else [])
            continue
        if isinstance(alt.value, list):
            for i, item in enumerate(alt.value):
                out.extend(e for e in branches(alt.child(item, i), scope.resolver) if not e.absent)
        else:
            out.append(alt)
    return out


@predicate("arn_service_in")
def arn_service_in(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when some element of the selected list (or the single value) is an ARN of one of
    `services` (the ARN's third field: sns, lambda, automate …; pseudo parameters in an Fn::Sub
    do not matter). Elements that refer to a resource of the template are skipped (judge them
    with `references`); elements from parameters, imports or conditions that could be such an
    ARN make the answer unknown."""
    services = {str(s) for s in args.get("services", [])}
    if not services:
        raise ValueError("arn_service_in needs 'services': a list of ARN service names")
    path = nodes[0].path if nodes else scope.resource.path
    nested = {r.logical_id: r for r in scope.template.matching(_NESTED_STACK_TYPES)}
    unknown: list[str] = []
    for node in nodes:
        if node.unknown:
            unknown.append(f"{display(node.path)}: {node.unknown}")
            continue
        for element in _raw_elements(scope, node):
            if element.unknown:
                unknown.append(f"{display(element.path)}: {element.unknown}")
                continue
            if nested and _names_resource(element.value, nested):
                unknown.append(f"{display(element.path)}: it is an output of a nested stack, known only at deploy time")
                continue
            if _names_resource(element.value, scope.template.resources):
                continue
            for text, why in _arn_texts(scope, element.value):
                if text is None:
                    unknown.append(f"{display(element.path)}: {why}")
                    continue
                match = _ARN_SERVICE.match(text)
                if not match or match.group(1) not in services:
                    continue
                if element.assumptions:
                    when = " and ".join(element.assumptions)
                    unknown.append(f"{display(element.path)} is {text} only when {when}")
                    continue
                return Result(True, element.path, (), text)
    if unknown:
        return Result(None, path, tuple(dict.fromkeys(unknown)))
    return Result(False, path)


@predicate("exported_unknown")
def exported_unknown(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """UNKNOWN when the template's Outputs refer to the resource (other stacks may import it and
    attach what the rule looks for, e.g. subscriptions to a topic), FALSE otherwise. Meant as an
    alternative inside `any`, so that a resource shared with other stacks is not failed."""
    own = {scope.resource.logical_id: scope.resource}
    path = nodes[0].path if nodes else scope.resource.path
    for name, output in scope.template.outputs.items():
        value = output.get("Value") if isinstance(output, dict) else None
        if _names_resource(value, own):
            why = f"{scope.resource.logical_id} is a stack output ({name}); other stacks may use it"
            return Result(None, path, (why,))
    return Result(False, path)
