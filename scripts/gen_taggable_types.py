"""Regenerate walint/data/taggable-types.txt: the resource types whose schema has a Tags property.

    python scripts/gen_taggable_types.py

Reads the CloudFormation resource schemas that cfn-lint bundles (us-east-1), so the list follows
the installed cfn-lint version.
"""

from __future__ import annotations

import json
from pathlib import Path

import cfnlint
from cfnlint.version import __version__ as cfnlint_version

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
OUT = Path(__file__).resolve().parents[1] / "walint" / "data" / "taggable-types.txt"


def main() -> None:
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text(encoding="utf-8"))
    tagged = []
    for rtype, digest in sorted(providers.items()):
        schema = json.loads((SCHEMAS / "resources" / f"{digest}.json").read_text(encoding="utf-8"))
        if "Tags" in schema.get("properties", {}):
            tagged.append(rtype)
    header = (
        "# Resource types with a Tags property, from the CloudFormation resource schemas bundled with\n"
        f"# cfn-lint {cfnlint_version} (us-east-1). Regenerate: python scripts/gen_taggable_types.py\n"
    )
    OUT.write_text(header + "".join(f"{t}\n" for t in tagged), encoding="utf-8")
    print(f"{len(tagged)} taggable types written to {OUT}")


if __name__ == "__main__":
    main()
