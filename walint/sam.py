"""The SAM transform stage: turn `AWS::Serverless::*` resources into what CloudFormation deploys.

Rules then judge the role and inline policies SAM writes for a function, the table behind a
`SimpleTable`, the stage of an implicit API, and so on, as they would be deployed. AWS's own
translator (`aws-sam-translator`, the library SAM CLI and formerly cfn-lint use) does the work:
re-implementing SAM's ~20 resource types, its policy templates and Globals would drift from the
real thing.

Findings must still point at what the user wrote. Each generated resource gets an *owner* (the
SAM resource it came from) and a path in a generated resource is mapped back to a path in the
source by, in order: the same property (with SAM's renames, e.g. `TracingConfig` → `Tracing`) on
the owner or in `Globals`; a source node equal to the generated one (a policy statement copied
into the role); the deepest part of that property the source has; the owner itself.

The translator is imported only for templates that declare the SAM transform (its import costs a
few hundred milliseconds), and it is run offline: no region lookup, no IAM call for managed
policy names, no Serverless Application Repository call.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from walint.findings import Path
from walint.graph import Resource, Template, TemplateError, build
from walint.parse import Document

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
SAM_PREFIX = "AWS::Serverless::"

#: Stand-ins for artefacts that `sam build`/`sam package` would upload; their content is not linted.
_PLACEHOLDER_S3 = "s3://walint-placeholder/artifact"
_PLACEHOLDER_URL = "https://walint-placeholder.s3.amazonaws.com/template.yaml"
_PLACEHOLDER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/walint-placeholder:latest"
#: Marks an API definition that stands in for an included file, so that rules reading the
#: definition can tell "not set" from "not shown" (`Properties.Body.x-walint-included`).
INCLUDED = "x-walint-included"
_OPENAPI: Mapping[str, Mapping[str, Any]] = {
    "AWS::Serverless::Api": {
        "swagger": "2.0",
        "info": {"title": "placeholder", "version": "1"},
        "paths": {},
        INCLUDED: "AWS::Include",
    },
    "AWS::Serverless::HttpApi": {
        "openapi": "3.0.1",
        "info": {"title": "placeholder", "version": "1"},
        "paths": {},
        INCLUDED: "AWS::Include",
    },
}

#: Properties that name a local artefact before packaging, by SAM type.
_ARTEFACTS = {
    "AWS::Serverless::Function": ("CodeUri",),
    "AWS::Serverless::LayerVersion": ("ContentUri",),
    "AWS::Serverless::Api": ("DefinitionUri",),
    "AWS::Serverless::HttpApi": ("DefinitionUri",),
    "AWS::Serverless::StateMachine": ("DefinitionUri",),
    "AWS::Serverless::GraphQLApi": ("SchemaUri",),
}

#: Generated property → the SAM properties it comes from, where the names differ.
_RENAMES: Mapping[str, Mapping[str, tuple[Path, ...]]] = {
    "AWS::Lambda::Function": {
        "TracingConfig": (("Tracing",),),
        "DeadLetterConfig": (("DeadLetterQueue",),),
        "Code": (("CodeUri",), ("InlineCode",), ("ImageUri",)),
        "Role": (("Role",), ("Policies",)),
    },
    "AWS::Lambda::Url": {
        "AuthType": (("FunctionUrlConfig", "AuthType"),),
        "Cors": (("FunctionUrlConfig", "Cors"),),
        "InvokeMode": (("FunctionUrlConfig", "InvokeMode"),),
    },
    "AWS::StepFunctions::StateMachine": {
        "LoggingConfiguration": (("Logging",),),
        "TracingConfiguration": (("Tracing",),),
        "DefinitionString": (("Definition",), ("DefinitionUri",)),
        "RoleArn": (("Role",), ("Policies",)),
    },
    "AWS::IAM::Role": {"ManagedPolicyArns": (("Policies",),), "Policies": (("Policies",),)},
    "AWS::Lambda::LayerVersion": {"Content": (("ContentUri",),)},
}


class SamError(Exception):
    """A SAM template the translator rejects; the message says which resource and why."""


@dataclass(frozen=True)
class Provenance:
    """Where the resources of a translated template came from."""

    source: Template  # the template as written
    owners: Mapping[str, str]  # generated logical id → SAM logical id it came from
    anchors: Mapping[str, Path]  # generated logical id → what in the source caused it
    _indexes: dict[str, dict[str, Path]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def sam_resources(self) -> tuple[str, ...]:
        """The SAM resources that generated something, in the order of what they generated."""
        return tuple(dict.fromkeys(self.owners.values()))

    def owner(self, logical_id: str) -> Resource | None:
        """The SAM resource a generated resource came from (None for resources written as such)."""
        name = self.owners.get(logical_id)
        return self.source.resources.get(name) if name else None

    def locate(self, generated: Resource, path: Path) -> Path:
        """The path in the source template that best explains `path` in a generated resource."""
        owner = self.owner(generated.logical_id)
        if owner is None:
            return path
        marks = self.source.doc.marks
        if path[:2] != generated.path and self._as_written(path):
            # A rule may blame something outside the resource it judged (the parameter that
            # should be NoEcho, an output, a resource written as such): it is where it was written.
            return self.source.doc.deepest(path) or owner.path
        rel = path[2:]
        candidates = list(self._candidates(owner, generated.type, rel))
        for candidate, _ in candidates:
            if candidate in marks:
                return candidate
        found = self._equal_node(owner, generated, rel)
        if found is not None:
            return found
        policy = _policy_source(owner, generated, rel)
        if policy is not None:
            return self.source.doc.deepest(policy)
        # The candidate that matches most property keys (a Globals value beats the bare
        # Properties of the resource); else what caused the resource (an event), else Properties.
        best: Path | None = None
        matched = 0
        for candidate, base in candidates:
            deepest = self.source.doc.deepest(candidate)
            if len(deepest) - base > matched:
                best, matched = deepest, len(deepest) - base
        if best is not None:
            return best
        section = _globals_section(owner.type, generated.type)
        if (
            section in ("Api", "HttpApi")
            and owner.type != SAM_PREFIX + section
            and len(rel) >= 2
            and str(rel[1]) in _globals_properties(SAM_PREFIX + section)
            and ("Globals", section) in marks
        ):
            # The implicit API takes its settings from Globals.Api (HttpApi) only: a setting it
            # lacks is set there, where the user already configures it.
            return ("Globals", section)
        anchor = self.anchors.get(generated.logical_id, owner.path)
        if anchor == owner.path and rel[:1] == ("Properties",):
            return self.source.doc.deepest((*owner.path, "Properties"))
        return anchor

    def _as_written(self, path: Path) -> bool:
        """Whether `path` means the same in the source: it is outside Resources, or in a
        resource written as plain CloudFormation."""
        if path[:1] != ("Resources",):
            return bool(path)
        written = self.source.resources.get(str(path[1])) if len(path) > 1 else None
        return written is not None and not written.type.startswith(SAM_PREFIX)

    def _candidates(self, owner: Resource, generated_type: str, rel: Path) -> Iterator[tuple[Path, int]]:
        """Paths in the source that may hold a generated property, each with the length of its
        part that names no property (the resource's Properties, or a Globals section)."""
        if len(rel) < 2 or rel[0] != "Properties":
            return
        key, rest = rel[1], rel[2:]
        names = _RENAMES.get(generated_type, {}).get(str(key), ((key,),))
        section = _globals_section(owner.type, generated_type)
        for name in names:
            yield (*owner.path, "Properties", *name, *rest), len(owner.path) + 1
            if section is not None:
                yield ("Globals", section, *name, *rest), 2

    def _equal_node(self, owner: Resource, generated: Resource, rel: Path) -> Path | None:
        """The source path of the deepest node on `rel` whose value appears as such in the owner
        (or its Globals), plus whatever of the rest of `rel` the source has there."""
        index = self._index(owner)
        node: Any = generated.data
        nodes: list[Any] = []
        for part in rel:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break
            nodes.append(node)
        for end in range(len(nodes), 0, -1):
            value = nodes[end - 1]
            if not isinstance(value, (dict, list)) or not value:
                continue
            found = index.get(_canonical(value))
            if found is not None:
                return self.source.doc.deepest(found + rel[end:])
        return None

    def _index(self, owner: Resource) -> dict[str, Path]:
        index = self._indexes.get(owner.logical_id)
        if index is None:
            index = {}
            roots: list[tuple[Any, Path]] = [(owner.data, owner.path)]
            globals_section = _globals_section(owner.type, owner.type)
            data = self.source.doc.data
            glob = data.get("Globals") if isinstance(data, dict) else None
            if globals_section and isinstance(glob, dict) and isinstance(glob.get(globals_section), dict):
                roots.append((glob[globals_section], ("Globals", globals_section)))
            for root, root_path in roots:
                for value, where in _containers(root, root_path):
                    index.setdefault(_canonical(value), where)
            self._indexes[owner.logical_id] = index
        return index


def _policy_source(owner: Resource, generated: Resource, rel: Path) -> Path | None:
    """SAM names the inline policy it writes for `Policies[k]` "<Role>Policy<k>": a path in that
    policy maps to the k-th entry the user wrote (a statement or a policy template)."""
    if generated.type != "AWS::IAM::Role" or rel[:2] != ("Properties", "Policies") or len(rel) < 3:
        return None
    policies = generated.properties.get("Policies")
    index = rel[2]
    if not isinstance(policies, list) or not isinstance(index, int) or index >= len(policies):
        return None
    name = policies[index].get("PolicyName") if isinstance(policies[index], dict) else None
    match = re.search(r"Policy(\d+)$", name) if isinstance(name, str) else None
    if match is None:
        return None
    rest = rel[4:] if rel[3:4] == ("PolicyDocument",) else ()
    return (*owner.path, "Properties", "Policies", int(match.group(1)), *rest)


def _containers(value: Any, path: Path) -> Iterator[tuple[Any, Path]]:
    stack: list[tuple[Any, Path]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            if node:
                yield node, where
            stack.extend((child, (*where, key)) for key, child in node.items())
        elif isinstance(node, list):
            if node:
                yield node, where
            stack.extend((child, (*where, i)) for i, child in enumerate(node))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@functools.cache
def _globals_properties(sam_type: str) -> frozenset[str]:
    """The properties `Globals` may set for a SAM type (the translator is loaded by then)."""
    from samtranslator.plugins.globals.globals import Globals  # noqa: PLC0415

    return frozenset(Globals.supported_properties.get(sam_type, ()))


def _globals_section(owner_type: str, generated_type: str) -> str | None:
    """The Globals section whose values can reach a generated resource."""
    if generated_type.startswith("AWS::ApiGatewayV2::"):
        return "HttpApi"
    if generated_type.startswith("AWS::ApiGateway::"):
        return "Api"
    if owner_type.startswith(SAM_PREFIX):
        return owner_type[len(SAM_PREFIX) :]
    return None


def is_sam(template: Template) -> bool:
    return SAM_TRANSFORM in template.transforms


def transform(template: Template, parameters: Mapping[str, str]) -> Template:
    """The template as CloudFormation deploys it, with the provenance of generated resources.
    Raises SamError when the translator rejects the template."""
    # The translator mutates its input; work on a copy of the plain data.
    try:
        data = copy.deepcopy(template.doc.data)
    except RecursionError as exc:
        raise SamError("the template nests too deeply for the SAM transform") from exc
    _stand_in_artefacts(data)
    translated = _translate(data, parameters)
    resources = translated.get("Resources")
    if not isinstance(resources, dict):
        raise SamError("the SAM transform produced no Resources")
    written = {rid for rid, r in template.resources.items() if not r.type.startswith(SAM_PREFIX)}
    _as_configured(template, resources, written)
    found = _owners(template, [rid for rid in resources if rid not in written])
    owners = {rid: owner for rid, (owner, _) in found.items()}
    anchors = {rid: anchor for rid, (_, anchor) in found.items()}
    # Paths of resources written as plain CloudFormation are unchanged, so their marks still hold.
    doc = Document(template.doc.path, translated, template.doc.marks)
    try:
        result = build(doc)
    except TemplateError as exc:
        raise SamError(f"the SAM transform produced an invalid template: {exc.message}") from exc
    provenance = Provenance(template, owners, anchors)
    notes = tuple(dict.fromkeys(template.notes + result.notes))
    return replace(result, provenance=provenance, notes=notes, unexpanded=template.unexpanded)


def _as_configured(template: Template, resources: dict[str, Any], written: set[str]) -> None:
    """Undo two translator artefacts that would make rules judge something the user never
    configured:

    - SAM's deployment for an API it also writes a stage for carries `StageName: Stage`, an extra
      stage named "Stage" that SAM creates for compatibility; the user's settings are on the
      real stage, which rules judge.
    - A state machine's `Definition` becomes a joined JSON string; CloudFormation takes the object
      too (`Definition`), which keeps the states, their paths and so their lines.
    """
    stages = {
        (json.dumps(r["Properties"].get("DeploymentId"), sort_keys=True))
        for rid, r in resources.items()
        if rid not in written
        and isinstance(r, dict)
        and r.get("Type") == "AWS::ApiGateway::Stage"
        and isinstance(r.get("Properties"), dict)
    }
    for rid, entry in resources.items():
        if rid in written or not isinstance(entry, dict) or not isinstance(entry.get("Properties"), dict):
            continue
        props = entry["Properties"]
        if entry.get("Type") == "AWS::ApiGateway::Deployment" and props.get("StageName") == "Stage":
            if json.dumps({"Ref": rid}, sort_keys=True) in stages:
                del props["StageName"]
        elif entry.get("Type") == "AWS::StepFunctions::StateMachine" and "DefinitionString" in props:
            source = template.resources.get(rid)
            definition = source.properties.get("Definition") if source is not None else None
            if isinstance(definition, dict):
                del props["DefinitionString"]
                props["Definition"] = copy.deepcopy(definition)


def _stand_in_artefacts(data: Any) -> None:
    resources = data.get("Resources") if isinstance(data, dict) else None
    if not isinstance(resources, dict):
        return
    for key in [k for k in resources if k.startswith("Fn::ForEach::")]:
        del resources[key]  # a loop that could not be expanded; the stage before says so
    for entry in resources.values():
        if not isinstance(entry, dict) or not isinstance(entry.get("Type"), str):
            continue
        rtype = entry["Type"]
        props = entry.get("Properties")
        if not isinstance(props, dict):
            if rtype != "AWS::Serverless::Function":
                continue
            props = entry["Properties"] = {}
        for key in _ARTEFACTS.get(rtype, ()):
            value = props.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                props[key] = _PLACEHOLDER_S3
        if (
            rtype == "AWS::Serverless::Function"
            and not any(k in props for k in ("CodeUri", "InlineCode", "ImageUri"))
            and props.get("PackageType") != "Image"
            and not _globals_code(data)
        ):
            props["CodeUri"] = _PLACEHOLDER_S3  # `sam build` fills it from Metadata
        if props.get("PackageType") == "Image" and not props.get("ImageUri"):
            props["ImageUri"] = _PLACEHOLDER_IMAGE  # `sam build` fills it from Metadata
        body = props.get("DefinitionBody")
        if rtype in _OPENAPI and isinstance(body, dict) and "Fn::Transform" in body:
            # An AWS::Include of a local file is processed before SAM; stand in an empty API
            # so that SAM can still add the Auth, CORS and stage settings written here.
            props["DefinitionBody"] = copy.deepcopy(_OPENAPI[rtype])
        if rtype == "AWS::Serverless::Application":
            location = props.get("Location")
            # A Serverless Application Repository application would need an AWS call; a local path
            # is linted as a nested stack on its own.
            if isinstance(location, dict) or (isinstance(location, str) and "://" not in location):
                props["Location"] = _PLACEHOLDER_URL
    glob = data.get("Globals")
    if isinstance(glob, dict) and isinstance(glob.get("Function"), dict):
        code = glob["Function"].get("CodeUri")
        if isinstance(code, str) and not code.startswith("s3://"):
            glob["Function"]["CodeUri"] = _PLACEHOLDER_S3


def _globals_code(data: dict[str, Any]) -> bool:
    glob = data.get("Globals")
    return isinstance(glob, dict) and isinstance(glob.get("Function"), dict) and "CodeUri" in glob["Function"]


class _Offline:
    """Stands in for a boto3 session: the translator only asks it for a region."""

    region_name = "us-east-1"


def _no_network() -> Any:
    raise SamError("a Serverless Application Repository application cannot be resolved offline")


@functools.cache
def _translator_api() -> Any:
    """The translator module, imported on first use: only SAM templates pay for it (and for
    boto3, which it imports)."""
    from samtranslator.plugins.policies.policy_templates_plugin import (  # noqa: PLC0415
        PolicyTemplatesForResourcePlugin,
    )
    from samtranslator.policy_template_processor.processor import PolicyTemplatesProcessor  # noqa: PLC0415
    from samtranslator.translator import translator  # noqa: PLC0415

    # The translator builds its policy-template processor for every template, and validating the
    # bundled templates against their schema is 85% of a translation. They do not change within
    # a process: build the processor once.
    processor = PolicyTemplatesProcessor(PolicyTemplatesProcessor.get_default_policy_templates_json())
    translator.make_policy_template_for_function_plugin = lambda: PolicyTemplatesForResourcePlugin(processor)
    # The translator logs metrics and feature-toggle chatter; walint reports through its results.
    logging.getLogger("samtranslator").setLevel(logging.CRITICAL)
    return translator


def _translate(data: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    api = _translator_api()
    from samtranslator.model.exceptions import InvalidDocumentException  # noqa: PLC0415
    from samtranslator.parser.parser import Parser  # noqa: PLC0415
    from samtranslator.plugins.application.serverless_app_plugin import ServerlessAppPlugin  # noqa: PLC0415

    values: dict[str, Any] = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", **parameters}
    translator = api.Translator(
        {},
        Parser(),
        plugins=[ServerlessAppPlugin(sar_client_creator=_no_network, parameters=values)],
        boto_session=_Offline(),
    )
    try:
        result: dict[str, Any] = translator.translate(data, parameter_values=values, get_managed_policy_map=dict)
    except InvalidDocumentException as exc:
        causes = [_clean(str(getattr(cause, "message", cause))) for cause in exc.causes]
        raise SamError("the SAM transform failed: " + "; ".join(causes or [_clean(str(exc))])) from exc
    except SamError:
        raise
    except Exception as exc:  # the translator's own bugs must not stop the run
        raise SamError(f"the SAM transform failed: {type(exc).__name__}: {exc}") from exc
    return result


def _clean(message: str) -> str:
    return re.sub(r"\s+", " ", message).strip()


# -- provenance -------------------------------------------------------------------------------

#: Shared resources SAM creates once per template, and the SAM property that causes them.
_SHARED = (
    ("ServerlessRestApi", ("Api",), "AWS::Serverless::Api"),
    ("ServerlessHttpApi", ("HttpApi",), "AWS::Serverless::HttpApi"),
    ("ServerlessDeploymentApplication", (), "DeploymentPreference"),
    ("CodeDeployServiceRole", (), "DeploymentPreference"),
)


def _owners(template: Template, new_ids: list[str]) -> dict[str, tuple[str, Path]]:
    """The SAM resource each generated resource came from, and the path there that caused it.

    SAM names what it generates after its source: the owner is the SAM resource whose logical id
    is the longest prefix of the generated one, and an event name after that prefix points at the
    event (`FnGetPermissionProd` → `Fn.Events.Get`). Resources SAM shares across the template (the
    implicit APIs, the CodeDeploy application) belong to the first function that asked for them."""
    sam_ids = sorted(
        (rid for rid, r in template.resources.items() if r.type.startswith(SAM_PREFIX)), key=len, reverse=True
    )
    owners: dict[str, tuple[str, Path]] = {}
    for rid in new_ids:
        owner = next((sid for sid in sam_ids if rid.startswith(sid)), None)
        if owner is not None:
            owners[rid] = (owner, _event_path(template.resources[owner], rid[len(owner) :]))
            continue
        shared = _shared_owner(template, rid)
        if shared is not None:
            owners[rid] = shared
        elif sam_ids:
            owners[rid] = (sam_ids[-1], template.resources[sam_ids[-1]].path)  # never lose a finding
    return owners


def _event_path(owner: Resource, suffix: str) -> Path:
    events = owner.properties.get("Events")
    if suffix and isinstance(events, dict):
        names = sorted((n for n in events if isinstance(n, str) and suffix.startswith(n)), key=len, reverse=True)
        if names:
            return (*owner.path, "Properties", "Events", names[0])
    return owner.path


def _shared_owner(template: Template, logical_id: str) -> tuple[str, Path] | None:
    for prefix, event_types, cause in _SHARED:
        if not logical_id.startswith(prefix):
            continue
        for resource in template.resources.values():
            if not resource.type.startswith(SAM_PREFIX):
                continue
            props = resource.properties
            if cause == "DeploymentPreference" and "DeploymentPreference" in props:
                return resource.logical_id, (*resource.path, "Properties", "DeploymentPreference")
            events = props.get("Events")
            if event_types and isinstance(events, dict):
                for name, event in events.items():
                    if isinstance(event, dict) and event.get("Type") in event_types:
                        return resource.logical_id, (*resource.path, "Properties", "Events", name)
    return None


__all__ = ["INCLUDED", "SAM_TRANSFORM", "Provenance", "SamError", "is_sam", "transform"]
