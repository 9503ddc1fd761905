"""How every report names the resource of a finding: its logical id, and where it came from when
a tool wrote the template (the CDK construct, the resource SAM generated)."""

from __future__ import annotations

from walint.findings import Location

#: The ids CDK gives the CloudFormation resource inside a construct; users know the construct by
#: its path without them (`MyStack/Bucket`, not `MyStack/Bucket/Resource`).
_HIDDEN_CDK_IDS = ("Resource", "Default")


def construct_path(cdk_path: str) -> str:
    """A CDK construct path as users know it: without trailing `Resource` / `Default` ids."""
    parts = cdk_path.split("/")
    while len(parts) > 1 and parts[-1] in _HIDDEN_CDK_IDS:
        parts.pop()
    return "/".join(parts)


def origin(location: Location, *, generated: bool = True) -> str | None:
    """Where the resource came from, `MyStack/Bucket` or `generated MyFunctionRole`; None for a
    resource written as it is in the template."""
    parts = []
    if location.cdk_path:
        parts.append(construct_path(location.cdk_path))
    if generated and location.generated:
        parts.append(f"generated {location.generated}")
    return ", ".join(parts) or None


def label(location: Location, *, generated: bool = True) -> str:
    """The resource as reports show it: `Bucket83908E77 (MyStack/Bucket)`, `MyFunction (generated
    MyFunctionRole)`, the bare logical id, or "" for a finding on the template itself."""
    if not location.resource:
        return ""
    more = origin(location, generated=generated)
    return f"{location.resource} ({more})" if more else location.resource
