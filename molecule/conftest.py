"""Testinfra glue for molecule verifiers: test every instance of the scenario
through testinfra's podman:// backend (about ten times faster than going
through ansible), taking the instance names from molecule's inventory."""
from __future__ import annotations

import os

import yaml


def _inventory_hosts(path: str) -> list[str]:
    with open(path, encoding="utf-8") as stream:
        inventory = yaml.safe_load(stream) or {}
    names: set[str] = set()

    def walk(group: dict) -> None:
        names.update((group.get("hosts") or {}).keys())
        for child in (group.get("children") or {}).values():
            walk(child or {})

    for group in inventory.values():
        walk(group or {})
    names.discard("localhost")
    return sorted(names)


def pytest_configure(config):
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    if getattr(config.option, "hosts", None) is None and inventory and os.path.exists(inventory):
        names = _inventory_hosts(inventory)
        # A scenario that also runs other scenarios' tests names the instance they are about.
        only = [n for n in os.environ.get("PROTEA_VERIFY_HOSTS", "").split(",") if n]
        if only:
            missing = set(only) - set(names)
            assert not missing, f"PROTEA_VERIFY_HOSTS names {sorted(missing)}, not in the scenario's inventory {names}"
            names = only
        config.option.hosts = ",".join(f"podman://{name}" for name in names)
        config.option.connection = None
        config.option.ansible_inventory = None
