"""Call queues and their members (docs/ringcentral.md 8.6).

`GET /account/~/call-queues` (Medium) lists the account's call queues and
`GET /account/~/call-queues/{groupId}/members` (Light) one queue's
members, paged like every list here (`discovery.paged`), with the shapes
of the spec's `CallQueueList` and `CallQueueMembers`. As in the spec, a
queue's `id` is a **string** (`CallQueueInfo`) and a member's an
**integer** (`CallQueueMemberInfo`, as in the extension list); a member
record has no name, only `uri`, `id` and `extensionNumber`. The queues
and their members are the account's (`Account.queues`), so these lists
agree with the extension list's `Department` records and with the calls
the floor sends through each queue.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from telephony.simulator.defaults import Agent
from telephony.simulator.engine.account import Account, CallQueue
from telephony.simulator.rest.discovery import ACCOUNT, Directory, page_params, paged
from telephony.simulator.rest.errors import api_error
from telephony.simulator.rest.httpserver import Request, Response, json_response
from telephony.simulator.rest.rest import Route

JsonDict = dict[str, Any]

QUEUES = ACCOUNT + r"/call-queues"
MEMBERS = QUEUES + r"/(?P<group>[^/]+)/members"


class CallQueues:
    """`/call-queues` and `/call-queues/{groupId}/members`."""

    def __init__(self, account: Account, directory: Directory) -> None:
        self._account = account
        self._directory = directory

    def routes(self) -> tuple[Route, ...]:
        """Routes for `RestApi.add_routes` (groups per the spec)."""
        return (
            _route(QUEUES + r"$", self.list_queues, "Medium"),
            _route(MEMBERS + r"$", self.list_members, "Light"),
        )

    def list_queues(self, request: Request, match: re.Match[str]) -> Response:
        """GET /account/~/call-queues[?memberExtensionId=]: the queues in
        extension-number order; with `memberExtensionId`, only the queues
        that extension is a member of (none for an unknown id)."""
        page, per_page = page_params(request)
        member = request.query_value("memberExtensionId")
        queues = self._account.queues
        if member is not None:
            mine = set(self._account.queues_of(member))
            queues = tuple(q for q in queues if q in mine)
        records = [self._queue(q) for q in queues]
        uri = self._queues_uri()
        return json_response(200, paged(records, uri=uri, page=page, per_page=per_page))

    def list_members(self, request: Request, match: re.Match[str]) -> Response:
        """GET /account/~/call-queues/{groupId}/members: the agents the
        queue rings, in the account's order; an unknown queue (or an id
        that is not a queue's) is 404 `CMN-102` naming `groupId`."""
        queue = self._account.queue_by_id(match["group"])
        if queue is None:
            raise api_error(
                404,
                "CMN-102",
                "Resource for parameter [groupId] is not found",
                parameterName="groupId",
            )
        page, per_page = page_params(request)
        records = [self._member(agent) for agent in queue.members]
        uri = f"{self._queues_uri()}/{queue.extension_id}/members"
        return json_response(200, paged(records, uri=uri, page=page, per_page=per_page))

    def _queues_uri(self) -> str:
        return f"{self._directory.account_uri()}/call-queues"

    def _queue(self, queue: CallQueue) -> JsonDict:
        return {
            "uri": f"{self._queues_uri()}/{queue.extension_id}",
            "id": queue.extension_id,
            "extensionNumber": queue.extension_number,
            "name": queue.name,
            "status": "Enabled",
        }

    def _member(self, agent: Agent) -> JsonDict:
        return {
            "uri": self._directory.extension_uri(agent.extension_id),
            "id": int(agent.extension_id),
            "extensionNumber": agent.extension_number,
        }


def _route(
    pattern: str, handler: Callable[[Request, re.Match[str]], Response], group: str
) -> Route:
    return Route(
        "GET",
        re.compile(pattern),
        lambda request, match, session: handler(request, match),
        group,
    )
