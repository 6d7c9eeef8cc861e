"""The command audit is append-only and chained (telephony.audit): Django
refuses every change, `verify_audit` proves the chain or names the first
row an edit in the database itself broke, and writers appending at once
still make one chain. Runs under SQLite and PostgreSQL (make test-postgres)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.migrations.executor import MigrationExecutor

from telephony.audit import GENESIS, canonical, row_digest
from telephony.history import services
from telephony.models import AuditAppendOnly, AuditChainHead, CommandAudit

TABLE = CommandAudit._meta.db_table


def append(n: int = 1, **fields: Any) -> list[CommandAudit]:
    values = {
        "username": "alice",
        "action": "hold",
        "telephony_session_id": "s-1",
        "party_id": "p-1",
        "outcome": "accepted",
        "http_status": 200,
        **fields,
    }
    return [services.command_audit_create(**values) for _ in range(n)]


def verify() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def broken() -> str:
    with pytest.raises(CommandError) as refused:
        verify()
    assert refused.value.returncode == 1
    return str(refused.value)


def raw(sql: str, params: list[Any], table: str = TABLE) -> None:
    """An edit made in the database itself, past Django's guards."""
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=table), params)


@pytest.mark.django_db
def test_each_row_hashes_its_content_and_the_previous_rows_hash():
    first, second = append(2, params={"phoneNumber": "+14155550199"})
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.row_hash
    stored = CommandAudit.objects.get(pk=second.pk)
    assert stored.row_hash == row_digest(stored) == second.row_hash
    assert canonical(stored).startswith(b'{"action":"hold","error_code":"",')


@pytest.mark.django_db
def test_a_stored_row_cannot_be_saved_again():
    row = CommandAudit.objects.get(pk=append()[0].pk)
    row.message = "nothing happened"
    with pytest.raises(AuditAppendOnly):
        row.save()
    assert CommandAudit.objects.get(pk=row.pk).message == ""


@pytest.mark.django_db
def test_a_row_cannot_be_deleted():
    row = append()[0]
    with pytest.raises(AuditAppendOnly):
        row.delete()
    assert CommandAudit.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        lambda rows: rows.update(message="edited"),
        lambda rows: rows.delete(),
        lambda rows: rows.bulk_update(list(rows), ["message"]),
        lambda rows: rows.bulk_create([CommandAudit(username="x", action="hold")]),
    ],
    ids=["update", "delete", "bulk_update", "bulk_create"],
)
def test_querysets_refuse_bulk_changes(change):
    append(2)
    with pytest.raises(AuditAppendOnly):
        change(CommandAudit.objects.all())
    assert list(CommandAudit.objects.values_list("message", flat=True)) == ["", ""]
    assert "intact: 2 rows" in verify()


@pytest.mark.django_db
def test_verify_audit_reports_an_intact_chain():
    rows = append(3)
    assert verify().startswith(f"Audit trail intact: 3 rows (first #{rows[0].pk} at ")
    assert f"last #{rows[-1].pk} at " in verify()
    assert rows[-1].row_hash in verify()


@pytest.mark.django_db
def test_verify_audit_reports_an_empty_trail_as_intact():
    assert verify() == "Audit trail intact: 0 rows\n"


@pytest.mark.django_db
def test_verify_audit_names_a_row_edited_in_the_database():
    rows = append(4)
    raw("UPDATE {table} SET message = %s WHERE id = %s", ["all fine", rows[2].pk])
    assert broken().startswith(f"Audit trail broken: row #{rows[2].pk} (")
    assert "its hash does not match its content" in broken()


@pytest.mark.django_db
def test_verify_audit_names_a_row_whose_hash_was_forged_to_match_an_edit():
    rows = append(4)
    forged = CommandAudit.objects.get(pk=rows[1].pk)
    forged.message = "all fine"
    raw(
        "UPDATE {table} SET message = %s, row_hash = %s WHERE id = %s",
        ["all fine", row_digest(forged), forged.pk],
    )
    assert broken().startswith(f"Audit trail broken: row #{rows[2].pk} (")
    assert f"its prev_hash does not match the previous row, #{rows[1].pk}" in broken()


@pytest.mark.django_db
def test_verify_audit_names_the_gap_a_deleted_middle_row_leaves():
    rows = append(5)
    raw("DELETE FROM {table} WHERE id = %s", [rows[2].pk])
    message = broken()
    assert message.startswith(f"Audit trail broken: row #{rows[3].pk} (")
    assert f"a row is missing (a gap in the chain after #{rows[1].pk}" in message


@pytest.mark.django_db
def test_verify_audit_notices_deleted_last_rows():
    rows = append(3)
    raw("DELETE FROM {table} WHERE id >= %s", [rows[1].pk])
    message = broken()
    assert f"rows after row #{rows[0].pk} (" in message
    assert f"the chain head's last is #{rows[2].pk}" in message


@pytest.mark.django_db
def test_verify_audit_notices_a_deleted_first_row():
    rows = append(2)
    raw("DELETE FROM {table} WHERE id = %s", [rows[0].pk])
    assert "its prev_hash is not the genesis value" in broken()


@pytest.mark.django_db
def test_verify_audit_notices_a_deleted_chain_head():
    append(2)
    raw("DELETE FROM {table}", [], table=AuditChainHead._meta.db_table)
    assert "the chain head is missing" in broken()


@pytest.fixture
def file_database(tmp_path: Path) -> Iterator[None]:
    """Under SQLite, a database file like production's for this test: the
    test database lives in memory (shared cache), where a second writer
    fails at once ("table is locked") instead of waiting for the first,
    as BEGIN IMMEDIATE on a file makes it (dashboard/settings.py)."""
    if connection.vendor != "sqlite":
        yield
        return
    shared = connections.settings[DEFAULT_DB_ALIAS]  # what threads connect with
    in_memory, name = connections[DEFAULT_DB_ALIAS], shared["NAME"]
    shared["NAME"] = str(tmp_path / "audit.sqlite3")
    connections[DEFAULT_DB_ALIAS] = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        call_command("migrate", verbosity=0)
        assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        yield
    finally:
        connection.close()
        shared["NAME"] = name
        connections[DEFAULT_DB_ALIAS] = in_memory


@pytest.mark.django_db(transaction=True)
def test_writers_appending_at_once_make_one_unbroken_chain(file_database):
    writers, each = 6, 15
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(name: str) -> None:
        try:
            start.wait(timeout=10)
            append(each, username=name)
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=write, args=(f"writer-{n}",)) for n in range(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert f"Audit trail intact: {writers * each} rows" in verify()
    prevs = list(CommandAudit.objects.values_list("prev_hash", flat=True))
    assert len(set(prevs)) == len(prevs)  # no two rows chained to the same one


@pytest.mark.django_db(transaction=True)
def test_the_migration_chains_the_rows_written_before_it():
    before = [("telephony", "0007_roles")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model(
            "telephony", "CommandAudit"
        )
        for n in range(3):
            old.objects.create(
                username=f"user-{n}", action="end", telephony_session_id="s-9",
                party_id="p-9", outcome="accepted", params={"n": n},
            )  # fmt: skip
        MigrationExecutor(connection).migrate([("telephony", "0008_audit_chain")])
        assert "Audit trail intact: 3 rows" in verify()
        newest = services.command_audit_create(
            username="bob", action="hold", telephony_session_id="s-9",
            party_id="p-9", outcome="accepted",
        )  # fmt: skip
        assert "Audit trail intact: 4 rows" in verify()
        assert newest.prev_hash == CommandAudit.objects.order_by("pk")[2].row_hash
    finally:  # every later migration again, for the tests after this one
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
