"""The compat layer's contract: metadata complete, documented in the README, each patch tested."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.localcloud import compat
from tests.localcloud.__main__ import README, readme_with_table

TESTS = Path(__file__).resolve().parent.parent
PATCHES = compat.all_patches()


def test_readme_table_is_current():
    text = README.read_text()
    assert text == readme_with_table(text), "run: python -m tests.localcloud patches --update-readme"


@pytest.mark.parametrize("patch", PATCHES, ids=[p.name for p in PATCHES])
def test_patch_metadata_complete(patch):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", patch.name), "kebab-case, area prefix"
    assert patch.name.split("-")[0] in patch.module.replace("_", "-") or patch.module in patch.name, (
        f"{patch.name} should be prefixed with its area ({patch.module})"
    )
    for field in ("api", "moto_does", "aws_does"):
        assert getattr(patch, field).strip(), field
    assert "https://docs.aws.amazon.com/" in patch.doc, "cite the AWS documentation it follows"
    assert callable(patch.apply)


def _test_sources() -> str:
    return "\n".join(
        p.read_text() for p in TESTS.rglob("test_*.py") if "compat" not in p.relative_to(TESTS).parts
    )


@pytest.mark.parametrize("patch", PATCHES, ids=[p.name for p in PATCHES])
def test_patch_has_a_without_patch_test(patch):
    # The contract: a test that starts a server with disable=[name] and asserts moto's behaviour.
    assert f'"{patch.name}"' in _test_sources(), f"no test under tests/ names {patch.name!r}"


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="unknown compat"):
        compat.select({"no-such-patch"})
