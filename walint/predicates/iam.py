"""Predicates for IAM policy documents and credentials (identity, least privilege, secrets).

`policy_document` lets a rule's clauses look inside a policy document whether the template
writes it as a structure (YAML/JSON) or as JSON text: a plain string or an `Fn::Sub` of one,
as CloudFormation accepts for `PolicyDocument`, `InlinePolicy` and friends.

`hardcoded_secrets` finds secrets written into a template: literal passwords and tokens, parameters
named like secrets with a Default, AWS access key ids.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from typing import Any

from walint.conditions import Result, Scope, check_arg, display, predicate
from walint.findings import Path
from walint.selectors import Focus, elements, expand
from walint.values import PSEUDO_PARAMETERS, Kind, intrinsic

_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")
_WHOLE_VAR = re.compile(r"^\$\{([^!}][^}]*)\}$")


def _unsub(value: Any, local: Mapping[str, Any]) -> Any:
    """Inside JSON text taken from an Fn::Sub: a string that is exactly one ${Var} becomes the
    intrinsic it stands for (so the resolver decides it or says why it cannot); strings with a
    variable inside keep the variable as text (`arn:aws:s3:::${Bucket}/*` is not `*`)."""
    if isinstance(value, dict):
        return {k: _unsub(v, local) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsub(v, local) for v in value]
    if isinstance(value, str):
        whole = _WHOLE_VAR.match(value)
        if whole:
            name = whole.group(1).strip()
            if name in local:
                return local[name]
            if "." in name:
                return {"Fn::GetAtt": name.split(".", 1)}
            return {"Ref": name}
        return value.replace("${!", "${")
    return value


def _parse_text(text: str, path: Path) -> tuple[Any, str]:
    try:
        return json.loads(text), ""
    except ValueError as exc:
        return None, f"{display(path)}: the policy text is not valid JSON ({exc})"


def _document(scope: Scope, node: Focus) -> list[Focus]:
    """The policy document(s) at `node` as structures; an unknown Focus when unreadable."""
    found = intrinsic(node.value) if not (node.absent or node.unknown) else None
    if found and found[0] == "Fn::Sub":
        arg = found[1]
        text, local = (
            (arg, {})
            if isinstance(arg, str)
            else (
                (arg[0], arg[1])
                if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict)
                else (None, {})
            )
        )
        if text is None:
            return [Focus(None, node.path, node.assumptions, unknown="Fn::Sub has malformed arguments")]
        # ${Var} inside JSON strings is valid JSON text; outside strings the text cannot be read.
        parsed, error = _parse_text(text, node.path)
        if error:
            return [Focus(None, node.path, node.assumptions, unknown=error)]
        return [Focus(_unsub(parsed, local), node.path, node.assumptions)]
    out: list[Focus] = []
    for item in expand(node, scope.resolver):
        if isinstance(item.value, str) and not item.unknown and not item.absent:
            parsed, error = _parse_text(item.value, item.path)
            if error:
                out.append(Focus(None, item.path, item.assumptions, unknown=error))
            else:
                out.append(Focus(parsed, item.path, item.assumptions))
        else:
            out.append(item)
    return out


@predicate("policy_document")
def policy_document(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """Evaluate `args.check` (a clause, paths relative to the document: `Statement`, …) on a
    policy document written as a structure or as JSON text (a string or an Fn::Sub of one).
    An absent document is passed to the check as absent (so `each` is vacuously TRUE); text
    that is not JSON is UNKNOWN. Alternatives (Fn::If) are decided only when all agree."""
    check = check_arg(args)
    if check is None:
        raise ValueError("policy_document needs 'check': a clause")
    results: list[Result] = []
    for node in nodes:
        for document in _document(scope, node):
            if document.unknown:
                results.append(Result(None, document.path, (f"{display(document.path)}: {document.unknown}",)))
                continue
            results.append(check.evaluate(scope, document))
    if not results:
        return Result(True)
    tris = {r.tri for r in results}
    if tris == {True}:
        return results[0]
    if tris == {False}:
        return results[0]
    reasons: list[str] = []
    for r in results:
        reasons.extend(r.reasons)
    if not reasons:
        reasons.append("the policy document differs between the branches of a condition")
    first = next((r for r in results if r.tri is not True), results[0])
    return Result(None, first.path, tuple(dict.fromkeys(reasons)), first.detail)


# -- secrets ---------------------------------------------------------------------------------

#: Property keys that hold a secret (matched against the end of the key, case-insensitively).
SECRET_KEYS = (
    r"(?i)(password|passwd|passphrase|secret|secretkey|secretaccesskey|client_?secret|auth_?token"  # noqa: S105
    r"|api_?key|api_?key_?value|access_?token|oauth_?token|secret_?token|hec_?token|private_?key|token_?key)$"
)
#: Keys that end like a secret but hold something else (idempotency tokens, generated flags).
NOT_SECRET_KEYS = r"(?i)^((idempotency|client|continuation|next|session)_?token|generate.*)$"  # noqa: S105
#: Parameter names that hold a secret: the secret word must end the name (DBPassword, GitHubToken),
#: so SecretArn, PasswordLength, TokenTtl are not secrets.
SECRET_PARAMETERS = r"(?i)(password|passwd|passphrase|secret|token|api_?key|private_?key|client_?secret)s?$"  # noqa: S105
#: An AWS access key id (long-term: AKIA…).
ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])AKIA[0-9A-Z]{16}(?![A-Z0-9])")
_FLAG_VALUES = {"true", "false", "yes", "no", "none", "null", ""}


def _sub_source(local: Mapping[str, Any], var: str) -> Any:
    """What a ${var} of an Fn::Sub stands for: its local value, a GetAtt or a Ref."""
    if var in local:
        return local[var]
    return {"Fn::GetAtt": var} if "." in var else {"Ref": var}


def _key(path: Path) -> str:
    return next((str(p) for p in reversed(path) if isinstance(p, str) and p != "Fn::If"), "the value")


def _sub_text(arg: Any) -> str | None:
    if isinstance(arg, str):
        return arg
    if isinstance(arg, list) and arg and isinstance(arg[0], str):
        return arg[0]
    return None


def _literal_default(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return False
    text = str(value).strip()
    return bool(text) and "{{resolve:" not in text and not _placeholder(text)


def _placeholder(text: str) -> bool:
    """A prompt for the real value (`<PASSWORD>`, `UPDATE_ME`), not a secret."""
    return ("<" in text and ">" in text) or bool(_PLACEHOLDER_TEXT.search(text))


_PLACEHOLDER_TEXT = re.compile(
    r"(?i)(update[_ -]?me|replace[_ -]?me|enter[_ -]?your|your[_ -]?(password|token|secret|key)"
    r"|^x{3,}$|^\*{3,}$|^placeholder$|^dummy\b|^tbd$|^todo$)"
)


def _parameter_default(scope: Scope, name: str) -> Result | None:
    """TRUE at Parameters.<name>.Default when that parameter carries a literal Default. A
    parameter with AllowedValues is an enumeration (Enabled/Disabled), not a secret; neither is
    a Number or an SSM-resolved parameter."""
    spec = scope.template.parameters.get(name)
    if spec is None or "AllowedValues" in spec:
        return None
    ptype = str(spec.get("Type", "String"))
    if ptype == "Number" or ptype.startswith(("AWS::SSM::Parameter::Value<", "AWS::EC2::")):
        return None
    if "Default" in spec and _literal_default(spec["Default"]):
        detail = f"parameter {name} has a Default written in the template"
        return Result(True, ("Parameters", name, "Default"), detail=detail)
    return None


class _TextJudge:
    """What one walk over a text value decides at its leaves. `_text_walk` follows the intrinsic
    functions that build a text (Sub, Join, If, Base64) the same way for every judge."""

    dynamic_reference = False  # what a `{{resolve:…}}` reference in the text means

    def literal(self, text: str, path: Path) -> Result:
        raise NotImplementedError

    def ref(self, scope: Scope, name: str, path: Path) -> Result:
        raise NotImplementedError

    def branches(self, scope: Scope, condition: Any, parts: list[Result], path: Path) -> Result:
        return _any(parts)

    def lists(self, parts: list[Result], path: Path) -> Result:
        return _any(parts or [Result(False, path)])

    def mapping(self, path: Path) -> Result:
        raise NotImplementedError


def _text_walk(scope: Scope, judge: _TextJudge, value: Any, path: Path, depth: int = 0) -> Result:
    if depth > 8:
        return Result(None, path, (f"{display(path)}: intrinsic functions nest too deeply",))
    if isinstance(value, bool) or value is None:
        return Result(False, path)
    if isinstance(value, (str, int, float)):
        text = str(value).strip()
        if "{{resolve:" in text:
            return (
                Result(True, path, detail="a dynamic reference is resolved into it")
                if judge.dynamic_reference
                else Result(False, path)
            )
        return judge.literal(text, path)
    if isinstance(value, list):
        return judge.lists([_text_walk(scope, judge, v, (*path, i), depth + 1) for i, v in enumerate(value)], path)
    found = intrinsic(value)
    if found is None:
        return Result(False, path)  # a structure, not a text value
    name, arg = found
    if name == "Ref" and isinstance(arg, str):
        return judge.ref(scope, arg, path)
    if name == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
        parts = [_text_walk(scope, judge, arg[i], (*path, "Fn::If", i), depth + 1) for i in (1, 2)]
        return judge.branches(scope, arg[0], parts, path)
    if name == "Fn::Sub":
        body = _sub_text(arg)
        local = arg[1] if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict) else {}
        if body is None:
            return Result(None, path, (f"{display(path)}: Fn::Sub has malformed arguments",))
        variables = [m.group(1).strip() for m in _SUB_VAR.finditer(body)]
        if "{{resolve:" in body or not variables:
            return _text_walk(scope, judge, body, path, depth + 1)
        return _any([_text_walk(scope, judge, _sub_source(local, v), path, depth + 1) for v in variables])
    if name == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
        # Literal pieces of a join are separators and prefixes; judge the values joined in.
        parts = [_text_walk(scope, judge, item, path, depth + 1) for item in arg[1] if not isinstance(item, str)]
        if not parts:
            return _text_walk(scope, judge, str(arg[0]).join(str(i) for i in arg[1]), path, depth + 1)
        return _any(parts)
    if name == "Fn::FindInMap":
        return judge.mapping(path)
    if name == "Fn::Base64":
        return _text_walk(scope, judge, arg, path, depth + 1)
    return Result(False, path)  # GetAtt, ImportValue, Select, GetAZs …: not written here


class _HardCoded(_TextJudge):
    """Is a secret value hard-coded? TRUE (path of the literal, or of the parameter's Default) for
    a literal, a Mappings entry, or a parameter with a Default; FALSE for dynamic references,
    parameters without a Default, resource attributes and imports. A literal in either branch
    of an Fn::If is written in the template, whichever branch deploys."""

    def literal(self, text: str, path: Path) -> Result:
        if text.lower() in _FLAG_VALUES or text.startswith("arn:") or _placeholder(text):
            return Result(False, path)
        return Result(True, path, detail=f"{_key(path)} is a literal value")

    def ref(self, scope: Scope, name: str, path: Path) -> Result:
        if name in scope.template.resources or name in PSEUDO_PARAMETERS or name == "AWS::NoValue":
            return Result(False, path)
        if name not in scope.template.parameters:
            return Result(None, path, (f"{display(path)}: Ref to {name}, which the template does not define",))
        return _parameter_default(scope, name) or Result(False, path)

    def mapping(self, path: Path) -> Result:
        return Result(True, path, detail=f"{_key(path)} comes from Mappings, written in the template")


_HARD_CODED = _HardCoded()


def _secret_value(scope: Scope, value: Any, path: Path) -> Result:
    return _text_walk(scope, _HARD_CODED, value, path)


def _any(parts: list[Result]) -> Result:
    for r in parts:
        if r.tri is True:
            return r
    unknown = [r for r in parts if r.tri is None]
    if unknown:
        return Result(None, unknown[0].path, tuple(x for r in unknown for x in r.reasons))
    return parts[0] if parts else Result(False)


def _walk_secrets(
    scope: Scope, value: Any, path: Path, keys: re.Pattern[str], not_keys: re.Pattern[str], skip: set[str]
) -> list[Result]:
    out: list[Result] = []
    stack: list[tuple[Any, Path]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            if intrinsic(node):
                if isinstance(node.get("Fn::If"), list):
                    stack.extend((b, (*where, "Fn::If", i)) for i, b in enumerate(node["Fn::If"]) if i)
                continue
            for key, child in reversed(list(node.items())):
                if key in skip:
                    continue
                if keys.search(str(key)) and not not_keys.search(str(key)):
                    out.append(_secret_value(scope, child, (*where, key)))
                else:
                    stack.append((child, (*where, key)))
        elif isinstance(node, list):
            stack.extend((child, (*where, i)) for i, child in reversed(list(enumerate(node))))
    return out


def _secret_parameters(scope: Scope, value: Any, names: re.Pattern[str]) -> list[Result]:
    """Results for parameters named like secrets, used anywhere in `value`, with a Default."""
    out: list[Result] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found = intrinsic(node)
            used: list[str] = []
            if found and found[0] == "Ref" and isinstance(found[1], str):
                used.append(found[1])
            elif found and found[0] == "Fn::Sub":
                arg = found[1]
                text = arg if isinstance(arg, str) else arg[0] if isinstance(arg, list) and arg else ""
                local = arg[1] if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict) else {}
                if isinstance(text, str):
                    used += [m.group(1).strip() for m in _SUB_VAR.finditer(text) if m.group(1).strip() not in local]
            for name in used:
                if name in scope.template.parameters and names.search(name):
                    verdict = _parameter_default(scope, name)
                    if verdict:
                        out.append(verdict)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _access_key_ids(value: Any, path: Path) -> list[Result]:
    out: list[Result] = []
    stack: list[tuple[Any, Path]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if ACCESS_KEY_ID.search(node):
                out.append(Result(True, where, detail="an AWS access key id (AKIA…) is written in the template"))
        elif isinstance(node, dict):
            stack.extend((child, (*where, key)) for key, child in node.items())
        elif isinstance(node, list):
            stack.extend((child, (*where, i)) for i, child in enumerate(node))
    return out


@predicate("hardcoded_secrets")
def hardcoded_secrets(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """TRUE when the resource (its Properties and Metadata) holds a hard-coded secret:

    * a property whose key names a secret (`keys`, default SECRET_KEYS: MasterUserPassword,
      AuthToken, client_secret …) set to a literal, a Mappings entry, or a parameter with a Default;
    * a parameter named like a secret (`parameters`, default SECRET_PARAMETERS) with a Default,
      used anywhere (UserData, an Fn::Sub); the path is the parameter's Default;
    * an AWS access key id (AKIA…) anywhere.

    FALSE for `{{resolve:…}}` dynamic references, parameters without a Default (NoEcho is
    WA-SEC-022's concern), resource attributes, imports, and prompts such as `<PASSWORD>` or
    `UPDATE_ME`. Subtrees under the keys in `skip` (default: Variables, the Lambda environment,
    judged by WA-SEC-023; Cognito's TokenValidityUnits) are not searched for keys."""
    keys = re.compile(str(args.get("keys", SECRET_KEYS)))
    not_keys = re.compile(str(args.get("not_keys", NOT_SECRET_KEYS)))
    names = re.compile(str(args.get("parameters", SECRET_PARAMETERS)))
    skip = {str(s) for s in args.get("skip", ["Variables", "TokenValidityUnits"])}
    results: list[Result] = []
    for node in nodes:
        if node.absent or node.unknown or not isinstance(node.value, dict):
            continue
        for section in ("Properties", "Metadata"):
            if section in node.value:
                where = (*node.path, section)
                results += _walk_secrets(scope, node.value[section], where, keys, not_keys, skip)
                results += _secret_parameters(scope, node.value[section], names)
                results += _access_key_ids(node.value[section], where)
    # A parameter's Default is one problem, reported on the first resource that uses it.
    first = _first_users(scope)
    results = [
        r
        for r in results
        if not (r.path[:1] == ("Parameters",) and first.get(str(r.path[1])) != scope.resource.logical_id)
    ]
    return _any(results) if results else Result(False, nodes[0].path if nodes else ())


_FIRST_USERS: dict[int, tuple[Any, dict[str, str]]] = {}


def _first_users(scope: Scope) -> dict[str, str]:
    """Each parameter mapped to the first resource (in template order) that uses it."""
    template = scope.template
    cached = _FIRST_USERS.get(id(template))
    if cached is not None and cached[0] is template:
        return cached[1]
    first: dict[str, str] = {}
    for resource in template.resources.values():
        for used in _used_names([resource.data.get("Properties"), resource.data.get("Metadata")]):
            if used in template.parameters:
                first.setdefault(used, resource.logical_id)
    _FIRST_USERS.clear()
    _FIRST_USERS[id(template)] = (template, first)
    return first


# -- text patterns over values that are partly known ------------------------------------------

_PLACEHOLDER = "{?}"


def _skeleton(scope: Scope, value: Any, depth: int = 0) -> tuple[str | None, str]:
    """The text of a scalar value with deploy-time parts inside a larger string (pseudo
    parameters, resource attributes, free parameters in an Fn::Sub or Fn::Join) replaced by
    `{?}`; (None, reason) when the whole value is known only at deploy time."""
    if depth > 16:
        return None, "intrinsic functions nest too deeply"
    if isinstance(value, bool):
        return ("true" if value else "false"), ""
    if isinstance(value, (str, int, float)):
        text = str(value)
        if "{{resolve:" in text:
            return None, f"the dynamic reference {text!r} is resolved at deploy time"
        return text, ""
    found = intrinsic(value)
    if found is None:
        return None, "it is a structure, not text"
    name, arg = found
    if name == "Fn::Sub":
        template_text = _sub_text(arg)
        local = arg[1] if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict) else {}
        if template_text is None:
            return None, "Fn::Sub has malformed arguments"
        whole = _WHOLE_VAR.match(template_text.strip())

        def part(match: re.Match[str]) -> str:
            var = match.group(1).strip()
            source: Any = (
                local[var] if var in local else ({"Fn::GetAtt": var.split(".", 1)} if "." in var else {"Ref": var})
            )
            known, _ = _skeleton(scope, source, depth + 1)
            return known if known is not None else _PLACEHOLDER

        if whole:
            var = whole.group(1).strip()
            source = local[var] if var in local else {"Fn::GetAtt": var.split(".", 1)} if "." in var else {"Ref": var}
            return _skeleton(scope, source, depth + 1)
        return _SUB_VAR.sub(part, template_text).replace("${!", "${"), ""
    if (
        name == "Fn::Join"
        and isinstance(arg, list)
        and len(arg) == 2
        and isinstance(arg[0], str)
        and isinstance(arg[1], list)
    ):
        pieces = []
        for item in arg[1]:
            known, _ = _skeleton(scope, item, depth + 1)
            pieces.append(known if known is not None else _PLACEHOLDER)
        if pieces and all(p == _PLACEHOLDER for p in pieces):
            return None, "Fn::Join of values known only at deploy time"
        return arg[0].join(pieces), ""
    if name == "Ref" and arg in PSEUDO_PARAMETERS and arg != "AWS::NotificationARNs":
        return _PLACEHOLDER, ""  # an account id, a Region, a partition: never a wildcard
    alts = scope.resolver.resolve(value)
    if len(alts) == 1 and alts[0].kind is Kind.KNOWN and not isinstance(alts[0].value, (dict, list)):
        return _skeleton(scope, alts[0].value, depth + 1)
    reasons = [a.reason for a in alts if a.reason]
    if alts and all(a.kind is Kind.REF for a in alts):
        return None, "it is a reference to another resource"
    return None, reasons[0] if reasons else "it has several possible values"


def _reference_type(scope: Scope, value: Any) -> str | None:
    alts = scope.resolver.resolve(value)
    if len(alts) == 1 and alts[0].kind is Kind.REF:
        target = scope.template.resources.get(alts[0].value[0])
        return target.type if target else None
    return None


def _some_matches(
    scope: Scope,
    value: Any,
    path: Path,
    pattern: re.Pattern[str],
    reference_types: tuple[str, ...] = (),
    depth: int = 0,
) -> Result:
    found = intrinsic(value)
    if isinstance(value, list):
        results = [
            _some_matches(scope, item, (*path, i), pattern, reference_types, depth + 1) for i, item in enumerate(value)
        ]
        return _any(results) if results else Result(False, path)
    if found and found[0] == "Fn::If":
        branches = scope.resolver.branches(found[1])
        if branches is None:
            return Result(None, path, (f"{display(path)}: Fn::If has malformed arguments",))
        results = [
            _some_matches(scope, branch, (*path, "Fn::If", index), pattern, reference_types, depth + 1)
            for branch, _, index in branches
        ]
        tris = {r.tri for r in results}
        if len(tris) == 1:
            return results[0]
        condition = found[1][0]
        reasons = tuple(x for r in results for x in r.reasons) or (
            f"{display(path)} differs with condition {condition}",
        )
        return Result(None, path, reasons)
    if found and found[0] == "Ref" and found[1] == "AWS::NoValue":
        return Result(False, path)
    if isinstance(value, dict) and found is None:
        return Result(False, path)  # a structure (a SAM policy template, a statement): not text
    if found and found[0] in ("Ref", "Fn::FindInMap", "Fn::Select"):
        alts = scope.resolver.resolve(value)
        if len(alts) == 1 and alts[0].kind is Kind.KNOWN and isinstance(alts[0].value, list):
            return _some_matches(scope, alts[0].value, path, pattern, reference_types, depth + 1)
    text, reason = _skeleton(scope, value)
    if text is None:
        if reason == "it is a reference to another resource":
            target = _reference_type(scope, value)
            if target and any(fnmatch.fnmatchcase(target, t) for t in reference_types):
                return Result(True, path, detail=f"a reference to an {target}")
            return Result(False, path)
        return Result(None, path, (f"{display(path)}: {reason}",))
    hit = pattern.search(text)
    return Result(True, path, detail=text.replace(_PLACEHOLDER, "…")) if hit else Result(False, path)


@predicate("some_text_matches")
def some_text_matches(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """TRUE when some element of the value (a scalar counts as a list of one) matches the
    regular expression `pattern`. Unlike the `matches` operator, text that is only partly known
    is judged on its known part: in `!Sub arn:${AWS::Partition}:s3:::${Bucket}/*` the
    deploy-time parts become `{?}`, which no wildcard pattern matches. A value that is wholly
    known only at deploy time (a parameter, an import) is UNKNOWN; a Ref/GetAtt to a resource in
    the template is FALSE, unless its type matches one of `reference_types` (globs)."""
    pattern = re.compile(str(args.get("pattern", "")))
    reference_types = tuple(str(t) for t in args.get("reference_types", []))
    results: list[Result] = []
    for node in nodes:
        if node.absent:
            results.append(Result(False, node.path))
        elif node.unknown:
            results.append(Result(None, node.path, (f"{display(node.path)}: {node.unknown}",)))
        else:
            results.append(_some_matches(scope, node.value, node.path, pattern, reference_types))
    return _any(results) if results else Result(False)


@predicate("has_elements")
def has_elements(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """TRUE when the list (a single value counts as a list of one) has an element in every
    deployment, FALSE when it is absent or empty, UNKNOWN when its elements come from a parameter
    or exist only under a condition. Unlike `some` with `exists`, an element that is a Ref or
    GetAtt to a resource counts as present (it is, whatever its value)."""
    results: list[Result] = []
    for node in nodes:
        for item in expand(node, scope.resolver):
            if item.absent:
                results.append(Result(False, item.path))
            elif item.unknown and not item.unknown.startswith("it is a reference"):
                results.append(Result(None, item.path, (f"{display(item.path)}: {item.unknown}",)))
            elif not isinstance(item.value, list) or item.unknown:
                results.append(Result(True, item.path))
            else:
                results.append(_list_has_elements(scope, item))
    if not results:
        return Result(False)
    tris = {r.tri for r in results}
    if len(tris) == 1:
        return results[0]
    reasons = tuple(x for r in results for x in r.reasons) or (
        f"{display(results[0].path)} differs between the branches of a condition",
    )
    return Result(None, results[0].path, reasons)


def _list_has_elements(scope: Scope, node: Focus) -> Result:
    unknown: list[str] = []
    first: Path | None = None
    for i, raw in enumerate(node.value):
        item = node.child(raw, i)
        for element in expand(item, scope.resolver):
            if element.absent:
                continue
            if element.unknown and not element.unknown.startswith("it is a reference"):
                unknown.append(f"{display(element.path)}: {element.unknown}")
            elif element.assumptions:
                unknown.append(f"{display(item.path)} exists only when {' and '.join(element.assumptions)}")
            else:
                return Result(True, item.path)
            first = first or item.path
    if unknown:
        return Result(None, first or node.path, tuple(dict.fromkeys(unknown)))
    return Result(False, node.path)


def _mentions(value: Any, target: str, attributes: set[str]) -> bool:
    """Whether a template value refers to `target`.<attribute> (GetAtt or Fn::Sub)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if len(node) == 1:
                ((name, arg),) = node.items()
                if name == "Fn::GetAtt":
                    parts = arg if isinstance(arg, list) else str(arg).split(".", 1) if isinstance(arg, str) else []
                    if len(parts) == 2 and parts[0] == target and parts[1] in attributes:
                        return True
                if name == "Fn::Sub":
                    text = arg if isinstance(arg, str) else arg[0] if isinstance(arg, list) and arg else ""
                    if isinstance(text, str) and any(
                        m.group(1).strip() in {f"{target}.{a}" for a in attributes} for m in _SUB_VAR.finditer(text)
                    ):
                        return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


@predicate("output_exposes")
def output_exposes(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """TRUE when an entry of the template's Outputs shows one of `attributes` of this resource
    (`!GetAtt Key.SecretAccessKey`, also inside Fn::Join/Fn::Sub); the path is that output's
    Value. UNKNOWN when the only such output exists under an undecided condition."""
    attributes = {str(a) for a in args.get("attributes", [])}
    target = scope.resource.logical_id
    unknown: list[Result] = []
    for name, output in scope.template.outputs.items():
        if not isinstance(output, dict) or not _mentions(output.get("Value"), target, attributes):
            continue
        path: Path = ("Outputs", name, "Value")
        condition = output.get("Condition")
        truth = scope.resolver.condition(condition) if isinstance(condition, str) else True
        if truth is True:
            return Result(True, path, detail=f"output {name}")
        if truth is None:
            unknown.append(Result(None, path, (f"output {name} exists only when condition {condition} is true",)))
    return unknown[0] if unknown else Result(False)


# -- secret parameters -----------------------------------------------------------------------

_SECRET_PARAMETER_CACHE: dict[int, tuple[Any, dict[str, str]]] = {}


def _used_names(value: Any) -> list[str]:
    """Parameter (or resource) names referred to by Ref or Fn::Sub inside `value`, in order."""
    names: list[str] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found = intrinsic(node)
            if found and found[0] == "Fn::ImportValue":
                continue  # a stack or export name, not the secret itself
            if found and found[0] == "Ref" and isinstance(found[1], str):
                names.append(found[1])
            elif found and found[0] == "Fn::Sub":
                arg = found[1]
                text = _sub_text(arg) or ""
                local = arg[1] if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict) else {}
                if "{{resolve:" not in text:  # a secret's name or ARN inside a dynamic reference
                    names += [m.group(1).strip() for m in _SUB_VAR.finditer(text) if m.group(1).strip() not in local]
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return names


def _scalar_like(value: Any) -> bool:
    """A value (a string, an intrinsic, or a list of them), not a structure of named settings:
    `i_set_user_password: {command: …}` in cfn-init or an API path `/forgotPassword` is a name."""
    if isinstance(value, list):
        return all(_scalar_like(v) for v in value)
    return not isinstance(value, dict) or intrinsic(value) is not None


def _is_candidate(spec: Mapping[str, Any]) -> bool:
    ptype = str(spec.get("Type", "String"))
    return (
        "AllowedValues" not in spec
        and ptype != "Number"
        and not ptype.startswith("AWS::SSM::Parameter::Value<")
        and not ptype.startswith("AWS::EC2::")
        and not ptype.startswith("List<")
    )


def _secret_parameters_of(scope: Scope) -> dict[str, str]:
    """Parameters that hold secrets, each mapped to the first resource that uses it: named like
    a secret, or used as the value of a secret property (MasterUserPassword: !Ref DbPass)."""
    template = scope.template
    cached = _SECRET_PARAMETER_CACHE.get(id(template))
    if cached is not None and cached[0] is template:
        return cached[1]
    names = re.compile(SECRET_PARAMETERS)
    keys = re.compile(SECRET_KEYS)
    not_keys = re.compile(NOT_SECRET_KEYS)
    secret: set[str] = {n for n, spec in template.parameters.items() if names.search(n) and _is_candidate(spec)}
    for resource in template.resources.values():
        stack: list[Any] = [resource.data.get("Properties"), resource.data.get("Metadata")]
        while stack:
            node = stack.pop()
            if isinstance(node, dict) and not intrinsic(node):
                for key, child in node.items():
                    if keys.search(str(key)) and not not_keys.search(str(key)) and _scalar_like(child):
                        for used in _used_names(child):
                            spec = template.parameters.get(used)
                            if spec is not None and _is_candidate(spec):
                                secret.add(used)
                    else:
                        stack.append(child)
            elif isinstance(node, list):
                stack.extend(node)
    first = _first_users(scope)
    result = {name: first[name] for name in secret if name in first}
    _SECRET_PARAMETER_CACHE.clear()
    _SECRET_PARAMETER_CACHE[id(template)] = (template, result)
    return result


@predicate("secret_parameter_exposed")
def secret_parameter_exposed(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """TRUE when a parameter holding a secret (named like one, or used as a password/token
    property) that this resource is the first to use is not `NoEcho`, or is shown by an entry of
    Outputs. Reported once per parameter, on the first resource that uses it; the path is the
    parameter (or the output's Value)."""
    owners = _secret_parameters_of(scope)
    mine = sorted(name for name, owner in owners.items() if owner == scope.resource.logical_id)
    for name in mine:
        spec = scope.template.parameters[name]
        if str(spec.get("NoEcho", "false")).strip().lower() != "true":
            return Result(True, ("Parameters", name), detail=f"parameter {name} is not NoEcho")
        for output_name, output in scope.template.outputs.items():
            if isinstance(output, dict) and name in _used_names(output.get("Value")):
                detail = f"output {output_name} shows parameter {name}"
                return Result(True, ("Outputs", output_name, "Value"), detail=detail)
    return Result(False, scope.resource.path)


# -- secrets in environment variables --------------------------------------------------------

#: Environment variable names that hold a secret; *_ARN, *_NAME, *_ID, *_PATH … name one instead.
SECRET_ENV_NAMES = (
    r"(?i)(password|passwd|pwd|passphrase|secret|token|api_?key|private_?key|client_?secret"  # noqa: S105
    r"|secret_?access_?key|access_?key|credentials?|auth)$"
)
_SECRET_CODEBUILD_TYPES = {"PARAMETER_STORE", "SECRETS_MANAGER"}
_BEANSTALK_ENV = "aws:elasticbeanstalk:application:environment"


class _PlainTextSecret(_TextJudge):
    """Does an environment value carry a secret in plain text? TRUE for a literal, a dynamic
    reference resolved into it, a parameter or a Mappings entry; FALSE for names and ARNs (a
    path, `arn:…`, a Ref/GetAtt to a resource, an import). An Fn::If is judged on the branch the
    parameters choose, or undecided when only one branch holds a secret."""

    dynamic_reference = True

    def literal(self, text: str, path: Path) -> Result:
        if text.lower() in _FLAG_VALUES or text.startswith(("arn:", "/")) or _placeholder(text):
            return Result(False, path)
        return Result(True, path, detail="it holds a literal value")

    def ref(self, scope: Scope, name: str, path: Path) -> Result:
        spec = scope.template.parameters.get(name)
        if spec is not None and "AllowedValues" not in spec and str(spec.get("Type", "String")) != "Number":
            return Result(True, path, detail=f"it holds the value of parameter {name}")
        return Result(False, path)

    def branches(self, scope: Scope, condition: Any, parts: list[Result], path: Path) -> Result:
        truth = scope.resolver.condition(condition) if isinstance(condition, str) else None
        if truth is not None:
            return parts[0] if truth else parts[1]
        if len({p.tri for p in parts}) == 1:
            return parts[0]
        when = "true" if parts[0].tri else "false"
        return Result(None, path, (f"{display(path)} holds a secret only when condition {condition} is {when}",))

    def lists(self, parts: list[Result], path: Path) -> Result:
        return Result(False, path)  # a list is not one value

    def mapping(self, path: Path) -> Result:
        return Result(True, path, detail="it holds a value from Mappings")


_PLAIN_TEXT_SECRET = _PlainTextSecret()


def _env_value(scope: Scope, value: Any, path: Path) -> Result:
    return _text_walk(scope, _PLAIN_TEXT_SECRET, value, path)


def _env_entries(value: Any, path: Path) -> list[tuple[str, Any, Path]]:
    """(variable name, value, path of the value) of a Lambda-style map or a list of
    Name/Value (ECS, CodeBuild, App Runner) or Namespace/OptionName/Value (Beanstalk) entries."""
    out: list[tuple[str, Any, Path]] = []
    if isinstance(value, dict) and intrinsic(value) is None:
        out += [(str(k), v, (*path, k)) for k, v in value.items()]
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, dict) or intrinsic(item) is not None:
                continue
            if "Namespace" in item and item.get("Namespace") != _BEANSTALK_ENV:
                continue
            if str(item.get("Type", "PLAINTEXT")) in _SECRET_CODEBUILD_TYPES:
                continue
            name = item.get("Name", item.get("OptionName"))
            if isinstance(name, str) and "Value" in item:
                out.append((name, item["Value"], (*path, i, "Value")))
    return out


@predicate("secret_env")
def secret_env(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """TRUE when an environment (a Lambda `Variables` map, or a list of Name/Value entries as in
    ECS, CodeBuild, App Runner and Elastic Beanstalk option settings) has a variable named like
    a secret (`names`, default SECRET_ENV_NAMES) whose value is a literal, a parameter, a
    Mappings entry or a `{{resolve:…}}` reference resolved into it; the path is the value.
    CodeBuild variables of type PARAMETER_STORE/SECRETS_MANAGER and values that name a secret (an
    ARN, a path, a Ref to a resource) are fine. With `sam_globals: true` the template's
    `Globals.Function.Environment.Variables` is judged too, on the first function only."""
    names = re.compile(str(args.get("names", SECRET_ENV_NAMES)))
    results: list[Result] = []
    for node in nodes:
        if node.absent or node.unknown:
            continue
        for name, value, path in _env_entries(node.value, node.path):
            if names.search(name):
                results.append(_env_value(scope, value, path))
    if args.get("sam_globals") and _first_sam_function(scope):
        data = scope.template.doc.data
        section = data.get("Globals", {}) if isinstance(data, dict) else {}
        function = section.get("Function", {}) if isinstance(section, dict) else {}
        env = function.get("Environment", {}) if isinstance(function, dict) else {}
        variables = env.get("Variables") if isinstance(env, dict) else None
        for name, value, path in _env_entries(variables, ("Globals", "Function", "Environment", "Variables")):
            if names.search(name):
                results.append(_env_value(scope, value, path))
    return _any(results) if results else Result(False, nodes[0].path if nodes else ())


def _first_sam_function(scope: Scope) -> bool:
    functions = scope.template.of_type("AWS::Serverless::Function")
    return bool(functions) and functions[0].logical_id == scope.resource.logical_id


# -- conditions --------------------------------------------------------------------------------

_LOOSE_VALUES = re.compile(r"^(\*|[^:]+:\*)$")  # "*", "repo:*": match every subject


@predicate("condition_key")
def condition_key(scope: Scope, nodes: list[Focus], args: Mapping[str, Any]) -> Result:
    """TRUE when a statement `Condition` tests a key matching `pattern` (case-insensitive regex,
    e.g. `:sub$`) with an operator that restricts (not a negated, IfExists or Null test) and a
    value that is not a wildcard (`*`, `repo:*`). UNKNOWN when the Condition (or such a value) is
    known only at deploy time. The nodes are Condition blocks."""
    pattern = re.compile(str(args.get("pattern", "")), re.IGNORECASE)
    results: list[Result] = []
    for node in nodes:
        for condition in expand(node, scope.resolver):
            if condition.absent:
                results.append(Result(False, condition.path))
                continue
            if condition.unknown or not isinstance(condition.value, dict):
                if condition.unknown:
                    results.append(Result(None, condition.path, (f"{display(condition.path)}: {condition.unknown}",)))
                else:
                    results.append(Result(False, condition.path))
                continue
            results.append(_condition_has(scope, condition, pattern))
    if not results:
        return Result(False)
    tris = {r.tri for r in results}
    if len(tris) == 1:
        return results[0]
    return Result(
        None,
        results[0].path,
        tuple(x for r in results for x in r.reasons)
        or (f"{display(results[0].path)} differs between the branches of a condition",),
    )


def _condition_has(scope: Scope, condition: Focus, pattern: re.Pattern[str]) -> Result:
    unknown: list[str] = []
    for operator, body in condition.value.items():
        op = str(operator)
        if "Not" in op or op.endswith("IfExists") or op == "Null":
            continue
        for block in expand(condition.child(body, operator), scope.resolver):
            if block.absent:
                continue
            if block.unknown or not isinstance(block.value, dict):
                if block.unknown:
                    unknown.append(f"{display(block.path)}: {block.unknown}")
                continue
            for key, values in block.value.items():
                if not pattern.search(str(key)):
                    continue
                # A list matches when any value matches: one wildcard admits everyone. A value
                # set at deploy time (a parameter) is taken as restricting.
                items = elements(block.child(values, key), scope.resolver)
                loose = [
                    i
                    for i in items
                    if not i.unknown and not (isinstance(i.value, str) and not _LOOSE_VALUES.match(i.value.strip()))
                ]
                if items and not loose:
                    return Result(True, items[0].path)
    if unknown:
        return Result(None, condition.path, tuple(unknown))
    return Result(False, condition.path)
