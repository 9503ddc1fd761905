"""Decode files and build their graphs without evaluating rules: the floor walint's time is
compared with (benchmarks/bench.py)."""

from __future__ import annotations

import sys

from walint.graph import TemplateError, build, is_template
from walint.parse import ParseError, decode


def main(paths: list[str]) -> int:
    for path in paths:
        with open(path, "rb") as handle:
            raw = handle.read()
        try:
            doc = decode(path, raw)
            if is_template(doc.data):
                build(doc)
        except (ParseError, TemplateError):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
