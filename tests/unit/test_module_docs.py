"""The project's modules document themselves as ansible-test's validate-modules would require
(the checks that run offline): DOCUMENTATION, EXAMPLES and RETURN are YAML; every argument of
the module's argument_spec is documented with the same type, default and choices, and nothing
undocumented is accepted; ansible-doc renders it."""
from __future__ import annotations

import ast
import json
import os
import subprocess

import pytest
import yaml

from tests.helpers import REPO

MODULES = sorted((REPO / "plugins/modules").glob("*.py"))
COMMON = {"aws_access_key", "aws_secret_key", "session_token", "profile", "region", "endpoint_url",
          "validate_certs", "aws_ca_bundle", "aws_config", "debug_botocore_endpoint_logs", "access_key",
          "secret_key", "ec2_url", "aws_profile", "security_token"}


def _strings(path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN") and isinstance(node.value, ast.Constant):
                found[node.targets[0].id] = node.value.value
    return found


@pytest.mark.parametrize("module", MODULES, ids=[m.stem for m in MODULES])
def test_doc_blocks_are_yaml_and_complete(module):
    blocks = _strings(module)
    assert set(blocks) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, f"{module.name}: missing {set(blocks) ^ {'DOCUMENTATION', 'EXAMPLES', 'RETURN'}}"
    doc = yaml.safe_load(blocks["DOCUMENTATION"])
    assert doc["module"] == module.stem and doc.get("short_description") and doc.get("description")
    for name, option in (doc.get("options") or {}).items():
        assert option.get("description"), f"{module.name}: option {name} has no description"
    examples = yaml.safe_load(blocks["EXAMPLES"])
    assert isinstance(examples, list) and examples, f"{module.name}: EXAMPLES is not a list of tasks"
    for task in examples:
        assert any(k.startswith(("protea.platform.", "amazon.aws.", "community.aws.", "ansible.builtin."))
                   for k in task), f"{module.name}: an example without an FQCN module: {task}"
    ret = yaml.safe_load(blocks["RETURN"]) or {}
    for name, value in ret.items():
        assert value.get("description") and value.get("returned"), f"{module.name}: return value {name} incomplete"


def _argument_spec(module) -> dict:
    """The module's argument_spec literal (dict(...) or {...}, module-level constants resolved)."""
    tree = ast.parse(module.read_text())
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                ast.literal_eval(node.value)
            except ValueError:
                continue
            constants[node.targets[0].id] = node.value
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "argument_spec" for t in node.targets):
            return ast.literal_eval(_as_literal(node.value, constants))
        if isinstance(node, ast.keyword) and node.arg == "argument_spec":
            return ast.literal_eval(_as_literal(node.value, constants))
    raise AssertionError(f"{module.name}: no argument_spec")


def _as_literal(node, constants):
    """dict(a=1) -> {'a': 1} and NAME -> its constant, recursively, so literal_eval can read it."""
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return ast.Dict(keys=[ast.Constant(k.arg) for k in node.keywords],
                        values=[_as_literal(k.value, constants) for k in node.keywords])
    if isinstance(node, ast.Dict):
        return ast.Dict(keys=node.keys, values=[_as_literal(v, constants) for v in node.values])
    if isinstance(node, ast.List):
        return ast.List(elts=[_as_literal(e, constants) for e in node.elts], ctx=ast.Load())
    return node


@pytest.fixture(scope="module")
def rendered() -> dict:
    """ansible-doc's view of every module (documentation fragments merged in)."""
    names = [f"protea.platform.{m.stem}" for m in MODULES]
    out = subprocess.run(["ansible-doc", "--json", *names], capture_output=True, text=True, cwd=REPO, check=True,
                         env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))).stdout
    return json.loads(out)


@pytest.mark.parametrize("module", MODULES, ids=[m.stem for m in MODULES])
def test_documented_options_match_the_argument_spec(module, rendered):
    documented = rendered[f"protea.platform.{module.stem}"]["doc"]["options"]
    spec = _argument_spec(module)
    is_aws = "AnsibleAWSModule" in module.read_text()
    extra = set(documented) - set(spec) - (COMMON if is_aws else set())
    assert not set(spec) - set(documented) and not extra, (
        f"{module.name}: undocumented {sorted(set(spec) - set(documented))}, documented but not accepted {sorted(extra)}")
    for name, arg in spec.items():
        opt = documented[name]
        assert opt.get("type", "str") == arg.get("type", "str"), f"{module.name}: {name} type"
        assert opt.get("required", False) == arg.get("required", False), f"{module.name}: {name} required"
        assert opt.get("default") == arg.get("default"), f"{module.name}: {name} default {opt.get('default')!r} vs {arg.get('default')!r}"
        assert opt.get("choices") == arg.get("choices"), f"{module.name}: {name} choices"
        if arg.get("type") == "list":
            assert opt.get("elements") == arg.get("elements"), f"{module.name}: {name} elements"


def test_ansible_doc_renders_every_module(rendered):
    assert sorted(rendered) == sorted(f"protea.platform.{m.stem}" for m in MODULES)
    for name, entry in rendered.items():
        assert entry["doc"]["options"] and entry["examples"] and entry["return"] is not None, name
