"""The simulator's own control API under /_sim/ (not RingCentral): place calls,
act on desk phones, read the ground truth, switch faults on and off.
May import floor/, rest/ (HTTP types, error bodies), engine/ and the top-level
faults module, never gateway/ (one-shot socket faults come in as callbacks).
"""
