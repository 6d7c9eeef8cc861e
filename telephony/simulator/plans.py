"""What a call will do over time: ring, talk, hold, who hangs up.

Pure and seeded: `random_plan` draws realistic durations in simulated
seconds; the floor divides them by `speed` when it schedules them. The
control API builds plans from explicit knobs instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Side = Literal["customer", "agent"]

# Durations in simulated seconds. Talk time is log-normal (median about two
# minutes, long tail), the usual shape of contact-centre handle times.
RING_RANGE = (3.0, 12.0)
TALK_MEDIAN = 120.0
TALK_SIGMA = 0.7
TALK_RANGE = (20.0, 900.0)
HOLD_CHANCE = 0.25
HOLD_RANGE = (10.0, 60.0)
ABANDON_CHANCE = 0.08
CUSTOMER_HANGS_UP = 0.55


@dataclass(frozen=True)
class CallPlan:
    """Timings of one call; `None` means "only when told to"."""

    ring: float | None
    talk: float | None
    hold_at: float | None = None
    hold_for: float = 0.0
    hangup_by: Side = "customer"
    # The caller gives up while it still rings (a missed call).
    abandon: bool = False


def random_plan(rng: random.Random) -> CallPlan:
    """A plausible call drawn from the distributions above."""
    ring = rng.uniform(*RING_RANGE)
    talk = min(
        max(rng.lognormvariate(0, TALK_SIGMA) * TALK_MEDIAN, TALK_RANGE[0]),
        TALK_RANGE[1],
    )
    hold_at = None
    hold_for = 0.0
    if rng.random() < HOLD_CHANCE:
        hold_for = rng.uniform(*HOLD_RANGE)
        hold_at = rng.uniform(0.2, 0.6) * talk
        talk += hold_for
    return CallPlan(
        ring=ring,
        talk=talk,
        hold_at=hold_at,
        hold_for=hold_for,
        hangup_by="customer" if rng.random() < CUSTOMER_HANGS_UP else "agent",
        abandon=rng.random() < ABANDON_CHANCE,
    )
