"""Predicates for the reliability rules on Availability Zones (WA-REL-003 and friends).

* `zones_spanned`: how many Availability Zones a list of subnets or zone names covers. Subnets
  defined in the template are followed to their `AvailabilityZone`/`AvailabilityZoneId`;
  `!Select [i, !GetAZs ""]` counts as zone number i of the Region (distinct indexes are distinct
  zones) and a whole `!GetAZs ""` list as every zone of the Region. Subnet ids from parameters,
  imports or literal `subnet-…` ids make the answer unknown unless the known ones already suffice,
  or unless the list names too few subnets to reach the minimum anyway.

  It differs from `distinct_azs` (core.py) in that it reads the raw list items: there, `elements()`
  resolves each item first, so a `!Ref Subnet` arrives as an unknown "reference" node and a
  `!Select [0, !GetAZs ""]` zone as an unknown Fn::Select, and neither is ever counted.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from walint.conditions import Result, Scope, display, predicate
from walint.findings import Path
from walint.selectors import Focus
from walint.values import Kind, intrinsic

#: A list with more alternative combinations than this is not enumerated (unknown).
MAX_COMBINATIONS = 64

_ZONE_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+[a-z]$")  # us-east-1a, us-gov-west-1b
_ZONE_ID = re.compile(r"^[a-z]{3,4}\d+-az\d+$")  # use1-az1
_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")
_REGION_VAR = re.compile(r"\$\{\s*AWS::Region\s*\}")
_SINGLE_PARAMETER_TYPES = ("AWS::EC2::Subnet::Id", "AWS::EC2::AvailabilityZone::Name")

#: (verdict, assumptions, why unknown, description of a list that spans too few zones)
Judgement = tuple[bool | None, tuple[str, ...], str, str]


@dataclass(frozen=True, slots=True)
class _Alt:
    """One alternative of a raw value: the value (None if absent), or why it is unknown."""

    value: Any
    assumptions: tuple[str, ...] = ()
    absent: bool = False
    unknown: str = ""


def _alternatives(scope: Scope, value: Any, assumptions: tuple[str, ...] = (), depth: int = 0) -> list[_Alt]:
    """The alternatives of `value`, resolving Fn::If, NoValue and parameters but keeping the
    intrinsics that name subnets or zones (Ref/GetAtt to resources, Fn::Select, Fn::GetAZs) raw."""
    if depth > 16:
        return [_Alt(None, assumptions, unknown="intrinsic functions nest too deeply to resolve")]
    found = intrinsic(value)
    if found is None:
        return [_Alt(value, assumptions)]
    name, arg = found
    if name == "Fn::If":
        branches = scope.resolver.branches(arg)
        if branches is None:
            return [_Alt(None, assumptions, unknown="Fn::If has malformed arguments")]
        out: list[_Alt] = []
        for branch, extra, _ in branches:
            out.extend(_alternatives(scope, branch, assumptions + extra, depth + 1))
        return out
    if name in ("Fn::Select", "Fn::GetAZs", "Fn::GetAtt"):
        return [_Alt(value, assumptions)]
    if name == "Ref" and isinstance(arg, str) and arg in scope.template.resources:
        return [_Alt(value, assumptions)]
    out = []
    for alt in scope.resolver.resolve(value):
        extra = assumptions + alt.assumptions
        if alt.kind is Kind.ABSENT:
            out.append(_Alt(None, extra, absent=True))
        elif alt.kind is Kind.KNOWN:
            out.append(_Alt(alt.value, extra))
        elif alt.kind is Kind.REF:
            out.append(_Alt(value, extra))
        else:
            # The raw value stays, so that distinct unknown subnets can still be told apart.
            out.append(_Alt(value, extra, unknown=alt.reason or "it is known only at deploy time"))
    return out


def _index(scope: Scope, value: Any) -> int | None:
    alts = scope.resolver.resolve(value)
    if len(alts) != 1 or alts[0].kind is not Kind.KNOWN:
        return None
    try:
        return int(str(alts[0].value))
    except ValueError:
        return None


def _selected_zone(scope: Scope, value: Any) -> str | None:
    """The key of `!Select [i, !GetAZs …]` or `!Select [i, !Ref ZoneListParameter]`."""
    found = intrinsic(value)
    if not (found and found[0] == "Fn::Select" and isinstance(found[1], list) and len(found[1]) == 2):
        return None
    index = _index(scope, found[1][0])
    inner = intrinsic(found[1][1])
    if index is None or inner is None:
        return None
    if inner[0] == "Fn::GetAZs":
        return f"GetAZs[{index}]"
    if inner[0] == "Ref" and isinstance(inner[1], str) and inner[1] in scope.template.parameters:
        # Different indexes of one list parameter of zones are different zones.
        return f"{inner[1]}[{index}]"
    return None


def _region_relative(value: Any) -> str | None:
    """A key for zone names built from the Region: `!Sub "${AWS::Region}a"` or
    `!Join ["", [!Ref AWS::Region, "a"]]`; equal texts stand for the same zone."""
    found = intrinsic(value)
    if found and found[0] == "Fn::Sub" and isinstance(found[1], str):
        names = {m.strip() for m in _SUB_VAR.findall(found[1])}
        if names == {"AWS::Region"}:
            return "region:" + _REGION_VAR.sub("${AWS::Region}", found[1])
    if found and found[0] == "Fn::Join" and isinstance(found[1], list) and len(found[1]) == 2:
        sep, parts = found[1]
        if isinstance(sep, str) and isinstance(parts, list):
            text: list[str] = []
            for part in parts:
                if intrinsic(part) == ("Ref", "AWS::Region"):
                    text.append("${AWS::Region}")
                elif isinstance(part, (str, int)) and not isinstance(part, bool):
                    text.append(str(part))
                else:
                    return None
            return "region:" + sep.join(text)
    return None


def _zone_key(scope: Scope, value: Any) -> str | None:
    """The zone named by a subnet's AvailabilityZone(Id) or an item of a zone list; None if unknown."""
    selected = _selected_zone(scope, value)
    if selected is not None:
        return selected
    relative = _region_relative(value)
    if relative is not None:
        return relative
    alts = scope.resolver.resolve(value)
    if len(alts) == 1 and alts[0].kind is Kind.KNOWN and isinstance(alts[0].value, str):
        text = alts[0].value.strip()
        if _ZONE_NAME.match(text) or _ZONE_ID.match(text):
            return text
    return None


def _target(value: Any) -> str | None:
    found = intrinsic(value)
    if found and found[0] == "Ref" and isinstance(found[1], str):
        return found[1]
    if found and found[0] == "Fn::GetAtt":
        arg = found[1]
        if isinstance(arg, list) and arg and isinstance(arg[0], str):
            return arg[0]
        if isinstance(arg, str):
            return arg.partition(".")[0]
    return None


def _item_key(scope: Scope, value: Any) -> tuple[str | None, str]:
    """(zone key, why unknown) of one list item: a subnet reference, a zone name or a Select."""
    target = _target(value)
    if target is not None and target in scope.template.resources:
        subnet = scope.template.resources[target]
        if subnet.type != "AWS::EC2::Subnet":
            return None, f"it refers to {target}, a {subnet.type}, not a subnet"
        props = subnet.properties
        for prop in ("AvailabilityZone", "AvailabilityZoneId"):
            if prop in props:
                key = _zone_key(scope, props[prop])
                if key is None:
                    return None, f"the {prop} of subnet {target} is known only at deploy time"
                return (key if prop == "AvailabilityZone" else f"id:{key}"), ""
        return None, f"subnet {target} sets no AvailabilityZone, so AWS picks one at deploy time"
    if (intrinsic(value) or ("",))[0] == "Fn::Select":
        key = _selected_zone(scope, value)
        return key, "" if key else "Fn::Select picks from a list known only at deploy time"
    key = _zone_key(scope, value)
    if key is not None:
        return key, ""
    if isinstance(value, str) and value.startswith("subnet-"):
        return None, f"the Availability Zone of subnet {value} is not in the template"
    return None, "its Availability Zone is known only at deploy time"


def _single(scope: Scope, value: Any) -> bool:
    """Whether an item whose zone is unknown still names exactly one subnet or zone (and so adds
    at most one zone): a subnet of the template, a parameter of type AWS::EC2::Subnet::Id or
    AWS::EC2::AvailabilityZone::Name, or a literal id. An import may hold a comma-separated list."""
    found = intrinsic(value)
    if found and found[0] == "Ref" and isinstance(found[1], str):
        resource = scope.template.resources.get(found[1])
        if resource is not None:
            return resource.type == "AWS::EC2::Subnet"
        spec = scope.template.parameters.get(found[1])
        return isinstance(spec, Mapping) and spec.get("Type") in _SINGLE_PARAMETER_TYPES
    if found and found[0] in ("Fn::GetAtt", "Fn::Select"):
        return True
    return isinstance(value, str) and "," not in value


def _show_zone(key: str) -> str:
    """A zone key as users read it: GetAZs[0] is the Region's first zone."""
    match = re.fullmatch(r"GetAZs\[(\d+)\]", key)
    if match:
        return f"!Select [{match.group(1)}, !GetAZs]"
    if key.startswith("region:"):
        return key[len("region:") :]
    return key


def _describe(zones: set[str], unknown: int, minimum: int) -> str:
    """What a list that spans too few zones covers, for the finding's detail."""
    if unknown:
        count = len(zones) + unknown
        return "it lists a single subnet" if count == 1 else f"it lists only {count} subnets or zones"
    if not zones:
        return "no subnets or zones are set"
    if all(z.startswith("subnet:") for z in zones):
        return "it lists a single subnet" if len(zones) == 1 else f"it lists only {len(zones)} subnets"
    shown = ", ".join(_show_zone(z) for z in sorted(zones))
    if len(zones) == 1:
        return f"every subnet or zone listed is in {shown}"
    return f"they span fewer than {minimum} Availability Zones ({shown})"


@dataclass(frozen=True, slots=True)
class _Options:
    minimum: int
    field: str  # read each item's field (SubnetMappings[*].SubnetId) instead of the item itself
    one_per_zone: bool  # the service accepts at most one subnet per zone: distinct items, distinct zones


def _item_alternatives(scope: Scope, item: Any, options: _Options) -> list[_Alt]:
    alts = _alternatives(scope, item)
    if not options.field:
        return alts
    out: list[_Alt] = []
    for alt in alts:
        if alt.absent or alt.unknown:
            out.append(alt)
        elif isinstance(alt.value, dict) and intrinsic(alt.value) is None:
            if options.field in alt.value:
                out.extend(_alternatives(scope, alt.value[options.field], alt.assumptions))
            else:
                out.append(_Alt(None, alt.assumptions, absent=True))
        else:
            out.append(_Alt(None, alt.assumptions, unknown=f"it is not a mapping with {options.field}"))
    return out


def _distinct_key(scope: Scope, value: Any) -> str | None:
    """With one subnet per zone, a syntactically distinct subnet is a distinct zone."""
    if isinstance(value, str):
        return f"subnet:{value}"
    if _target(value) is not None or intrinsic(value) is not None:
        return "subnet:" + json.dumps(value, sort_keys=True, default=str)
    return None


def _judge_list(
    scope: Scope, items: list[Any], base: Path, assumptions: tuple[str, ...], options: _Options
) -> list[Judgement]:
    """A judgement for each combination of the items' alternatives (item-level Fn::If)."""
    minimum = options.minimum
    per_item: list[list[tuple[_Alt, str | None, str, bool]]] = []
    for i, item in enumerate(items):
        where = display((*base, i, options.field) if options.field else (*base, i))
        choices: list[tuple[_Alt, str | None, str, bool]] = []
        for alt in _item_alternatives(scope, item, options):
            if alt.absent:
                choices.append((alt, None, "", True))
            elif alt.unknown and options.one_per_zone and alt.value is not None:
                choices.append((alt, _distinct_key(scope, alt.value), "", True))
            elif alt.unknown:
                choices.append((alt, None, f"{where}: {alt.unknown}", options.one_per_zone or _single(scope, item)))
            else:
                key, why = _item_key(scope, alt.value)
                if key is None and options.one_per_zone:
                    key, why = _distinct_key(scope, alt.value), ""
                single = options.one_per_zone or _single(scope, alt.value)
                choices.append((alt, key, f"{where}: {why}" if why and key is None else "", single))
        per_item.append(choices)
    total = 1
    for choices in per_item:
        total *= max(1, len(choices))
    if total > MAX_COMBINATIONS:
        return [(None, assumptions, f"{display(base)}: too many conditional subnets to enumerate", "")]
    out: list[Judgement] = []
    for combo in itertools.product(*per_item):
        zones: set[str] = set()
        unknown: list[str] = []
        unbounded = False  # an unknown item that may name several subnets (an import, a list)
        extra = list(assumptions)
        for alt, key, why, single in combo:
            extra.extend(a for a in alt.assumptions if a not in extra)
            if key is not None:
                zones.add(key)
            elif why:
                unknown.append(why)
                unbounded = unbounded or not single
        verdict: bool | None
        if len(zones) >= minimum:
            verdict = True
        elif unknown and (unbounded or len(zones) + len(unknown) >= minimum):
            verdict = None
        else:
            verdict = False  # each unknown single subnet adds at most one zone: still too few
        out.append((verdict, tuple(extra), "; ".join(unknown), _describe(zones, len(unknown), minimum)))
    return out


@predicate("zones_spanned")
def zones_spanned(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the list of subnets or zone names at the path spans at least `min` (default 2)
    Availability Zones; False when it certainly spans fewer (an absent or empty list spans none).

    `field: SubnetId` reads that field of each item (a list of subnet mappings); `one_per_zone:
    true` is for services that reject two subnets in one zone (load balancers), where distinct
    subnets are distinct zones even when their zones are not known."""
    minimum = int(args.get("min", 2))
    options = _Options(minimum, str(args.get("field", "")), bool(args.get("one_per_zone", False)))
    judged: list[Judgement] = []
    path: Path = nodes[0].path if nodes else ()
    none = "no subnets or zones are set"
    for node in nodes:
        if node.unknown:
            judged.append((None, node.assumptions, f"{display(node.path)}: {node.unknown}", ""))
            continue
        if node.absent:
            judged.append((False, node.assumptions, "", none))
            continue
        for alt in _alternatives(scope, node.value, node.assumptions):
            if alt.absent or (alt.value is None and not alt.unknown):
                judged.append((False, alt.assumptions, "", none))
            elif alt.unknown:
                judged.append((None, alt.assumptions, f"{display(node.path)}: {alt.unknown}", ""))
            elif (intrinsic(alt.value) or ("",))[0] == "Fn::GetAZs":
                # Every AWS Region offers an account at least two zones through Fn::GetAZs.
                verdict = True if minimum <= 2 else None
                why = "" if verdict else f"{display(node.path)}: the number of zones in the Region is not known"
                judged.append((verdict, alt.assumptions, why, ""))
            elif isinstance(alt.value, list):
                judged.extend(_judge_list(scope, alt.value, node.path, alt.assumptions, options))
            else:
                # A single subnet or zone given as a scalar counts as a list of one.
                judged.extend(_judge_list(scope, [alt.value], node.path, alt.assumptions, options))
    if not judged:
        return Result(False, path, detail=none)
    verdicts = {v for v, _, _, _ in judged}
    if verdicts == {True}:
        return Result(True, path)
    if verdicts == {False}:
        details = sorted({d for _, _, _, d in judged if d})
        return Result(False, path, detail="; ".join(details) or none)
    reasons: list[str] = []
    for verdict, assumptions, why, spanned in judged:
        if verdict is None and why:
            reasons.append(why + (f" (when {' and '.join(assumptions)})" if assumptions else ""))
        elif assumptions:
            state = f"spans at least {minimum} zones" if verdict else f"is too narrow ({spanned})"
            reasons.append(f"it {state} when {' and '.join(assumptions)}")
    return Result(None, path, tuple(dict.fromkeys(reasons)))


# -- cluster members ----------------------------------------------------------------------------


def _member_of(scope: Scope, value: Any, cluster: str, literal: str | None) -> list[_Alt]:
    """The alternatives of a member's cluster reference that point at `cluster`: a Ref, or the
    cluster's literal identifier."""
    out = []
    for alt in _alternatives(scope, value):
        if alt.absent or alt.unknown:
            continue
        if _target(alt.value) == cluster or (literal is not None and alt.value == literal):
            out.append(alt)
    return out


@predicate("cluster_members")
def cluster_members(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when at least `min` (default 2) resources of `types` (a list, or a mapping from the
    cluster's type to a list) name this resource in their
    `via` property (default DBClusterIdentifier), by Ref or by its literal identifier
    (`identifier`, default DBClusterIdentifier), and they are not all pinned to one Availability
    Zone. Unknown when members exist only under conditions, or when the template defines none
    (they may live in another stack)."""
    minimum = int(args.get("min", 2))
    types = args.get("types", [])
    if isinstance(types, Mapping):  # member types by the cluster's type
        types = types.get(scope.resource.type, [])
    via = str(args.get("via", "DBClusterIdentifier"))
    identifier = str(args.get("identifier", "DBClusterIdentifier"))
    cluster = scope.resource
    literal_raw = cluster.properties.get(identifier)
    literal = literal_raw if isinstance(literal_raw, str) else None
    certain: list[str] = []
    conditional: list[str] = []
    zones: dict[str, str | None] = {}
    for other in scope.template.matching(types):
        if via not in other.properties:
            continue
        links = _member_of(scope, other.properties[via], cluster.logical_id, literal)
        if not links:
            continue
        exists = scope.resolver.condition(other.condition) if other.condition else True
        if exists is False:
            continue
        if exists is None or any(link.assumptions for link in links):
            conditional.append(other.logical_id)
        else:
            certain.append(other.logical_id)
        zone = other.properties.get("AvailabilityZone")
        zones[other.logical_id] = None if zone is None else _zone_key(scope, zone) or f"?{other.logical_id}"
    path = cluster.path
    if len(certain) >= minimum:
        pinned = {zones[m] for m in certain}
        only = pinned.pop() if len(pinned) == 1 else None
        if only is not None and not only.startswith("?"):
            placed = f"all its instances ({', '.join(certain)}) are placed in {_show_zone(only)}"
            return Result(False, path, detail=placed)
        return Result(True, path)
    if len(certain) + len(conditional) < minimum and (certain or conditional):
        names = ", ".join(certain + conditional)
        return Result(False, path, detail=f"it has only {len(certain) + len(conditional)} instance ({names})")
    if not certain and not conditional:
        return Result(
            None,
            path,
            (f"no instance in this template belongs to {cluster.logical_id}; they may be defined in another stack",),
        )
    return Result(
        None,
        path,
        (
            f"{', '.join(conditional)} exist only under conditions, "
            f"so {cluster.logical_id} may have fewer than {minimum} instances",
        ),
    )


# -- NAT routes ---------------------------------------------------------------------------------


def _zone_kind(key: str) -> str:
    """Zone keys are comparable only when written the same way (GetAZs index, name, id …)."""
    if key.startswith("GetAZs["):
        return "getazs"
    if key.startswith(("region:", "id:", "subnet:")):
        return key.split(":", 1)[0]
    if "[" in key:
        return "param:" + key.split("[", 1)[0]
    return "name"


def _refs(scope: Scope, value: Any, wanted_type: str) -> list[tuple[str | None, tuple[str, ...], str]]:
    """(logical id of a `wanted_type` resource or None, assumptions, why unknown) per alternative."""
    out: list[tuple[str | None, tuple[str, ...], str]] = []
    for alt in _alternatives(scope, value):
        if alt.absent:
            out.append((None, alt.assumptions, "it is not set"))
            continue
        target = None if alt.unknown else _target(alt.value)
        resource = scope.template.resources.get(target) if target else None
        if resource is None or resource.type != wanted_type:
            out.append((None, alt.assumptions, f"it is not a {wanted_type} of this template"))
        else:
            out.append((target, alt.assumptions, ""))
    return out


def _subnet_zone(scope: Scope, value: Any) -> tuple[str | None, str]:
    alts = _alternatives(scope, value)
    if len(alts) != 1 or alts[0].absent or alts[0].unknown:
        return None, "its subnet is known only at deploy time"
    return _item_key(scope, alts[0].value)


@predicate("nat_route_in_zone")
def nat_route_in_zone(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """For an `AWS::EC2::Route` to a NAT gateway: True when every subnet associated with the
    route's table is in the NAT gateway's Availability Zone; False when one certainly is not."""
    route = scope.resource
    props = route.properties
    path = route.path + ("Properties", "NatGatewayId") if "NatGatewayId" in props else route.path
    tables = _refs(scope, props.get("RouteTableId"), "AWS::EC2::RouteTable")
    worlds: list[tuple[bool | None, list[str]]] = []  # one per NAT gateway alternative
    for nat, nat_assumptions, nat_why in _refs(scope, props.get("NatGatewayId"), "AWS::EC2::NatGateway"):
        when = f" (when {' and '.join(nat_assumptions)})" if nat_assumptions else ""
        if nat is None:
            worlds.append((None, [f"NatGatewayId: {nat_why}{when}"]))
            continue
        nat_zone, why = _subnet_zone(scope, scope.template.resources[nat].properties.get("SubnetId"))
        if nat_zone is None:
            worlds.append((None, [f"the zone of NAT gateway {nat} is not known: {why}"]))
            continue
        verdicts: list[tuple[bool | None, str]] = []
        for table, _, table_why in tables:
            if table is None:
                verdicts.append((None, f"RouteTableId: {table_why}"))
            else:
                verdicts.extend(_associations(scope, table, nat, nat_zone, when))
        failed = [w for v, w in verdicts if v is False]
        unknown = [w for v, w in verdicts if v is None]
        worlds.append((False, failed) if failed else (None, unknown) if unknown else (True, []))
    tris = {v for v, _ in worlds}
    if not worlds or tris == {True}:
        return Result(True, path)
    if tris == {False}:
        return Result(False, path, detail="; ".join(dict.fromkeys(w for _, ws in worlds for w in ws)))
    reasons = [w for v, ws in worlds if v is not True for w in ws]
    if False in tris:
        reasons.append("the NAT gateway differs between conditions, and so does the verdict")
    return Result(None, path, tuple(dict.fromkeys(reasons)))


def _associations(scope: Scope, table: str, nat: str, nat_zone: str, when: str) -> list[tuple[bool | None, str]]:
    out: list[tuple[bool | None, str]] = []
    for assoc in scope.template.of_type("AWS::EC2::SubnetRouteTableAssociation"):
        links = [t for t in _refs(scope, assoc.properties.get("RouteTableId"), "AWS::EC2::RouteTable") if t[0] == table]
        if not links:
            continue
        exists = scope.resolver.condition(assoc.condition) if assoc.condition else True
        if exists is False:
            continue
        conditional = exists is None or any(assumptions for _, assumptions, _ in links)
        subnets = _refs(scope, assoc.properties.get("SubnetId"), "AWS::EC2::Subnet")
        subnet = subnets[0][0] if len(subnets) == 1 else None
        zone, why = _subnet_zone(scope, assoc.properties.get("SubnetId"))
        name = subnet or assoc.logical_id
        if zone is None:
            out.append((None, f"the zone of {name} is not known: {why}"))
        elif _zone_kind(zone) != _zone_kind(nat_zone):
            out.append(
                (
                    None,
                    f"the zones of {name} ({_show_zone(zone)}) and of NAT gateway {nat} "
                    f"({_show_zone(nat_zone)}) are written differently and cannot be compared",
                )
            )
        elif zone == nat_zone:
            out.append((True, ""))
        else:
            text = (
                f"{name} in {_show_zone(zone)} reaches the internet through NAT gateway {nat} "
                f"in {_show_zone(nat_zone)}{when}"
            )
            out.append((None if conditional else False, text + (" (under a condition)" if conditional else "")))
    return out
