"""Where the tests' reference data lives (all inside the repository)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
RINGCENTRAL = FIXTURES / "ringcentral"
# Real telephony/sessions flows captured on the platform (README there).
CAPTURED = RINGCENTRAL / "captured"
# RingCentral's own OpenAPI description, unmodified.
OPENAPI = RINGCENTRAL / "rc-public-openapi.yml"
TELEPHONY = FIXTURES / "telephony"  # our own small payload samples
