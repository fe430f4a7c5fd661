"""protea.platform.migrate_cutover: the freeze's steps against scripted clients (the real servers:
tests/migration)."""
from __future__ import annotations

import pytest

from tests.helpers import load_plugin

mc = load_plugin("plugins/modules/migrate_cutover.py")
SRC = ["runuser", "-u", "postgres", "--", "psql", "-At", "-d", "shop"]
DST = ["psql", "-At", "host=db port=5432"]


class Exited(Exception):
    pass


class FakeModule:
    """Answers each client call from `answers` (first key found in the SQL), records the calls."""

    def __init__(self, params, answers, check=False):
        base = {"engine": "postgres", "database": "shop", "schemas": ["public"], "subscription": "protea_migrate",
                "replication_user": "protea_migrate", "system_users": ["root"], "mysql_conf_dir": "/nonexistent",
                "mysql_replica_setup": "rds", "catchup_timeout": 5, "files": {}, "rehearse": False, "record_path": None, "record": None, "source_digest": None,
                "source_argv": SRC, "target_argv": DST}
        self.params, self.answers, self.check_mode, self.calls = base | params, answers, check, []
        self.exit = None

    def run_command(self, argv, data=None, binary_data=False):
        side = "source" if argv[:len(SRC)] == SRC else "target"
        self.calls.append((side, data))
        for (want_side, needle), (rc, out) in self.answers.items():
            if want_side == side and needle in (data or ""):
                return rc, out, "" if rc == 0 else "ERROR: " + out
        raise AssertionError(f"unexpected {side} call: {data!r}")

    def exit_json(self, **kw):
        self.exit = kw
        raise Exited

    fail_json = exit_json


def run(params, answers, check=False):
    module = FakeModule(params, answers, check)
    with pytest.raises(Exited):
        mc.Cutover(module).main()
    return module


def test_freeze_makes_the_database_read_only_once():
    answers = {("source", "pg_db_role_setting"): (0, "0\n"), ("source", "ALTER DATABASE"): (0, "SET\nALTER\n3\n")}
    module = run({"steps": ["freeze"]}, answers)
    assert module.exit["changed"] is True and not module.exit.get("failed_step")
    alter = [d for _, d in module.calls if "ALTER DATABASE" in d][0]
    assert alter.startswith("SET default_transaction_read_only = off;")
    assert 'ALTER DATABASE "shop" SET default_transaction_read_only = on;' in alter and "pg_terminate_backend" in alter
    again = run({"steps": ["freeze"]}, {("source", "pg_db_role_setting"): (0, "1\n")})
    assert again.exit["changed"] is False and len(again.calls) == 1


def test_check_mode_reads_and_changes_nothing():
    module = run({"steps": ["freeze", "catchup", "verify", "detach"]},
                 {("source", "pg_db_role_setting"): (0, "0\n"), ("target", "pg_subscription"): (0, "1\n")}, check=True)
    assert module.exit["changed"] is True
    assert not [d for _, d in module.calls if "ALTER" in d or "DROP" in d or "pg_current_wal_lsn" in d]


def test_catchup_waits_for_the_slot_to_confirm_the_last_position():
    confirmations = iter(["0\n", "0\n", "1\n"])
    answers = {("target", "pg_subscription"): (0, "1\n"), ("source", "pg_current_wal_lsn"): (0, "0/3000060\n")}
    module = FakeModule({"steps": ["catchup"]}, answers)
    original = module.run_command

    def run_command(argv, data=None, binary_data=False):
        if "confirmed_flush_lsn" in (data or ""):
            assert "'0/3000060'::pg_lsn" in data
            module.calls.append(("source", data))
            return 0, next(confirmations), ""
        return original(argv, data, binary_data)

    module.run_command = run_command
    with pytest.raises(Exited):
        mc.Cutover(module).main()
    assert not module.exit.get("failed_step") and len([d for _, d in module.calls if "confirmed_flush_lsn" in d]) == 3


def test_verification_names_what_differs_and_stops_the_steps():
    statements = "SELECT 'public.visits', count(*) FROM public.visits t\n"
    answers = {("source", "SELECT format("): (0, statements),
               ("source", "UNION ALL"): (0, "public.visits|3000|abc\n"),
               ("source", "SET TimeZone"): (0, "SET\nSET\nSET\nSET\nSET\npublic.visits|3000|abc\n"),
               ("target", "SET TimeZone"): (0, "SET\nSET\nSET\nSET\nSET\npublic.visits|3001|abd\n")}
    module = run({"steps": ["verify", "detach"]}, answers)
    assert module.exit["failed_step"] == "verify"
    assert module.exit["msg"].startswith("database verification failed: source only ['public.visits|3000|abc'], "
                                         "target only ['public.visits|3001|abd']")
    assert "detach" not in module.exit["timings"]


def test_detach_drops_the_subscription_only_when_present():
    module = run({"steps": ["detach"]}, {("target", "SELECT count(*) FROM pg_subscription"): (0, "1\n"),
                                         ("target", "DROP SUBSCRIPTION"): (0, "DROP SUBSCRIPTION\n")})
    assert module.exit["changed"] is True and 'DROP SUBSCRIPTION IF EXISTS "protea_migrate";' in module.calls[-1][1]
    gone = run({"steps": ["detach"]}, {("target", "SELECT count(*) FROM pg_subscription"): (0, "0\n")})
    assert gone.exit["changed"] is False


@pytest.mark.parametrize("engine, version, source_terms", [
    ("mysql", "8.4.3", True), ("mysql", "8.0.39", False), ("mysql", "9.1.0", True),
    ("mariadb", "10.11.6-MariaDB-0+deb12u1", False), ("mariadb", "11.4.2-MariaDB", False),
])
def test_mysql_84_uses_the_source_vocabulary(engine, version, source_terms):
    assert mc.mysql_uses_source_terms(engine, version) is source_terms


def test_mysql_detach_and_status_statements():
    assert mc.mysql_detach_sql("rds", True) == "CALL mysql.rds_stop_replication;\nCALL mysql.rds_reset_external_source;\n"
    assert mc.mysql_detach_sql("rds", False).endswith("CALL mysql.rds_reset_external_master;\n")
    assert mc.mysql_detach_sql("sql", True) == "STOP REPLICA;\nRESET REPLICA ALL;\n"
    assert mc.mysql_status_sql("mariadb", "rds", False) == "CALL mysql.rds_replica_status;"
    assert mc.mysql_status_sql("mysql", "rds", True) == "SHOW REPLICA STATUS;"
    assert mc.mysql_status_sql("mysql", "sql", False) == "SHOW SLAVE STATUS;"


def test_mysql_checksum_marks_nulls_and_quotes_names():
    sql = mc.mysql_checksum_sql([("vis`its", "`id`,`zone`")])
    assert sql.startswith("SET time_zone = '+00:00';")
    assert "CONCAT(ISNULL(`id`), ISNULL(`zone`))" in sql and "FROM `vis``its`;" in sql


def test_quoting():
    assert mc.quote_ident('we"ird') == '"we""ird"' and mc.quote_literal("o'k") == "'o''k'"
    assert mc.version_tuple("15.4 (Debian 15.4-1)") == (15, 4) and mc.version_tuple("junk") == (0, 0)


def test_count_files_skips_excluded_names(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/x.bin", "y.bin", ".healthz-web1"):
        (tmp_path / name).write_text("1")
    assert mc.count_files(str(tmp_path), [".healthz-*"]) == 2


def test_a_rehearsal_freezes_nothing_fails_on_no_difference_and_keeps_the_target_attached():
    statements = "SELECT 'public.visits', count(*) FROM public.visits t\n"
    answers = {("source", "pg_db_role_setting"): (0, "0\n"), ("source", "SELECT format("): (0, statements),
               ("source", "SET TimeZone"): (0, "public.visits|3000|abc\n"),
               ("target", "SET TimeZone"): (0, "public.visits|2998|abd\n"),
               ("source", "pg_sequences"): (0, "SELECT setval('public.visits_id_seq', 3000, true);\n")}
    module = run({"steps": ["freeze", "sequences", "verify", "detach"], "rehearse": True}, answers)
    assert not module.exit.get("failed_step"), module.exit
    assert module.exit["changed"] is False and module.exit["rehearsal"] == {"table_differences": 2}
    assert all(side == "source" or "SET TimeZone" in data for side, data in module.calls), module.calls


def test_the_record_is_written_once_every_step_succeeded(tmp_path):
    state = tmp_path / "state.json"
    ok = run({"steps": ["detach"], "record_path": str(state), "record": {"phase": "detached"}},
             {("target", "SELECT count(*) FROM pg_subscription"): (0, "0\n")})
    assert ok.exit["recorded"] == str(state) and state.read_text() == '{"phase": "detached"}'
    again = run({"steps": ["detach"], "record_path": str(state), "record": {"phase": "detached"}},
                {("target", "SELECT count(*) FROM pg_subscription"): (0, "0\n")})
    assert again.exit["changed"] is False
    state.unlink()
    failed = run({"steps": ["detach"], "record_path": str(state), "record": {"phase": "detached"}},
                 {("target", "SELECT count(*) FROM pg_subscription"): (1, "connection refused")})
    assert failed.exit["failed_step"] == "detach" and not state.exists()


def test_a_resumed_verification_checks_only_that_the_old_side_is_unchanged(tmp_path):
    statements = "SELECT 'public.visits', count(*) FROM public.visits t\n"
    before = "public.visits|3000|abc\n"
    answers = {("source", "SELECT format("): (0, statements), ("source", "SET TimeZone"): (0, "SET\n" + before),
               ("target", "SET TimeZone"): (0, before)}
    state = tmp_path / "state.json"
    first = run({"steps": ["verify"], "record_path": str(state), "record": {"phase": "detached"}}, answers)
    digest = first.exit["verify"]["source_digest"]
    assert '"source_digest": "%s"' % digest in state.read_text()
    # Resumed: the target took writes since (not read at all); the old side is unchanged.
    answers[("target", "SET TimeZone")] = (0, "public.visits|3005|xyz\n")
    resumed = run({"steps": ["verify"], "source_digest": digest}, answers)
    assert not resumed.exit.get("failed_step") and not [s for s, _ in resumed.calls if s == "target"]
    answers[("source", "SET TimeZone")] = (0, "public.visits|3001|abd\n")
    changed = run({"steps": ["verify"], "source_digest": digest}, answers)
    assert changed.exit["failed_step"] == "verify" and "old database changed since it was verified" in changed.exit["msg"]
