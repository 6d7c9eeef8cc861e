"""The simulated account: agents, call queues, park locations, devices.

The one place that says who exists. Everything is derived from indexes,
never from a random generator, so the same profile always yields the same
extension numbers, names, extension ids and device ids:

* agents 101-110 are the ten named demo agents (`defaults.AGENTS`); more
  agents get extension numbers 1001, 1002, … and names from fixed lists;
* queues are extensions 201, 202, … (`Department` in RingCentral's
  extension list); park locations 851, 852, …;
* every agent has a desk phone `80000<ext>` (HardPhone, Online) and a
  softphone `81000<ext>` (SoftPhone, Offline).

Read API (used by Call Control, the floor and the discovery endpoints):
`Account.agents`, `.queues`, `.park_locations`, `.devices`, `.owner`,
`agent_by_number/agent_by_id`, `queue_by_number/queue_by_id`, `queues_of`,
`park_by_id`, `device`, `devices_of`, `extension_ids`, `name_of`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from telephony.simulator.defaults import ACCOUNT_ID, AGENTS, COMPANY_NUMBER, Agent

DeviceType = Literal["HardPhone", "SoftPhone"]
DeviceStatus = Literal["Online", "Offline"]

FIRST_NAMES = (
    *("Ava", "Ben", "Chloe", "Dmitri", "Elena", "Felix", "Gita", "Hassan"),
    *("Ivy", "Jonas", "Kemal", "Lena", "Mateo", "Nora", "Omar", "Priya"),
    *("Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Yuki"),
)
LAST_NAMES = (
    *("Adams", "Becker", "Costa", "Dubois", "Evans", "Fischer", "Garcia"),
    *("Hughes", "Ito", "Jensen", "Kowalski", "Larsen", "Moreno", "Nakamura"),
    *("Olsen", "Petrov", "Quint", "Rossi", "Silva", "Thomas", "Urban"),
)
QUEUE_NAMES = (
    *("Sales", "Support", "Billing", "Returns", "Onboarding", "Retention"),
    *("Enterprise", "Partners", "Escalations", "Spanish", "French", "VIP"),
)
FIRST_GENERATED_EXTENSION = 1001
FIRST_QUEUE_EXTENSION = 201
FIRST_PARK_EXTENSION = 851


@dataclass(frozen=True, slots=True)
class CallQueue:
    """A call queue extension and the agents it rings."""

    extension_number: str
    name: str
    members: tuple[Agent, ...]

    @property
    def extension_id(self) -> str:
        """Extension id in the agents' form (1000000201)."""
        return f"1000000{self.extension_number}"


@dataclass(frozen=True, slots=True)
class ParkLocation:
    """A park location extension (the target of `transfer {parkOrbit}`)."""

    extension_number: str
    name: str

    @property
    def extension_id(self) -> str:
        """Extension id in the agents' form (1000000851)."""
        return f"1000000{self.extension_number}"


@dataclass(frozen=True, slots=True)
class Device:
    """A phone of an agent (`/extension/{id}/device` records)."""

    id: str
    type: DeviceType
    name: str
    status: DeviceStatus
    agent: Agent


@dataclass(frozen=True)
class QueueSpec:
    """How many queues an account has and how many agents each rings."""

    count: int
    members: int


@dataclass
class Account:
    """Agents, queues, park locations and devices of one simulated account."""

    agents: tuple[Agent, ...]
    queues: tuple[CallQueue, ...]
    park_locations: tuple[ParkLocation, ...]
    id: str = ACCOUNT_ID
    company_number: str = COMPANY_NUMBER
    devices: tuple[Device, ...] = field(init=False)
    _agents_by_number: dict[str, Agent] = field(init=False, repr=False)
    _agents_by_id: dict[str, Agent] = field(init=False, repr=False)
    _devices_by_id: dict[str, Device] = field(init=False, repr=False)
    _queues_by_member: dict[str, tuple[CallQueue, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.devices = tuple(d for a in self.agents for d in agent_devices(a))
        self._agents_by_number = {a.extension_number: a for a in self.agents}
        self._agents_by_id = {a.extension_id: a for a in self.agents}
        self._devices_by_id = {d.id: d for d in self.devices}
        members: dict[str, list[CallQueue]] = {}
        for queue in self.queues:
            for agent in queue.members:
                members.setdefault(agent.extension_id, []).append(queue)
        self._queues_by_member = {k: tuple(v) for k, v in members.items()}

    @property
    def owner(self) -> Agent:
        """The JWT's user (Alice): `/extension/~/` means her."""
        return self.agents[0]

    def agent_by_number(self, extension_number: str) -> Agent | None:
        """The agent with this extension number, if any."""
        return self._agents_by_number.get(extension_number)

    def agent_by_id(self, extension_id: str) -> Agent | None:
        """The agent with this extension id, if any."""
        return self._agents_by_id.get(extension_id)

    def queue_by_number(self, extension_number: str) -> CallQueue | None:
        """The call queue with this extension number, if any."""
        return next(
            (q for q in self.queues if q.extension_number == extension_number), None
        )

    def queues_of(self, extension_id: str) -> tuple[CallQueue, ...]:
        """The call queues this agent is a member of."""
        return self._queues_by_member.get(extension_id, ())

    def queue_by_id(self, extension_id: str) -> CallQueue | None:
        """The call queue with this extension id, if any."""
        return next((q for q in self.queues if q.extension_id == extension_id), None)

    def park_by_id(self, extension_id: str) -> ParkLocation | None:
        """The park location with this extension id, if any."""
        return next(
            (p for p in self.park_locations if p.extension_id == extension_id), None
        )

    def device(self, device_id: str) -> Device | None:
        """The device with this id, if any."""
        return self._devices_by_id.get(device_id)

    def devices_of(self, extension_id: str) -> tuple[Device, ...]:
        """Devices of one agent (desk phone first)."""
        agent = self.agent_by_id(extension_id)
        return agent_devices(agent) if agent is not None else ()

    def extension_ids(self) -> frozenset[str]:
        """Every extension id a filter or a REST path may name."""
        return frozenset(
            [a.extension_id for a in self.agents]
            + [q.extension_id for q in self.queues]
            + [p.extension_id for p in self.park_locations]
        )

    def name_of(self, extension_id: str) -> str | None:
        """Display name of any extension (agent, queue, park location)."""
        agent = self.agent_by_id(extension_id)
        if agent is not None:
            return agent.name
        other = self.queue_by_id(extension_id) or self.park_by_id(extension_id)
        return other.name if other is not None else None


@functools.cache
def agent_devices(agent: Agent) -> tuple[Device, ...]:
    """The two phones of an agent; the desk phone is the online one."""
    return (
        Device(agent.device_id, "HardPhone", "Desk phone", "Online", agent),
        Device(
            f"81000{agent.extension_number}",
            "SoftPhone",
            "RingCentral App",
            "Offline",
            agent,
        ),
    )


def generated_agent(index: int) -> Agent:
    """The index-th agent beyond the ten named ones (index from 0)."""
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
    number = FIRST_GENERATED_EXTENSION + index
    return Agent(str(number), f"{first} {last}")


def build_account(agent_count: int, queues: QueueSpec, parks: int = 2) -> Account:
    """A deterministic account with `agent_count` agents (at least ten)."""
    extra = max(0, agent_count - len(AGENTS))
    agents = AGENTS + tuple(generated_agent(i) for i in range(extra))
    return Account(
        agents=agents,
        queues=tuple(_queues(agents, queues)),
        park_locations=tuple(
            ParkLocation(str(FIRST_PARK_EXTENSION + i), f"Park {i + 1}")
            for i in range(parks)
        ),
    )


def _queues(agents: Sequence[Agent], spec: QueueSpec) -> Iterable[CallQueue]:
    # Members are consecutive slices, wrapping around: with ten agents
    # and two queues of five, Sales rings 101-105 and Support 106-110.
    for index in range(spec.count):
        start = (index * spec.members) % len(agents)
        members = tuple(
            agents[(start + offset) % len(agents)] for offset in range(spec.members)
        )
        name = QUEUE_NAMES[index % len(QUEUE_NAMES)]
        if index >= len(QUEUE_NAMES):
            name = f"{name} {index // len(QUEUE_NAMES) + 1}"
        yield CallQueue(str(FIRST_QUEUE_EXTENSION + index), name, members)


DEMO_ACCOUNT = build_account(len(AGENTS), QueueSpec(count=2, members=5))
