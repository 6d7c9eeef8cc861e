"""Reads for the dashboard: models into JSON-ready dicts (no network).

Cheap at any size: each read is one `values_list` query over its table
(10,000 extensions and their queue memberships are two queries), never a
query per row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from telephony.models import Extension, QueueMember

# RingCentral's extension type of a call queue (docs/ringcentral.md 8.3).
CALL_QUEUE = "Department"


class DirectoryEntry(TypedDict):
    """One extension as the page knows it."""

    number: str
    name: str
    type: str  # RingCentral's: User, Department (a call queue), IvrMenu, ...


class CallQueue(TypedDict):
    """One call queue and its members' extension ids."""

    ext: str
    number: str
    name: str
    members: list[str]


def extension_directory_get() -> dict[str, DirectoryEntry]:
    """The extension directory: {extension_id: {"number", "name", "type"}}."""
    return {
        ext_id: {"number": number, "name": name, "type": kind}
        for ext_id, number, name, kind in Extension.objects.values_list(
            "extension_id", "extension_number", "name", "type"
        )
    }


def call_queues_get(
    directory: Mapping[str, DirectoryEntry] | None = None,
) -> list[CallQueue]:
    """The call queues (the directory's `Department` extensions) with their
    members as RingCentral listed them at the last refresh:
    [{"ext", "number", "name", "members": [extension_id, ...]}], sorted by
    name (then number); members by name, those unknown to the directory
    last. Pass the `directory` already read to spare its query."""
    if directory is None:
        directory = extension_directory_get()
    members: dict[str, list[str]] = {}
    for queue, member in QueueMember.objects.values_list(
        "queue_extension_id", "member_extension_id"
    ):
        members.setdefault(queue, []).append(member)

    def by_name(ext_id: str) -> tuple[bool, str, str, str]:
        entry = directory.get(ext_id)
        if entry is None:
            return (True, "", "", ext_id)
        return (False, entry["name"].casefold(), entry["number"], ext_id)

    queues: list[CallQueue] = [
        {
            "ext": ext_id,
            "number": entry["number"],
            "name": entry["name"],
            "members": sorted(members.get(ext_id, ()), key=by_name),
        }
        for ext_id, entry in directory.items()
        if entry["type"] == CALL_QUEUE
    ]
    queues.sort(key=lambda q: by_name(q["ext"]))
    return queues
