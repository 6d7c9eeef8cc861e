"""Agents step away now and then (generating profiles).

A small share of the agents is unavailable at any moment (the profile's
`SpellShape`): away from the desk (userStatus Busy), on Do Not Disturb,
taking no queue calls for a while, or logged out (Offline). Spells start
as a Poisson stream sized so that the share holds (Little's law again:
agents away = spell rate x mean spell length), each on a random agent who
is fully available, and end after a few simulated minutes with the agent
back to Available / TakeAllCalls. The floor starts in that steady state:
each agent is already away with the share's probability, for a random
remainder of a spell.

Presence reports every change (REST and notifications); the floor reads
availability when it picks agents. Spells use their own RNG, so they do
not shift the calls a seed produces, and the floor's time, so they stop
while it is paused and speed up with it.
"""

from __future__ import annotations

import random
from functools import partial
from typing import TYPE_CHECKING

from telephony.simulator.engine.presence import PresenceBook
from telephony.simulator.floor.profiles import SpellShape

if TYPE_CHECKING:
    from telephony.simulator.floor.floor import Floor

# What each kind of spell sets (userStatus, dndStatus); the end restores
# Available / TakeAllCalls.
SPELLS: dict[str, tuple[str | None, str | None]] = {
    "away": ("Busy", None),
    "dnd": (None, "DoNotAcceptAnyCalls"),
    "no_queue": (None, "DoNotAcceptDepartmentCalls"),
    "offline": ("Offline", None),
}
# Random picks before a spell is skipped (everyone already away).
PICK_TRIES = 8


class Spells:
    """Schedules availability spells on a floor."""

    def __init__(
        self,
        floor: Floor,
        presence: PresenceBook,
        shape: SpellShape,
        rng: random.Random,
    ) -> None:
        self._floor = floor
        self._presence = presence
        self._shape = shape
        self._rng = rng
        self._kinds = [k for k in SPELLS if shape.mix.get(k, 0) > 0]
        self._weights = [shape.mix[k] for k in self._kinds]
        self._away: set[str] = set()
        mean = sum(shape.length) / 2
        agents = len(floor.agents)
        # Spells per simulated second that keep `share` of agents away.
        self._rate = shape.share * agents / mean if agents and mean else 0.0
        self._due = 0.0

    @property
    def away(self) -> frozenset[str]:
        """Extension ids of agents in a spell now."""
        return frozenset(self._away)

    def start(self) -> None:
        """Begin in the steady state, then chain the spell stream."""
        if not self._kinds or self._rate <= 0:
            return
        low, high = self._shape.length
        for agent in self._floor.agents:
            if self._rng.random() < self._shape.share:
                # Already away for a while: what is left of the spell.
                length = self._rng.uniform(low, high) * self._rng.random()
                self._begin(agent.extension_id, length)
        gap = self._rng.expovariate(self._rate)
        self._due = self._floor.schedule(gap, self._next)

    def _next(self) -> None:
        gap = self._rng.expovariate(self._rate)
        self._due = self._floor.schedule_from(self._due, gap, self._next)
        agents = self._floor.agents
        for _ in range(PICK_TRIES):
            agent = self._rng.choice(agents)
            ext = agent.extension_id
            if (
                ext not in self._away
                and self._floor.engine.availability_of(ext).available
            ):
                self._begin(ext, self._rng.uniform(*self._shape.length))
                return

    def _begin(self, extension_id: str, length: float) -> None:
        kind = self._rng.choices(self._kinds, self._weights)[0]
        user_status, dnd_status = SPELLS[kind]
        self._away.add(extension_id)
        self._presence.set_availability(
            extension_id, user_status=user_status, dnd_status=dnd_status
        )
        self._floor.schedule(max(length, 1.0), partial(self._end, extension_id))

    def _end(self, extension_id: str) -> None:
        self._away.discard(extension_id)
        self._presence.set_availability(
            extension_id, user_status="Available", dnd_status="TakeAllCalls"
        )
