"""Named, unit-tested predicates for checks the leaf operators cannot express.

Each predicate receives the nodes its clause's path selected and returns a three-valued Result.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from walint.conditions import Result, Scope, display, predicate, superpose
from walint.selectors import Focus, elements, expand, values_at
from walint.values import as_number, normalize

_ALL_PROTOCOLS = {"-1", "all"}
_PORT_PROTOCOLS = {"tcp", "udp", "6", "17"}


def _port_ranges(args: Mapping[str, Any]) -> list[tuple[int, int]]:
    ranges = []
    for item in args.get("ports", []):
        text = str(item)
        low, _, high = text.partition("-")
        ranges.append((int(low), int(high or low)))
    return ranges


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
                values_at(scope.resolver, rule, "IpProtocol"),
                values_at(scope.resolver, rule, "FromPort"),
                values_at(scope.resolver, rule, "ToPort"),
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


@predicate("has_tags")
def has_tags(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the resource's Tags hold one key of every group in `required`
    (e.g. [[Team, Owner], [Environment], [Project]]); `stack_tags` count as present.

    Tags may be a list of {Key, Value} or a map. Each alternative of an Fn::If around Tags is
    judged on its own; a tag that exists only under a condition, or whose key is known only at
    deploy time, may or may not supply a group, which makes the answer unknown unless the
    groups still missing outnumber what such tags could supply."""
    groups = [[g] if isinstance(g, str) else list(g) for g in args.get("required", [])]
    stack = {str(k) for k in args.get("stack_tags", [])}
    judged: list[tuple[bool | None, Focus]] = []
    why: list[str] = []
    for node in nodes:
        for tags in values_at(scope.resolver, node, "Properties.Tags"):
            tri, reason = _tags_satisfy(scope, tags, groups, stack)
            judged.append((tri, tags))
            if reason:
                why.append(f"{display(tags.path)}: {reason}")
    result = superpose(judged) if judged else Result(False)
    if result.tri is None and why:
        return Result(
            None, result.path, tuple(dict.fromkeys(why + [r for r in result.reasons if not r.endswith(": ")]))
        )
    if result.tri is False:
        keys = set(stack)
        for _, tags in judged:
            keys |= _certain_keys(scope, tags)
        missing = [group for group in groups if not any(k in keys for k in group)]
        names = ", ".join(" or ".join(group) for group in missing)
        return Result(False, result.path, (), f"missing tag {names}")
    return result


def _tag_keys(scope: Scope, tags: Focus) -> tuple[set[str], set[str], int]:
    """(keys surely present, keys present only under a condition, keys known only at deploy time)."""
    certain: set[str] = set()
    maybe: set[str] = set()
    unknown = 0
    if tags.absent:
        return certain, maybe, unknown
    if isinstance(tags.value, dict):
        return {str(k) for k in tags.value}, maybe, unknown
    # The alternatives of one list position (an Fn::If around a tag) are grouped: a key that
    # every alternative sets is certain, as in `!If [IsProd, {Key: Env, …}, {Key: Env, …}]`.
    positions: dict[tuple[Any, ...], list[tuple[str | None, bool]]] = {}
    depth = len(tags.path) + 1
    for item in elements(tags, scope.resolver):
        slot = positions.setdefault(item.path[:depth], [])
        if item.unknown:
            slot.append((None, True))
            continue
        for key in values_at(scope.resolver, item, "Key"):
            if not key.absent:
                conditional = bool(item.assumptions or key.assumptions)
                slot.append((None if key.unknown else str(key.value), conditional))
    for alternatives in positions.values():
        keys = {key for key, _ in alternatives}
        if None in keys:
            unknown += 1
        elif len(keys) == 1 and (len(alternatives) > 1 or not alternatives[0][1]):
            certain |= keys  # type: ignore[arg-type]
        else:
            maybe |= {k for k in keys if k is not None}
    return certain, maybe, unknown


def _certain_keys(scope: Scope, tags: Focus) -> set[str]:
    return set() if tags.unknown else _tag_keys(scope, tags)[0]


def _tags_satisfy(scope: Scope, tags: Focus, groups: list[list[str]], stack: set[str]) -> tuple[bool | None, str]:
    if tags.unknown:
        return None, ""
    certain, maybe, unknown = _tag_keys(scope, tags)
    certain |= stack
    missing = [group for group in groups if not any(k in certain for k in group)]
    if not missing:
        return True, ""
    open_groups = [group for group in missing if not any(k in maybe for k in group)]
    # Each deploy-time key can supply at most one group.
    if len(open_groups) > unknown:
        return False, ""
    names = ", ".join(" or ".join(group) for group in missing)
    if unknown:
        return None, f"{names} may be supplied by a tag key known only at deploy time"
    return None, f"{names} is set only under a condition"
