"""The call queues' membership in the database: replaced as a whole, with
only the differences written."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from telephony.history import services
from telephony.models import QueueMember


def membership() -> dict[str, list[str]]:
    stored: dict[str, list[str]] = {}
    for queue, member in QueueMember.objects.values_list(
        "queue_extension_id", "member_extension_id"
    ):
        stored.setdefault(queue, []).append(member)
    return stored


@pytest.mark.django_db
def test_replace_adds_removes_and_keeps_what_did_not_change() -> None:
    first = {"201": ["101", "102", "103"], "202": ["103", "104"]}
    assert services.queue_members_replace(members=first) == {
        "stored": 5,
        "added": 5,
        "removed": 0,
    }
    kept = QueueMember.objects.get(queue_extension_id="201", member_extension_id="101")
    # 102 leaves Sales, 105 joins it; Support is gone; Billing is new.
    second = {"201": ["101", "103", "105"], "203": ["104"]}
    assert services.queue_members_replace(members=second) == {
        "stored": 4,
        "added": 2,
        "removed": 3,
    }
    assert membership() == {"201": ["101", "103", "105"], "203": ["104"]}
    assert QueueMember.objects.get(pk=kept.pk).member_extension_id == "101"
    assert services.queue_members_replace(members=second)["added"] == 0


@pytest.mark.django_db
def test_integer_ids_are_stored_as_strings_and_repeats_once() -> None:
    services.queue_members_replace(members={"201": [101, 101, "102"]})  # type: ignore[list-item]
    assert membership() == {"201": ["101", "102"]}


@pytest.mark.django_db
def test_an_account_without_queues_has_no_membership() -> None:
    services.queue_members_replace(members={"201": ["101"]})
    assert services.queue_members_replace(members={}) == {
        "stored": 0,
        "added": 0,
        "removed": 1,
    }
    assert not QueueMember.objects.exists()


@pytest.mark.django_db
def test_a_large_membership_is_replaced_in_bounded_statements(
    django_assert_max_num_queries,
) -> None:
    # 20 queues of 500, as on the load-5000 floor.
    big = {str(q): [str(1000 + q * 500 + m) for m in range(500)] for q in range(20)}
    services.queue_members_replace(members=big)
    assert QueueMember.objects.count() == 10_000
    smaller = {q: ids[:250] for q, ids in big.items()}
    # One read, 10 deletes of 500, no insert (plus the transaction).
    with django_assert_max_num_queries(15):
        counts = services.queue_members_replace(members=smaller)
    assert counts == {"stored": 5_000, "added": 0, "removed": 5_000}


@pytest.mark.django_db
def test_a_member_is_in_a_queue_once() -> None:
    QueueMember.objects.create(queue_extension_id="201", member_extension_id="101")
    with pytest.raises(IntegrityError), transaction.atomic():
        QueueMember.objects.create(queue_extension_id="201", member_extension_id="101")
