"""Predicates for the reliability rules (healing, decoupling, limits, network plan).

* `numbers_ordered`: numbers at several paths of one node are in non-decreasing order (absent ones are
  skipped), e.g. an Auto Scaling group's MinSize ≤ DesiredCapacity ≤ MaxSize.
* `sqs_visibility_covers_timeout`: an SQS event source's queue keeps messages invisible for at
  least `factor` × the consuming Lambda function's timeout (an `AWS::Lambda::EventSourceMapping`,
  or an `AWS::Serverless::Function` with `Events` of type SQS).
* `subnet_cidr_within_vpc`: a subnet's literal `CidrBlock` lies inside its VPC's literal `CidrBlock`.
* `peering_cidrs_disjoint`: the two VPCs of a VPC peering connection have disjoint CIDR blocks.
* `logical_id_matches`: the logical id of the resource being judged matches a regular expression.
* `globals_refer_to_resource`: the SAM Globals section refers to the resource being judged.
* `literal_text_matches`: a literal string in the selected value matches one of several patterns.
* `api_timeout_covers_function`: an API integration waits at least as long as its Lambda function may run.
* `dlq_outlives_source`: a standard queue's dead-letter queue keeps messages longer than the queue.
* `type_ordinal_within`: the resource is at most the n-th of its type in the template.
* `resource_type_in`: a type guard whose FALSE result points at the resource, not at `Type:`.
* `asl_tasks_resilient`: every Task state of an inline Step Functions definition has a Retry (and a
  timeout when it waits for a callback).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from walint.conditions import Result, Scope, display, predicate
from walint.graph import Resource
from walint.selectors import Focus, expand, values_at
from walint.values import Kind, as_number, intrinsic, normalize

#: Beyond this many combinations of alternative values, give up and call the answer unknown.
MAX_COMBINATIONS = 256

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _why(node: Focus) -> str:
    return f"{display(node.path)}: {node.unknown}"


def _decide(judged: list[tuple[bool | None, Focus, str, tuple[str, ...]]], here: Focus) -> Result:
    """Combine the verdicts of every combination of alternatives: decided only when all agree.
    Each verdict carries the node to point at, a detail text and reasons when unknown."""
    if not judged:
        return Result(True, here.path)
    verdicts = {tri for tri, _, _, _ in judged}
    if verdicts == {True}:
        return Result(True, judged[0][1].path)
    if verdicts == {False}:
        _, node, detail, _ = judged[0]
        return Result(False, node.path, (), detail)
    reasons: list[str] = []
    for tri, node, detail, why in judged:
        if tri is None:
            reasons.extend(why)
        elif node.assumptions or why:
            state = "holds" if tri else f"fails ({detail})" if detail else "fails"
            reasons.append(f"it {state} when {' and '.join(node.assumptions + why) or 'some values are chosen'}")
    path = next((n.path for t, n, _, _ in judged if t is None), judged[0][1].path)
    return Result(None, path, tuple(dict.fromkeys(reasons)))


def _merge_assumptions(target: Focus, nodes: Iterable[Focus]) -> Focus:
    extra: tuple[str, ...] = ()
    for node in nodes:
        extra += tuple(a for a in node.assumptions if a not in extra)
    merged = tuple(dict.fromkeys(target.assumptions + extra))
    return Focus(target.value, target.path, merged, target.absent, target.unknown)


def _name(path: str) -> str:
    return path.rsplit(".", 1)[-1]


# -- ordered ---------------------------------------------------------------------------------


@predicate("numbers_ordered")
def ordered(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the numbers at `paths` (relative to the node) are non-decreasing; absent values
    are skipped. A violation points at the middle path of the offending pair if there is one
    (DesiredCapacity between MinSize and MaxSize), else at the second value."""
    paths = [str(p) for p in args.get("paths", [])]
    if len(paths) < 2:
        raise ValueError("numbers_ordered needs 'paths': at least two paths")
    judged: list[tuple[bool | None, Focus, str, tuple[str, ...]]] = []
    here = nodes[0] if nodes else Focus(scope.resource.data, scope.resource.path)
    for node in nodes:
        for item in expand(node, scope.resolver):
            columns = [values_at(scope.resolver, item, p) for p in paths]
            combos = list(itertools.islice(itertools.product(*columns), MAX_COMBINATIONS + 1))
            if len(combos) > MAX_COMBINATIONS:
                return Result(None, item.path, ("too many combinations of possible values to check",))
            for combo in combos:
                judged.append(_ordered_combo(paths, combo))
    return _decide(judged, here)


def _ordered_combo(paths: list[str], combo: tuple[Focus, ...]) -> tuple[bool | None, Focus, str, tuple[str, ...]]:
    present: list[tuple[int, float, Focus]] = []
    unknown: list[str] = []
    first_unknown: Focus | None = None
    for i, value in enumerate(combo):
        if value.absent:
            continue
        if value.unknown:
            unknown.append(_why(value))
            first_unknown = first_unknown or value
            continue
        number = as_number(value.value)
        if number is None:
            unknown.append(f"{display(value.path)}: {value.value!r} is not a number")
            first_unknown = first_unknown or value
            continue
        present.append((i, number, value))
    # A violation among the known values is certain whatever the unknown ones are.
    for (i, a, _), (j, b, fb) in itertools.pairwise(present):
        if a > b:
            middle = [k for k in (i, j) if 0 < k < len(paths) - 1]
            blamed = combo[middle[0]] if middle else fb
            detail = f"{_name(paths[i])} {_number(a)} is greater than {_name(paths[j])} {_number(b)}"
            return False, _merge_assumptions(blamed, combo), detail, ()
    if first_unknown is not None:
        return None, first_unknown, "", tuple(unknown)
    return True, _merge_assumptions(combo[0], combo), "", ()


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


# -- queue visibility vs function timeout ----------------------------------------------------

SQS_VISIBILITY_DEFAULT = 30
LAMBDA_TIMEOUT_DEFAULT = 3
_FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")


def _resolve_resource(scope: Scope, node: Focus) -> tuple[Resource | None, str]:
    """The template resource a value refers to (Ref/GetAtt/Sub), or why it is unknown."""
    alts = scope.resolver.resolve(node.value)
    if len(alts) == 1 and alts[0].kind is Kind.REF:
        target = scope.template.resources.get(alts[0].value[0])
        return target, ""
    return None, node.unknown or "it is not a resource of this template"


def _queue_sources(scope: Scope) -> list[Focus]:
    """The nodes naming the SQS queue(s) that feed the resource being judged."""
    resource = scope.resource
    root = Focus(resource.data, resource.path)
    if resource.type == "AWS::Lambda::EventSourceMapping":
        return values_at(scope.resolver, root, "Properties.EventSourceArn")
    out: list[Focus] = []
    for events in values_at(scope.resolver, root, "Properties.Events"):
        if events.absent or events.unknown or not isinstance(events.value, dict):
            continue
        for name, event in events.value.items():
            focus = events.child(event, name)
            kinds = values_at(scope.resolver, focus, "Type")
            if any(k.value == "SQS" for k in kinds if not (k.absent or k.unknown)):
                out.extend(values_at(scope.resolver, focus, "Properties.Queue"))
    return out


def _function_timeouts(scope: Scope) -> tuple[list[Focus], str]:
    """The Timeout alternatives of the consuming function (absent means the default), or why
    they are unknown."""
    resource = scope.resource
    if resource.type == "AWS::Lambda::EventSourceMapping":
        root = Focus(resource.data, resource.path)
        names = values_at(scope.resolver, root, "Properties.FunctionName")
        if len(names) != 1 or names[0].absent:
            return [], "the function name has several possible values" if names else "no FunctionName"
        target, why = _resolve_resource(scope, names[0])
        target, alias_why = _behind_alias(scope, target)
        if alias_why:
            return [], alias_why
        if target is None:
            return [], f"{display(names[0].path)}: {why}" if why else "the function is not in this template"
        if target.type not in _FUNCTION_TYPES:
            return [], f"{display(names[0].path)} refers to {target.logical_id}, which is not a function"
        resource = target
    return _timeout_of(scope, resource), ""


def _behind_alias(scope: Scope, target: Resource | None) -> tuple[Resource | None, str]:
    """The resource an alias or a version stands for (followed up to three times)."""
    for _ in range(3):
        if target is None or target.type not in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            break
        inner = values_at(scope.resolver, Focus(target.data, target.path), "Properties.FunctionName")
        if len(inner) != 1 or inner[0].absent:
            return None, f"{target.logical_id} names its function in several ways"
        target, _ = _resolve_resource(scope, inner[0])
    return target, ""


def _timeout_of(scope: Scope, function: Resource) -> list[Focus]:
    root = Focus(function.data, function.path)
    timeouts = values_at(scope.resolver, root, "Properties.Timeout")
    if function.type != "AWS::Serverless::Function":
        return timeouts
    out: list[Focus] = []
    data = scope.template.doc.data
    globals_section = data.get("Globals") if isinstance(data, dict) else None
    for timeout in timeouts:
        if timeout.absent and isinstance(globals_section, dict):
            glob = Focus(globals_section, ("Globals",), timeout.assumptions)
            out.extend(values_at(scope.resolver, glob, "Function.Timeout"))
        else:
            out.append(timeout)
    return out


@predicate("sqs_visibility_covers_timeout")
def queue_visibility_covers_timeout(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when every SQS queue feeding the function (through the event source mapping being
    judged, or the SAM function's SQS events) has a VisibilityTimeout of at least `factor`
    (default 6) times the function's Timeout. Event sources that are not SQS queues are ignored;
    a queue or function outside the template makes the answer unknown."""
    factor = as_number(args.get("factor", 6))
    if factor is None:
        raise ValueError("sqs_visibility_covers_timeout: 'factor' must be a number")
    here = nodes[0] if nodes else Focus(scope.resource.data, scope.resource.path)
    judged: list[tuple[bool | None, Focus, str, tuple[str, ...]]] = []
    sources = _queue_sources(scope)
    timeouts: list[Focus] | None = None
    timeout_why = ""
    for source in sources:
        if source.absent:
            continue
        queue: Resource | None = None
        if source.unknown and not source.unknown.startswith("it is a reference"):
            judged.append((None, source, "", (_why(source),)))
            continue
        if not source.unknown:
            text = str(source.value)
            if text.startswith("arn:") and ":sqs:" in text:
                why = f"{display(source.path)}: the queue is not defined in this template"
                judged.append((None, source, "", (why,)))
            continue  # a literal ARN of a stream, a Kafka cluster …: not a queue
        queue, _ = _resolve_resource(scope, source)
        if queue is None or queue.type != "AWS::SQS::Queue":
            continue
        if timeouts is None:
            timeouts, timeout_why = _function_timeouts(scope)
        if timeout_why:
            judged.append((None, source, "", (timeout_why,)))
            continue
        visibilities = values_at(scope.resolver, Focus(queue.data, queue.path), "Properties.VisibilityTimeout")
        for visibility, timeout in itertools.product(visibilities, timeouts):
            judged.append(_covers(source, queue, visibility, timeout, factor))
    return _decide(judged, here)


def _covers(
    source: Focus, queue: Resource, visibility: Focus, timeout: Focus, factor: float
) -> tuple[bool | None, Focus, str, tuple[str, ...]]:
    blamed = _merge_assumptions(source, (visibility, timeout))
    values: list[float] = []
    for node, default in ((visibility, SQS_VISIBILITY_DEFAULT), (timeout, LAMBDA_TIMEOUT_DEFAULT)):
        if node.unknown:
            return None, blamed, "", (_why(node),)
        number = float(default) if node.absent else as_number(node.value)
        if number is None:
            return None, blamed, "", (f"{display(node.path)}: {node.value!r} is not a number",)
        values.append(number)
    seen, limit = values
    if seen >= factor * limit:
        return True, blamed, "", ()
    shown = _number(factor)
    detail = (
        f"queue {queue.logical_id} hides a received message for {_number(seen)} s "
        f"(VisibilityTimeout), less than {shown} × the function's Timeout of {_number(limit)} s"
    )
    return False, blamed, detail, ()


# -- CIDR plan -------------------------------------------------------------------------------


def _networks(scope: Scope, resource: Resource, path: str) -> tuple[list[tuple[Network, Focus]], list[str]]:
    """The literal networks at `path` of a resource (one per alternative) and unknown reasons."""
    found: list[tuple[Network, Focus]] = []
    unknown: list[str] = []
    for node in values_at(scope.resolver, Focus(resource.data, resource.path), path):
        if node.absent:
            unknown.append(f"{resource.logical_id} has no literal {_name(path)} (an IPAM pool allocates it)")
        elif node.unknown:
            unknown.append(_why(node))
        else:
            try:
                found.append((ipaddress.ip_network(str(node.value), strict=False), node))
            except ValueError:
                unknown.append(f"{display(node.path)}: {node.value!r} is not a CIDR block")
    return found, unknown


def _vpc_of(scope: Scope, node: Focus) -> tuple[Resource | None, str]:
    items = expand(node, scope.resolver)
    if len(items) != 1 or items[0].absent:
        return None, f"{display(node.path)} has several possible values"
    target, why = _resolve_resource(scope, items[0])
    if target is None or target.type != "AWS::EC2::VPC":
        return None, f"{display(node.path)}: the VPC is not defined in this template ({why or 'not a VPC'})"
    return target, ""


def _vpc_blocks(scope: Scope, vpc: Resource, family: str) -> tuple[list[list[tuple[Network, Focus]]], list[str]]:
    """Every CIDR block of a VPC: its primary block and each `AWS::EC2::VPCCidrBlock` of the
    given family ('CidrBlock' for IPv4, 'Ipv6CidrBlock' for IPv6) attached to it; each entry
    lists the alternatives of one block."""
    blocks: list[list[tuple[Network, Focus]]] = []
    unknown: list[str] = []
    if family == "CidrBlock":
        primary, why = _networks(scope, vpc, "Properties.CidrBlock")
        blocks.append(primary)
        unknown.extend(why)
    for other in scope.template.of_type("AWS::EC2::VPCCidrBlock"):
        vpc_nodes = values_at(scope.resolver, Focus(other.data, other.path), "Properties.VpcId")
        owner = [_resolve_resource(scope, n)[0] for n in vpc_nodes if not n.absent]
        if not any(o is not None and o.logical_id == vpc.logical_id for o in owner):
            if any(o is None for o in owner):
                unknown.append(f"{other.logical_id} may add a CIDR block to {vpc.logical_id}")
            continue
        props = other.properties
        if family not in props:
            continue
        extra, why = _networks(scope, other, f"Properties.{family}")
        blocks.append(extra)
        unknown.extend(why)
    return blocks, unknown


def _carved_from_vpc(value: Any, vpc: Resource) -> bool:
    """Whether a subnet CidrBlock is `Fn::Select [i, Fn::Cidr [block, n, bits]]` where `block` is
    the VPC's own CidrBlock (`Fn::GetAtt Vpc.CidrBlock`, or the same expression as the VPC's
    `CidrBlock`, e.g. the same parameter), which lies inside the VPC by construction."""
    found = intrinsic(value)
    if not (found and found[0] == "Fn::Select" and isinstance(found[1], list) and len(found[1]) == 2):
        return False
    inner = intrinsic(found[1][1])
    if not (inner and inner[0] == "Fn::Cidr" and isinstance(inner[1], list) and inner[1]):
        return False
    block = inner[1][0]
    if "CidrBlock" in vpc.properties and block == vpc.properties["CidrBlock"]:
        return True
    source = intrinsic(block)
    if not source or source[0] != "Fn::GetAtt":
        return False
    arg = source[1]
    target, attribute = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (str(arg).partition(".")[::2])
    return bool(target == vpc.logical_id and attribute == "CidrBlock")


def _same_vpc_subnets(scope: Scope, subnet: Resource, vpc: Resource) -> list[Resource]:
    out = []
    for other in scope.template.of_type("AWS::EC2::Subnet"):
        if other.logical_id == subnet.logical_id:
            continue
        nodes = values_at(scope.resolver, Focus(other.data, other.path), "Properties.VpcId")
        if len(nodes) == 1 and not nodes[0].absent:
            target, _ = _resolve_resource(scope, nodes[0])
            if target is not None and target.logical_id == vpc.logical_id:
                out.append(other)
    return out


@predicate("subnet_cidr_within_vpc")
def subnet_cidr_within_vpc(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the subnet's IPv4 CidrBlock lies inside one of its VPC's blocks (the primary
    `CidrBlock` or an `AWS::EC2::VPCCidrBlock` attached to it) and, with `siblings: true`,
    overlaps no other subnet of the same VPC defined in the template. A block carved with
    `Fn::Select`/`Fn::Cidr` from the VPC's own `CidrBlock` is inside by construction. Unknown
    when the VPC is not in the template or a block is not literal."""
    subnet = scope.resource
    root = Focus(subnet.data, subnet.path)
    here = nodes[0] if nodes else root
    vpc_nodes = values_at(scope.resolver, root, "Properties.VpcId")
    if len(vpc_nodes) != 1:
        return Result(None, here.path, ("the subnet's VpcId has several possible values",))
    vpc, why = _vpc_of(scope, vpc_nodes[0])
    if vpc is None:
        return Result(None, vpc_nodes[0].path, (why,))
    raw = subnet.properties.get("CidrBlock")
    if raw is None and "Ipv4IpamPoolId" not in subnet.properties and "CidrBlock" not in subnet.properties:
        return Result(True, here.path)  # IPv6-only subnet: nothing to check
    if _carved_from_vpc(raw, vpc):
        return Result(True, here.path)
    subnets, unknown = _networks(scope, subnet, "Properties.CidrBlock")
    blocks, block_unknown = _vpc_blocks(scope, vpc, "CidrBlock")
    judged: list[tuple[bool | None, Focus, str, tuple[str, ...]]] = []
    siblings = _same_vpc_subnets(scope, subnet, vpc) if args.get("siblings", True) else []
    for net, node in subnets:
        inside = any(
            net.version == vnet.version and net.subnet_of(vnet)  # type: ignore[arg-type]
            for block in blocks
            for vnet, _ in block
        )
        clash = ""
        for other in siblings:
            others, _ = _networks(scope, other, "Properties.CidrBlock")
            if len(others) == 1 and others[0][0].version == net.version and others[0][0].overlaps(net):
                clash = f"{net} overlaps {other.logical_id}'s {others[0][0]} in the same VPC"
                break
        if clash:
            judged.append((False, node, clash, ()))
        elif inside:
            judged.append((True, node, "", ()))
        elif unknown or block_unknown:
            judged.append((None, node, "", tuple(unknown + block_unknown)))
        else:
            shown = ", ".join(sorted({str(v) for b in blocks for v, _ in b}))
            judged.append((False, node, f"{net} is not inside {vpc.logical_id}'s {shown}", ()))
    if not judged:
        return Result(None, here.path, tuple(unknown) or ("the subnet's CIDR block is unknown",))
    return _decide(judged, here)


@predicate("peering_cidrs_disjoint")
def peering_cidrs_disjoint(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the requester VPC (`VpcId`) and the accepter VPC (`PeerVpcId`) of a peering
    connection have no overlapping IPv4 CIDR blocks. Unknown when either VPC is not defined in the
    template or a block is not literal."""
    peering = scope.resource
    root = Focus(peering.data, peering.path)
    here = nodes[0] if nodes else root
    ends: list[Resource] = []
    for key in ("VpcId", "PeerVpcId"):
        found = values_at(scope.resolver, root, f"Properties.{key}")
        if len(found) != 1:
            return Result(None, here.path, (f"{key} has several possible values",))
        here = found[0]
        vpc, why = _vpc_of(scope, found[0])
        if vpc is None:
            return Result(None, here.path, (why,))
        ends.append(vpc)
    left, left_unknown = _vpc_blocks(scope, ends[0], "CidrBlock")
    right, right_unknown = _vpc_blocks(scope, ends[1], "CidrBlock")
    for block_a in left:
        for block_b in right:
            for (net_a, _), (net_b, _) in itertools.product(block_a, block_b):
                if net_a.version == net_b.version and net_a.overlaps(net_b):
                    everywhere = len(block_a) == 1 and len(block_b) == 1
                    if everywhere:
                        detail = f"{ends[0].logical_id} ({net_a}) and {ends[1].logical_id} ({net_b}) overlap"
                        return Result(False, here.path, (), detail)
    unknown = left_unknown + right_unknown
    if unknown or any(len(b) != 1 for b in left + right):
        return Result(None, here.path, tuple(unknown) or ("a CIDR block has several possible values",))
    return Result(True, here.path)


# -- naming ----------------------------------------------------------------------------------


@predicate("logical_id_matches")
def logical_id_matches(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the logical id of the resource being judged matches the regular expression
    `pattern` (re.search). Used for naming conventions that say what a resource is for, such as a
    queue called `OrdersDLQ` that serves as another stack's dead-letter queue."""
    pattern = args.get("pattern")
    if not isinstance(pattern, str):
        raise ValueError("logical_id_matches needs 'pattern': a regular expression")
    here = nodes[0].path if nodes else scope.resource.path
    return Result(bool(re.search(pattern, scope.resource.logical_id)), here)


def _mentions(value: Any, logical_id: str) -> bool:
    """Whether a template value refers to `logical_id` by Ref, Fn::GetAtt or Fn::Sub."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if len(node) == 1:
                ((name, arg),) = node.items()
                if name == "Ref" and arg == logical_id:
                    return True
                if name == "Fn::GetAtt":
                    target = arg[0] if isinstance(arg, list) and arg else str(arg).split(".", 1)[0]
                    if target == logical_id:
                        return True
                if name == "Fn::Sub":
                    text = arg[0] if isinstance(arg, list) and arg else arg
                    if isinstance(text, str) and re.search(r"\$\{" + re.escape(logical_id) + r"(\.[^}]*)?\}", text):
                        return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


@predicate("globals_refer_to_resource")
def globals_refer_to_resource(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the SAM `Globals` section `section` (e.g. Function; every section when absent)
    refers to the resource being judged, e.g. a queue named as every function's DeadLetterQueue.
    The resource graph has no edges from Globals, which is not a resource."""
    here = nodes[0].path if nodes else scope.resource.path
    data = scope.template.doc.data
    glob = data.get("Globals") if isinstance(data, dict) else None
    if not isinstance(glob, dict):
        return Result(False, here)
    section = args.get("section")
    value = glob.get(section) if isinstance(section, str) else glob
    return Result(_mentions(value, scope.resource.logical_id), here)


# -- literal text ----------------------------------------------------------------------------

_NOT_TEXT = ("Ref", "Fn::GetAtt", "Fn::FindInMap", "Fn::ImportValue", "Condition", "Fn::GetAZs")


def _literal_texts(value: Any, path: tuple[str | int, ...]) -> Iterable[tuple[str, tuple[str | int, ...]]]:
    """The literal strings of a template value with their paths: plain strings and the text of
    Fn::Sub/Fn::Join, but not names (Ref, GetAtt, FindInMap keys, condition names)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            yield node, where
        elif isinstance(node, dict):
            found = intrinsic(node)
            if found is not None:
                name, arg = found
                if name in _NOT_TEXT:
                    continue
                if name == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
                    stack.extend((arg[i], (*where, name, i)) for i in (2, 1))
                    continue
            stack.extend((child, (*where, key)) for key, child in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((child, (*where, i)) for i, child in reversed(list(enumerate(node))))


@predicate("literal_text_matches")
def literal_text_matches(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when a literal string under the selected nodes (plain strings and Fn::Sub/Fn::Join
    text; values from parameters, mappings and references are not literal) matches one of
    `patterns` ({name: regex}, re.search). The result points at the first match and its detail
    names the pattern and the text. Literal text is decided: the result is never unknown."""
    patterns = args.get("patterns")
    if not isinstance(patterns, dict) or not patterns:
        raise ValueError("literal_text_matches needs 'patterns': a mapping of names to regular expressions")
    compiled = [(str(name), re.compile(str(rx))) for name, rx in patterns.items()]
    for node in nodes:
        if node.absent:
            continue
        for text, where in _literal_texts(node.value, node.path):
            for name, rx in compiled:
                if rx.search(text):
                    return Result(True, where, (), f"{name} {text!r}")
    return Result(False, nodes[0].path if nodes else scope.resource.path)


# -- Step Functions --------------------------------------------------------------------------

_CALLBACK = re.compile(r"\.waitForTaskToken$|:activity:")


StatePath = tuple[str | int, ...]


def _asl_states(states: Any, where: StatePath) -> Iterable[tuple[str, dict[str, Any], StatePath]]:
    """Every state of an ASL States mapping with its path, descending into Parallel branches and
    Map iterators (Iterator / ItemProcessor)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(states, where)]
    while stack:
        current, at = stack.pop()
        if not isinstance(current, dict):
            continue
        for name, state in reversed(list(current.items())):
            if not isinstance(state, dict):
                continue
            path = (*at, name)
            yield str(name), state, path
            for key in ("Iterator", "ItemProcessor"):
                inner = state.get(key)
                if isinstance(inner, dict):
                    stack.append((inner.get("States"), (*path, key, "States")))
            branches = state.get("Branches")
            if isinstance(branches, list):
                for i, branch in enumerate(branches):
                    if isinstance(branch, dict):
                        stack.append((branch.get("States"), (*path, "Branches", i, "States")))


def _task_problem(state: dict[str, Any]) -> str:
    if state.get("Type") != "Task":
        return ""
    retry = state.get("Retry")
    if not (isinstance(retry, list) and retry):
        return "has no Retry"
    resource = state.get("Resource")
    waits = isinstance(resource, str) and bool(_CALLBACK.search(resource))
    timed = any(
        k in state for k in ("TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath")
    )
    if waits and not timed:
        return "waits for a callback or an activity without TimeoutSeconds or HeartbeatSeconds"
    return ""


@predicate("asl_tasks_resilient")
def asl_tasks_resilient(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when every Task state of a state machine's Amazon States Language definition (the
    selected node: an inline `Definition` object, or a `DefinitionString` that is a literal JSON
    string) has a non-empty Retry and, when it waits for a task token or an activity, a timeout
    or heartbeat. Absent definitions are False; definitions built at deploy time (Fn::Sub,
    Fn::Join, S3 locations) are unknown."""
    results: list[tuple[bool | None, Focus, str, tuple[str, ...]]] = []
    here = nodes[0] if nodes else Focus(scope.resource.data, scope.resource.path)
    for node in nodes:
        for item in expand(node, scope.resolver):
            if item.absent:
                continue
            if item.unknown:
                results.append((None, item, "", (_why(item),)))
                continue
            value, base = item.value, item.path
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    results.append((None, item, "", (f"{display(item.path)} is not valid JSON",)))
                    continue
                base = ()  # a path inside a string has no line of its own
            if not isinstance(value, dict):
                results.append((None, item, "", (f"{display(item.path)} is not a state machine definition",)))
                continue
            verdict: tuple[bool | None, Focus, str, tuple[str, ...]] = (True, item, "", ())
            for name, state, path in _asl_states(value.get("States"), (*base, "States") if base else ()):
                problem = _task_problem(state)
                if problem:
                    where = Focus(state, path, item.assumptions) if base else item
                    verdict = (False, where, f"Task state {name!r} {problem}", ())
                    break
            results.append(verdict)
    if not results:
        why = "the definition is not in the template (DefinitionS3Location or DefinitionUri)"
        return Result(None, here.path, (why,))
    return _decide(results, here)


# -- API integration timeout vs function timeout ---------------------------------------------

REST_INTEGRATION_TIMEOUT_MS = 29000
HTTP_INTEGRATION_TIMEOUT_MS = 30000


def _integration_targets(scope: Scope, uri_path: tuple[str | int, ...]) -> list[Resource]:
    """The functions a resource's integration URI refers to (through aliases and versions)."""
    resource = scope.resource
    found: list[Resource] = []
    for edge in scope.template.edges_from.get(resource.logical_id, ()):
        if edge.path[: len(uri_path)] != uri_path:
            continue
        target, _ = _behind_alias(scope, scope.template.resources.get(edge.target))
        if target is not None and target.type in _FUNCTION_TYPES and target not in found:
            found.append(target)
    return found


_INVOCATION_TYPE = "integration.request.header.X-Amz-Invocation-Type"


def _openapi_defined(scope: Scope, event: Focus) -> str:
    """Why a SAM Api/HttpApi event's integration is not known: its API (RestApiId/ApiId) has an
    OpenAPI definition that may define the integration and its timeout itself."""
    for key in ("Properties.RestApiId", "Properties.ApiId"):
        for node in values_at(scope.resolver, event, key):
            if node.absent:
                continue
            target, _ = _resolve_resource(scope, node)
            if target is not None and ("DefinitionBody" in target.properties or "DefinitionUri" in target.properties):
                return f"{target.logical_id} has an OpenAPI definition, which may set the integration and its timeout"
    return ""


@predicate("api_timeout_covers_function")
def api_timeout_covers_function(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the API integration in front of a Lambda function waits at least as long as the
    function may run: an `AWS::ApiGateway::Method` (Integration.Uri, Integration.TimeoutInMillis,
    default 29 s), an `AWS::ApiGatewayV2::Integration` (IntegrationUri, TimeoutInMillis, default
    30 s) or an `AWS::Serverless::Function` with Api (29 s) / HttpApi (30 s) events, against the
    function's Timeout (default 3 s; SAM Globals apply). Integrations that do not refer to a
    function of the template are not judged."""
    resource = scope.resource
    root = Focus(resource.data, resource.path)
    here = nodes[0] if nodes else root
    pairs: list[tuple[Resource, list[Focus], float, Focus]] = []  # function, waits, default, node
    judged: list[tuple[bool | None, Focus, str, tuple[str, ...]]] = []
    if resource.type == "AWS::ApiGateway::Method":
        path = (*resource.path, "Properties", "Integration", "Uri")
        params = resource.properties.get("Integration")
        params = params.get("RequestParameters") if isinstance(params, dict) else None
        invocation = params.get(_INVOCATION_TYPE) if isinstance(params, dict) else None
        if isinstance(invocation, str) and "event" in invocation.lower():
            return Result(True, here.path)  # an asynchronous invocation: API Gateway does not wait
        for function in _integration_targets(scope, ("Properties", "Integration", "Uri")):
            waits = values_at(scope.resolver, root, "Properties.Integration.TimeoutInMillis")
            pairs.append((function, waits, REST_INTEGRATION_TIMEOUT_MS, Focus(None, path)))
    elif resource.type == "AWS::ApiGatewayV2::Integration":
        path = (*resource.path, "Properties", "IntegrationUri")
        for function in _integration_targets(scope, ("Properties", "IntegrationUri")):
            waits = values_at(scope.resolver, root, "Properties.TimeoutInMillis")
            pairs.append((function, waits, HTTP_INTEGRATION_TIMEOUT_MS, Focus(None, path)))
    elif resource.type == "AWS::Serverless::Function":
        for events in values_at(scope.resolver, root, "Properties.Events"):
            if events.absent or events.unknown or not isinstance(events.value, dict):
                continue
            for name, event in events.value.items():
                focus = events.child(event, name)
                kinds = {str(k.value) for k in values_at(scope.resolver, focus, "Type") if not (k.absent or k.unknown)}
                if kinds & {"Api", "HttpApi"}:
                    defined = _openapi_defined(scope, focus)
                    if defined:
                        judged.append((None, focus, "", (defined,)))
                        continue
                    default: float = REST_INTEGRATION_TIMEOUT_MS if "Api" in kinds else HTTP_INTEGRATION_TIMEOUT_MS
                    waits = values_at(scope.resolver, focus, "Properties.TimeoutInMillis")
                    pairs.append((resource, waits, default, focus))
    for function, waits, default, node in pairs:
        for wait, timeout in itertools.product(waits, _timeout_of(scope, function)):
            blamed = _merge_assumptions(wait if not wait.absent else node, (wait, timeout))
            if wait.unknown or timeout.unknown:
                judged.append((None, blamed, "", tuple(_why(n) for n in (wait, timeout) if n.unknown)))
                continue
            waited = default if wait.absent else as_number(wait.value)
            runs = float(LAMBDA_TIMEOUT_DEFAULT) if timeout.absent else as_number(timeout.value)
            if waited is None or runs is None:
                judged.append((None, blamed, "", ("a timeout is not a number",)))
                continue
            if runs * 1000 <= waited:
                judged.append((True, blamed, "", ()))
            else:
                detail = (
                    f"the API gives up after {_number(waited / 1000)} s but {function.logical_id} "
                    f"may run for {_number(runs)} s (Timeout)"
                )
                judged.append((False, blamed, detail, ()))
    return _decide(judged, here)


# -- quotas ----------------------------------------------------------------------------------


@predicate("type_ordinal_within")
def type_ordinal_within(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the resource being judged is at most the `max`-th resource of its type in the
    template (in template order), counting only resources that the deployment creates: an
    earlier resource whose Condition is undecided makes the answer unknown. Used to report the
    resources beyond a per-Region quota, e.g. the sixth VPC."""
    limit = as_number(args.get("max"))
    if limit is None:
        raise ValueError("type_ordinal_within needs 'max': a number")
    here = nodes[0].path if nodes else scope.resource.path
    certain = 0
    possible = 0
    maybe: list[str] = []
    for other in scope.template.of_type(scope.resource.type):
        if other.logical_id == scope.resource.logical_id:
            certain += 1
            possible += 1
            break
        present = scope.resolver.condition(other.condition) if other.condition else True
        if present is False:
            continue
        possible += 1
        if present is True:
            certain += 1
        else:
            maybe.append(f"{other.logical_id} exists only when condition {other.condition} is true")
    if possible <= limit:
        return Result(True, here)
    if certain > limit:
        detail = f"it is number {certain} of type {scope.resource.type} in this template (limit {_number(limit)})"
        return Result(False, here, (), detail)
    return Result(None, here, tuple(maybe))


@predicate("resource_type_in")
def resource_type_in(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the resource being judged has one of `types`. Unlike a leaf on `Type`, a FALSE
    result points at the resource itself, so that a type guard in one alternative of an `any`
    does not pull the finding of another alternative onto the `Type:` line."""
    types = args.get("types")
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not types:
        raise ValueError("resource_type_in needs 'types': a list of resource types")
    return Result(scope.resource.type in types, scope.resource.path)


# -- dead-letter queue retention -------------------------------------------------------------

SQS_RETENTION_DEFAULT = 345600


@predicate("dlq_outlives_source")
def dlq_outlives_source(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the dead-letter queue named in a standard queue's RedrivePolicy (an object or a
    JSON string, found through the template's reference edges) keeps messages longer
    (MessageRetentionPeriod, default 4 days) than the queue itself: SQS keeps a moved message's
    original enqueue time, so a dead-letter queue with the same or a shorter retention drops
    messages soon after they arrive. FIFO queues reset that time and pass; queues without a
    redrive policy pass (nothing to compare). A dead-letter queue outside the template is unknown."""
    queue = scope.resource
    root = Focus(queue.data, queue.path)
    policies = values_at(scope.resolver, root, "Properties.RedrivePolicy")
    here = policies[0] if policies else root
    if all(p.absent for p in policies):
        return Result(True, here.path)
    judged: list[tuple[bool | None, Focus, str, tuple[str, ...]]] = []
    targets = dict.fromkeys(
        e.target
        for e in scope.template.edges_from.get(queue.logical_id, ())
        if e.path[:2] == ("Properties", "RedrivePolicy") and e.target in scope.template.resources
    )
    dlqs = [r for r in (scope.template.resources[t] for t in targets) if r.type == "AWS::SQS::Queue"]
    fifo = values_at(scope.resolver, root, "Properties.FifoQueue")
    unknown_fifo = [_why(f) for f in fifo if f.unknown]
    if unknown_fifo:
        return Result(None, here.path, tuple(unknown_fifo))
    if fifo and all(not f.absent and normalize(f.value) == "true" for f in fifo):
        return Result(True, here.path)
    if not dlqs:
        why = f"{display(here.path)}: the dead-letter queue is not defined in this template"
        return Result(None, here.path, (why,))
    mine = values_at(scope.resolver, root, "Properties.MessageRetentionPeriod")
    for dlq in dlqs:
        theirs = values_at(scope.resolver, Focus(dlq.data, dlq.path), "Properties.MessageRetentionPeriod")
        for own, other in itertools.product(mine, theirs):
            blamed = _merge_assumptions(here, (own, other))
            if own.unknown or other.unknown:
                judged.append((None, blamed, "", tuple(_why(n) for n in (own, other) if n.unknown)))
                continue
            kept = SQS_RETENTION_DEFAULT if own.absent else as_number(own.value)
            dlq_kept = SQS_RETENTION_DEFAULT if other.absent else as_number(other.value)
            if kept is None or dlq_kept is None:
                judged.append((None, blamed, "", ("a retention period is not a number",)))
            elif dlq_kept > kept:
                judged.append((True, blamed, "", ()))
            else:
                detail = (
                    f"its dead-letter queue {dlq.logical_id} keeps messages for {_number(float(dlq_kept))} s, "
                    f"not longer than the queue's own {_number(float(kept))} s, so moved messages expire "
                    "there early"
                )
                judged.append((False, blamed, detail, ()))
    return _decide(judged, here)
