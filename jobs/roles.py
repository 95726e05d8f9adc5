"""The PostgreSQL roles of a shared deployment, as SQL. No I/O (``round roles`` runs it).

Three group roles hold the rights (docs/operations.md, "Roles", has the matrix table by
table); login roles are members of one of them:

- ``fragscope_worker``: one login role per vantage, ``fragscope_worker_<vantage>``. It
  inserts observations and ledger rows, reads what resume and the schema check need (its
  own vantage's runs and their ledger, the schema revision, the vocabularies), renews run
  leases and takes its own vantage's jobs. It cannot read any observation (INSERT is its
  only right on those tables) and cannot delete anything of fragscope's. Row-level
  security (PostgreSQL's CREATE POLICY) confines it to its vantage's runs, ledger and job
  queue: the vantage comes from the login role's name, which a session cannot change.
- ``fragscope_analyst``: reads everything, writes only indicator values
  (``indicators compute``).
- the coordinator is the database's owner (migrations, ``round submit``, pruning): it
  needs no grant, and the owner of a table is not subject to its policies.
"""

from __future__ import annotations

from collections.abc import Sequence

from fragscope.db.models import Base
from fragscope.jobs.queue import worker_queue_sql

WORKER = "fragscope_worker"
ANALYST = "fragscope_analyst"
WORKER_PREFIX = f"{WORKER}_"
ROLE_NAME_LIMIT = 63
"""PostgreSQL's identifier length (NAMEDATALEN - 1)."""

VANTAGE_FUNCTION = "fragscope_worker_vantage"
"""SQL function: the vantage of the worker logged in (from its role's name), else NULL."""

# What a worker may do to each fragscope table that is not an observation table.
WORKER_RIGHTS: dict[str, str] = {
    "alembic_version": "SELECT",
    "vocab_failure": "SELECT",
    "vocab_operation": "SELECT",
    "vocab_transport": "SELECT",
    "vocab_path_outcome": "SELECT",
    "vantages": "SELECT, INSERT",
    "runs": "SELECT, INSERT, UPDATE",
    "tasks_done": "SELECT, INSERT",
    "task_followups": "SELECT, INSERT",
    "run_leases": "SELECT, INSERT, UPDATE",
    "targets": "INSERT",
    "indicator_values": "",
}
OWN_VANTAGE = f"vantage_id IN (SELECT id FROM vantages WHERE label = {VANTAGE_FUNCTION}())"
OWN_RUNS = "run_id IN (SELECT id FROM runs)"  # runs itself shows a worker only its own
POLICIES: dict[str, str] = {
    "runs": OWN_VANTAGE,
    "tasks_done": OWN_RUNS,
    "task_followups": OWN_RUNS,
}


def observation_tables() -> list[str]:
    """Every table of the schema but those in :data:`WORKER_RIGHTS`: the observations
    and their child rows, which a worker may only insert."""
    return sorted(t for t in Base.metadata.tables if t not in WORKER_RIGHTS)


def worker_role(vantage: str) -> str:
    name = WORKER_PREFIX + vantage
    if len(name.encode()) > ROLE_NAME_LIMIT:
        raise ValueError(
            f"--worker {vantage!r}: the role {name!r} is longer than PostgreSQL's "
            f"{ROLE_NAME_LIMIT} bytes; use a shorter vantage label"
        )
    return name


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _create_role(name: str, *, login: bool) -> str:
    kind = "LOGIN" if login else "NOLOGIN"
    return (
        f"DO $$ BEGIN CREATE ROLE {quote(name)} {kind}; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )


def _policy(table: str, name: str, role: str, using: str) -> list[str]:
    return [
        f"DROP POLICY IF EXISTS {name} ON {table}",
        f"CREATE POLICY {name} ON {table} TO {role} USING ({using}) WITH CHECK ({using})",
    ]


def roles_sql(workers: Sequence[str], analysts: Sequence[str]) -> list[str]:
    """Statements that create the group roles, their rights and policies, and a login
    role per worker vantage and per analyst name. Idempotent: run it again to add roles."""
    out = [
        _create_role(WORKER, login=False),
        _create_role(ANALYST, login=False),
        f"GRANT USAGE ON SCHEMA public TO {WORKER}, {ANALYST}",
        # SECURITY INVOKER and STABLE: current_user is the login role of the session.
        f"CREATE OR REPLACE FUNCTION {VANTAGE_FUNCTION}() RETURNS text LANGUAGE sql STABLE "
        f"AS $$ SELECT CASE WHEN starts_with(current_user, {literal(WORKER_PREFIX)}) "
        f"THEN substr(current_user, {len(WORKER_PREFIX) + 1}) END $$",
    ]
    for table, rights in WORKER_RIGHTS.items():
        out.append(f"REVOKE ALL ON {table} FROM {WORKER}")
        if rights:
            out.append(f"GRANT {rights} ON {table} TO {WORKER}")
    for table in observation_tables():
        out.append(f"REVOKE ALL ON {table} FROM {WORKER}")
        out.append(f"GRANT INSERT ON {table} TO {WORKER}")
    out.append(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ANALYST}")
    out.append(f"GRANT INSERT, UPDATE, DELETE ON indicator_values TO {ANALYST}")
    out.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {ANALYST}")
    for table, using in POLICIES.items():
        out.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        out += _policy(table, "worker_own_vantage", WORKER, using)
        out += _policy(table, "analyst_reads_all", ANALYST, "true")
    out += worker_queue_sql(WORKER, ANALYST, f"{VANTAGE_FUNCTION}()")
    for vantage in workers:
        role = worker_role(vantage)
        out += [_create_role(role, login=True), f"GRANT {WORKER} TO {quote(role)}"]
    for name in analysts:
        out += [_create_role(name, login=True), f"GRANT {ANALYST} TO {quote(name)}"]
    return out
