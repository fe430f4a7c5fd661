"""The collection as users get it: ansible-galaxy collection build -> install into a clean
path -> ansible-doc. The tarball carries what runs and nothing of the development tooling;
galaxy.yml declares exactly the collections the shipped content uses."""
from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
# What a user's run needs (site.yml, the tier playbooks, the roles and plugins, the shared defaults).
SHIPPED = ("roles", "plugins", "playbooks", "meta", "inventories/common", "site.yml")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(out), str(REPO)],
                   check=True, capture_output=True, text=True, cwd=REPO)
    [tarball] = out.glob("protea-platform-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    return tarball, names


def test_the_tarball_carries_what_runs(built):
    _, names = built
    for role in sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks/main.yml").exists()):
        assert f"roles/{role}/tasks/main.yml" in names and f"roles/{role}/meta/argument_specs.yml" in names, role
    for path in ("meta/runtime.yml", "site.yml", "playbooks/provision.yml", "inventories/common/hosts.yml",
                 "plugins/filter/stack.py", "README.md", "CHANGELOG.md",
                 "changelogs/changelog.yaml", "changelogs/config.yaml",
                 # what ansible-builder reads from an installed collection for an execution environment
                 "meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
        assert path in names, path


def test_the_tarball_leaves_the_development_tooling_out(built):
    _, names = built
    unwanted = re.compile(r"^(\.|molecule/|bench/|scripts/|tests/|collections/|inventories/(local|production|staging)/|"
                          r"pytest\.ini$|requirements-test\.txt$|ansible\.cfg$|execution-environment\.yml$|changelogs/(fragments(/|$)|\.plugin-cache))|(^|/)__pycache__/|\.pyc$")
    assert sorted(n for n in names if unwanted.search(n)) == []
    assert "example.invalid" not in (REPO / "galaxy.yml").read_text()


def _installed_collections() -> set[str]:
    import ansible_collections

    roots = [Path(p) for p in ansible_collections.__path__]
    return {f"{ns.name}.{coll.name}" for root in roots for ns in root.iterdir() if ns.is_dir()
            for coll in ns.iterdir() if (coll / "MANIFEST.json").exists() or (coll / "galaxy.yml").exists()}


def test_dependencies_are_exactly_the_collections_the_shipped_content_uses():
    installed = _installed_collections()
    used = set()
    for top in SHIPPED:
        path = REPO / top
        for file in [path] if path.is_file() else path.rglob("*"):
            if file.is_file() and file.suffix in (".yml", ".yaml", ".j2", ".py"):
                used |= {m for m in re.findall(r"\b([a-z_]+\.[a-z_]+)\.[a-z_]+", file.read_text())} & installed
    used -= {"ansible.builtin", "protea.platform"}
    assert set(GALAXY["dependencies"]) == used, (
        f"declared but unused: {sorted(set(GALAXY['dependencies']) - used)}; "
        f"used but undeclared: {sorted(used - set(GALAXY['dependencies']))}")


def test_installed_from_the_tarball_ansible_doc_shows_the_real_defaults(built, tmp_path):
    tarball, _ = built
    # A clean path, not the repository's configuration (whose collections path already holds
    # protea.platform: galaxy would find it "already installed").
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path))
    env.pop("ANSIBLE_CONFIG", None)
    subprocess.run(["ansible-galaxy", "collection", "install", "--no-deps", "-p", str(tmp_path), str(tarball)],
                   check=True, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert (tmp_path / "ansible_collections/protea/platform/MANIFEST.json").exists()
    out = subprocess.run(["ansible-doc", "-t", "role", "--json", "protea.platform.rds"], check=True,
                         capture_output=True, text=True, env=env, cwd=tmp_path).stdout
    docs = json.loads(out)
    assert "protea.platform.rds" in docs, (list(docs), out[:300])
    options = docs["protea.platform.rds"]["entry_points"]["main"]["options"]
    defaults = yaml.safe_load((REPO / "roles/rds/defaults/main.yml").read_text())
    assert options["rds_wait_delay"]["default"] == defaults["rds_wait_delay"]
    assert options["rds_multi_az"]["default"] == defaults["rds_multi_az"]
    # The main job by its FQCN, from the installed copy alone (its shared defaults included).
    listed = subprocess.run(["ansible-playbook", "-i", "ansible_collections/protea/platform/inventories/common",
                             "protea.platform.site", "--list-tasks"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert f"playbook: {tmp_path}/ansible_collections/protea/platform/playbooks/site.yml" in listed.stdout
    assert "Smoke | every web server answers /healthz" in listed.stdout


def _tasks(playbook: str) -> str:
    """--list-tasks without its first lines (the playbook's path)."""
    run = subprocess.run(["ansible-playbook", "-i", "inventories/common", playbook, "--list-tasks"],
                         capture_output=True, text=True, cwd=REPO, env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")))
    assert run.returncode == 0, run.stderr
    return run.stdout.split("\n", 3)[3]


def test_the_main_job_runs_by_fqcn_and_is_the_checkout_s_site_yml():
    fqcn = _tasks("protea.platform.site")
    assert fqcn == _tasks("site.yml")
    assert fqcn.count("play #") >= 10, fqcn[:500]
