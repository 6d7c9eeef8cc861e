"""The call queues' member lists: the reader against a scripted RingCentral,
then against the embedded one over loopback HTTP (docs/ringcentral.md 8.6)."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.exceptions import TelephonyRejected
from telephony.ringcentral.queues import (
    MEMBERS_INTERVAL,
    members_path,
    queue_members_sync,
)
from telephony.ringcentral.ratelimit import group_of

SALES, SUPPORT = "1000000201", "1000000202"


def member(ext_id: int | str, number: str) -> dict[str, Any]:
    return {"uri": f".../extension/{ext_id}", "id": ext_id, "extensionNumber": number}


def pages(*records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """RingCentral's list shape: records, paging, navigation (nextPage if any)."""
    out = []
    for number, rows in enumerate(records, start=1):
        navigation: dict[str, Any] = {"firstPage": {"uri": "..."}}
        if number < len(records):
            navigation["nextPage"] = {"uri": f"...page={number + 1}"}
        out.append(
            {
                "uri": "...",
                "records": rows,
                "paging": {"page": number, "perPage": 2},
                "navigation": navigation,
            }
        )
    return out


def rejected(
    status: int,
    code: str,
    retry_after: float | None = None,
    parameter: str | None = None,
):
    return TelephonyRejected(
        status=status,
        error_code=code,
        message="...",
        retry_after=retry_after,
        parameter=parameter,
    )


class FakeRingCentral:
    """Serves each queue's pages; answers `errors[queue]` first if set."""

    def __init__(
        self,
        lists: dict[str, list[dict[str, Any]]],
        errors: dict[str, list[TelephonyRejected]] | None = None,
    ) -> None:
        self.lists = lists
        self.errors = errors or {}
        self.asked: list[str] = []

    async def request(self, method: str, path: str) -> dict[str, Any]:
        assert method == "GET"
        self.asked.append(path)
        queue = urlsplit(path).path.split("/")[-2]
        if self.errors.get(queue):
            raise self.errors[queue].pop(0)
        page = int(parse_qs(urlsplit(path).query)["page"][0])
        return self.lists[queue][page - 1]


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def test_every_queue_is_read_page_by_page_paced_as_one_stream() -> None:
    fake = FakeRingCentral(
        {
            SALES: pages(
                [member(1000000101, "101"), member(1000000102, "102")],
                [member(1000000103, "103")],
            ),
            SUPPORT: pages([member("1000000106", "106")]),  # a string id
        }
    )
    sleeps = Sleeps()
    members = await queue_members_sync(
        request=fake.request, queue_ids=[SALES, SUPPORT], per_page=2, sleep=sleeps
    )
    assert members == {
        SALES: ["1000000101", "1000000102", "1000000103"],
        SUPPORT: ["1000000106"],
    }
    assert fake.asked == [
        f"{members_path(SALES)}?perPage=2&page=1",
        f"{members_path(SALES)}?perPage=2&page=2",
        f"{members_path(SUPPORT)}?perPage=2&page=1",
    ]
    # One request per MEMBERS_INTERVAL, across queues; none before the first.
    assert sleeps == [MEMBERS_INTERVAL, MEMBERS_INTERVAL]
    assert all(group_of("GET", path) == "Light" for path in fake.asked)


async def test_members_are_listed_once_in_ringcentral_order() -> None:
    # A list that shifts between pages may repeat a member.
    fake = FakeRingCentral(
        {
            SALES: pages(
                [member(5, "105"), member(3, "103")],
                [member(3, "103"), {"extensionNumber": "999"}],
            )
        }
    )
    members = await queue_members_sync(
        request=fake.request, queue_ids=[SALES, SALES], per_page=2, interval=0
    )
    assert members == {SALES: ["5", "3"]}
    assert len(fake.asked) == 2  # the repeated queue is read once


@pytest.mark.parametrize(
    "refusal",
    [
        rejected(404, "CMN-102", parameter="groupId"),  # deleted meanwhile
        rejected(404, "CMN-102"),
        rejected(400, "CMN-101", parameter="groupId"),  # not a queue to it
    ],
)
async def test_a_queue_refused_as_such_is_left_out(
    refusal: TelephonyRejected,
) -> None:
    fake = FakeRingCentral(
        {SUPPORT: pages([member(6, "106")])}, errors={SALES: [refusal]}
    )
    members = await queue_members_sync(
        request=fake.request, queue_ids=[SALES, SUPPORT], interval=0
    )
    assert members == {SUPPORT: ["6"]}


@pytest.mark.parametrize(
    ("status", "code"),
    [(404, "CMN-120"), (403, "CMN-401"), (403, "CMN-408"), (400, "CMN-101")],
)
async def test_other_refusals_raise_so_the_caller_keeps_what_it_had(
    status: int, code: str
) -> None:
    # An invalid URI means the endpoint, not the queue, is missing.
    fake = FakeRingCentral(
        {SUPPORT: pages([member(6, "106")])}, errors={SALES: [rejected(status, code)]}
    )
    with pytest.raises(TelephonyRejected) as caught:
        await queue_members_sync(
            request=fake.request, queue_ids=[SUPPORT, SALES], interval=0
        )
    assert caught.value.error_code == code


async def test_a_429_is_waited_out_as_told_then_the_page_is_asked_again() -> None:
    fake = FakeRingCentral(
        {SALES: pages([member(1, "101")])},
        errors={SALES: [rejected(429, "CMN-301", retry_after=7.0)]},
    )
    sleeps = Sleeps()
    members = await queue_members_sync(
        request=fake.request, queue_ids=[SALES], sleep=sleeps
    )
    assert members == {SALES: ["1"]}
    assert sleeps == [7.0]
    assert len(fake.asked) == 2


async def test_members_from_the_embedded_ringcentral(
    rc_client: RingCentralClient,
) -> None:
    asked: list[str] = []

    async def request(method: str, path: str) -> dict[str, Any]:
        asked.append(path)
        return await rc_client.request(method, path, background=True)

    members = await queue_members_sync(
        request=request, queue_ids=[SALES, SUPPORT], per_page=2, interval=0
    )
    assert members == {
        SALES: [f"100000010{n}" for n in range(1, 6)],
        SUPPORT: [f"10000001{n:02}" for n in range(6, 11)],
    }
    assert len(asked) == 6  # five members a queue, two a page: three pages each
    whole = await queue_members_sync(
        request=functools.partial(rc_client.request, background=True),
        queue_ids=[SALES, SUPPORT],
        interval=0,
    )
    assert whole == members  # one page each at the default size


async def test_an_unknown_queue_of_the_embedded_ringcentral_is_left_out(
    rc_client: RingCentralClient,
) -> None:
    members = await queue_members_sync(
        request=functools.partial(rc_client.request, background=True),
        queue_ids=["1000000299", SUPPORT],
        interval=0,
    )
    assert list(members) == [SUPPORT]
