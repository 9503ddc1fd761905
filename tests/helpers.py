"""Small builders shared by the unit tests."""

from __future__ import annotations

import textwrap
from typing import Any

from walint.conditions import Result, Scope, compile_clause
from walint.graph import Template, build
from walint.parse import decode
from walint.selectors import Focus
from walint.values import Resolver


def template(text: str) -> Template:
    return build(decode("t.yaml", textwrap.dedent(text).encode()))


def evaluate(text: str, clause: dict[str, Any], resource: str, parameters: dict[str, str] | None = None) -> Result:
    tpl = template(text)
    res = tpl.resources[resource]
    scope = Scope(tpl, Resolver(tpl, parameters), res)
    return compile_clause(clause, "test").evaluate(scope, Focus(res.data, res.path))
