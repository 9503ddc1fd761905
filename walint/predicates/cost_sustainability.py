"""Predicates for the cost-optimization and sustainability rules.

* `with_sam_globals`: evaluate a clause on a resource as AWS SAM deploys it, with the template's
  `Globals` section merged into an `AWS::Serverless::*` resource's properties (Runtime,
  Architectures, Tags … are often set only there).
* `service_name_matches`: match a VPC endpoint `ServiceName` whose Region part is a pseudo
  parameter (`com.amazonaws.${AWS::Region}.s3`), which the value model rightly calls unknown.
* `function_log_group`: the template declares a Lambda function's log group (by name).
* `used_by`: like `referenced_by`, but a referrer with the resource's own Condition is present.
* `in_outputs`: an Output refers to the resource.
* `wildcard_arn`: a list of ARNs selects every resource of a kind ("*", arn:…:volume/*).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from walint.conditions import Result, Scope, check_arg, display, predicate, superpose
from walint.findings import without_if
from walint.selectors import Focus, branches
from walint.values import Kind, Resolver, intrinsic

SAM_PREFIX = "AWS::Serverless::"


def _sub_parts(arg: Any) -> tuple[str, Mapping[str, Any]] | None:
    """The text and local variables of an Fn::Sub argument; None if malformed."""
    if isinstance(arg, str):
        return arg, {}
    if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
        return arg[0], arg[1]
    if isinstance(arg, list) and len(arg) == 1 and isinstance(arg[0], str):
        return arg[0], {}
    return None


def _getatt_parts(arg: Any) -> tuple[str, str] | None:
    """(logical id, attribute) of an Fn::GetAtt argument; None if malformed."""
    if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], str):
        return arg[0], arg[1]
    if isinstance(arg, str) and "." in arg:
        target, _, attribute = arg.partition(".")
        return target, attribute
    return None


def merge_globals(section: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's merge of a Globals section into a resource's properties: the resource's scalar
    values win, maps are merged key by key (the resource's keys win), lists are concatenated
    with the global entries first."""
    merged: dict[str, Any] = dict(section)
    for key, value in properties.items():
        default = merged.get(key)
        plain = intrinsic(default) is None and intrinsic(value) is None
        if isinstance(default, dict) and isinstance(value, dict) and plain:
            merged[key] = merge_globals(default, value)
        elif isinstance(default, list) and isinstance(value, list):
            merged[key] = default + value
        else:
            merged[key] = value
    return merged


def globals_section(scope: Scope, resource_type: str) -> Mapping[str, Any] | str | None:
    """The Globals section that applies to a SAM resource type (`Globals.Function` for
    AWS::Serverless::Function); a reason string when it exists but is not a mapping."""
    data = scope.template.doc.data
    glob = data.get("Globals") if isinstance(data, dict) else None
    if not isinstance(glob, dict):
        return None
    section = glob.get(resource_type[len(SAM_PREFIX) :])
    if section is None:
        return None
    if not isinstance(section, dict) or intrinsic(section) is not None:
        return f"Globals.{resource_type[len(SAM_PREFIX) :]} is not a plain mapping"
    return section


@predicate("with_sam_globals")
def with_sam_globals(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """`check` (a clause, relative to the resource entry) on the resource with the SAM Globals
    for its type merged into its Properties. Resources that are not AWS::Serverless::* and SAM
    resources without Globals are checked as written."""
    if "check" not in args:
        raise ValueError("with_sam_globals needs a 'check' clause")
    clause = check_arg(args)
    assert clause is not None
    results: list[Result] = []
    for node in nodes:
        entry = node.value
        rtype = entry.get("Type") if isinstance(entry, dict) else None
        section = globals_section(scope, rtype) if isinstance(rtype, str) and rtype.startswith(SAM_PREFIX) else None
        if isinstance(section, str):
            results.append(Result(None, node.path, (section,)))
            continue
        if section is None or not isinstance(entry, dict):
            results.append(clause.evaluate(scope, node))
            continue
        props = entry.get("Properties")
        if props is not None and (not isinstance(props, dict) or intrinsic(props) is not None):
            results.append(Result(None, node.path, (f"{display(node.path)}.Properties is not a plain mapping",)))
            continue
        merged = dict(entry)
        merged["Properties"] = merge_globals(section, props or {})
        results.append(clause.evaluate(scope, Focus(merged, node.path, node.assumptions)))
    if not results:
        return Result(False)
    if len(results) == 1:
        return results[0]
    tris = {r.tri for r in results}
    if len(tris) == 1 and None not in tris:
        return results[0]
    reasons = tuple(dict.fromkeys(reason for r in results for reason in r.reasons))
    return Result(None, results[0].path, reasons)


_PSEUDO_IN_SUB = re.compile(r"\$\{AWS::(Region|URLSuffix|Partition)\}")


def _service_texts(scope: Scope, value: Any) -> list[str | None]:
    """The possible texts of a ServiceName, with ${AWS::Region} & co. kept as placeholders;
    None for an alternative that cannot be known."""
    found = intrinsic(value)
    if found and found[0] == "Fn::Sub":
        parts = _sub_parts(found[1])
        if parts is None:
            return [None]
        text, local = parts
        stripped = _PSEUDO_IN_SUB.sub("REGION", text)
        if local or "${" in stripped:
            resolved = scope.resolver.resolve({"Fn::Sub": [stripped, local] if local else stripped})
            return [a.value if a.kind is Kind.KNOWN and isinstance(a.value, str) else None for a in resolved]
        return [stripped]
    if found and found[0] == "Fn::Join" and isinstance(found[1], list) and len(found[1]) == 2:
        sep, parts = found[1]
        if isinstance(sep, str) and isinstance(parts, list):
            texts: list[str] = []
            for part in parts:
                inner = intrinsic(part)
                if inner in (("Ref", "AWS::Region"), ("Ref", "AWS::URLSuffix")):
                    texts.append("REGION")
                    continue
                alts = scope.resolver.resolve(part)
                if len(alts) != 1 or alts[0].kind is not Kind.KNOWN:
                    return [None]
                texts.append(str(alts[0].value))
            return [sep.join(texts)]
    resolved = scope.resolver.resolve(value)
    return [a.value if a.kind is Kind.KNOWN and isinstance(a.value, str) else None for a in resolved]


@predicate("service_name_matches")
def service_name_matches(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the service name (e.g. a VPC endpoint's ServiceName) ends with one of
    `services` (e.g. [s3, dynamodb]): `com.amazonaws.${AWS::Region}.s3` and
    `!Join ['', [com.amazonaws., !Ref AWS::Region, .s3]]` match `s3`."""
    wanted = [str(s) for s in args.get("services", [])]
    pattern = re.compile(r"\.(" + "|".join(re.escape(s) for s in wanted) + r")$")
    judged: list[tuple[bool | None, Focus]] = []
    for node in nodes:
        for item in branches(node, scope.resolver):
            if item.absent or item.unknown:
                judged.append((False if item.absent else None, item))
                continue
            for text in _service_texts(scope, item.value):
                if text is None:
                    why = "the service name is known only at deploy time"
                    judged.append((None, Focus(None, item.path, item.assumptions, unknown=why)))
                else:
                    judged.append((bool(pattern.search(text)), item))
    return superpose(judged)


def symbolic(scope: Scope, value: Any, depth: int = 0) -> str | None:
    """A value as text, known parts resolved and parameters kept as `${Name}`, so that two
    values built from the same parameter compare equal; None when it cannot be written so."""
    if depth > 8:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    found = intrinsic(value)
    if found is None:
        return None
    name, arg = found
    if name == "Ref" and isinstance(arg, str):
        if arg in scope.template.parameters:
            alts = scope.resolver.resolve(value)
            if len(alts) == 1 and alts[0].kind is Kind.KNOWN and isinstance(alts[0].value, (str, int, float)):
                return str(alts[0].value)
        return "${" + arg + "}"
    if name == "Fn::Sub":
        parts = _sub_parts(arg)
        if parts is None:
            return None
        text, local = parts
        failed = False

        def replace(match: re.Match[str]) -> str:
            nonlocal failed
            var = match.group(1).strip()
            if var in local:
                inner = symbolic(scope, local[var], depth + 1)
            elif "." in var:
                inner = "${" + var + "}"
            else:
                inner = symbolic(scope, {"Ref": var}, depth + 1)
            if inner is None:
                failed = True
                return ""
            return inner

        result = _SUB_VAR.sub(replace, text)
        return None if failed else result.replace("${!", "${")
    if name == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
        parts = arg[1]
        if not isinstance(parts, list):
            return None
        texts = [symbolic(scope, p, depth + 1) for p in parts]
        if any(t is None for t in texts):
            return None
        return arg[0].join(t for t in texts if t is not None)
    if name == "Fn::GetAtt":
        target = _getatt_parts(arg)
        return "${" + f"{target[0]}.{target[1]}" + "}" if target else None
    alts = scope.resolver.resolve(value)
    if len(alts) == 1 and alts[0].kind is Kind.KNOWN and isinstance(alts[0].value, (str, int, float)):
        return str(alts[0].value)
    return None


_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")


@predicate("function_log_group")
def function_log_group(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the template declares the log group of the Lambda function (the node is the
    function's entry): a resource whose `LogGroupName` is `/aws/lambda/<function name>`, built
    from a Ref/Sub of the function or equal to its FunctionName, or `LoggingConfig.LogGroup` set.
    Unknown when some log group's name cannot be known and might be this function's."""
    resource = scope.resource
    results: list[Result] = []
    for node in nodes:
        entry = node.value if isinstance(node.value, dict) else {}
        raw = entry.get("Properties")
        props: dict[str, Any] = raw if isinstance(raw, dict) else {}
        logging = props.get("LoggingConfig")
        if isinstance(logging, dict) and "LogGroup" in logging:
            results.append(Result(True, node.path + ("Properties", "LoggingConfig", "LogGroup")))
            continue
        index = _log_index(scope)
        name = index.names.get(resource.logical_id)
        own = index.own(resource.logical_id)
        unknown: list[str] = []
        found = False
        for group_id, text in index.groups:
            if text is not None and text in own:
                found = True
                break
            if text is not None and index.owners.get(text, {resource.logical_id}) - {resource.logical_id}:
                continue  # another function's log group
            # An unnamed function gets a generated name that no parameter can know in advance.
            if name is not None and (text is None or _may_name(scope, text, own)):
                unknown.append(f"{group_id} declares a log group whose name is known only at deploy time")
        if found:
            results.append(Result(True, node.path))
        elif unknown:
            results.append(Result(None, node.path + ("Properties",), tuple(unknown)))
        else:
            results.append(
                Result(
                    False,
                    node.path + ("Properties", "LoggingConfig"),
                    detail=(
                        "no log group with a retention period is declared for it "
                        f"(/aws/lambda/{name or '<function name>'} or LoggingConfig.LogGroup), "
                        "and Lambda creates one without expiry"
                    ),
                )
            )
    if not results:
        return Result(False)
    return results[0]


def _declares_log_group(resource_type: str) -> bool:
    """Resources that create a log group or set its retention (CDK's LogRetention custom resource)."""
    return (
        resource_type == "AWS::Logs::LogGroup"
        or resource_type.startswith("Custom::")
        or (resource_type == "AWS::CloudFormation::CustomResource")
    )


def _may_name(scope: Scope, text: str, names: set[str]) -> bool:
    """Whether `text`, whose ${Parameter} parts may be anything, can equal one of `names`."""
    pattern = ""
    wild = False
    for part in re.split(r"(\$\{[^}]*\})", text):
        if part.startswith("${") and part.endswith("}") and part[2:-1] in scope.template.parameters:
            pattern += ".*"
            wild = True
        else:
            pattern += re.escape(part)
    if not wild:
        return False
    compiled = re.compile(pattern)
    return any(compiled.fullmatch(name) for name in names)


def _mentions(value: Any, logical_id: str) -> bool:
    """Whether a template value refers to `logical_id` (Ref, GetAtt or a ${...} in Sub)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found = intrinsic(node)
            if found and found[0] == "Ref" and found[1] == logical_id:
                return True
            if found and found[0] == "Fn::GetAtt":
                target = _getatt_parts(found[1])
                if target and target[0] == logical_id:
                    return True
            if found and found[0] == "Fn::Sub":
                parts = _sub_parts(found[1])
                for match in _SUB_VAR.finditer(parts[0] if parts else ""):
                    if match.group(1).strip().split(".")[0] == logical_id:
                        return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


@predicate("in_outputs")
def in_outputs(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when an entry of the template's Outputs refers to the resource being checked
    (so that another stack or a tool may use it)."""
    resource = scope.resource
    for name, output in scope.template.outputs.items():
        if _mentions(output, resource.logical_id):
            return Result(True, ("Outputs", name), detail=f"output {name} refers to it")
    return Result(False, resource.path)


def _edge_live(scope: Scope, source_data: Mapping[str, Any], path: tuple[Any, ...]) -> bool | None:
    """Whether the Fn::If branches on an edge's path are taken (None when parameters decide)."""
    live: bool | None = True
    node: Any = source_data
    for i, part in enumerate(path):
        if part == "Fn::If" and isinstance(node, dict) and i + 1 < len(path):
            arg = node.get("Fn::If")
            branch = path[i + 1]
            if isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str) and branch in (1, 2):
                truth = scope.resolver.condition(arg[0])
                taken = None if truth is None else (truth if branch == 1 else not truth)
                live = False if taken is False or live is False else None if taken is None or live is None else True
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
    return live


@predicate("used_by")
def used_by(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when a resource of one of `types` (globs) refers to the resource being checked,
    from a property under `via` (a dotted path such as Properties.NatGatewayId) when given.

    Unlike `referenced_by`, a referring resource that has the same Condition as the checked
    resource counts as present: both exist together."""
    resource = scope.resource
    types = [str(t) for t in (args.get("types") or ["*"])]
    via = tuple(str(args["via"]).split(".")) if args.get("via") else ()
    unknown: list[str] = []
    for edge in scope.template.edges_to.get(resource.logical_id, ()):
        source = scope.template.resources.get(edge.source)
        if source is None or source.logical_id == resource.logical_id:
            continue
        if not any(fnmatch.fnmatchcase(source.type, t) for t in types):
            continue
        if via and without_if(edge.path)[: len(via)] != via:
            continue
        live = _edge_live(scope, source.data, edge.path)
        if source.condition and source.condition != resource.condition:
            exists = scope.resolver.condition(source.condition)
            live = False if exists is False or live is False else None if exists is None or live is None else True
        if live is True:
            return Result(True, source.path, detail=f"{source.logical_id} uses it")
        if live is None:
            unknown.append(f"{source.logical_id} refers to it only under a condition")
    if unknown:
        return Result(None, resource.path, tuple(unknown))
    return Result(False, resource.path)


def _wildcard(scope: Scope, item: Focus) -> tuple[bool | None, str]:
    if item.absent:
        return False, ""
    text = None if item.unknown else symbolic(scope, item.value)
    if text is None:
        return None, item.unknown or "the ARN is known only at deploy time"
    params = [p for p in re.findall(r"\$\{([^}]*)\}", text) if p in scope.template.parameters]
    if params:
        return None, f"the ARN depends on parameter {params[0]}"
    return text == "*" or bool(re.search(r"[:/]\*$", text)), ""


@predicate("wildcard_arn")
def wildcard_arn(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when a list of ARNs (or one ARN) holds "*" or an ARN that selects every resource
    of its kind (ending in ":*" or "/*", e.g. arn:aws:ec2:*:*:volume/*). Refs/GetAtts to
    resources and Subs that build a resource's own ARN are specific; a value that depends on a
    parameter is unknown. Intrinsics are read as written, so ${AWS::Region} does not hide
    the pattern."""
    unknown: list[str] = []
    for node in nodes:
        for alt in branches(node, scope.resolver):
            conditional = bool(alt.assumptions)
            if alt.unknown:
                unknown.append(f"{display(alt.path)}: {alt.unknown}")
                continue
            found = intrinsic(alt.value)
            if isinstance(alt.value, dict) and found and found[0] not in ("Fn::Sub", "Fn::Join", "Ref", "Fn::GetAtt"):
                unknown.append(f"{display(alt.path)}: {found[0]} is evaluated at deploy time")
                continue
            if found and found[0] == "Ref" and found[1] in scope.template.parameters:
                unknown.append(f"{display(alt.path)}: it comes from parameter {found[1]}")
                continue
            items = [alt.child(v, i) for i, v in enumerate(alt.value)] if isinstance(alt.value, list) else [alt]
            for element in items:
                for item in branches(element, scope.resolver):
                    tri, why = _wildcard(scope, item)
                    if tri is True and not (conditional or item.assumptions):
                        return Result(True, item.path)
                    if tri is True:
                        when = " and ".join(item.assumptions)
                        unknown.append(f"{display(item.path)} selects everything only when {when}")
                    elif tri is None:
                        unknown.append(f"{display(item.path)}: {why}")
    path = nodes[0].path if nodes else ()
    if unknown:
        return Result(None, path, tuple(dict.fromkeys(unknown)))
    return Result(False, path)


_FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")


@dataclass
class _LogIndex:
    """Per-template index of function names and declared log group names (symbolic)."""

    names: dict[str, str] = field(default_factory=dict)  # function id -> symbolic FunctionName
    owners: dict[str, set[str]] = field(default_factory=dict)  # /aws/lambda/<name> -> function ids
    groups: list[tuple[str, str | None]] = field(default_factory=list)  # (resource id, LogGroupName)

    def own(self, logical_id: str) -> set[str]:
        names = {f"/aws/lambda/${{{logical_id}}}"}
        if logical_id in self.names:
            names.add(f"/aws/lambda/{self.names[logical_id]}")
        return names


_log_indexes: dict[int, tuple[Resolver, _LogIndex]] = {}


def _log_index(scope: Scope) -> _LogIndex:
    """The index for this lint run (keyed by its resolver, so that parameter values apply)."""
    cached = _log_indexes.get(id(scope.resolver))
    if cached is not None and cached[0] is scope.resolver:
        return cached[1]
    index = _LogIndex()
    for res in scope.template.resources.values():
        if res.type in _FUNCTION_TYPES:
            if "FunctionName" in res.properties:
                text = symbolic(scope, res.properties["FunctionName"])
                if text is not None:
                    index.names[res.logical_id] = text
            for group in index.own(res.logical_id):
                index.owners.setdefault(group, set()).add(res.logical_id)
        elif _declares_log_group(res.type) and "LogGroupName" in res.properties:
            index.groups.append((res.logical_id, symbolic(scope, res.properties["LogGroupName"])))
    if len(_log_indexes) > 16:
        _log_indexes.clear()
    _log_indexes[id(scope.resolver)] = (scope.resolver, index)
    return index
