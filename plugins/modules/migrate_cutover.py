#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""The database and file steps of the migration's cut-over, run on the old box in one module run.

Why a project module: while the old database refuses writes, every Ansible task costs a round
trip (about 0.2-0.5 s over ssh), and the freeze held about 25 of them (5.8-6.1 s of write
downtime at 3000 rows). No community module waits for a subscriber's LSN or a replica's binlog
position, copies sequence positions, or compares per-table checksums on both sides; here those
steps run back to back in one process, the two sides' checksums side by side, and the waits
poll every 0.1 s. The SQL goes to the engines' own clients on stdin (the old database as its
local administrator over the socket, RDS with the password from a 0600 client file), so no
password is a module argument or on a command line.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: migrate_cutover
short_description: Freeze, catch up, verify and detach the migration's database and files, in one run
version_added: 0.1.0
description:
  - Runs the listed O(steps) in order on the old box, stopping at the first that fails. For PostgreSQL
    (logical replication, RDS the subscriber) and MySQL/MariaDB (binlog replication, RDS the replica).
  - V(freeze) makes the old database refuse writes and ends the open application sessions (PostgreSQL
    C(default_transaction_read_only) on the database; MySQL/MariaDB C(read_only), persisted in a config file).
    V(writable) undoes it.
  - V(files) copies the file delta (O(files.sync_argv), an rsync command line); V(verify_files) runs
    O(files.verify_argv) (an rsync dry run that must itemize nothing) and compares the file counts.
  - V(catchup) waits until RDS has applied the old database's last commit; V(sequences) copies sequence
    positions (PostgreSQL; logical replication does not carry them); V(verify) compares every table's row
    count and checksum on both sides; V(detach) ends the replication (PostgreSQL DROP SUBSCRIPTION, which also
    drops the slot; MySQL/MariaDB the RDS procedures or STOP/RESET).
  - MySQL 8.4 and later use the C(source)/C(replica) statements and procedures (C(SHOW BINARY LOG STATUS),
    C(SOURCE_POS_WAIT), C(mysql.rds_reset_external_source)), chosen from each server's version.
  - The record written after the steps carries C(source_digest), the digest of the old side's verification.
  - In check mode nothing changes - the current mode is read, rsync runs with C(--dry-run), and the waits
    and verifications are skipped (nothing was frozen).
  - With O(rehearse), the steps run against the target (the copy) while the old database keeps taking writes -
    the mode is only read, the delta and the catch-up run, the sequences are read, both verifications run
    and report differences (expected under live writes) without failing, and the target stays attached.
    The timings say what the freeze would cost.
options:
  engine:
    description: The engine, as the rds role names it.
    type: str
    required: true
    choices: [postgres, mysql, mariadb]
  database:
    description: The application's database (the same name on both sides).
    type: str
    required: true
  schemas:
    description: PostgreSQL schemas verified and whose sequences are copied.
    type: list
    elements: str
    default: [public]
  source_argv:
    description: The client command line for the old database as its local administrator; SQL goes on stdin.
    type: list
    elements: str
    required: true
  target_argv:
    description: The client command line for RDS; it reads the password from a client file, never from here.
    type: list
    elements: str
    required: true
  steps:
    description: The steps, in the order to run them.
    type: list
    elements: str
    required: true
    choices: [freeze, writable, files, catchup, sequences, verify, verify_files, detach]
  subscription:
    description: The PostgreSQL subscription (and replication slot) name.
    type: str
    default: protea_migrate
  replication_user:
    description: The replication account (its sessions are not ended at the freeze).
    type: str
    default: protea_migrate
  system_users:
    description: MySQL/MariaDB accounts whose sessions are not ended at the freeze.
    type: list
    elements: str
    default: [root, mysql, debian-sys-maint, system user, event_scheduler, mariadb.sys]
  mysql_conf_dir:
    description: Where the MySQL/MariaDB server reads extra config files (the read-only mode is persisted there).
    type: path
    default: /etc/mysql/mariadb.conf.d
  mysql_replica_setup:
    description: V(rds) controls the replica through RDS's procedures, V(sql) with plain statements.
    type: str
    choices: [rds, sql]
    default: rds
  catchup_timeout:
    description: Seconds to wait for RDS to apply the last commit.
    type: int
    default: 300
  rehearse:
    description: Rehearse the steps (see the description) - nothing the old box writes or serves changes.
    type: bool
    default: false
  source_digest:
    description:
      - For a cut-over resumed after its detach was recorded - the digest of the old side's verification then
        (the record's C(source_digest)). V(verify) then checks only that the old database still gives it; the target,
        which may have taken the new stack's writes since, is not compared.
    type: str
  record_path:
    description:
      - A file to write O(record) to (JSON, atomically) once every step succeeded - the caller's state, kept on
        the old box, written in the same run so that recording it costs the freeze no extra round trip.
      - Not written in check mode or with O(rehearse).
    type: path
  record:
    description: What to write to O(record_path).
    type: dict
  files:
    description: The file steps' command lines - C(sync_argv), C(verify_argv), and C(roots) (the two directories
      whose files are counted) with C(exclude) (name patterns not counted) and C(exact) (default true; false - the
      second root may hold more files, as EFS after the new stack took writes).
    type: dict
    default: {}
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Freeze, final delta, catch-up, verification, detach
  protea.platform.migrate_cutover:
    engine: postgres
    database: shopper
    source_argv: [runuser, -u, postgres, --, psql, -X, -At, -v, ON_ERROR_STOP=1, -d, shopper]
    target_argv:
      - psql
      - -XAt
      - "host=db.example port=5432 dbname=shopper user=admin passfile=/root/.protea-migrate/target.pgpass sslmode=verify-full"
    steps: [freeze, files, catchup, sequences, verify, verify_files, detach]
    files:
      sync_argv: [rsync, --archive, --itemize-changes, /srv/shopper/, /mnt/efs-new/app/]
      verify_argv: [rsync, --archive, --dry-run, --delete, --itemize-changes, --checksum, /srv/shopper/, /mnt/efs-new/app/]
      roots: [/srv/shopper/, /mnt/efs-new/app/]
"""

RETURN = r"""
timings:
  description: Seconds each step took, by step.
  returned: always
  type: dict
recorded:
  description: The path O(record) was written to.
  returned: when O(record_path) was given and every step succeeded
  type: str
rehearsal:
  description: With O(rehearse), what a real cut-over would have found - C(table_differences), C(file_differences).
  returned: when rehearse is true
  type: dict
verify:
  description: The per-table comparison - C(source) and C(target) lines (table, row count, checksum).
  returned: when the verify step ran
  type: dict
files:
  description: What the file steps found - C(changes) (the delta's itemized lines) and C(counts) (files per root).
  returned: when a file step ran
  type: dict
"""

import fnmatch
import hashlib
import json
import os
import re
import threading
import time

from ansible.module_utils.basic import AnsibleModule

READ_ONLY_CNF = "91-protea-migrate-read-only.cnf"


class StepFailed(Exception):
    """A step found the cut-over must not go on (the message says why)."""


def quote_ident(name):
    """A SQL identifier, double-quoted for PostgreSQL."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value):
    """A SQL string literal (standard_conforming_strings, as both engines default to)."""
    return "'" + str(value).replace("'", "''") + "'"


def version_tuple(text):
    """(major, minor) from a server's VERSION() / server_version, (0, 0) when unreadable."""
    found = re.match(r"\s*(\d+)(?:\.(\d+))?", str(text))
    return (int(found.group(1)), int(found.group(2) or 0)) if found else (0, 0)


def rows(text, sep="\t"):
    return [line.split(sep) for line in text.splitlines() if line.strip()]


def table_with_headers(text):
    """[{header: value}] from a client's tab-separated output with a header line."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return []
    head = lines[0].split("\t")
    return [dict(zip(head, line.split("\t"))) for line in lines[1:]]


# --- PostgreSQL ------------------------------------------------------------------------------
def pg_mode_sql(database, read_only):
    setting = (f"ALTER DATABASE {quote_ident(database)} SET default_transaction_read_only = on;\n"
               "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
               "AND backend_type = 'client backend' AND pid <> pg_backend_pid();")
    if not read_only:
        setting = f"ALTER DATABASE {quote_ident(database)} RESET default_transaction_read_only;"
    # This session starts read-only too once the database is: the change is made read-write.
    return "SET default_transaction_read_only = off;\n" + setting + "\n"


PG_MODE_NOW = ("SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
               "WHERE d.datname = current_database() AND s.setrole = 0 "
               "AND 'default_transaction_read_only=on' = ANY(s.setconfig);")


def pg_tables_sql(schemas):
    listed = ", ".join(quote_literal(s) for s in schemas)
    return ("SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
            f"WHERE schemaname IN ({listed}) ORDER BY 1")


def pg_checksum_statements_sql(schemas):
    """Run on the source: one SELECT per table (name, row count, md5 of the sorted row md5s)."""
    return ("SELECT format('SELECT %L, count(*), coalesce(md5(string_agg(md5(t::text), %L ORDER BY md5(t::text))), %L) "
            f"FROM %s t', tbl, '', '', tbl) FROM ({pg_tables_sql(schemas)}) AS x(tbl);")


PG_VERIFY_PRELUDE = ("SET TimeZone = 'UTC';\nSET DateStyle = 'ISO, YMD';\nSET IntervalStyle = 'postgres';\n"
                     "SET extra_float_digits = 1;\nSET bytea_output = 'hex';\n")


def pg_sequences_sql(schemas):
    listed = ", ".join(quote_literal(s) for s in schemas)
    return ("SELECT format('SELECT setval(%L, %s, true);', quote_ident(schemaname) || '.' || quote_ident(sequencename), "
            f"last_value) FROM pg_sequences WHERE last_value IS NOT NULL AND schemaname IN ({listed});")


# --- MySQL / MariaDB -------------------------------------------------------------------------
def mysql_columns_sql():
    # GROUP_CONCAT stops at group_concat_max_len (1024 bytes by default): a wide table's list would be cut.
    return ("SET SESSION group_concat_max_len = 1048576;\nSELECT c.table_name, GROUP_CONCAT(CONCAT('`', REPLACE(c.column_name, '`', '``'), '`') "
            "ORDER BY c.ordinal_position SEPARATOR ',') FROM information_schema.columns c "
            "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = DATABASE() AND t.table_type = 'BASE TABLE' GROUP BY c.table_name ORDER BY c.table_name;")


def mysql_checksum_sql(columns):
    """Per table: row count and an order-independent checksum (BIT_XOR of each row's MD5, NULLs
    marked), as pt-table-checksum does, in UTC. ``columns``: [(table, 'quoted,cols')]."""
    out = ["SET time_zone = '+00:00';"]
    for table, cols in columns:
        nulls = ", ".join(f"ISNULL({c})" for c in cols.split(","))
        out.append(
            f"SELECT {quote_literal(table)}, COUNT(*), COALESCE(LPAD(CONV(BIT_XOR(CAST(CONV(SUBSTRING(MD5(CONCAT_WS('#', "
            f"{cols}, CONCAT({nulls}))), 1, 16), 16, 10) AS UNSIGNED)), 10, 16), 16, '0'), '') "
            f"FROM `{table.replace('`', '``')}`;")
    return "\n".join(out) + "\n"


def mysql_uses_source_terms(engine, version):
    """MySQL 8.4 removed SHOW MASTER STATUS, MASTER_POS_WAIT and the *_master RDS procedures."""
    return engine == "mysql" and version_tuple(version) >= (8, 4)


def mysql_detach_sql(setup, source_terms):
    if setup == "rds":
        reset = "mysql.rds_reset_external_source" if source_terms else "mysql.rds_reset_external_master"
        return f"CALL mysql.rds_stop_replication;\nCALL {reset};\n"
    if source_terms:
        return "STOP REPLICA;\nRESET REPLICA ALL;\n"
    return "STOP SLAVE;\nRESET SLAVE ALL;\n"


def mysql_status_sql(engine, setup, source_terms):
    # RDS for MariaDB (10.5+) gives the master user no SLAVE MONITOR: only its procedure.
    if engine == "mariadb" and setup == "rds":
        return "CALL mysql.rds_replica_status;"
    return "SHOW REPLICA STATUS;" if source_terms else "SHOW SLAVE STATUS;"


def source_digest(output):
    """One digest of a verification's per-table lines (what the record keeps of the old side)."""
    lines = [line for line in output.splitlines() if line.strip() and line != "SET"]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def read_text(path):
    """A file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def count_files(root, exclude):
    total = 0
    for _dirpath, _dirs, names in os.walk(root):
        total += sum(1 for n in names if not any(fnmatch.fnmatch(n, pat) for pat in exclude))
    return total


class Cutover:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check = module.check_mode
        self.rehearse = module.params["rehearse"]
        self.family = "postgres" if self.p["engine"] == "postgres" else "mysql"
        self.changed = False
        self.result = {"timings": {}}
        self._versions = {}

    # -- clients ------------------------------------------------------------------------------
    def run(self, side, sql, headers=False, force=False):
        argv = list(self.p["source_argv"] if side == "source" else self.p["target_argv"])
        if headers:
            argv = [a for a in argv if a != "-N"]
        if force:
            argv.append("--force")
        rc, out, err = self.module.run_command(argv, data=sql, binary_data=True)
        if rc != 0 and not force:
            raise StepFailed(f"{side} database: {err.strip() or out.strip()}")
        return out

    def both(self, sql_by_side):
        """The same kind of query on both sides at once (their reading time overlaps)."""
        found, errors = {}, {}

        def one(side):
            try:
                found[side] = self.run(side, sql_by_side[side])
            except StepFailed as exc:
                errors[side] = str(exc)

        threads = [threading.Thread(target=one, args=(side,)) for side in ("source", "target")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return found, errors

    def version(self, side):
        if side not in self._versions:
            sql = "SHOW server_version;" if self.family == "postgres" else "SELECT VERSION();"
            self._versions[side] = self.run(side, sql).strip()
        return self._versions[side]

    def source_terms(self, side):
        return self.family == "mysql" and mysql_uses_source_terms(self.p["engine"], self.version(side))

    # -- steps ----------------------------------------------------------------------------------
    def step_freeze(self):
        self._mode(read_only=True)

    def step_writable(self):
        self._mode(read_only=False)

    def _mode(self, read_only):
        if self.rehearse:  # the old site keeps taking writes: the mode is only read
            now = self.run("source", PG_MODE_NOW if self.family == "postgres" else "SELECT @@global.read_only;").strip()
            if now == "1":
                raise StepFailed("the old database is read-only (an interrupted cut-over?): a rehearsal needs the old "
                                 "site serving; run --tags cut-over to finish it, or --tags rollback")
            return
        if self.family == "postgres":
            now = self.run("source", PG_MODE_NOW).strip() == "1"
            if now != read_only:
                self.changed = True
                if not self.check:
                    self.run("source", pg_mode_sql(self.p["database"], read_only))
            return
        cnf = os.path.join(self.p["mysql_conf_dir"], READ_ONLY_CNF)
        wanted = "# protea migrate: the legacy site is read-only (maintenance / fallback)\n[mysqld]\nread_only = ON\n"
        # Persisted first: a server restarted during the freeze comes back read-only.
        if read_only and read_text(cnf) != wanted:
            self.changed = True
            if not self.check:
                with open(cnf + ".tmp", "w", encoding="utf-8") as fh:
                    fh.write(wanted)
                os.chmod(cnf + ".tmp", 0o644)
                os.replace(cnf + ".tmp", cnf)
        if not read_only and os.path.exists(cnf):
            self.changed = True
            if not self.check:
                os.unlink(cnf)
        now = self.run("source", "SELECT @@global.read_only;").strip() == "1"
        if now == read_only:
            return
        self.changed = True
        if self.check:
            return
        self.run("source", f"SET GLOBAL read_only = {'ON' if read_only else 'OFF'};")
        if read_only:
            spared = ", ".join(quote_literal(u) for u in list(self.p["system_users"]) + [self.p["replication_user"]])
            kills = self.run("source", "SELECT CONCAT('KILL ', id, ';') FROM information_schema.processlist "
                                       "WHERE id <> CONNECTION_ID() AND command NOT IN ('Binlog Dump', 'Binlog Dump GTID', "
                                       f"'Daemon') AND user NOT IN ({spared});")
            if kills.strip():
                self.run("source", kills, force=True)  # a session that ended meanwhile is no error

    def step_files(self):
        argv = list(self.p["files"]["sync_argv"]) + (["--dry-run"] if self.check else [])
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            raise StepFailed(f"file delta: rsync rc={rc}: {err.strip()[-2000:]}")
        changes = [line for line in out.splitlines() if line.strip()]
        self.result.setdefault("files", {})["changes"] = changes
        self.changed = self.changed or bool(changes)

    def step_verify_files(self):
        if self.check:
            return
        files = self.p["files"]
        rc, out, err = self.module.run_command(list(files["verify_argv"]))
        if rc != 0:
            raise StepFailed(f"file verification failed: rsync rc={rc}: {err.strip()[-2000:]}")
        diff = [line for line in out.splitlines() if line.strip()]
        counts = [count_files(root, files.get("exclude") or []) for root in files["roots"]]
        # Not exact once the new stack may have taken writes: EFS may hold files the old box
        # never had (no --delete in verify_argv then); every old file must be there, equal.
        short = counts[0] != counts[1] if files.get("exact", True) else counts[0] > counts[1]
        self.result.setdefault("files", {}).update({"counts": counts, "differences": diff[:20]})
        if self.rehearse:
            self.result.setdefault("rehearsal", {})["file_differences"] = len(diff) + abs(counts[0] - counts[1])
            return
        if diff or short:
            raise StepFailed(f"file verification failed ({counts[0]} vs {counts[1]} files): {diff[:20]}")

    def step_catchup(self):
        if self.check:
            return
        timeout, deadline = self.p["catchup_timeout"], time.monotonic() + self.p["catchup_timeout"]
        if self.family == "postgres":
            sub = quote_literal(self.p["subscription"])
            if self.run("target", f"SELECT count(*) FROM pg_subscription WHERE subname = {sub};").strip() != "1":
                return  # detached already: the target holds all it will get
            # Read after the writes stopped: everything committed is before it.
            lsn = self.run("source", "SELECT pg_current_wal_lsn();").strip()
            query = (f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = {sub} "
                     f"AND confirmed_flush_lsn >= {quote_literal(lsn)}::pg_lsn;")
            while self.run("source", query).strip() != "1":
                if time.monotonic() > deadline:
                    raise StepFailed(f"the subscription {self.p['subscription']} did not confirm {lsn} within {timeout} s")
                time.sleep(0.1)
            return
        if not self._replica_status():
            return
        source_terms = self.source_terms("source")
        status = table_with_headers(self.run("source", "SHOW BINARY LOG STATUS;" if source_terms else "SHOW MASTER STATUS;",
                                             headers=True))
        if not status:
            raise StepFailed("the old server reports no binlog position (is log_bin on?)")
        wait = "SOURCE_POS_WAIT" if self.source_terms("target") else "MASTER_POS_WAIT"
        got = self.run("target", f"SELECT {wait}({quote_literal(status[0]['File'])}, {int(status[0]['Position'])}, "
                                 f"{int(timeout)});").strip()
        if got in ("-1", "NULL", ""):
            raise StepFailed(f"the replica did not apply up to {status[0]['File']}:{status[0]['Position']} "
                             f"within {timeout} s ({wait} returned {got or 'nothing'})")

    def _replica_status(self):
        return table_with_headers(self.run("target", mysql_status_sql(
            self.p["engine"], self.p["mysql_replica_setup"], self.source_terms("target")), headers=True))

    def step_sequences(self):
        if self.family != "postgres":
            return
        statements = self.run("source", pg_sequences_sql(self.p["schemas"]))
        if statements.strip() and not self.rehearse:
            self.changed = True
            if not self.check:
                self.run("target", statements)

    def step_verify(self):
        if self.check:
            return
        if self.family == "postgres":
            per_table = self.run("source", pg_checksum_statements_sql(self.p["schemas"])).splitlines()
            per_table = [s for s in per_table if s.strip()]
            sql = PG_VERIFY_PRELUDE + (" UNION ALL ".join(per_table) + " ORDER BY 1;" if per_table else "SELECT 1 WHERE false;")
        else:
            columns = [(r[0], r[1]) for r in rows(self.run("source", mysql_columns_sql())) if len(r) == 2]
            sql = mysql_checksum_sql(columns)
        if self.p["source_digest"]:
            # Resumed after the detach was recorded: the comparison with the target passed then, and
            # the target may since hold the new stack's writes. What must hold is that the old
            # database is what was verified (read-only ever since).
            digest = source_digest(self.run("source", sql))
            self.result["verify"] = {"source_digest": digest}
            if digest != self.p["source_digest"]:
                raise StepFailed("database verification failed: the old database changed since it was verified at the "
                                 "detach (it was made writable?)")
            return
        found, errors = self.both({"source": sql, "target": sql})
        clean = {side: [line for line in found.get(side, "").splitlines() if line.strip() and line != "SET"]
                 for side in ("source", "target")}
        self.result["verify"] = {"source": clean["source"], "target": clean["target"], "errors": sorted(errors.values()),
                                 "source_digest": source_digest(found.get("source", ""))}
        if self.rehearse and not errors:
            self.result.setdefault("rehearsal", {})["table_differences"] = len(set(clean["source"]) ^ set(clean["target"]))
            return
        if errors or clean["source"] != clean["target"] or not clean["source"]:
            only_source = [line for line in clean["source"] if line not in clean["target"]]
            only_target = [line for line in clean["target"] if line not in clean["source"]]
            raise StepFailed(f"database verification failed: source only {only_source}, target only {only_target} "
                             + " ".join(sorted(errors.values())))

    def step_detach(self):
        if self.rehearse:  # the target keeps replicating
            return
        if self.family == "postgres":
            sub = self.p["subscription"]
            present = self.run("target", f"SELECT count(*) FROM pg_subscription WHERE subname = {quote_literal(sub)};").strip()
            if present == "1":
                self.changed = True
                if not self.check:
                    # Dropping the subscription also drops its slot on the source (which would keep WAL forever).
                    self.run("target", f"DROP SUBSCRIPTION IF EXISTS {quote_ident(sub)};")
            return
        if self._replica_status():
            self.changed = True
            if not self.check:
                self.run("target", mysql_detach_sql(self.p["mysql_replica_setup"], self.source_terms("target")))

    def main(self):
        for step in self.p["steps"]:
            started = time.monotonic()
            try:
                getattr(self, f"step_{step}")()
            except StepFailed as exc:
                self.result["timings"][step] = round(time.monotonic() - started, 3)
                self.module.fail_json(msg=str(exc), changed=self.changed, failed_step=step, **self.result)
            self.result["timings"][step] = round(time.monotonic() - started, 3)
        if self.p["record_path"] and not self.check and not self.rehearse:
            try:
                self.write_record()
            except OSError as exc:
                self.module.fail_json(msg=f"every step succeeded, but {self.p['record_path']} could not be written: {exc}",
                                      changed=self.changed, failed_step="record", **self.result)
        self.module.exit_json(changed=self.changed, **self.result)

    def write_record(self):
        record = dict(self.p["record"] or {})
        if "source_digest" in self.result.get("verify", {}):
            record["source_digest"] = self.result["verify"]["source_digest"]
        path, text = self.p["record_path"], json.dumps(record)
        if read_text(path) != text:
            with open(path + ".tmp", "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(path + ".tmp", 0o644)
            os.replace(path + ".tmp", path)
            self.changed = True
        self.result["recorded"] = path


def main():
    module = AnsibleModule(
        argument_spec=dict(
            engine=dict(type="str", required=True, choices=["postgres", "mysql", "mariadb"]),
            database=dict(type="str", required=True),
            schemas=dict(type="list", elements="str", default=["public"]),
            source_argv=dict(type="list", elements="str", required=True),
            target_argv=dict(type="list", elements="str", required=True),
            steps=dict(type="list", elements="str", required=True,
                       choices=["freeze", "writable", "files", "catchup", "sequences", "verify", "verify_files", "detach"]),
            subscription=dict(type="str", default="protea_migrate"),
            replication_user=dict(type="str", default="protea_migrate"),
            system_users=dict(type="list", elements="str",
                              default=["root", "mysql", "debian-sys-maint", "system user", "event_scheduler", "mariadb.sys"]),
            mysql_conf_dir=dict(type="path", default="/etc/mysql/mariadb.conf.d"),
            mysql_replica_setup=dict(type="str", choices=["rds", "sql"], default="rds"),
            catchup_timeout=dict(type="int", default=300),
            rehearse=dict(type="bool", default=False),
            source_digest=dict(type="str"),
            record_path=dict(type="path"),
            record=dict(type="dict"),
            files=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    missing = [k for k in ("sync_argv", "verify_argv", "roots") if k not in module.params["files"]]
    if {"files", "verify_files"} & set(module.params["steps"]) and missing:
        module.fail_json(msg=f"migrate_cutover: the file steps need files.{', files.'.join(missing)}")
    Cutover(module).main()


if __name__ == "__main__":
    main()
