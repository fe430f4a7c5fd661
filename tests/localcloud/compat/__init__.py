"""Compatibility layer: where moto (server mode) answers differently from AWS, put it right.

CONTRACT FOR A COMPAT MODULE (adding one = dropping a file here; nothing to register)
-----------------------------------------------------------------------------------
* One module per AWS service area: ``tests/localcloud/compat/<area>.py`` (e.g. ``ec2.py``,
  ``efs.py``). Files starting with ``_`` are ignored (private helpers).
* The module defines ``PATCHES: list[Patch]`` and, optionally, ``SEEDS: list[Seed]``.
  Importing the module must have NO side effects on moto: all monkeypatching happens in
  ``apply()``, so a patch can be disabled by name.
* ``Patch(name, api, moto_does, aws_does, doc, apply, wrap=None)``:
    - ``name``: unique across all modules, kebab-case, prefixed with the area
      (``ec2-describe-tags-resource-type``). Used by ``disable=[...]`` /
      ``PROTEA_COMPAT_DISABLE=a,b``.
    - ``api``: the AWS API action(s) it fixes, e.g. ``"ec2:DescribeTags"``.
    - ``moto_does`` / ``aws_does``: one sentence each (they go into the README table).
    - ``doc``: the AWS documentation (API reference title + URL) whose behaviour it restores.
      Only documented AWS behaviour is restored; never invent behaviour.
    - ``apply()``: monkeypatches moto in-process. Runs once, in the server subprocess, before
      the first request (moto builds its Flask apps lazily, so changing ``moto.<svc>.urls``
      or ``moto.<svc>.responses`` classes here takes effect).
    - ``wrap(app) -> app`` (optional): a WSGI middleware around the whole server, for routes
      moto does not know at all. Prefer ``apply()`` when moto has the route.
* ``Seed(name, doc, apply)``: ``apply()`` loads seed data into moto's in-process backends. It
  runs at server start and again after every ``POST /moto-api/reset`` (so tests that reset
  still find it). Seeds are idempotent and cheap.
* Every patch needs: a row in tests/localcloud/README.md (API | what moto does | what AWS
  does | doc) and a test in tests/localcloud/ that asserts the AWS behaviour through boto3
  against the patched server AND moto's original behaviour against a server started with
  ``disable=[name]`` (fixture ``emulator_factory``), so a patch that silently stops working
  fails the suite.

This package runs inside the moto server process (tests/localcloud/serve.py); test code
only reads the metadata (``all_patches()``) and never calls ``apply()`` itself.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

DISABLE_ENV = "PROTEA_COMPAT_DISABLE"


@dataclass(frozen=True)
class Patch:
    name: str
    api: str
    moto_does: str
    aws_does: str
    doc: str
    apply: Callable[[], None] = field(repr=False)
    wrap: Callable[[Any], Any] | None = field(default=None, repr=False)
    module: str = ""
    # True: applied only in instance mode (serve.py --instances), where instances run as containers.
    instances: bool = False


@dataclass(frozen=True)
class Seed:
    name: str
    doc: str
    apply: Callable[[], None] = field(repr=False)
    module: str = ""


def _modules() -> list[Any]:
    mods = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"{__name__}.{info.name}"))
    return mods


def _collect(attr: str) -> list[Any]:
    items: list[Any] = []
    seen: dict[str, str] = {}
    for mod in _modules():
        short = mod.__name__.rsplit(".", 1)[1]
        for item in getattr(mod, attr, []):
            if item.name in seen:
                raise ValueError(f"compat name {item.name!r} defined in {seen[item.name]} and {short}")
            seen[item.name] = short
            items.append(item if item.module else _with_module(item, short))
    return items


def _with_module(item: Any, module: str) -> Any:
    from dataclasses import replace

    return replace(item, module=module)


def all_patches() -> list[Patch]:
    """Every patch of every module, in module then list order."""
    return _collect("PATCHES")


def all_seeds() -> list[Seed]:
    return _collect("SEEDS")


def disabled_from_env(extra: list[str] | tuple[str, ...] = ()) -> set[str]:
    names = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
    return names | set(extra)


def select(disable: set[str], instances: bool = False) -> tuple[list[Patch], list[Seed]]:
    """The patches and seeds to use; unknown names in ``disable`` are an error (typos hide bugs).

    Patches marked ``instances=True`` are used only in instance mode."""
    patches, seeds = all_patches(), all_seeds()
    known = {p.name for p in patches} | {s.name for s in seeds}
    unknown = disable - known
    if unknown:
        raise ValueError(f"unknown compat patch/seed names: {sorted(unknown)}; known: {sorted(known)}")
    chosen = [p for p in patches if p.name not in disable and (instances or not p.instances)]
    return chosen, [s for s in seeds if s.name not in disable]
