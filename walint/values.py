"""Intrinsic-aware value resolution: the value model of design.md §4.

A template value resolves to one or more alternatives (`Alt`). Each alternative is known, absent,
unknown (with a reason) or a reference to a resource, and carries the assumptions under which it
holds ("condition IsProd is false", "parameter Env is 'dev'"). Operators evaluate every
alternative; the rule engine then combines them with three-valued logic.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from walint.graph import Template

Tri = bool | None  # True, False, or None for unknown

#: How many alternatives one value may expand to before we give up and call it unknown.
MAX_ALTERNATIVES = 64

PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)


class Kind(enum.Enum):
    KNOWN = "known"
    ABSENT = "absent"
    UNKNOWN = "unknown"
    REF = "ref"  # a Ref or Fn::GetAtt to a resource; value is (logical_id, attribute)


@dataclass(frozen=True, slots=True)
class Alt:
    kind: Kind
    value: Any = None
    reason: str = ""
    assumptions: tuple[str, ...] = ()

    def assuming(self, extra: tuple[str, ...]) -> Alt:
        if not extra:
            return self
        return Alt(self.kind, self.value, self.reason, extra + self.assumptions)


ABSENT = Alt(Kind.ABSENT)


def intrinsic(value: Any) -> tuple[str, Any] | None:
    """(name, argument) when `value` is a single-key intrinsic function or Ref."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, arg),) = value.items()
        if name in {"Ref", "Condition"} or name.startswith("Fn::"):
            return name, arg
    return None


def _is_dynamic_reference(value: str) -> bool:
    return "{{resolve:" in value


class Resolver:
    """Resolves values of one template, optionally with deployment parameter values."""

    def __init__(
        self,
        template: Template,
        parameter_values: Mapping[str, str] | None = None,
        *,
        assume_defaults: bool = False,
    ) -> None:
        self.template = template
        self.values = dict(parameter_values or {})
        self.assume_defaults = assume_defaults
        self._conditions: dict[str, Tri] = {}
        self._evaluating: set[str] = set()
        #: Per-template memo for predicates that scan the whole template (keyed by predicate and
        #: arguments), so that the cost of a rule stays linear in the number of resources.
        self.cache: dict[Any, Any] = {}

    # -- conditions ---------------------------------------------------------------------------

    def condition(self, name: str) -> Tri:
        """The truth of a named condition: known only when the parameters decide it."""
        if name in self._conditions:
            return self._conditions[name]
        if name in self._evaluating or name not in self.template.conditions:
            return None
        self._evaluating.add(name)
        try:
            result = self._condition_expr(self.template.conditions[name])
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = result
        return result

    def _condition_expr(self, expr: Any) -> Tri:
        found = intrinsic(expr)
        if found is None:
            return _truth(expr)
        name, arg = found
        if name == "Condition" and isinstance(arg, str):
            return self.condition(arg)
        if name == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
            inner = self._condition_expr(arg[0])
            return None if inner is None else not inner
        if name in ("Fn::And", "Fn::Or") and isinstance(arg, list):
            parts = [self._condition_expr(a) for a in arg]
            return tri_all(parts) if name == "Fn::And" else tri_any(parts)
        if name == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
            return self._equals(arg[0], arg[1])
        return None

    def _equals(self, left: Any, right: Any) -> Tri:
        lefts, rights = self.resolve(left), self.resolve(right)
        outcomes: set[bool] = set()
        for a in lefts:
            for b in rights:
                if a.kind is not Kind.KNOWN or b.kind is not Kind.KNOWN:
                    return None
                outcomes.add(normalize(a.value) == normalize(b.value))
        return outcomes.pop() if len(outcomes) == 1 else None

    # -- values -------------------------------------------------------------------------------

    def resolve(self, value: Any, depth: int = 0) -> list[Alt]:
        """All alternatives a template value can take."""
        if depth > 32:
            return [Alt(Kind.UNKNOWN, reason="intrinsic functions nest too deeply to resolve")]
        found = intrinsic(value)
        if found is None:
            if isinstance(value, str) and _is_dynamic_reference(value):
                return [Alt(Kind.UNKNOWN, reason=f"the dynamic reference {value!r} is resolved at deploy time")]
            return [Alt(Kind.KNOWN, value)]
        name, arg = found
        handler = _HANDLERS.get(name)
        if handler is None:
            return [Alt(Kind.UNKNOWN, reason=f"{name} is evaluated by CloudFormation at deploy time")]
        alts = handler(self, arg, depth + 1)
        if len(alts) > MAX_ALTERNATIVES:
            return [Alt(Kind.UNKNOWN, reason=f"{name} has too many possible values to enumerate")]
        return alts

    def branches(self, arg: Any) -> list[tuple[Any, tuple[str, ...], int]] | None:
        """The live branches of an Fn::If argument (value, assumptions, index in the argument
        list); None if malformed."""
        if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            return None
        cond = arg[0]
        truth = self.condition(cond)
        if truth is True:
            return [(arg[1], (), 1)]
        if truth is False:
            return [(arg[2], (), 2)]
        return [
            (arg[1], (f"condition {cond} is true",), 1),
            (arg[2], (f"condition {cond} is false",), 2),
        ]

    def _if(self, arg: Any, depth: int) -> list[Alt]:
        live = self.branches(arg)
        if live is None:
            return [Alt(Kind.UNKNOWN, reason="Fn::If has malformed arguments")]
        alts: list[Alt] = []
        for branch, assumptions, _ in live:
            alts.extend(a.assuming(assumptions) for a in self.resolve(branch, depth))
        return alts

    def _ref(self, arg: Any, depth: int) -> list[Alt]:
        if not isinstance(arg, str):
            return [Alt(Kind.UNKNOWN, reason="Ref has a non-string argument")]
        if arg == "AWS::NoValue":
            return [ABSENT]
        if arg in self.template.resources:
            return [Alt(Kind.REF, (arg, None))]
        if arg in PSEUDO_PARAMETERS:
            return [Alt(Kind.UNKNOWN, reason=f"the pseudo parameter {arg} is known only at deploy time")]
        spec = self.template.parameters.get(arg)
        if spec is None:
            return [Alt(Kind.UNKNOWN, reason=f"Ref to {arg}, which the template does not define")]
        return self.parameter(arg, spec)

    def parameter(self, name: str, spec: Mapping[str, Any]) -> list[Alt]:
        ptype = str(spec.get("Type", "String"))
        is_list = ptype.startswith("List<") or ptype == "CommaDelimitedList"
        if ptype.startswith("AWS::SSM::Parameter::Value<"):
            # A given value is the name of the SSM parameter, not what the template receives.
            return [Alt(Kind.UNKNOWN, reason=f"parameter {name} is read from SSM Parameter Store at deploy time")]
        if name in self.values:
            given = self.values[name]
            return [Alt(Kind.KNOWN, _split(given) if is_list else given)]
        if self.assume_defaults and "Default" in spec:
            default = spec["Default"]
            return [Alt(Kind.KNOWN, _split(default) if is_list and isinstance(default, str) else default)]
        allowed = spec.get("AllowedValues")
        if isinstance(allowed, list) and allowed and not is_list:
            return [Alt(Kind.KNOWN, v, assumptions=(f"parameter {name} is {v!r}",)) for v in allowed]
        hint = f" (default {spec['Default']!r})" if "Default" in spec else ""
        return [
            Alt(
                Kind.UNKNOWN,
                reason=f"it comes from parameter {name}{hint}, which has no AllowedValues; "
                f"pass --parameter {name}=… to decide",
            )
        ]

    def _getatt(self, arg: Any, depth: int) -> list[Alt]:
        target: Any = None
        attribute: Any = None
        if isinstance(arg, list) and len(arg) == 2:
            target, attribute = arg
        elif isinstance(arg, str):
            target, _, attribute = arg.partition(".")
        if isinstance(target, str) and target in self.template.resources:
            return [Alt(Kind.REF, (target, attribute if isinstance(attribute, str) else None))]
        return [Alt(Kind.UNKNOWN, reason="Fn::GetAtt to an unknown resource")]

    def _scalars(self, items: list[Any], depth: int) -> list[Any] | str:
        """Known scalar values of `items`, or the reason one is not known."""
        out: list[Any] = []
        for item in items:
            alts = self.resolve(item, depth)
            if len(alts) != 1 or alts[0].kind is not Kind.KNOWN:
                reasons = [a.reason for a in alts if a.reason]
                return reasons[0] if reasons else "one of its parts has several possible values"
            out.append(alts[0].value)
        return out

    def _join(self, arg: Any, depth: int) -> list[Alt]:
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
            return [Alt(Kind.UNKNOWN, reason="Fn::Join has malformed arguments")]
        items = arg[1]
        if not isinstance(items, list):
            return [Alt(Kind.UNKNOWN, reason="Fn::Join joins a list known only at deploy time")]
        parts = self._scalars(items, depth)
        if isinstance(parts, str):
            return [Alt(Kind.UNKNOWN, reason=f"Fn::Join: {parts}")]
        return [Alt(Kind.KNOWN, arg[0].join(_text(p) for p in parts))]

    def _sub(self, arg: Any, depth: int) -> list[Alt]:
        if isinstance(arg, str):
            text, local = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
            text, local = arg[0], arg[1]
        else:
            return [Alt(Kind.UNKNOWN, reason="Fn::Sub has malformed arguments")]
        failure: list[str] = []

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            source = local.get(name, {"Ref": name} if "." not in name else {"Fn::GetAtt": name})
            alts = self.resolve(source, depth)
            if len(alts) == 1 and alts[0].kind is Kind.KNOWN and not isinstance(alts[0].value, (dict, list)):
                return _text(alts[0].value)
            failure.append(
                alts[0].reason if len(alts) == 1 and alts[0].reason else f"${{{name}}} is known only at deploy time"
            )
            return ""

        result = _SUB_VAR.sub(replace, text)
        if failure:
            return [Alt(Kind.UNKNOWN, reason=f"Fn::Sub: {failure[0]}")]
        return [Alt(Kind.KNOWN, result.replace("${!", "${"))]

    def _find_in_map(self, arg: Any, depth: int) -> list[Alt]:
        if not (isinstance(arg, list) and len(arg) in (3, 4)):
            return [Alt(Kind.UNKNOWN, reason="Fn::FindInMap has malformed arguments")]
        map_name, top, second = arg[0], arg[1], arg[2]
        mapping = self.template.mappings.get(map_name) if isinstance(map_name, str) else None
        if not isinstance(mapping, dict):
            return [Alt(Kind.UNKNOWN, reason=f"Fn::FindInMap: no mapping {map_name!r}")]
        tops = self._keys(top, mapping, depth)
        alts: list[Alt] = []
        for top_key, top_assumption in tops:
            inner = mapping.get(top_key)
            if not isinstance(inner, dict):
                continue
            for key, assumption in self._keys(second, inner, depth):
                if key in inner:
                    found = self.resolve(inner[key], depth) if intrinsic(inner[key]) else [Alt(Kind.KNOWN, inner[key])]
                    alts.extend(a.assuming(top_assumption + assumption) for a in found)
        if not alts:
            if len(arg) == 4:
                # AWS::LanguageExtensions: {"DefaultValue": value} when no entry matches.
                default = arg[3].get("DefaultValue") if isinstance(arg[3], dict) else None
                if default is not None:
                    return self.resolve(default, depth)
            return [Alt(Kind.UNKNOWN, reason=f"Fn::FindInMap: no matching entry in mapping {map_name}")]
        return alts

    def _keys(self, key: Any, mapping: dict[str, Any], depth: int) -> list[tuple[str, tuple[str, ...]]]:
        """The mapping keys that `key` can select; every key when it is known only at deploy time."""
        alts = self.resolve(key, depth)
        if all(a.kind is Kind.KNOWN for a in alts):
            return [(_text(a.value), a.assumptions) for a in alts]
        return [(k, (f"the mapping key is {k!r}",)) for k in mapping]

    def _select(self, arg: Any, depth: int) -> list[Alt]:
        if not (isinstance(arg, list) and len(arg) == 2):
            return [Alt(Kind.UNKNOWN, reason="Fn::Select has malformed arguments")]
        index = self.resolve(arg[0], depth)
        items = self.resolve(arg[1], depth)
        if (
            len(index) == 1
            and index[0].kind is Kind.KNOWN
            and len(items) == 1
            and items[0].kind is Kind.KNOWN
            and isinstance(items[0].value, list)
        ):
            try:
                chosen = items[0].value[int(index[0].value)]
            except (ValueError, TypeError, IndexError):
                return [Alt(Kind.UNKNOWN, reason="Fn::Select index out of range")]
            return self.resolve(chosen, depth)
        return [Alt(Kind.UNKNOWN, reason="Fn::Select picks from a list known only at deploy time")]

    def _base64(self, arg: Any, depth: int) -> list[Alt]:
        # Rules look at the text that is encoded (user data), so keep it decoded.
        return self.resolve(arg, depth)

    def _import(self, arg: Any, depth: int) -> list[Alt]:
        return [Alt(Kind.UNKNOWN, reason="Fn::ImportValue reads another stack's export at deploy time")]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")] if text else []


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")

_HANDLERS = {
    "Ref": Resolver._ref,
    "Fn::If": Resolver._if,
    "Fn::GetAtt": Resolver._getatt,
    "Fn::Join": Resolver._join,
    "Fn::Sub": Resolver._sub,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::Select": Resolver._select,
    "Fn::Base64": Resolver._base64,
    "Fn::ImportValue": Resolver._import,
}


def normalize(value: Any) -> Any:
    """Compare as CloudFormation does: "true" equals true, "5" equals 5."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "false"):
            return low
        try:
            return _number(float(value)) if _NUMERIC.match(value.strip()) else value
        except ValueError:
            return value
    return value


_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMERIC.match(value.strip()):
        return float(value)
    return None


def _truth(value: Any) -> Tri:
    norm = normalize(value)
    if norm == "true":
        return True
    if norm == "false":
        return False
    return None


def tri_all(parts: list[Tri]) -> Tri:
    if any(p is False for p in parts):
        return False
    if any(p is None for p in parts):
        return None
    return True


def tri_any(parts: list[Tri]) -> Tri:
    if any(p is True for p in parts):
        return True
    if any(p is None for p in parts):
        return None
    return False
