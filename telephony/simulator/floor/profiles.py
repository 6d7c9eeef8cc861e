"""Named floor profiles: how big the account is and how busy its floor.

A profile fixes the account (agents, queues) and the traffic model of the
floor generator: arrival rate, scenario mix, durations and how often calls
are held, muted, recorded, transferred, parked or sent to voicemail. All
durations are simulated seconds (divided by `SimulatorConfig.speed`).

Concurrency follows Little's law: calls in progress ≈ arrival rate x mean
call duration, so `load-5000` pairs short calls (about 40 s) with about
120 arrivals a second to hold 5,000 calls at roughly 1,000 events/s. With
the same mix a call makes about 9 events, so `load-2000` (the benchmark
floor: 300 events/s) needs 34 arrivals a second, and calls of about 60 s
to hold 2,000.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from telephony.simulator.engine.account import (
    DEMO_ACCOUNT,
    Account,
    QueueSpec,
    build_account,
)

SCENARIOS = ("inbound", "queue", "outbound", "internal")


@dataclass(frozen=True)
class CallShape:
    """Distributions of one call's timings and of what happens in it."""

    ring: tuple[float, float] = (3.0, 12.0)
    # Talk time is log-normal (median about two minutes, long tail), the
    # usual shape of contact-centre handle times.
    talk_median: float = 120.0
    talk_sigma: float = 0.7
    talk_range: tuple[float, float] = (20.0, 900.0)
    hold_chance: float = 0.25
    hold_range: tuple[float, float] = (10.0, 60.0)
    abandon_chance: float = 0.08
    customer_hangs_up: float = 0.55
    mute_chance: float = 0.0
    record_chance: float = 0.0
    voicemail_chance: float = 0.0
    transfer_chance: float = 0.0
    # Of the transfers, the share done warm (consult, then bridge).
    warm_share: float = 0.5
    park_chance: float = 0.0
    ringout_share: float = 0.0


@dataclass(frozen=True)
class SpellShape:
    """How often agents are unavailable: the share of agents away at any
    moment, how long a spell lasts (simulated seconds, uniform) and what
    kind it is (weights): `away` (userStatus Busy: at lunch, in a
    meeting), `dnd` (Do Not Disturb), `no_queue` (DoNotAcceptDepartment-
    Calls: a break from the queues, direct calls still ring) and
    `offline` (userStatus Offline: logged out)."""

    share: float = 0.0
    length: tuple[float, float] = (120.0, 600.0)
    mix: dict[str, float] = field(
        default_factory=lambda: {
            "away": 45.0,
            "dnd": 30.0,
            "no_queue": 15.0,
            "offline": 10.0,
        }
    )


# About 7 % of agents unavailable at any time, for 2-10 minutes each.
FLOOR_SPELLS = SpellShape(share=0.07)


@dataclass(frozen=True)
class Profile:
    """One named floor: account size, arrival process, call shape."""

    name: str
    agents: int
    queues: QueueSpec
    generate: bool
    # Simulated seconds between arrivals (mean of an exponential gap).
    mean_gap: float = 20.0
    # Calls placed in the first `warm_up_seconds`, so a floor never opens
    # empty (and a load profile reaches its level quickly).
    warm_up: int = 0
    warm_up_seconds: float = 8.0
    mix: dict[str, float] = field(
        default_factory=lambda: {
            "inbound": 75.0,
            "queue": 0.0,
            "outbound": 20.0,
            "internal": 5.0,
        }
    )
    # How many idle members of a queue ring in parallel for one call.
    parallel_ring: int = 2
    shape: CallShape = CallShape()
    # Agents stepping away (generating profiles only).
    spells: SpellShape = SpellShape()

    def account(self) -> Account:
        """The profile's account (built once per profile, cached)."""
        return _account(self.name)


PROFILES: dict[str, Profile] = {
    # Silent: calls only through /_sim/calls and Call Control (tests).
    "none": Profile("none", agents=10, queues=QueueSpec(2, 5), generate=False),
    # A quiet office: ten people, a call every minute or so.
    "office": Profile(
        "office",
        agents=10,
        queues=QueueSpec(2, 5),
        generate=True,
        mean_gap=60.0,
        warm_up=1,
        mix={"inbound": 50, "queue": 10, "outbound": 30, "internal": 10},
        shape=CallShape(hold_chance=0.15, voicemail_chance=0.1, transfer_chance=0.05),
        spells=FLOOR_SPELLS,
    ),
    # What `make run` shows: ten agents, Sales and Support ringing in
    # parallel, a little of everything.
    "demo": Profile(
        "demo",
        agents=10,
        queues=QueueSpec(2, 5),
        generate=True,
        mean_gap=20.0,
        warm_up=4,
        mix={"inbound": 35, "queue": 40, "outbound": 20, "internal": 5},
        shape=CallShape(
            mute_chance=0.1,
            record_chance=0.3,
            voicemail_chance=0.06,
            transfer_chance=0.12,
            park_chance=0.04,
            ringout_share=0.2,
        ),
        spells=FLOOR_SPELLS,
    ),
    # A contact centre: 400 agents in eight queues, ~250 calls in progress.
    "contact-centre": Profile(
        "contact-centre",
        agents=400,
        queues=QueueSpec(8, 50),
        generate=True,
        mean_gap=0.7,
        warm_up=60,
        mix={"inbound": 10, "queue": 70, "outbound": 18, "internal": 2},
        parallel_ring=3,
        shape=CallShape(
            mute_chance=0.05,
            record_chance=0.5,
            voicemail_chance=0.03,
            transfer_chance=0.08,
            park_chance=0.02,
            ringout_share=0.1,
        ),
        spells=FLOOR_SPELLS,
    ),
    # 5,000 concurrent calls at about 1,000 events a second.
    "load-5000": Profile(
        "load-5000",
        agents=10_000,
        queues=QueueSpec(20, 500),
        generate=True,
        mean_gap=1 / 120,
        warm_up=1500,
        warm_up_seconds=10.0,
        mix={"inbound": 30, "queue": 40, "outbound": 25, "internal": 5},
        parallel_ring=2,
        shape=CallShape(
            ring=(2.0, 5.0),
            talk_median=36.0,
            talk_sigma=0.15,
            talk_range=(25.0, 60.0),
            hold_chance=0.2,
            hold_range=(3.0, 8.0),
            abandon_chance=0.02,
            record_chance=0.2,
            voicemail_chance=0.02,
            transfer_chance=0.03,
            park_chance=0.01,
        ),
        spells=FLOOR_SPELLS,
    ),
    # The benchmark floor: 2,000 concurrent calls at about 300 events a
    # second (docs/simulator.md "Load figures").
    "load-2000": Profile(
        "load-2000",
        agents=4_000,
        queues=QueueSpec(10, 400),
        generate=True,
        mean_gap=1 / 34,
        warm_up=600,
        warm_up_seconds=10.0,
        mix={"inbound": 30, "queue": 40, "outbound": 25, "internal": 5},
        parallel_ring=2,
        shape=CallShape(
            ring=(2.0, 5.0),
            talk_median=55.0,
            talk_sigma=0.15,
            talk_range=(40.0, 85.0),
            hold_chance=0.2,
            hold_range=(3.0, 8.0),
            abandon_chance=0.02,
            record_chance=0.2,
            voicemail_chance=0.02,
            transfer_chance=0.03,
            park_chance=0.01,
        ),
        spells=FLOOR_SPELLS,
    ),
}
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def profile_named(name: str) -> Profile:
    """The profile with this name; ValueError for an unknown one."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"profile must be one of {PROFILE_NAMES}, not {name!r}"
        ) from None


@functools.cache
def _account(name: str) -> Account:
    profile = PROFILES[name]
    if profile.agents == 10 and profile.queues == QueueSpec(2, 5):
        return DEMO_ACCOUNT
    return build_account(profile.agents, profile.queues)
