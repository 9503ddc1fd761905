"""Predicates of the network-exposure and compute-protection rules (WA-SEC-025 … WA-SEC-038)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from walint.conditions import Result, Scope, display, predicate, superpose
from walint.selectors import Focus, expand
from walint.values import Kind, intrinsic

#: Images registered with ImdsSupport v2.0, so that instances launched from them require IMDSv2
#: unless told otherwise: Amazon Linux 2023 (its public SSM parameters and AMI names say "al2023").
_IMDSV2_IMAGES = re.compile(r"al2023", re.IGNORECASE)


def _image_names(scope: Scope, value: Any) -> list[str]:
    """The texts that name the image: a literal, a dynamic reference, a parameter's default."""
    if isinstance(value, str):
        return [value]
    found = intrinsic(value)
    if found and found[0] == "Ref" and isinstance(found[1], str):
        spec = scope.template.parameters.get(found[1])
        if spec is not None:
            default = spec.get("Default")
            return [default] if isinstance(default, str) else []
    names = []
    for alt in scope.resolver.resolve(value):
        if alt.kind is Kind.KNOWN and isinstance(alt.value, str):
            names.append(alt.value)
    return names


@predicate("image_requires_imdsv2")
def image_requires_imdsv2(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the image (ImageId) is named as one registered with ImdsSupport v2.0
    (Amazon Linux 2023): a literal or `{{resolve:ssm:…}}` path, or the default of the parameter it
    comes from. A parameter default can be overridden at deploy time, so rules use this predicate
    to make a finding UNKNOWN, not to pass it. False when nothing names such an image."""
    for node in nodes:
        if node.absent:
            continue
        for name in _image_names(scope, node.value):
            if _IMDSV2_IMAGES.search(name):
                return Result(True, node.path, detail=f"the image ({name}) requires IMDSv2 by default")
    path = nodes[0].path if nodes else ()
    return Result(False, path, detail=f"{display(path)} does not name an image that requires IMDSv2")


@predicate("sam_global_set")
def sam_global_set(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the template's SAM `Globals` section sets `key` (a dotted path such as
    `Api.Auth.DefaultAuthorizer`) to something other than one of `unless` (e.g. ["NONE"]).
    A value that is an intrinsic function counts as set unless its alternatives are all in
    `unless`; a value known only at deploy time makes the result UNKNOWN."""
    key = str(args.get("key", ""))
    unless = {str(v) for v in args.get("unless", [])}
    path: tuple[str | int, ...] = ("Globals",)
    node: Any = scope.template.doc.data.get("Globals") if isinstance(scope.template.doc.data, dict) else None
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return Result(False, scope.resource.path, detail=f"Globals.{key} is not set")
        node = node[part]
        path += (part,)
    verdicts: list[bool | None] = []
    reasons: list[str] = []
    for alt in scope.resolver.resolve(node):
        if alt.kind is Kind.ABSENT:
            verdicts.append(False)
        elif alt.kind is Kind.KNOWN:
            verdicts.append(str(alt.value) not in unless)
        elif alt.kind is Kind.REF:
            verdicts.append(True)
        else:
            verdicts.append(None)
            reasons.append(f"Globals.{key}: {alt.reason}")
    if verdicts and all(v is True for v in verdicts):
        return Result(True, scope.resource.path)
    if verdicts and all(v is False for v in verdicts):
        return Result(False, scope.resource.path, detail=f"Globals.{key} is not set")
    return Result(None, scope.resource.path, tuple(reasons) or (f"Globals.{key} depends on a condition or parameter",))


_KEY_PAIR_TYPE = "AWS::EC2::KeyPair::KeyName"


@predicate("key_pair_named")
def key_pair_named(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the value (an EC2 `KeyName`) names a key pair: a non-empty literal, a Ref to an
    AWS::EC2::KeyPair of the template, or a parameter of type AWS::EC2::KeyPair::KeyName
    (CloudFormation accepts only an existing key pair for it).
    False when absent, `AWS::NoValue` or empty. A String parameter without AllowedValues, an
    import or a condition whose branches disagree make it UNKNOWN."""
    judged: list[tuple[bool | None, Focus]] = []
    for node in nodes:
        judged.extend(_judge_key(scope, node))
    if not judged:
        return Result(False, nodes[0].path if nodes else ())
    return superpose(judged)


def _judge_key(scope: Scope, node: Focus) -> list[tuple[bool | None, Focus]]:
    if node.absent or node.unknown:
        return [(False if node.absent else None, node)]
    found = intrinsic(node.value)
    if found and found[0] == "Fn::If":
        branches = scope.resolver.branches(found[1])
        if branches is not None:
            out: list[tuple[bool | None, Focus]] = []
            for value, assumptions, index in branches:
                branch = Focus(value, node.path + ("Fn::If", index), node.assumptions + assumptions)
                out.extend(_judge_key(scope, branch))
            return out
    if _is_key_pair_parameter(scope, node.value):
        return [(True, node)]
    judged: list[tuple[bool | None, Focus]] = []
    for item in expand(node, scope.resolver):
        if item.absent:
            judged.append((False, item))
        elif item.unknown:
            judged.append((None, item))
        else:
            judged.append((bool(str(item.value).strip()), item))
    return judged


def _is_key_pair_parameter(scope: Scope, value: Any) -> bool:
    """A Ref to a key-pair parameter or to an AWS::EC2::KeyPair resource of the template."""
    found = intrinsic(value)
    if not (found and found[0] == "Ref" and isinstance(found[1], str)):
        return False
    resource = scope.template.resources.get(found[1])
    if resource is not None:
        return resource.type == "AWS::EC2::KeyPair"
    spec = scope.template.parameters.get(found[1])
    return spec is not None and str(spec.get("Type", "")) == _KEY_PAIR_TYPE


Texts = list[tuple[str, tuple[str, ...]]]  # (literal text, the assumptions it exists under)


def _literal_text(scope: Scope, value: Any, out: Texts, when: tuple[str, ...] = ()) -> bool:
    """Collect the literal text of a value as written (strings, mapping keys, and the literal parts
    of Fn::Base64, Fn::Sub, Fn::Join, Fn::If); True if some part is not literal (a Ref, an import).
    Text inside an Fn::If branch carries the condition it exists under, unless the parameters
    decide the condition (then only the live branch is read)."""
    if isinstance(value, str):
        out.append((value, when))
        return False
    if isinstance(value, (int, float, bool)) or value is None:
        return False
    found = intrinsic(value)
    if found is None:
        if isinstance(value, dict):
            out.extend((str(key), when) for key in value)  # policy condition keys are mapping keys
            return _all_literal_text(scope, list(value.values()), out, when)
        return _all_literal_text(scope, value if isinstance(value, list) else [], out, when)
    name, arg = found
    if name == "Fn::Sub":
        if isinstance(arg, str):
            out.append((arg, when))
            return "${" in arg
        if isinstance(arg, list) and arg:
            return _all_literal_text(scope, arg, out, when)
        return True
    if name == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
        return _literal_text(scope, arg[1], out, when)
    if name == "Fn::If":
        branches = scope.resolver.branches(arg)
        if branches is None:
            return True
        opaque = False
        for branch, assumptions, _ in branches:
            opaque = _literal_text(scope, branch, out, when + assumptions) or opaque
        return opaque
    if name in ("Fn::Base64", "Fn::Select"):
        return _literal_text(scope, arg, out, when)
    return True


def _all_literal_text(scope: Scope, items: list[Any], out: Texts, when: tuple[str, ...]) -> bool:
    opaque = False
    for item in items:
        opaque = _literal_text(scope, item, out, when) or opaque
    return opaque


@predicate("script_text_matches")
def script_text_matches(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """True when the text written in the value (a script such as `UserData`, a policy document: its
    literal strings, mapping keys and the literal parts of Fn::Base64/Sub/Join/If) matches the
    regular expression `pattern`.
    Parts known only at deploy time are skipped, so FALSE means "not in the text as written";
    a value with no literal text at all (a parameter, an import) is UNKNOWN, and so is a match
    that exists only in one branch of an Fn::If that the parameters do not decide."""
    pattern = re.compile(str(args.get("pattern", "")))
    path = nodes[0].path if nodes else scope.resource.path
    opaque = False
    conditional: list[tuple[Focus, str]] = []
    for node in nodes:
        if node.absent:
            continue
        texts: Texts = []
        opaque = _literal_text(scope, node.value, texts, node.assumptions) or opaque
        for text, when in texts:
            match = pattern.search(text)
            if match and not when:
                return Result(True, node.path, detail=f"contains {match.group(0).strip()!r}")
            if match:
                conditional.append(
                    (node, f"{display(node.path)} contains {match.group(0).strip()!r} only when " + " and ".join(when))
                )
        if opaque and not "".join(t for t, _ in texts).strip():
            return Result(None, node.path, (f"{display(node.path)} is known only at deploy time",))
    if conditional:
        return Result(None, conditional[0][0].path, tuple(dict.fromkeys(why for _, why in conditional)))
    return Result(False, path)
