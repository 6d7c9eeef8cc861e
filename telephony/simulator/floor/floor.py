"""The call floor: places calls and plays their plans out over time.

This is the only part of the engine side that touches asyncio: one runner
task sleeps until the next step on the timeline is due, runs it against
the pure engine, and goes back to sleep. A generating profile adds a
`Generator` (arrivals, see `generator.py`); profile "none" only plays
calls placed through the control API. The steps of a plan beyond ring,
talk and hang-up (hold, mute, record, transfer, park, voicemail) are in
`floor_steps.py`.
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
from typing import Literal

from telephony.simulator.defaults import CALLER_NAMES, Agent
from telephony.simulator.engine import flows, queues
from telephony.simulator.engine.account import Account, CallQueue
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import (
    RINGING,
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

logger = logging.getLogger("telephony.simulator.floor")

Scenario = Literal["inbound", "outbound", "internal", "queue"]
# Random picks before falling back to a full scan of the agents.
IDLE_TRIES = 24
# Pools larger than this are only sampled, never scanned (load profiles).
FULL_SCAN_LIMIT = 500


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
    ) -> None:
        self.engine = engine
        self.account = account
        self.profile = profile or profile_named("none")
        self.rng = rng
        self._speed = speed
        self._clock = clock
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
        if self.generating:
            from telephony.simulator.floor.generator import Generator

            Generator(self, self.profile).start()
        self._task = asyncio.get_running_loop().create_task(self._run())

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

    def idle_agent(self, pool: Sequence[Agent] | None = None) -> Agent | None:
        """A random agent of `pool` (default: all) whose phone is free."""
        found = self.idle_agents_sample(pool or self.agents, 1)
        return found[0] if found else None

    def idle_agents_sample(self, pool: Sequence[Agent], count: int) -> list[Agent]:
        """Up to `count` distinct idle agents of `pool`, picked at random."""
        chosen: dict[str, Agent] = {}
        for _ in range(IDLE_TRIES):
            if len(chosen) >= count:
                return list(chosen.values())
            agent = self.rng.choice(pool)
            if not self.engine.is_busy(agent.extension_id):
                chosen.setdefault(agent.extension_id, agent)
        if len(pool) > FULL_SCAN_LIMIT:
            # A big floor this busy skips the call rather than scanning.
            return list(chosen.values())
        rest = [a for a in pool if a.extension_id not in chosen]
        for agent in rest:
            if len(chosen) >= count:
                break
            if not self.engine.is_busy(agent.extension_id):
                chosen[agent.extension_id] = agent
        return list(chosen.values())

    def idle_agents(self) -> list[Agent]:
        """Agents without a live call (a full scan: small accounts only)."""
        return [a for a in self.agents if not self.engine.is_busy(a.extension_id)]

    def random_customer(self) -> Endpoint:
        """A PSTN customer with a 415-555 number and a caller-id name."""
        number = f"+1415555{self.rng.randrange(10000):04d}"
        return Endpoint(number, self.rng.choice(CALLER_NAMES))

    def schedule(self, seconds: float, action: Action) -> float:
        """Run `action` after `seconds` simulated seconds; returns its due
        time on the floor's clock."""
        return self.schedule_from(self._clock(), seconds, action)

    def schedule_from(self, base: float, seconds: float, action: Action) -> float:
        """Run `action` `seconds` simulated seconds after clock time `base`
        (a chain of arrivals keeps its rate however late the loop runs)."""
        at = base + seconds / self._speed
        if self._timeline.schedule(at, action):
            self._wake.set()
        return at

    # -- plan steps (each tolerates a call that changed meanwhile) ---------

    def _open(self, request: CallRequest) -> Session:
        customer = request.customer or self.random_customer()
        company = self.account.company_number
        if request.scenario == "queue" and request.queue is not None:
            agents = (
                [request.agent]
                if request.agent is not None
                else self.idle_agents_sample(
                    request.queue.members, self.profile.parallel_ring
                )
            )
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
        ringing = session.ringing_agents()
        if session.queue_id is not None and ringing:
            self.answer(session_id, self.rng.choice(ringing).id)
        elif session.queue_id is not None:
            self.plans.pop(session_id)
            queues.no_answer(self.engine, session)
        else:
            self.answer(session_id)

    def _abandon(self, session_id: str) -> None:
        session = self.engine.sessions.get(session_id)
        if session is not None and session_id in self.plans:
            self.plans.pop(session_id)
            self.engine.hang_up(session_id, flows.caller_party(session).id)

    def _answer_leg(self, session_id: str, party_id: str) -> None:
        self._followed.discard(party_id)
        session = self.engine.sessions.get(session_id)
        if session is None or session.party(party_id).status not in RINGING:
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
            for action in self._timeline.due(self._clock()):
                try:
                    action()
                except EngineError as exc:
                    logger.debug("plan step skipped: %s", exc.message)
                except Exception:
                    logger.exception("plan step failed")
            next_at = self._timeline.next_at()
            delay = None if next_at is None else max(0.0, next_at - self._clock())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
