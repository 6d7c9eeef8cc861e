"""What a call will do over time: ring, talk, hold, who hangs up, and the
occasional mute, recording, transfer, park or voicemail.

Pure and seeded: `random_plan` draws realistic durations in simulated
seconds from a profile's `CallShape`; the floor divides them by `speed`
when it schedules them. The control API builds plans from explicit knobs.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any, Literal

from telephony.simulator.floor.profiles import CallShape

Side = Literal["customer", "agent"]
TransferKind = Literal["blind", "warm"]

DEFAULT_SHAPE = CallShape()
# Kept for callers of the first slice; the shape holds the live values.
RING_RANGE = DEFAULT_SHAPE.ring
TALK_MEDIAN = DEFAULT_SHAPE.talk_median
# Simulated seconds a caller spends leaving a voicemail message.
VOICEMAIL_RANGE = (8.0, 30.0)
PARK_RANGE = (5.0, 30.0)


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
    mute_at: float | None = None
    mute_for: float = 0.0
    record: bool = False
    # Nobody answers: the caller leaves a message for `talk` seconds.
    voicemail: bool = False
    transfer_at: float | None = None
    transfer: TransferKind = "blind"
    park_at: float | None = None
    park_for: float = 0.0


def random_plan(rng: random.Random, shape: CallShape = DEFAULT_SHAPE) -> CallPlan:
    """A plausible call drawn from the shape's distributions."""
    ring = rng.uniform(*shape.ring)
    talk = min(
        max(
            rng.lognormvariate(0, shape.talk_sigma) * shape.talk_median,
            shape.talk_range[0],
        ),
        shape.talk_range[1],
    )
    hold_at = None
    hold_for = 0.0
    if rng.random() < shape.hold_chance:
        hold_for = rng.uniform(*shape.hold_range)
        hold_at = rng.uniform(0.2, 0.6) * talk
        talk += hold_for
    plan = CallPlan(
        ring=ring,
        talk=talk,
        hold_at=hold_at,
        hold_for=hold_for,
        hangup_by="customer" if rng.random() < shape.customer_hangs_up else "agent",
        abandon=rng.random() < shape.abandon_chance,
    )
    return _extras(rng, shape, plan)


def _extras(rng: random.Random, shape: CallShape, plan: CallPlan) -> CallPlan:
    """The rarer events; each draws only when its chance is non-zero, so
    profiles without them keep the first slice's random stream."""
    talk = plan.talk or 0.0
    fields: dict[str, Any] = {}
    if shape.voicemail_chance and rng.random() < shape.voicemail_chance:
        fields.update(voicemail=True, talk=rng.uniform(*VOICEMAIL_RANGE))
    if shape.mute_chance and rng.random() < shape.mute_chance:
        fields.update(mute_at=rng.uniform(0.1, 0.5) * talk, mute_for=5.0)
    if shape.record_chance and rng.random() < shape.record_chance:
        fields["record"] = True
    if shape.transfer_chance and rng.random() < shape.transfer_chance:
        warm = rng.random() < shape.warm_share
        fields.update(
            transfer_at=rng.uniform(0.3, 0.6) * talk,
            transfer="warm" if warm else "blind",
        )
    elif shape.park_chance and rng.random() < shape.park_chance:
        fields.update(
            park_at=rng.uniform(0.2, 0.5) * talk, park_for=rng.uniform(*PARK_RANGE)
        )
    if not fields:
        return plan
    return dataclasses.replace(plan, **fields)
