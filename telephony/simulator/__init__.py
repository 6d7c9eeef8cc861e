"""The embedded RingCentral: a loopback server speaking the platform's wire
protocol (OAuth, Call Control REST, WebSocket gateway) over a generated
call floor. Used by `make run`, the integration tests and demos; production
code never imports it. See docs/simulator.md.
"""

from __future__ import annotations

from telephony.simulator.config import SimulatorConfig
from telephony.simulator.server import Simulator

__all__ = ["Simulator", "SimulatorConfig"]
