"""CHANGELOG.md and changelogs/changelog.yaml are what scripts/changelog (antsibull-changelog) writes
from changelogs/fragments/ and the collection's own plugin and role docs: a fragment added or
edited, or a module added, without running the script fails here. Runs in a copy: nothing in the
checkout is written."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

# What antsibull-changelog reads: the collection's metadata, fragments, plugin and role docs.
INPUTS = ("galaxy.yml", ".yamllint", "CHANGELOG.md", "changelogs", "meta", "plugins", "roles", "scripts/changelog")


def _copy(dest: Path) -> Path:
    for name in INPUTS:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".plugin-cache.yaml"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("ANSIBLE_CONFIG", None)  # the checkout's collections path would list the checkout's plugins
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    copy = _copy(tmp_path_factory.mktemp("changelog"))
    run = _run(["scripts/changelog"], copy)
    assert run.returncode == 0, run.stdout + run.stderr
    return copy


@pytest.mark.parametrize("path", ["CHANGELOG.md", "changelogs/changelog.yaml"])
def test_the_committed_changelog_is_what_the_fragments_give(regenerated, path):
    assert (regenerated / path).read_text() == (REPO / path).read_text(), (
        f"{path} is not what changelogs/fragments/ give: run ./scripts/changelog and commit its output")


def test_the_release_lists_every_module_and_role_from_the_collection():
    release = yaml.safe_load((REPO / "changelogs/changelog.yaml").read_text())["releases"]["0.1.0"]
    modules = {p.stem for p in (REPO / "plugins/modules").glob("*.py") if p.stem != "__init__"}
    assert {m["name"] for m in release["modules"]} == modules
    roles = {p.parent.parent.name for p in (REPO / "roles").glob("*/meta/argument_specs.yml")}
    assert {r["name"] for r in release["objects"]["role"]} == roles


def test_a_fragment_with_a_minor_changes_list_is_valid_and_folded_in(tmp_path):
    copy = _copy(tmp_path)
    fragment = copy / "changelogs/fragments/zz-new-thing.yml"
    # The plain format (no document start): what a contributor writes first.
    fragment.write_text("minor_changes:\n  - New thing ``protea.platform.zz_thing`` (issue 99).\n")
    for cmd in (["antsibull-changelog", "lint"], ["yamllint", "-s", "changelogs/fragments/zz-new-thing.yml"],
                ["scripts/changelog"]):
        run = _run(cmd, copy)
        assert run.returncode == 0, (cmd, run.stdout + run.stderr)
    release = yaml.safe_load((copy / "changelogs/changelog.yaml").read_text())["releases"]["0.1.0"]
    assert "New thing ``protea.platform.zz_thing`` (issue 99)." in release["changes"]["minor_changes"]
    assert "zz-new-thing.yml" in release["fragments"]
    assert "New thing <code>protea\\.platform\\.zz\\_thing</code> \\(issue 99\\)\\." in (copy / "CHANGELOG.md").read_text()
    # ... and the unchanged checkout's changelog is now out of date: the check above would fail.
    assert (copy / "CHANGELOG.md").read_text() != (REPO / "CHANGELOG.md").read_text()


def test_a_broken_fragment_fails_the_lint(tmp_path):
    copy = _copy(tmp_path)
    (copy / "changelogs/fragments/zz-bad.yml").write_text("minor_change:\n  - Misspelt section.\n")
    run = _run(["antsibull-changelog", "lint"], copy)
    assert run.returncode != 0 and "minor_change" in run.stdout + run.stderr
