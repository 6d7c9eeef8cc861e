"""The call floor: places calls and plays their plans out over time.

This is the only part of the engine side that touches asyncio: one runner
task sleeps until the next step on the timeline is due, runs it against
the pure engine, and goes back to sleep. A generating profile adds a
`Generator` (arrivals, see `generator.py`) and `Spells` (agents stepping
away, see `availability.py`); profile "none" only plays calls placed
through the control API. The steps of a plan beyond ring, talk and hang-up
(hold, mute, record, transfer, park, voicemail) are in `floor_steps.py`.

The floor keeps its own time: the injected monotonic clock minus the time
spent paused. While paused nothing on the timeline runs (no arrivals, no
plan steps, no spells); on resume every timer goes on from where it
stopped. Actions from outside (Call Control, the control API) still act
on the engine at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Literal

from telephony.simulator.defaults import CALLER_NAMES, Agent
from telephony.simulator.engine import flows, queues, transfers
from telephony.simulator.engine.account import Account, CallQueue
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import (
    RINGING,
    Availability,
    Endpoint,
    EngineError,
    Party,
    PartyChange,
    Session,
)
from telephony.simulator.floor import floor_steps
from telephony.simulator.floor.plans import CallPlan, random_plan
from telephony.simulator.floor.profiles import Profile, profile_named
from telephony.simulator.floor.timeline import Action, Timeline

if TYPE_CHECKING:
    from telephony.simulator.engine.presence import PresenceBook

logger = logging.getLogger("telephony.simulator.floor")

Scenario = Literal["inbound", "outbound", "internal", "queue"]
# Random picks before falling back to a full scan of the agents.
IDLE_TRIES = 24
# Pools larger than this are only sampled, never scanned (load profiles).
FULL_SCAN_LIMIT = 500

# Who may be picked for what (see model.Availability).
Accept = Callable[[Availability], bool]


def fully_available(availability: Availability) -> bool:
    """At the desk and taking every call: transfers, consults, defaults."""
    return availability.available


def takes_queue_calls(availability: Availability) -> bool:
    """A call queue may ring this member."""
    return availability.takes_queue_calls


@dataclass(frozen=True)
class CallRequest:
    """Everything needed to place one call."""

    scenario: Scenario
    agent: Agent | None
    plan: CallPlan
    customer: Endpoint | None = None
    peer: Agent | None = None
    queue: CallQueue | None = None
    origin: str = "Call"


class Floor:
    """Places calls on the engine and runs their timelines."""

    def __init__(
        self,
        *,
        engine: CallEngine,
        rng: random.Random,
        account: Account,
        profile: Profile | None = None,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        presence: PresenceBook | None = None,
        spell_rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.account = account
        self.profile = profile or profile_named("none")
        self.rng = rng
        self.speed = speed
        self.presence = presence
        # Its own RNG: agents stepping away must not shift the call stream.
        self._spell_rng = spell_rng or random.Random()
        self._clock = clock
        self._paused_at: float | None = None
        self._paused_for = 0.0
        self._timeline = Timeline()
        # Plans of calls still ringing; ids of calls with a hang-up due.
        self.plans: dict[str, CallPlan] = {}
        self.ending: set[str] = set()
        self._followed: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        engine.add_listener(self._observe)

    @property
    def agents(self) -> Sequence[Agent]:
        """Every agent of the account."""
        return self.account.agents

    @property
    def generating(self) -> bool:
        """True when the floor makes traffic and plays people by itself."""
        return self.profile.generate

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Start the runner task (inside a running loop)."""
        self.begin()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def begin(self) -> None:
        """Schedule a generating profile's arrivals and availability
        spells (`start` does it; tests driving `run_due` call it)."""
        if not self.generating:
            return
        from telephony.simulator.floor.availability import Spells
        from telephony.simulator.floor.generator import Generator

        Generator(self, self.profile).start()
        if self.presence is not None and self.profile.spells.share > 0:
            Spells(self, self.presence, self.profile.spells, self._spell_rng).start()

    # -- pausing ------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """True while the floor's time stands still."""
        return self._paused_at is not None

    def pause(self) -> None:
        """Freeze the floor: no arrivals, no plan steps, no spells."""
        if self._paused_at is None:
            self._paused_at = self._clock()

    def resume(self) -> None:
        """Let the floor's time run again from where it stopped."""
        if self._paused_at is not None:
            self._paused_for += self._clock() - self._paused_at
            self._paused_at = None
            self._wake.set()

    def now(self) -> float:
        """The floor's time: the clock minus the time spent paused."""
        moment = self._clock() if self._paused_at is None else self._paused_at
        return moment - self._paused_for

    def next_due(self) -> float | None:
        """When the next step is due, on the floor's time (`now`)."""
        return self._timeline.next_at()

    def run_due(self) -> int:
        """Run every step due by now (none while paused); how many ran."""
        if self.paused:
            return 0
        actions = self._timeline.due(self.now())
        for action in actions:
            try:
                action()
            except EngineError as exc:
                logger.debug("plan step skipped: %s", exc.message)
            except Exception:
                logger.exception("plan step failed")
        return len(actions)

    async def stop(self) -> None:
        """Cancel the runner and forget pending steps."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._timeline.clear()

    # -- placing and steering calls ----------------------------------------

    def place(self, request: CallRequest) -> Session:
        """Open a call with the flow of its scenario and schedule its plan."""
        session = self._open(request)
        plan = request.plan
        self.plans[session.id] = plan
        if plan.ring is not None:
            step = self._abandon if plan.abandon else self._ring_over
            self.schedule(plan.ring, partial(step, session.id))
        return session

    def answer(self, session_id: str, party_id: str | None = None) -> Party:
        """Answer now (phone or API) and start the talk part of the plan."""
        party = self.engine.answer(session_id, party_id)
        plan = self.plans.pop(session_id, None)
        if plan is not None:
            floor_steps.start_talk(self, session_id, plan)
        return party

    def follow_up(self, session: Session) -> None:
        """A leg started ringing outside any plan (transfer, call-out):
        on a generating floor its owner answers after a ring, and a call
        nobody else ends is hung up after a talk time."""
        if not self.generating:
            return
        for party in session.live_parties():
            if (
                party.status in RINGING
                and party.direction == "Inbound"
                and party.kind == "call"
                and party.id not in self._followed
            ):
                self._followed.add(party.id)
                ring = self.rng.uniform(*self.profile.shape.ring)
                self.schedule(ring, partial(self._answer_leg, session.id, party.id))

    def idle_agent(
        self, pool: Sequence[Agent] | None = None, accept: Accept = fully_available
    ) -> Agent | None:
        """A random agent of `pool` (default: all) whose phone is free and
        who is available (by default: at the desk, taking every call)."""
        found = self.idle_agents_sample(pool or self.agents, 1, accept)
        return found[0] if found else None

    def idle_agents_sample(
        self, pool: Sequence[Agent], count: int, accept: Accept | None = None
    ) -> list[Agent]:
        """Up to `count` distinct idle agents of `pool`, picked at random;
        with `accept`, only agents whose availability it accepts."""
        chosen: dict[str, Agent] = {}
        for _ in range(IDLE_TRIES):
            if len(chosen) >= count:
                return list(chosen.values())
            agent = self.rng.choice(pool)
            if self._free(agent, accept):
                chosen.setdefault(agent.extension_id, agent)
        if len(pool) > FULL_SCAN_LIMIT:
            # A big floor this busy skips the call rather than scanning.
            return list(chosen.values())
        rest = [a for a in pool if a.extension_id not in chosen]
        for agent in rest:
            if len(chosen) >= count:
                break
            if self._free(agent, accept):
                chosen[agent.extension_id] = agent
        return list(chosen.values())

    def idle_agents(self) -> list[Agent]:
        """Agents without a live call (a full scan: small accounts only)."""
        return [a for a in self.agents if not self.engine.is_busy(a.extension_id)]

    def _free(self, agent: Agent, accept: Accept | None) -> bool:
        if self.engine.is_busy(agent.extension_id):
            return False
        return accept is None or accept(self.engine.availability_of(agent.extension_id))

    def random_customer(self) -> Endpoint:
        """A PSTN customer with a 415-555 number and a caller-id name."""
        number = f"+1415555{self.rng.randrange(10000):04d}"
        return Endpoint(number, self.rng.choice(CALLER_NAMES))

    def schedule(self, seconds: float, action: Action) -> float:
        """Run `action` after `seconds` simulated seconds; returns its due
        time on the floor's time (`now`)."""
        return self.schedule_from(self.now(), seconds, action)

    def schedule_from(self, base: float, seconds: float, action: Action) -> float:
        """Run `action` `seconds` simulated seconds after floor time `base`
        (a chain of arrivals keeps its rate however late the loop runs)."""
        at = base + seconds / self.speed
        if self._timeline.schedule(at, action):
            self._wake.set()
        return at

    # -- plan steps (each tolerates a call that changed meanwhile) ---------

    def _open(self, request: CallRequest) -> Session:
        customer = request.customer or self.random_customer()
        company = self.account.company_number
        if request.scenario == "queue" and request.queue is not None:
            # A queue skips members who do not take queue calls (DND, away).
            agents = (
                [request.agent]
                if request.agent is not None
                else self.idle_agents_sample(
                    request.queue.members,
                    self.profile.parallel_ring,
                    takes_queue_calls,
                )
            )
            agents = [
                a
                for a in agents
                if self.engine.availability_of(a.extension_id).takes_queue_calls
            ]
            return queues.start_queue(
                self.engine,
                caller=customer,
                queue=request.queue,
                agents=agents,
                company_number=company,
            )
        agent = request.agent or self.agents[0]
        if request.scenario == "outbound":
            return flows.start_outbound(
                self.engine,
                agent=agent,
                callee=Endpoint(customer.phone_number),
                company_number=company,
                origin=request.origin,
            )
        if request.scenario == "internal" and request.peer is not None:
            return flows.start_internal(self.engine, caller=agent, callee=request.peer)
        return flows.start_inbound(
            self.engine, caller=customer, agent=agent, company_number=company
        )

    def _ring_over(self, session_id: str) -> None:
        session = self.engine.sessions.get(session_id)
        plan = self.plans.get(session_id)
        if session is None or plan is None:
            return
        if plan.voicemail:
            floor_steps.voicemail(self, session_id, plan)
            return
        ringing = (
            session.ringing_agents()
            if session.queue_id is not None
            else [
                p
                for p in session.live_parties()
                if p.status in RINGING and p.direction == "Inbound"
            ]
        )
        # Nobody answers a phone whose owner is away from the desk.
        answering = [p for p in ringing if self._answers(p)]
        if session.queue_id is not None and answering:
            self.answer(session_id, self.rng.choice(answering).id)
        elif session.queue_id is not None:
            self.plans.pop(session_id)
            queues.no_answer(self.engine, session)
        elif answering:
            self.answer(session_id, answering[0].id)
        elif ringing or any(p.status == "Voicemail" for p in session.live_parties()):
            # Away: it rings out to voicemail; on DND voicemail took it at
            # once. Either way the caller leaves a message and hangs up.
            floor_steps.voicemail(self, session_id, plan)
        else:
            self.plans.pop(session_id)  # answered through the API meanwhile

    def _abandon(self, session_id: str) -> None:
        session = self.engine.sessions.get(session_id)
        if session is not None and session_id in self.plans:
            self.plans.pop(session_id)
            self.engine.hang_up(session_id, flows.caller_party(session).id)

    def _answers(self, party: Party) -> bool:
        # PSTN callees always answer; users only when at their desk.
        ext = party.extension_id
        return ext is None or self.engine.availability_of(ext).at_desk

    def _answer_leg(self, session_id: str, party_id: str) -> None:
        self._followed.discard(party_id)
        session = self.engine.sessions.get(session_id)
        if session is None or session.party(party_id).status not in RINGING:
            return
        party = session.party(party_id)
        if not self._answers(party) and not party.queue_call:
            transfers.to_voicemail(self.engine, session_id, party_id)
            return
        self.engine.answer(session_id, party_id)
        if session_id not in self.plans and not floor_steps.has_end(self, session):
            talk = random_plan(self.rng, self.profile.shape).talk or 60.0
            floor_steps.end_after(self, session_id, talk, "agent")

    def _observe(self, change: PartyChange) -> None:
        # A caller who reached a mailbox leaves a message and hangs up.
        if (
            change.party.status == "Voicemail"
            and self.generating
            and change.session_id not in self.ending
        ):
            seconds = self.rng.uniform(8.0, 30.0)
            floor_steps.end_after(self, change.session_id, seconds, "customer")

    # -- the runner ---------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self.run_due()
            next_at = None if self.paused else self._timeline.next_at()
            delay = None if next_at is None else max(0.0, next_at - self.now())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
