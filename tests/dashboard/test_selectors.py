"""The console page's data: the directory with each extension's type and
the call queues with their members, built cheaply at any account size,
and embedded in the page as json_script."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group, User
from django.test import Client

from dashboard.selectors import call_queues_get, extension_directory_get
from telephony.history import services
from telephony.models import Extension, QueueMember
from telephony.ringcentral.client import RingCentralClient
from telephony.worker import upkeep


def ext(ext_id: str, number: str, name: str, kind: str = "User") -> dict[str, Any]:
    return {"id": ext_id, "extensionNumber": number, "name": name, "type": kind}


DIRECTORY = [
    ext("101", "101", "alice Agent"),
    ext("102", "102", "Bob Builder"),
    ext("103", "103", "Carmen Ortiz"),
    ext("201", "201", "Support", "Department"),
    ext("202", "202", "Billing", "Department"),
    ext("203", "203", "Sales", "Department"),
    ext("301", "300", "Main IVR", "IvrMenu"),
]


@pytest.mark.django_db
def test_the_directory_says_each_extensions_type() -> None:
    services.extension_directory_replace(records=DIRECTORY)
    directory = extension_directory_get()
    assert directory["101"] == {"number": "101", "name": "alice Agent", "type": "User"}
    assert directory["201"]["type"] == "Department"
    assert directory["301"] == {"number": "300", "name": "Main IVR", "type": "IvrMenu"}


@pytest.mark.django_db
def test_queues_sorted_by_name_with_their_members_by_name() -> None:
    services.extension_directory_replace(records=DIRECTORY)
    services.queue_members_replace(
        # 999 left the directory since (or is not readable): listed last.
        members={"201": ["103", "999", "101", "102"], "203": ["102"]}
    )
    assert call_queues_get() == [
        {"ext": "202", "number": "202", "name": "Billing", "members": []},
        {"ext": "203", "number": "203", "name": "Sales", "members": ["102"]},
        {
            "ext": "201",
            "number": "201",
            "name": "Support",
            "members": ["101", "102", "103", "999"],
        },
    ]


@pytest.mark.django_db
def test_membership_of_an_extension_that_is_no_queue_is_not_listed() -> None:
    services.extension_directory_replace(records=DIRECTORY)
    services.queue_members_replace(members={"301": ["101"], "777": ["102"]})
    assert all(q["members"] == [] for q in call_queues_get())


@pytest.mark.django_db
def test_ten_thousand_extensions_cost_two_queries(django_assert_num_queries) -> None:
    Extension.objects.bulk_create(
        [
            Extension(
                extension_id=str(10_000 + n), extension_number=str(n), name=f"A{n}"
            )
            for n in range(10_000)
        ]
        + [
            Extension(
                extension_id=str(q),
                extension_number=str(q),
                name=f"Q{q:02}",
                type="Department",
            )
            for q in range(20)
        ]
    )
    QueueMember.objects.bulk_create(
        [
            QueueMember(queue_extension_id=str(q), member_extension_id=str(10_000 + m))
            for q in range(20)
            for m in range(q * 500, q * 500 + 500)
        ]
    )
    with django_assert_num_queries(2):  # extensions, memberships
        directory = extension_directory_get()
        queues = call_queues_get(directory)
    assert len(directory) == 10_020
    assert [q["name"] for q in queues] == [f"Q{q:02}" for q in range(20)]
    assert sum(len(q["members"]) for q in queues) == 10_000
    with django_assert_num_queries(2):  # without the directory at hand
        call_queues_get()


def page_json(html: str, element_id: str) -> Any:
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html
    )
    assert found, element_id
    return json.loads(found.group(1))


def console_page() -> str:
    client = Client()
    user = User.objects.create_user("sup")
    user.groups.add(Group.objects.get(name="Viewer"))
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db(transaction=True)
async def test_the_console_page_embeds_what_the_worker_read_from_ringcentral(
    rc_client: RingCentralClient,
) -> None:
    # The worker's refresh against the embedded RingCentral (real sockets).
    await upkeep.refresh_directory(rc_client, members_interval=0)
    html = await database_sync_to_async(console_page)()
    directory = page_json(html, "directory")
    assert directory["1000000101"] == {
        "number": "101",
        "name": "Alice Agent",
        "type": "User",
    }
    assert directory["1000000202"]["type"] == "Department"
    queues = page_json(html, "queues")
    assert [(q["ext"], q["number"], q["name"]) for q in queues] == [
        ("1000000201", "201", "Sales"),
        ("1000000202", "202", "Support"),
    ]
    sales, support = (q["members"] for q in queues)
    # Alice Agent, Bob Builder, Carmen Ortiz, Deepak Rao, Emma Schultz.
    assert sales == [f"100000010{n}" for n in range(1, 6)]
    assert support == [f"10000001{n:02}" for n in range(6, 11)]
    # The agent board's view: each agent's queues, from the same data.
    assert [q["name"] for q in queues if "1000000103" in q["members"]] == ["Sales"]


@pytest.mark.django_db
def test_the_console_page_with_no_queues_yet() -> None:
    html = console_page()
    assert page_json(html, "queues") == []
    assert page_json(html, "directory") == {}
