"""roles/runtime_config/files/protea-runtime-config: rendering, validation and what it runs.

The script's AWS side (IMDS, SSM) runs for real in the end-to-end test; here its functions run
with IMDS and SSM replaced, so every branch is cheap to reach.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import stat
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles/runtime_config/files/protea-runtime-config"


def load_script():
    loader = importlib.machinery.SourceFileLoader("protea_runtime_config", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


rc = load_script()


def test_env_values_are_quoted_for_systemd() -> None:
    text = rc.render({"format": "env"}, {"B": 'a"b\\c', "A": "line1\nline2"})
    assert text == 'A="line1\\nline2"\nB="a\\"b\\\\c"\n'


def test_template_values() -> None:
    spec = {"format": "template", "template": "[smtp]:587 {username}:{password}\n"}
    assert rc.render(spec, {"username": "AKIA1", "password": "p:w"}) == "[smtp]:587 AKIA1:p:w\n"


def test_prefix_placeholders_name_tags() -> None:
    assert rc.tag_names("/{Project}/{Environment}/x") == ["Project", "Environment"]
    assert rc.tag_names("/fixed/path") == []


def _config(tmp_path: Path, *dropins: dict) -> str:
    d = tmp_path / "runtime-config.d"
    d.mkdir()
    for n, spec in enumerate(dropins):
        (d / f"{n}.json").write_text(json.dumps(spec))
    cfg = tmp_path / "runtime-config.json"
    cfg.write_text(json.dumps({"prefix": "/{Project}/{Environment}", "region": "", "dropin_dir": str(d)}))
    return str(cfg)


@pytest.mark.parametrize(("spec", "message"), [
    ({"format": "env", "values": {}}, "missing 'path'"),
    ({"path": "/run/x", "format": "yaml", "values": {}}, "format must be env, or template"),
    ({"path": "/run/x", "format": "template", "values": {}}, "format must be env, or template"),
    ({"path": "/run/x", "format": "env", "values": {}, "action": "restart"}, "action must be one of"),
])
def test_a_bad_dropin_is_named(tmp_path: Path, spec: dict, message: str) -> None:
    with pytest.raises(SystemExit, match=message) as err:
        rc.load(_config(tmp_path, spec))
    assert "0.json" in str(err.value)


def test_files_are_written_0600_once_and_units_are_not_waited_for(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "run" / "app.env"
    sasl = tmp_path / "run" / "postfix" / "sasl_passwd"
    cfg = _config(tmp_path,
                  {"path": str(out), "format": "env", "values": {"APP_DB_PASSWORD": "rds/app-password"},
                   "units": ["shopper.service"], "action": "try-restart"},
                  {"path": str(sasl), "format": "template", "template": "[h]:587 {u}:{p}\n",
                   "values": {"u": "ses/smtp-credentials#username", "p": "ses/smtp-credentials#password"},
                   "postmap": True,
                   "units": ["postfix.service"], "action": "try-reload-or-restart"})
    monkeypatch.setenv("PROTEA_RUNTIME_CONFIG", cfg)
    monkeypatch.setattr(rc, "imds_token", lambda: "token")
    monkeypatch.setattr(rc, "imds", lambda path, token: {"meta-data/tags/instance/Project": "shop",
                                                         "meta-data/tags/instance/Environment": "prod",
                                                         "meta-data/placement/region": "af-south-1"}[path])
    asked = []
    values = {"/shop/prod/rds/app-password": "s3cret",
              "/shop/prod/ses/smtp-credentials": json.dumps({"username": "AKIA1", "password": "smtp"})}
    monkeypatch.setattr(rc, "fetch", lambda region, names: asked.append((region, names)) or values)
    ran = []
    monkeypatch.setattr(rc.subprocess, "run", lambda cmd, check: ran.append(cmd))
    assert rc.main() == 0
    assert asked == [("af-south-1", sorted(values))]
    assert out.read_text() == 'APP_DB_PASSWORD="s3cret"\n'
    assert sasl.read_text() == "[h]:587 AKIA1:smtp\n"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    # At boot the units wait for this service (After=): never block on them.
    assert ran == [["systemctl", "--no-block", "try-restart", "shopper.service"],
                   ["postmap", f"hash:{sasl}"],
                   ["systemctl", "--no-block", "try-reload-or-restart", "postfix.service"]]
    ran.clear()
    assert rc.main() == 0 and ran == [], "unchanged values: nothing is restarted"


def test_missing_parameters_fail_and_write_nothing(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "run" / "app.env"
    monkeypatch.setenv("PROTEA_RUNTIME_CONFIG", _config(tmp_path, {"path": str(out), "format": "env",
                                                                    "values": {"A": "rds/app-password"}}))
    monkeypatch.setattr(rc, "imds_token", lambda: "t")
    monkeypatch.setattr(rc, "imds", lambda path, token: "x" if "tags" in path else "af-south-1")

    class Ssm:
        def get_parameters(self, Names, WithDecryption):  # noqa: N803 - boto3's names
            return {"Parameters": [], "InvalidParameters": Names}

    import types
    monkeypatch.setitem(__import__("sys").modules, "boto3", types.SimpleNamespace(client=lambda *a, **k: Ssm()))
    with pytest.raises(SystemExit, match="parameters not found in af-south-1: /x/x/rds/app-password"):
        rc.main()
    assert not out.exists()


def test_a_field_reference_reads_one_member_of_a_json_parameter() -> None:
    raw = json.dumps({"username": "shopper_app_b", "password": "p"})
    assert rc.parameter_path("rds/app-credentials#username") == "rds/app-credentials"
    assert rc.resolve("rds/app-credentials#username", raw, "/x/rds/app-credentials") == "shopper_app_b"
    assert rc.resolve("rds/endpoint-port", "5432", "/x/rds/endpoint-port") == "5432"
    with pytest.raises(SystemExit, match="/x/y is not a JSON object with a 'username' field"):
        rc.resolve("y#username", "plain", "/x/y")
    with pytest.raises(SystemExit, match="field 'n' of /x/y is not a string"):
        rc.resolve("y#n", '{"n": 1}', "/x/y")


def test_a_group_readable_file_gets_its_group_and_traversable_directories(tmp_path: Path) -> None:
    import grp
    group = grp.getgrgid(os.getgid()).gr_name
    path = tmp_path / "run" / "protea" / "app.env"
    old = os.umask(0o077)  # the unit's UMask
    try:
        assert rc.write_if_changed(str(path), "A=1\n", 0o640, group)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 and os.stat(path).st_gid == os.getgid()
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o711
    assert stat.S_IMODE(os.stat(path.parent.parent).st_mode) == 0o711
    assert not rc.write_if_changed(str(path), "A=1\n", 0o640, group)
    os.chmod(path, 0o600)
    assert rc.write_if_changed(str(path), "A=1\n", 0o640, group), "a changed mode is put right"
