"""Predicates for data-protection rules: resource policies that admit everyone, and resources
that name another resource (a bucket policy naming its bucket) instead of referring to it.

    public_statement   a policy statement that allows any principal without a restricting condition
    named_by           a resource of another type names this one through a name property
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from walint.conditions import Result, Scope, check_arg, display, predicate
from walint.graph import Resource
from walint.selectors import Focus, compile_selector, elements, expand, select, values_at
from walint.values import Kind, Tri, intrinsic, tri_all, tri_any

#: Condition keys that tie a statement to an account, organisation, network or source resource:
#: a statement for Principal "*" with one of them (with a fixed value) is not public. This follows
#: how IAM Access Analyzer and S3 decide whether a resource policy is public.
DEFAULT_RESTRICTING_KEYS = (
    "aws:SourceArn",
    "aws:SourceAccount",
    "aws:SourceOwner",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:SourceIp",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:ResourceAccount",
    "aws:userid",
    "aws:username",
    "kms:CallerAccount",
    "s3:DataAccessPointAccount",
    "s3:DataAccessPointArn",
)

#: Values that restrict nothing.
_WILDCARD_VALUES = {"*", "0.0.0.0/0", "::/0"}


def _with(parent: Focus, node: Focus) -> Focus:
    """`node` carrying the assumptions of `parent` too."""
    extra = tuple(a for a in parent.assumptions if a not in node.assumptions)
    return Focus(node.value, node.path, extra + node.assumptions, node.absent, node.unknown)


def _cannot_be_wildcard(scope: Scope, raw: Any) -> bool:
    """An intrinsic whose result cannot be the single string "*": an ARN built by Fn::Sub or
    Fn::Join around literal text, the attribute of a resource, an account or partition pseudo
    parameter, or a parameter whose AllowedPattern rejects "*"."""
    found = intrinsic(raw)
    if found is None:
        return False
    name, arg = found
    if name == "Fn::GetAtt":
        return True
    if name == "Ref" and isinstance(arg, str):
        if arg in scope.template.resources or arg.startswith("AWS::"):
            return True
        spec = scope.template.parameters.get(arg, {})
        pattern = spec.get("AllowedPattern")
        if isinstance(pattern, str):
            try:
                return re.fullmatch(pattern, "*") is None
            except re.error:
                return False
        return False
    if name == "Fn::Sub":
        text = arg[0] if isinstance(arg, list) and arg else arg
        if isinstance(text, str):
            literal = re.sub(r"\$\{[^!}][^}]*\}", "", text)
            return bool(literal.replace("*", ""))
    if name == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
        return any(isinstance(p, str) and p.replace("*", "") for p in arg[1]) or bool(
            isinstance(arg[0], str) and arg[0].replace("*", "") and len(arg[1]) > 1
        )
    return False


def _principal_public(scope: Scope, statement: Focus) -> tuple[Tri, Focus, str]:
    """Whether `Principal` (or `NotPrincipal`) admits everyone: (tri, node, why)."""
    not_principal = values_at(scope.resolver, statement, "NotPrincipal")
    if any(not n.absent for n in not_principal):
        node = next(n for n in not_principal if not n.absent)
        return True, node, "allows everyone except the NotPrincipal list"
    judged: list[Tri] = []
    where: Focus | None = None
    for principal in values_at(scope.resolver, statement, "Principal"):
        principal = _with(statement, principal)
        if principal.absent:
            judged.append(False)
            continue
        if principal.unknown:
            judged.append(None)
            where = where or principal
            continue
        value = principal.value
        if isinstance(value, str):
            public = value.strip() == "*"
            judged.append(public)
            if public:
                where = where or principal
            continue
        if not isinstance(value, dict):
            judged.append(False)
            continue
        aws_nodes = select(compile_selector("AWS"), principal, scope.resolver)
        for aws in aws_nodes:
            if aws.absent:
                judged.append(False)
                continue
            tri = _any_wildcard(scope, aws)
            judged.append(tri)
            if tri is not False:
                where = where or aws
    tri = _superpose(judged)
    return tri, where or statement, "allows everyone (Principal *)"


def _any_wildcard(scope: Scope, node: Focus) -> Tri:
    """Whether a principal list (or single value) contains "*". `node` is not expanded yet, so
    that ARNs built by Fn::Sub around pseudo parameters are recognised as not "*"."""
    results: list[Tri] = []
    if _cannot_be_wildcard(scope, node.value):
        return False
    for alt in expand(node, scope.resolver):
        if alt.absent:
            continue
        if alt.unknown:
            results.append(None)
            continue
        items = alt.value if isinstance(alt.value, list) else [alt.value]
        for i, raw in enumerate(items):
            if _cannot_be_wildcard(scope, raw):
                results.append(False)
                continue
            child = alt.child(raw, i) if isinstance(alt.value, list) else alt
            for value in expand(child, scope.resolver):
                if value.absent:
                    continue
                if value.unknown:
                    results.append(None)
                else:
                    results.append(isinstance(value.value, str) and value.value.strip() == "*")
    return tri_any(results)


def _superpose(judged: list[Tri]) -> Tri:
    if not judged:
        return False
    values = set(judged)
    if len(values) == 1:
        return values.pop()
    return None


def _restricted(scope: Scope, statement: Focus, keys: set[str]) -> Tri:
    """Whether the statement's Condition ties it to a restricting key with a fixed value."""
    judged: list[Tri] = []
    for condition in values_at(scope.resolver, statement, "Condition"):
        if condition.absent:
            judged.append(False)
            continue
        if condition.unknown or not isinstance(condition.value, dict):
            judged.append(None if condition.unknown else False)
            continue
        found: list[Tri] = []
        for operator, body in condition.value.items():
            op = str(operator)
            if "Not" in op or op.endswith("IfExists") or op == "Null":
                continue  # negated, optional or presence tests do not limit who is admitted
            body_focus = condition.child(body, operator)
            for block in expand(body_focus, scope.resolver):
                if block.absent:
                    continue
                if block.unknown or not isinstance(block.value, dict):
                    found.append(None)
                    continue
                for key, values in block.value.items():
                    if str(key).lower() not in keys:
                        continue
                    found.append(_fixed_value(scope, block.child(values, key)))
        judged.append(tri_any(found))
    return _superpose(judged)


def _fixed_value(scope: Scope, node: Focus) -> Tri:
    """A condition value that restricts: anything but a wildcard. A value known only at deploy
    time (a VPC endpoint id from a parameter) is taken as restricting."""
    results: list[Tri] = []
    for item in elements(node, scope.resolver):
        if item.unknown:
            results.append(True)
            continue
        results.append(not (isinstance(item.value, str) and item.value.strip() in _WILDCARD_VALUES))
    return tri_any(results) if results else False


@predicate("public_statement")
def public_statement(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when a policy statement allows any principal (Principal "*", {"AWS": "*"} or an
    Allow with NotPrincipal) and no Condition ties it to one of `restricting_keys` (condition
    keys, case-insensitive; default: the source/principal account, organisation, VPC, VPC
    endpoint, IP and ARN keys) with a fixed value."""
    keys = {str(k).lower() for k in args.get("restricting_keys", DEFAULT_RESTRICTING_KEYS)}
    results: list[Result] = []
    for node in nodes:
        for statement in expand(node, scope.resolver):
            if statement.absent:
                results.append(Result(False, statement.path))
                continue
            if statement.unknown:
                results.append(Result(None, statement.path, (f"{display(statement.path)}: {statement.unknown}",)))
                continue
            results.append(_judge_statement(scope, statement, keys))
    return _combine_any(results, nodes[0].path if nodes else ())


def _judge_statement(scope: Scope, statement: Focus, keys: set[str]) -> Result:
    effects = values_at(scope.resolver, statement, "Effect")
    allow: list[Tri] = []
    for effect in effects:
        if effect.unknown:
            allow.append(None)
        else:
            allow.append(not effect.absent and str(effect.value).strip().lower() == "allow")
    allows = _superpose(allow)
    if allows is False:
        return Result(False, statement.path)
    public, where, why = _principal_public(scope, statement)
    if public is False:
        return Result(False, where.path)
    restricted = _restricted(scope, statement, keys)
    tri = tri_all([allows, public, None if restricted is None else not restricted])
    if tri is None:
        reasons = []
        if allows is None:
            reasons.append(f"{display(statement.path)}.Effect is known only at deploy time")
        if public is None:
            reasons.append(f"{display(where.path)}: the principal is known only at deploy time")
        if restricted is None:
            reasons.append(f"{display(statement.path)}.Condition is known only at deploy time")
        if where.assumptions:
            reasons.append(f"{display(where.path)} admits everyone when {' and '.join(where.assumptions)}")
        return Result(None, where.path, tuple(reasons))
    return Result(tri, where.path, (), f"{why} without a restricting condition" if tri else "")


def _combine_any(results: list[Result], path: tuple[Any, ...]) -> Result:
    for r in results:
        if r.tri is True:
            return r
    unknown = [r for r in results if r.tri is None]
    if unknown:
        return Result(None, unknown[0].path, tuple(dict.fromkeys(x for r in unknown for x in r.reasons)))
    return Result(False, results[0].path if results else path)


# -- named_by ---------------------------------------------------------------------------------


def _has_edge(scope: Scope, other: Resource, via: tuple[str, ...]) -> bool:
    """Whether `other` refers to some resource from the `via` path (Ref, GetAtt, Sub)."""
    for edge in scope.template.edges_from.get(other.logical_id, ()):
        stripped = tuple(p for p in edge.path if p != "Fn::If" and not isinstance(p, int))
        if stripped[: len(via)] == via and edge.kind != "DependsOn":
            return True
    return False


def _single_known(scope: Scope, raw: Any) -> str | None:
    alts = scope.resolver.resolve(raw)
    if len(alts) == 1 and alts[0].kind is Kind.KNOWN and isinstance(alts[0].value, (str, int)):
        return str(alts[0].value)
    return None


def _same_name(scope: Scope, name_raw: Any, via_raw: Any) -> Tri:
    """Whether two name expressions denote the same name: equal expressions (the same Fn::Sub
    text, the same parameter) or equal known strings; None when that cannot be known."""
    if name_raw == via_raw:
        return True
    left, right = _single_known(scope, name_raw), _single_known(scope, via_raw)
    if left is not None and right is not None:
        return left == right
    return None


@predicate("named_by")
def named_by(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when a resource of `type` names this resource through its `via` property (a name
    rather than a Ref, e.g. a bucket policy's `Bucket: !Sub "${AppName}-logs"` equal to the
    bucket's `BucketName`) and satisfies `check` (a clause evaluated on that resource).

    `name` is the path of this resource's name property. A candidate whose `via` refers to a
    resource is left to `referenced_by`; one whose name equals another resource's name in the
    template is that resource's. A candidate whose name is known only at deploy time may name
    this resource: the answer is then unknown, unless its `check` is false anyway."""
    types = args.get("type")
    type_list = [types] if isinstance(types, str) else list(types or [])
    via_text = str(args.get("via", ""))
    name_text = str(args.get("name", ""))
    check = check_arg(args)
    via = tuple(s.name for s in compile_selector(via_text).steps)
    name_path = tuple(s.name for s in compile_selector(name_text).steps)
    me = scope.resource
    my_name = _raw(me.data, name_path)
    results: list[Result] = []
    for other in scope.template.matching(type_list):
        if _has_edge(scope, other, via):
            continue
        via_raw = _raw(other.data, via)
        if via_raw is _ABSENT:
            continue
        if my_name is _ABSENT:
            # CloudFormation generates the name: another resource cannot spell it out, except
            # through a value known only at deploy time.
            same: Tri = False if _single_known(scope, via_raw) is not None else None
        else:
            same = _same_name(scope, my_name, via_raw)
        if same is None and any(
            _raw(p.data, name_path) == via_raw for p in scope.template.of_type(me.type) if p is not me
        ):
            same = False  # it names another resource of the template
        if same is False:
            continue
        outcome = check.evaluate(scope.at(other), Focus(other.data, other.path)) if check else Result(True, other.path)
        tri = tri_all([same, outcome.tri])
        reasons = outcome.reasons
        if same is None and outcome.tri is not False:
            reasons = (
                f"{other.logical_id} names its target through {via_text}, which is known only at deploy time "
                f"and may be {me.logical_id}",
            ) + reasons
        results.append(Result(tri, other.path, reasons, outcome.detail))
    focus_path = nodes[0].path if nodes else me.path
    return _combine_any(results, focus_path)


class _Absent:
    pass


_ABSENT = _Absent()


def _raw(data: Any, path: tuple[str, ...]) -> Any:
    node = data
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node
