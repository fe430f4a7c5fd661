"""scripts/fresh-machine-check reads pytest's own summary line from the test log, not the last
line that says "failed" (./scripts/lint's output follows pytest's, and Ansible warnings say it)."""
from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

from tests.helpers import REPO


def _script():
    loader = importlib.machinery.SourceFileLoader("fresh_machine_check", str(REPO / "scripts/fresh-machine-check"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_the_summary_is_pytests_line_not_a_later_warning(tmp_path: Path) -> None:
    log = tmp_path / "test.log"
    log.write_text("....\n=========== 1250 passed, 2 skipped, 3 warnings in 2865.43s (0:47:45) ===========\n"
                   "---- ./scripts/lint (ran alongside pytest) ----\n"
                   "[WARNING]: Falling back to Ansible unique filter as Jinja2 one failed: 'x' is undefined\n"
                   "lint: clean\n")
    assert _script().pytest_summary(log) == "1250 passed, 2 skipped, 3 warnings in 2865.43s (0:47:45)"


def test_a_failed_run_and_no_run_are_told_apart(tmp_path: Path) -> None:
    log = tmp_path / "test.log"
    log.write_text("==== 2 failed, 1255 passed, 2 errors in 4335.10s (1:12:15) ====\nlint: clean\n")
    assert _script().pytest_summary(log) == "2 failed, 1255 passed, 2 errors in 4335.10s (1:12:15)"
    log.write_text("ERROR: usage\nsomething failed\n")
    assert _script().pytest_summary(log) == ""
