from __future__ import annotations

from pathlib import Path

import pytest

from walint.catalog import Rule, load_rules

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def rules() -> list[Rule]:
    return load_rules()


def shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available (../shared is not next to the project)")
    return path
