"""Arrivals of a generating profile: a warm-up burst, then a Poisson
stream of calls with the profile's scenario mix.

Every draw comes from the floor's seeded RNG, so a seed reproduces the
floor (ids, callers, agents, plans, gaps); only wall-clock timestamps and
the interleaving with API requests differ between runs.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from telephony.simulator.floor.floor import CallRequest, Scenario
from telephony.simulator.floor.plans import random_plan
from telephony.simulator.floor.profiles import Profile

if TYPE_CHECKING:
    from telephony.simulator.floor.floor import Floor


class Generator:
    """Schedules arrivals on a floor according to a profile."""

    def __init__(self, floor: Floor, profile: Profile) -> None:
        self._floor = floor
        self._profile = profile
        every: tuple[Scenario, ...] = ("inbound", "queue", "outbound", "internal")
        self._scenarios: list[Scenario] = [
            s for s in every if profile.mix.get(s, 0) > 0
        ]
        self._weights = [profile.mix[s] for s in self._scenarios]
        self._due = 0.0

    def start(self) -> None:
        """Schedule the warm-up calls and the first arrival."""
        profile = self._profile
        for index in range(profile.warm_up):
            # Spread over the warm-up window, the first after one second.
            at = 1.0 + (profile.warm_up_seconds - 1.0) * index / max(1, profile.warm_up)
            self._floor.schedule(at, partial(self.arrival, chain=False))
        self._due = self._floor.schedule(
            profile.mean_gap, partial(self.arrival, chain=True)
        )

    def arrival(self, *, chain: bool) -> None:
        """Place one call (if anyone is free) and, chained, the next one.

        The next arrival is due a gap after this one was *due*, not after
        it ran, so a busy event loop does not lower the arrival rate.
        """
        floor = self._floor
        if chain:
            gap = floor.rng.expovariate(1.0 / self._profile.mean_gap)
            self._due = floor.schedule_from(
                self._due, gap, partial(self.arrival, chain=True)
            )
        request = self.random_request()
        if request is not None:
            floor.place(request)

    def random_request(self) -> CallRequest | None:
        """A call of a random scenario to idle agents; None if all busy."""
        floor = self._floor
        rng = floor.rng
        scenario = rng.choices(self._scenarios, self._weights)[0]
        plan = random_plan(rng, self._profile.shape)
        if scenario == "queue" and floor.account.queues:
            queue = rng.choice(floor.account.queues)
            return CallRequest("queue", None, plan, queue=queue)
        # A caller dials whoever they want, away or not (DND sends them
        # to voicemail); only people at their desk place calls.
        agents = floor.idle_agents_sample(floor.agents, 2)
        if not agents:
            return None
        if scenario == "inbound":
            return CallRequest("inbound", agents[0], plan)
        present = [
            a for a in agents if floor.engine.availability_of(a.extension_id).at_desk
        ]
        if not present:
            return None
        caller = present[0]
        others = [a for a in agents if a is not caller]
        if scenario == "internal" and others:
            return CallRequest("internal", caller, plan, peer=others[0])
        if scenario == "outbound":
            ringout = rng.random() < self._profile.shape.ringout_share
            origin = "RingOut" if ringout else "Call"
            return CallRequest("outbound", caller, plan, origin=origin)
        return CallRequest("inbound", agents[0], plan)
