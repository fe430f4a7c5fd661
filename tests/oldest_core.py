"""A venv with the oldest ansible-core the collection supports (meta/runtime.yml requires_ansible).

    python -m tests.oldest_core          # build it (or find it cached) and print its bin/ dir

What it holds: ansible-core at ``OLDEST`` plus the runtime Python packages of requirements.txt
at their pins (boto3, botocore, netaddr, jmespath, dnspython, mitogen), never its ansible and
ansible-core pins. No collections: amazon.aws, community.aws and the rest come from the main
venv's ansible package (its site-packages/ansible_collections, see collections_path()), so the
collections are the ones the suite tests with and only ansible-core is older.

Cached in ${PROTEA_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/protea}/venv-ansible-core-<OLDEST>,
keyed on its inputs (the Python version and path, the pins, this file's recipe version): a venv whose key
differs, or whose build did not finish, is rebuilt in place. Built with pip from its configured
index only. A lock file serializes concurrent builders.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.helpers import REPO

OLDEST = "2.19.4"
RECIPE = 1  # bump when the way the venv is built changes
SKIP = {"ansible", "ansible-core"}
KEY_FILE = "protea-venv-key"


def requires_ansible() -> str:
    """The collection's requires_ansible (meta/runtime.yml), e.g. '>=2.19.4'."""
    import yaml

    return yaml.safe_load((REPO / "meta/runtime.yml").read_text())["requires_ansible"]


def runtime_pins() -> list[str]:
    """requirements.txt's pins without ansible and ansible-core, in file order."""
    pins = []
    for raw in (REPO / "requirements.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name = re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0].lower().replace("_", "-")
        if name not in SKIP:
            pins.append(line)
    return pins


def cache_dir() -> Path:
    if os.environ.get("PROTEA_CACHE_DIR"):
        return Path(os.environ["PROTEA_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "protea"


def venv_dir() -> Path:
    return cache_dir() / f"venv-ansible-core-{OLDEST}"


def base_python() -> str:
    """The interpreter the main venv was made from (a fresh machine's python3), not the venv's."""
    return getattr(sys, "_base_executable", sys.executable)


def key(pins: list[str]) -> str:
    inputs = [f"recipe {RECIPE}", f"python {sys.version_info[:3]} {base_python()}", f"ansible-core=={OLDEST}", *pins]
    return hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:16]


def collections_path() -> str:
    """ANSIBLE_COLLECTIONS_PATH for the old venv: the checkout's ./collections (the collection
    itself, as ansible.cfg has it), then the main venv's site-packages, whose ansible_collections
    holds the collections the ansible package bundles (amazon.aws, community.aws, ...)."""
    main_site = Path(sysconfig.get_paths()["purelib"])
    assert (main_site / "ansible_collections/amazon/aws").is_dir(), f"no amazon.aws under {main_site}"
    return f"{REPO / 'collections'}:{main_site}"


def ensure_venv() -> Path:
    """The venv's bin/ directory, built first when missing or stale."""
    pins = runtime_pins()
    want = key(pins)
    target = venv_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = target / KEY_FILE
        if stamp.is_file() and stamp.read_text().strip() == want and (target / "bin/ansible-playbook").exists():
            return target / "bin"
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([base_python(), "-m", "venv", str(target)], check=True)
        pip = [str(target / "bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, f"ansible-core=={OLDEST}", *pins], check=True)
        stamp.write_text(want + "\n")  # last: a build cut short has no stamp and is redone
    return target / "bin"


if __name__ == "__main__":
    print(ensure_venv())
