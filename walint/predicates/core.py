"""Named, unit-tested predicates for checks the leaf operators cannot express.

Each predicate receives the nodes its clause's path selected and returns a three-valued Result.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from walint.conditions import Result, Scope, display, predicate, superpose
from walint.selectors import Focus, compile_selector, elements, expand, select
from walint.values import Kind, as_number, intrinsic, normalize

_ALL_PROTOCOLS = {"-1", "all"}
_PORT_PROTOCOLS = {"tcp", "udp", "6", "17"}


def _port_ranges(args: Mapping[str, Any]) -> list[tuple[int, int]]:
    ranges = []
    for item in args.get("ports", []):
        text = str(item)
        low, _, high = text.partition("-")
        ranges.append((int(low), int(high or low)))
    return ranges


def _field(scope: Scope, node: Focus, name: str) -> list[Focus]:
    return [n for f in select(compile_selector(name), node, scope.resolver) for n in expand(f, scope.resolver)]


@predicate("ports_open")
def ports_open(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when an ingress rule (IpProtocol, FromPort, ToPort) admits any of `ports`
    ("22", "9200-9300"); with `all: true`, only when it admits every port."""
    wanted = _port_ranges(args)
    every = bool(args.get("all", False))
    judged: list[tuple[bool | None, Focus]] = []
    for node in nodes:
        for rule in expand(node, scope.resolver):
            if rule.absent:
                judged.append((False, rule))
                continue
            if rule.unknown:
                judged.append((None, rule))
                continue
            combos = itertools.product(
                _field(scope, rule, "IpProtocol"), _field(scope, rule, "FromPort"), _field(scope, rule, "ToPort")
            )
            for proto, low, high in combos:
                judged.append((_admits(proto, low, high, wanted, every), _merge(rule, proto, low, high)))
    return superpose(judged)


def _merge(rule: Focus, proto: Focus, low: Focus, high: Focus) -> Focus:
    """One node standing for a (protocol, from, to) combination: the part that cannot be known
    if there is one (so its reason is reported), with the assumptions of all three."""
    node = next((n for n in (proto, low, high) if n.unknown), low)
    assumptions = tuple(dict.fromkeys(rule.assumptions + proto.assumptions + low.assumptions + high.assumptions))
    value = node.value if node.unknown else f"{_show_value(proto)} {_show_value(low)}-{_show_value(high)}"
    return Focus(value, node.path, assumptions, node.absent, node.unknown)


def _show_value(node: Focus) -> str:
    return "unset" if node.absent else str(node.value)


def _admits(proto: Focus, low: Focus, high: Focus, wanted: list[tuple[int, int]], every: bool) -> bool | None:
    if proto.unknown:
        return None
    protocol = str(normalize(proto.value)).lower() if not proto.absent else ""
    if protocol in _ALL_PROTOCOLS:
        return True
    if protocol not in _PORT_PROTOCOLS:
        return False
    if low.unknown or high.unknown:
        return None
    start = as_number(low.value) if not low.absent else None
    end = as_number(high.value) if not high.absent else None
    if start is None or end is None:
        return None
    if start == -1 or end == -1:
        start, end = 0, 65535
    if every:
        return start <= 0 and end >= 65535
    return any(start <= hi and end >= lo for lo, hi in wanted)


def _az_key(scope: Scope, value: Any) -> str | None:
    """A key naming the Availability Zone of an AvailabilityZone value; None if unknown."""
    found = intrinsic(value)
    if found and found[0] == "Fn::Select" and isinstance(found[1], list) and len(found[1]) == 2:
        index, source = found[1]
        inner = intrinsic(source)
        if inner and inner[0] == "Fn::GetAZs":
            return f"GetAZs[{index}]"
        if inner and inner[0] == "Ref" and isinstance(inner[1], str):
            # Different indexes of one list parameter are taken as different zones.
            return f"{inner[1]}[{index}]"
    alts = scope.resolver.resolve(value)
    if len(alts) == 1 and alts[0].kind is Kind.KNOWN and isinstance(alts[0].value, str):
        return alts[0].value
    return None


@predicate("distinct_azs")
def distinct_azs(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the subnets (or zone names) selected span at least `min` Availability Zones.

    Subnets defined in the template are followed to their AvailabilityZone; subnet ids from
    parameters or imports make the answer unknown unless the known ones already suffice.
    """
    minimum = int(args.get("min", 2))
    zones: set[str] = set()
    unknown: list[str] = []
    seen_any = False
    path = nodes[0].path if nodes else ()
    for node in nodes:
        for item in elements(node, scope.resolver):
            seen_any = True
            if item.unknown:
                unknown.append(f"{display(item.path)}: {item.unknown}")
                continue
            if item.assumptions:
                unknown.append(f"{display(item.path)} exists only when {' and '.join(item.assumptions)}")
                continue
            key = _subnet_zone(scope, item.value)
            if key is None:
                unknown.append(f"{display(item.path)}: its Availability Zone is known only at deploy time")
            else:
                zones.add(key)
    if len(zones) >= minimum:
        return Result(True, path)
    if unknown:
        return Result(None, path, tuple(unknown))
    if not seen_any:
        return Result(False, path, detail="no subnets or zones are set")
    return Result(False, path, detail=f"all its subnets are in one Availability Zone ({', '.join(sorted(zones))})")


def _subnet_zone(scope: Scope, value: Any) -> str | None:
    found = intrinsic(value)
    if found and found[0] in ("Fn::Select",):
        return _az_key(scope, value)
    alts = scope.resolver.resolve(value)
    if len(alts) != 1:
        return None
    alt = alts[0]
    if alt.kind is Kind.REF:
        subnet = scope.template.resources.get(alt.value[0])
        if subnet is None or subnet.type != "AWS::EC2::Subnet":
            return None
        props = subnet.properties
        if "AvailabilityZone" in props:
            return _az_key(scope, props["AvailabilityZone"])
        if "AvailabilityZoneId" in props:
            key = _az_key(scope, props["AvailabilityZoneId"])
            return f"id:{key}" if key else None
        return None
    if alt.kind is Kind.KNOWN and isinstance(alt.value, str) and not alt.value.startswith("subnet-"):
        return alt.value  # a zone name, as in an ASG's AvailabilityZones
    return None


@predicate("has_tags")
def has_tags(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the resource's Tags hold one key of every group in `required`
    (e.g. [[Team, Owner], [Environment], [Project]]); `stack_tags` count as present."""
    groups = [[g] if isinstance(g, str) else list(g) for g in args.get("required", [])]
    stack = {str(k) for k in args.get("stack_tags", [])}
    keys: set[str] = set(stack)
    unknown: list[str] = []
    path: tuple[Any, ...] = ()
    for node in nodes:
        tags_nodes = _field(scope, node, "Properties.Tags")
        for tags in tags_nodes:
            path = tags.path
            if tags.unknown:
                unknown.append(f"{display(tags.path)}: {tags.unknown}")
                continue
            if tags.absent:
                continue
            if isinstance(tags.value, dict):
                keys.update(str(k) for k in tags.value)
                continue
            for item in elements(tags, scope.resolver):
                key_nodes = _field(scope, item, "Key") if not item.unknown else [item]
                for key in key_nodes:
                    if key.unknown:
                        unknown.append(f"{display(key.path)}: {key.unknown}")
                    elif not key.absent:
                        keys.add(str(key.value))
    missing = [group for group in groups if not any(k in keys for k in group)]
    if not missing:
        return Result(True, path)
    if unknown:
        return Result(None, path, tuple(unknown))
    names = ", ".join(" or ".join(group) for group in missing)
    return Result(False, path, detail=f"missing tag {names}")
