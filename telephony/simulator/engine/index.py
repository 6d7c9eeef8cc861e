"""Which live sessions each extension is in: O(1) "is this agent busy?"
for the floor and presence, however many calls are live."""

from __future__ import annotations

from telephony.simulator.engine.model import ENDED, Party, Session


class ExtensionIndex:
    """extension id → ids of sessions where it has a live party."""

    def __init__(self) -> None:
        self._ids: dict[str, set[str]] = {}

    def session_ids(self, extension_id: str) -> set[str] | tuple[()]:
        """Ids of sessions with a live party of this extension."""
        return self._ids.get(extension_id, ())

    def update(self, session: Session, party: Party) -> None:
        """Account for the new snapshot of `party` (already stored)."""
        ext = party.extension_id
        if ext is None:
            return
        if party.status not in ENDED:
            self._ids.setdefault(ext, set()).add(session.id)
            return
        still = any(
            p.extension_id == ext and p.status not in ENDED
            for p in session.parties.values()
        )
        ids = self._ids.get(ext)
        if not still and ids is not None:
            ids.discard(session.id)
            if not ids:
                del self._ids[ext]
