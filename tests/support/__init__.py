"""Every test helper lives in this package (one module per concern):

- `served`: the product as a user runs it (`manage.py serve`, processes,
  logins) in subprocesses on free loopback ports;
- `sim`: scripting the embedded RingCentral's floor through its control API;
- `worker`: a TelephonyWorker against the embedded RingCentral;
- `paths`: the reference data in tests/fixtures.

WAIT bounds every await on the network in a test (seconds); scale it with
SWITCHBOARD_TEST_WAIT on a slow machine. It is a bound, never a sleep.
"""

from __future__ import annotations

import os

WAIT = float(os.environ.get("SWITCHBOARD_TEST_WAIT", "10"))
