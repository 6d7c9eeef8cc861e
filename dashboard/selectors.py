"""Reads for the dashboard: models into JSON-ready dicts (no network)."""

from __future__ import annotations

from telephony.models import Extension


def extension_directory_get() -> dict[str, dict[str, str]]:
    """The extension directory: {extension_id: {"number", "name"}}."""
    return {
        ext_id: {"number": number, "name": name}
        for ext_id, number, name in Extension.objects.values_list(
            "extension_id", "extension_number", "name"
        )
    }
