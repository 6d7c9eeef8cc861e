"""Fixed identities of the simulated RingCentral account.

Everything here is deliberately fake and public: the credentials only open
the loopback simulator, never a real RingCentral account. The numbers follow
the shapes real RingCentral uses (numeric string ids, E.164 numbers), so the
production client cannot tell the simulator from the platform by their form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Credentials the simulator accepts when none are configured. They are
# printed in logs and docs on purpose: they unlock nothing but localhost.
LOCAL_CLIENT_ID = "switchboard-local-client"
LOCAL_CLIENT_SECRET = "switchboard-local-secret"
LOCAL_JWT = "switchboard-local-jwt"

ACCOUNT_ID = "1000000001"
COMPANY_NUMBER = "+16505550100"
# docs/ringcentral.md 6.3: real events carry an opaque server id per session.
SERVER_ID = "10.13.22.27.TAM"
# Scopes granted to every token; the legacy and console names of the
# WebSocket scope both appear because clients must not care (docs/ringcentral.md 4).
GRANTED_SCOPE = (
    "CallControl ReadAccounts ReadPresence ReadCallLog WebSocketsSubscriptions"
)


@dataclass(frozen=True, slots=True)
class Agent:
    """One RingCentral user extension that takes calls.

    `extension_id` (1000000101) and `device_id` (its desk phone, 80000101)
    derive from the extension number; they are computed once because the
    floor reads them for every call.
    """

    extension_number: str
    name: str
    extension_id: str = field(init=False, repr=False, compare=False)
    device_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extension_id", f"1000000{self.extension_number}")
        object.__setattr__(self, "device_id", f"80000{self.extension_number}")


AGENTS: tuple[Agent, ...] = (
    Agent("101", "Alice Agent"),
    Agent("102", "Bob Builder"),
    Agent("103", "Carmen Ortiz"),
    Agent("104", "Deepak Rao"),
    Agent("105", "Emma Schultz"),
    Agent("106", "Farid Haddad"),
    Agent("107", "Grace Liu"),
    Agent("108", "Hiro Tanaka"),
    Agent("109", "Ines Moreau"),
    Agent("110", "Jamal Wright"),
)

# The JWT belongs to Alice (docs/ringcentral.md 2.2 uses her as the token owner), so
# the extension-level filter "/extension/~/" is her own calls.
OWNER = AGENTS[0]

# Caller-id names as carriers deliver them: upper case, often generic.
CALLER_NAMES: tuple[str, ...] = (
    "WIRELESS CALLER",
    "SMITH JOHN",
    "GARCIA MARIA",
    "CHEN WEI",
    "PATEL ANIL",
    "OKAFOR NGOZI",
    "MUELLER KLAUS",
    "ROSSI GIULIA",
    "ACME CORP",
    "SAN FRANCISCO CA",
)


def agent_by_number(extension_number: str) -> Agent | None:
    """Return the agent with this extension number, if any."""
    return next((a for a in AGENTS if a.extension_number == extension_number), None)


def agent_by_id(extension_id: str) -> Agent | None:
    """Return the agent with this extension id, if any."""
    return next((a for a in AGENTS if a.extension_id == extension_id), None)
