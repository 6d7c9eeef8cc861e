"""The call floor: places calls and plays their plans out over time.

This is the only part of the engine side that touches asyncio: one runner
task sleeps until the next step on the timeline is due, runs it against
the pure engine, and goes back to sleep. The "demo" profile adds a Poisson
stream of calls to idle agents; the "none" profile only plays calls placed
through the control API.
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

from telephony.simulator import flows
from telephony.simulator.defaults import CALLER_NAMES, Agent
from telephony.simulator.engine import CallEngine, Endpoint, EngineError, Party, Session
from telephony.simulator.plans import CallPlan, random_plan
from telephony.simulator.timeline import Action, Timeline

logger = logging.getLogger("telephony.simulator.floor")

Scenario = Literal["inbound", "outbound", "internal"]

# Simulated seconds between generated calls. Ten agents handling about
# 170 s per call stay roughly 70 % busy at one call every 20 s.
MEAN_GAP = 20.0
# A few calls right after start so a demo never opens on an empty board.
WARM_UP_CALLS = 4
SCENARIO_WEIGHTS: dict[Scenario, float] = {"inbound": 75, "outbound": 20, "internal": 5}


@dataclass(frozen=True)
class CallRequest:
    """Everything needed to place one call."""

    scenario: Scenario
    agent: Agent
    plan: CallPlan
    customer: Endpoint | None = None
    peer: Agent | None = None


class Floor:
    """Places calls on the engine and runs their timelines."""

    def __init__(
        self,
        *,
        engine: CallEngine,
        rng: random.Random,
        agents: Sequence[Agent],
        company_number: str,
        speed: float,
        generate: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.agents = tuple(agents)
        self.rng = rng
        self._company_number = company_number
        self._speed = speed
        self._generate = generate
        self._clock = clock
        self._timeline = Timeline()
        self._plans: dict[str, CallPlan] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Start the runner task (inside a running loop)."""
        if self._generate:
            for index in range(WARM_UP_CALLS):
                self._schedule(1.0 + 2.0 * index, partial(self._arrival, chain=False))
            self._schedule(MEAN_GAP, partial(self._arrival, chain=True))
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
        self._plans[session.id] = plan
        if plan.ring is not None:
            step = self._abandon if plan.abandon else self._auto_answer
            self._schedule(plan.ring, partial(step, session.id))
        return session

    def answer(self, session_id: str, party_id: str | None = None) -> Party:
        """Answer now (phone or API) and start the talk part of the plan."""
        party = self.engine.answer(session_id, party_id)
        plan = self._plans.pop(session_id, None)
        if plan is not None:
            self._start_talk(session_id, plan)
        return party

    def idle_agents(self) -> list[Agent]:
        """Agents without a live call."""
        busy = {
            party.extension_id
            for session in self.engine.sessions.values()
            for party in session.live_parties()
        }
        return [a for a in self.agents if a.extension_id not in busy]

    def random_customer(self) -> Endpoint:
        """A PSTN customer with a 415-555 number and a caller-id name."""
        number = f"+1415555{self.rng.randrange(10000):04d}"
        return Endpoint(number, self.rng.choice(CALLER_NAMES))

    # -- plan steps (each tolerates a call that changed meanwhile) ---------

    def _open(self, request: CallRequest) -> Session:
        customer = request.customer or self.random_customer()
        if request.scenario == "outbound":
            return flows.start_outbound(
                self.engine,
                agent=request.agent,
                callee=Endpoint(customer.phone_number),
                company_number=self._company_number,
            )
        if request.scenario == "internal" and request.peer is not None:
            return flows.start_internal(
                self.engine, caller=request.agent, callee=request.peer
            )
        return flows.start_inbound(
            self.engine,
            caller=customer,
            agent=request.agent,
            company_number=self._company_number,
        )

    def _start_talk(self, session_id: str, plan: CallPlan) -> None:
        if plan.hold_at is not None:
            self._schedule(plan.hold_at, partial(self._hold, session_id, True))
            self._schedule(
                plan.hold_at + plan.hold_for, partial(self._hold, session_id, False)
            )
        if plan.talk is not None:
            self._schedule(
                plan.talk, partial(self._hang_up, session_id, plan.hangup_by)
            )

    def _auto_answer(self, session_id: str) -> None:
        if session_id in self.engine.sessions and session_id in self._plans:
            self.answer(session_id)

    def _abandon(self, session_id: str) -> None:
        session = self.engine.sessions.get(session_id)
        if session is not None and session_id in self._plans:
            self._plans.pop(session_id)
            self.engine.hang_up(session_id, flows.caller_party(session).id)

    def _hold(self, session_id: str, hold: bool) -> None:
        session = self.engine.sessions.get(session_id)
        if session is None:
            return
        party = flows.user_party(session)
        if hold and party.status == "Answered":
            self.engine.hold(session_id, party.id)
        elif not hold and party.status == "Hold":
            self.engine.unhold(session_id, party.id)

    def _hang_up(self, session_id: str, side: Literal["customer", "agent"]) -> None:
        session = self.engine.sessions.get(session_id)
        if session is None:
            return
        user = flows.user_party(session)
        party = user if side == "agent" else flows.far_party(session, user)
        self.engine.hang_up(session_id, party.id)

    def _arrival(self, *, chain: bool) -> None:
        if chain:
            gap = self.rng.expovariate(1.0 / MEAN_GAP)
            self._schedule(gap, partial(self._arrival, chain=True))
        idle = self.idle_agents()
        if idle:
            self.place(self._random_request(idle))

    def _random_request(self, idle: list[Agent]) -> CallRequest:
        scenarios = list(SCENARIO_WEIGHTS)
        weights = list(SCENARIO_WEIGHTS.values())
        scenario = self.rng.choices(scenarios, weights)[0]
        agent, *others = self.rng.sample(idle, len(idle))
        if scenario == "internal" and not others:
            scenario = "inbound"
        peer = others[0] if scenario == "internal" else None
        return CallRequest(scenario, agent, random_plan(self.rng), peer=peer)

    # -- the runner ---------------------------------------------------------

    def _schedule(self, seconds: float, action: Action) -> None:
        """Run `action` after `seconds` simulated seconds."""
        if self._timeline.schedule(self._clock() + seconds / self._speed, action):
            self._wake.set()

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
