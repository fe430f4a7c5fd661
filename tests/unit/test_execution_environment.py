"""The execution environment's definition (execution-environment.yml), rendered by ansible-builder.

`ansible-builder create` writes the Containerfile without building anything; what it says is
checked here. The image itself is built by scripts/build-ee and used by tests/e2e (the second
site.yml run and a bake, through the README's ansible-runner command).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO, readme_ee_command

BUILDER = REPO / ".venv/bin/ansible-builder"


def _pin(requirements: Path, name: str) -> str:
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", requirements.read_text(), re.M))
    return f"{name}=={pins[name]}"


@pytest.fixture(scope="module")
def containerfile(tmp_path_factory) -> str:
    if not BUILDER.exists() and shutil.which("ansible-builder") is None:
        pytest.skip("ansible-builder is not installed (requirements-test.txt)")
    tmp = tmp_path_factory.mktemp("ee")
    shutil.copy(REPO / "execution-environment.yml", tmp)
    # What scripts/build-ee writes before it builds.
    (tmp / ".ee/collection").mkdir(parents=True)
    (tmp / ".ee/collection/protea-platform.tar.gz").write_bytes(b"")
    (tmp / ".ee/pip").mkdir()
    (tmp / ".ee/pip/pip.conf").write_text("[global]\nno-index = true\nfind-links = /protea-wheels\n")
    run = subprocess.run([str(BUILDER) if BUILDER.exists() else "ansible-builder", "create", "-f",
                          str(tmp / "execution-environment.yml"), "-c", str(tmp / "context")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp / "context/_build/protea/protea-platform.tar.gz").exists()
    return (tmp / "context/Containerfile").read_text()


def test_it_installs_the_pinned_ansible_runner_and_the_collection(containerfile):
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="(.*)"$', containerfile, re.M)[1].split()
    assert _pin(REPO / "requirements.txt", "ansible") in refs, refs
    assert _pin(REPO / "requirements-test.txt", "ansible-runner") in refs, refs
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert definition["dependencies"]["galaxy"]["collections"] == [
        {"name": "/build/protea/protea-platform.tar.gz", "type": "file"}]
    # The collection's dependencies come with the ansible package, not from Galaxy.
    assert 'ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--no-deps"' in containerfile
    assert "COPY _build/protea /build/protea" in containerfile


def test_the_build_pip_configuration_does_not_stay_in_the_image(containerfile):
    steps = containerfile.splitlines()
    assert steps.index("COPY _build/pip/pip.conf /etc/pip.conf") < steps.index("RUN /output/scripts/assemble")
    final = containerfile.split("FROM base AS final", 1)[1].splitlines()
    assert "RUN rm -f /etc/pip.conf" in final
    # ... after the last pip install of the final stage.
    last_pip = max(i for i, step in enumerate(final) if "pip install" in step or "install-from-bindep" in step)
    assert final.index("RUN rm -f /etc/pip.conf") > last_pip


def test_the_base_is_local_and_no_registry_is_named(containerfile):
    assert re.search(r'^ARG EE_BASE_IMAGE="localhost/protea-ee-base:latest"$', containerfile, re.M)
    for path in ("execution-environment.yml", "scripts/build-ee"):
        for image in re.findall(r"\b([a-z0-9.-]+\.[a-z]{2,})/[a-z0-9._/-]+:[\w.-]+", (REPO / path).read_text()):
            pytest.fail(f"{path} names a registry host: {image}")


def test_the_collection_says_what_an_execution_environment_needs():
    meta = yaml.safe_load((REPO / "meta/execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    # bindep's own parser on this (Debian) machine: the ssh client is what the controller needs.
    bindep = REPO / ".venv/bin/bindep"
    if not bindep.exists():
        pytest.skip("bindep is not installed (comes with ansible-builder)")
    # openssh-client is installed here (bootstrap): nothing missing, and the rpm name is not asked for.
    out = subprocess.run([str(bindep), "-b", "-f", str(REPO / "bindep.txt")], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout + out.stderr
    # The packages for this platform: the Debian name (what ansible-builder installs where missing).
    listed = subprocess.run([str(bindep), "-l", "newline", "-f", str(REPO / "bindep.txt")], capture_output=True, text=True)
    assert listed.returncode == 0 and listed.stdout.split() == ["openssh-client"], listed.stdout + listed.stderr


def test_the_readme_command_runs_the_checkout_in_the_image_with_the_agent():
    words = readme_ee_command()
    assert words[:3] == ["ansible-runner", "run", "$job"]
    assert "--process-isolation" in words
    assert words[words.index("--container-image") + 1] == "localhost/protea-ee:latest"
    mounts = [words[i + 1] for i, w in enumerate(words) if w == "--container-volume-mount"]
    assert mounts == ["$PWD:/runner/project", "$SSH_AUTH_SOCK:/run/ssh-agent.sock"], mounts
    assert "--container-option=--env=SSH_AUTH_SOCK=/run/ssh-agent.sock" in words
    cmdline = next(w for w in words if w.startswith("--cmdline="))
    assert cmdline.split("=", 1)[1].split() == ["-i", "inventories/common", "-i", "inventories/local",
                                                "-i", "inventories/local/aws_ec2.yml"]
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- protea:ee-run -->", 1)[1].split("```", 2)[1]
    assert "ssh-add" in block and '"ssh_jump_identity_file": ""' in block
