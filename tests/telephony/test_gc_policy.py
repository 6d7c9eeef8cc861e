"""telephony.gc_policy: the floor's objects are frozen as they settle, so
full collections skip them, and a cycle that dies frozen is still freed
by the periodic full collection (memory stays flat)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from telephony import gc_policy


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def thawed() -> Iterator[None]:
    """The test process runs without the policy: leave nothing frozen."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_turn_frees_young_cycles_then_freezes_what_lives(thawed: None) -> None:
    policy = gc_policy.Policy(full_every=600, clock=Clock())
    dead, alive = Node(), Node()
    gone, kept = weakref.ref(dead), weakref.ref(alive)
    del dead

    assert policy.step() is None  # not yet time for a full collection

    assert gone() is None  # a young cycle: collected before the freeze
    assert kept() is alive
    assert gc.get_freeze_count() > 0


def test_a_cycle_that_dies_frozen_is_freed_by_the_full_collection(
    thawed: None,
) -> None:
    clock = Clock()
    policy = gc_policy.Policy(full_every=600, clock=clock)
    node = Node()
    freed = weakref.ref(node)
    policy.step()  # frozen while alive
    del node

    gc.collect()
    assert freed() is not None  # frozen: a full collection skips it

    clock.now = 599.0
    assert policy.step() is None
    assert freed() is not None

    clock.now = 600.0
    assert policy.step() >= 1  # the full collection's turn
    assert freed() is None
    assert gc.get_freeze_count() > 0  # and what lives is frozen again


def test_disabled_in_the_test_process() -> None:
    assert gc_policy.disabled
    assert gc_policy.install() is None
