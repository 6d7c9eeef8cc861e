"""Directory endpoints: extension list, one extension, devices (docs/ringcentral.md 8).

Agents are `User` extensions and call queues `Department` ones; ids are
integers here (strings in telephony events), extension numbers strings.
Lists are paged with `page`/`perPage` and carry `paging`/`navigation`.
Presence and active calls live in `presence.py`; both modules hand their
routes to the REST router (`RestApi.add_routes`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from telephony.simulator.defaults import Agent
from telephony.simulator.engine.account import Account, CallQueue
from telephony.simulator.rest.errors import api_error
from telephony.simulator.rest.httpserver import Request, Response, json_response
from telephony.simulator.rest.rest import Route

JsonDict = dict[str, Any]

ACCOUNT = r"^/restapi/v1\.0/account/(?P<account>[^/]+)"
EXTENSION = ACCOUNT + r"/extension/(?P<extension>[^/]+)"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
# Contact e-mails use a reserved domain (RFC 2606): never a real mailbox.
EMAIL_DOMAIN = "switchboard.example"


def page_params(request: Request) -> tuple[int, int]:
    """(page, perPage) from the query; 400 CMN-101 for nonsense."""
    page = _positive(request, "page", 1, 1_000_000)
    per_page = _positive(request, "perPage", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    return page, per_page


def paged(items: Sequence[JsonDict], *, uri: str, page: int, per_page: int) -> JsonDict:
    """`{uri, records, paging, navigation}` for one page of `items`."""
    total = len(items)
    pages = max(1, -(-total // per_page))
    start = (page - 1) * per_page
    records = list(items[start : start + per_page])
    paging: JsonDict = {
        "page": page,
        "totalPages": pages,
        "perPage": per_page,
        "totalElements": total,
    }
    if records:
        paging.update(pageStart=start, pageEnd=start + len(records) - 1)

    def link(number: int) -> JsonDict:
        return {"uri": f"{uri}?{urlencode({'page': number, 'perPage': per_page})}"}

    navigation = {"firstPage": link(1), "lastPage": link(pages)}
    if page < pages:
        navigation["nextPage"] = link(page + 1)
    if 1 < page <= pages:
        navigation["previousPage"] = link(page - 1)
    return {
        "uri": link(page)["uri"],
        "records": records,
        "paging": paging,
        "navigation": navigation,
    }


class Directory:
    """Extensions and devices of the simulated account."""

    def __init__(self, account: Account, base_url: Callable[[], str]) -> None:
        self._account = account
        self._base_url = base_url

    def routes(self) -> tuple[Route, ...]:
        """Routes for `RestApi.add_routes` (groups per the spec)."""
        return (
            _route(ACCOUNT + r"/extension$", self.list_extensions, "Medium"),
            _route(EXTENSION + r"$", self.get_extension, "Light"),
            _route(EXTENSION + r"/device$", self.list_devices, "Light"),
        )

    # -- lookups shared with presence.py -------------------------------------

    def resolve(self, extension: str) -> Agent | CallQueue:
        """Agent or queue for `~` or an extension id; 404 CMN-102 otherwise."""
        if extension == "~":
            return self._account.owner
        found = self._account.agent_by_id(extension) or self._account.queue_by_id(
            extension
        )
        if found is None:
            raise api_error(
                404,
                "CMN-102",
                "Resource for parameter [extensionId] is not found",
                parameterName="extensionId",
            )
        return found

    def extensions(self) -> list[Agent | CallQueue]:
        """Every listed extension: agents, then queues."""
        return [*self._account.agents, *self._account.queues]

    def extension_uri(self, extension_id: str) -> str:
        """Canonical URI of one extension."""
        return f"{self.account_uri()}/extension/{extension_id}"

    def account_uri(self) -> str:
        """Canonical URI of the account."""
        return f"{self._base_url()}/restapi/v1.0/account/{self._account.id}"

    # -- handlers ------------------------------------------------------------------

    def list_extensions(self, request: Request, match: re.Match[str]) -> Response:
        """GET /account/~/extension (`type` and `status` filters apply)."""
        page, per_page = page_params(request)
        types = set(request.query.get("type", []))
        statuses = set(request.query.get("status", []))
        records = [
            self._record(e)
            for e in self.extensions()
            if (not types or _type(e) in types)
            and (not statuses or "Enabled" in statuses)
        ]
        uri = f"{self.account_uri()}/extension"
        return json_response(200, paged(records, uri=uri, page=page, per_page=per_page))

    def get_extension(self, request: Request, match: re.Match[str]) -> Response:
        """GET /account/~/extension/{id|~}."""
        extension = self.resolve(match["extension"])
        info = {
            **self._record(extension),
            "account": {"id": self._account.id, "uri": self.account_uri()},
        }
        return json_response(200, info)

    def list_devices(self, request: Request, match: re.Match[str]) -> Response:
        """GET /account/~/extension/{id|~}/device (queues have none)."""
        extension = self.resolve(match["extension"])
        page, per_page = page_params(request)
        devices = self._account.devices_of(extension.extension_id)
        records = [
            {
                "id": device.id,
                "uri": f"{self.account_uri()}/device/{device.id}",
                "type": device.type,
                "name": device.name,
                "status": device.status,
                "extension": self._short(extension),
            }
            for device in devices
        ]
        uri = f"{self.extension_uri(extension.extension_id)}/device"
        return json_response(200, paged(records, uri=uri, page=page, per_page=per_page))

    def _record(self, extension: Agent | CallQueue) -> JsonDict:
        return {
            "id": int(extension.extension_id),
            "uri": self.extension_uri(extension.extension_id),
            "extensionNumber": extension.extension_number,
            "name": extension.name,
            "type": _type(extension),
            "status": "Enabled",
            "contact": _contact(extension),
            "hidden": False,
        }

    def _short(self, extension: Agent | CallQueue) -> JsonDict:
        return {
            "id": int(extension.extension_id),
            "uri": self.extension_uri(extension.extension_id),
            "extensionNumber": extension.extension_number,
        }


def _type(extension: Agent | CallQueue) -> str:
    return "Department" if isinstance(extension, CallQueue) else "User"


def _contact(extension: Agent | CallQueue) -> JsonDict:
    if isinstance(extension, CallQueue):
        # A queue's name is its first name in the platform's data model
        # [inferred]; it has no e-mail of its own here.
        return {"firstName": extension.name}
    first, _, last = extension.name.partition(" ")
    local = ".".join(part.lower() for part in (first, last) if part)
    return {
        "firstName": first,
        "lastName": last,
        "email": f"{local}@{EMAIL_DOMAIN}",
    }


def _route(
    pattern: str,
    handler: Callable[[Request, re.Match[str]], Response],
    group: str,
) -> Route:
    return Route(
        "GET",
        re.compile(pattern),
        lambda request, match, session: handler(request, match),
        group,
    )


def _positive(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_value(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise api_error(
            400,
            "CMN-101",
            f"Parameter [{name}] value is invalid",
            parameterName=name,
        )
    return int(raw)
