"""Hostile input for the property tests (tests/property): hypothesis
strategies that spoil real RingCentral frames and write absurd browser
messages.

Upstream frames start from the real captured telephony/sessions flows
(tests/fixtures/ringcentral/captured) and our own frame samples
(tests/fixtures/telephony), then mutate them the ways a broken or hostile
peer could: a field deleted, retyped, made huge, deep or strange
(bidi, NUL, lone surrogates), a negative or enormous sequence, an unknown
status, the JSON text cut short or padded to megabytes. Every frame carries
a generated secret and a customer's number in fields that are values, never
ids, so a test can prove neither reaches a log.

Every strategy is bounded, so that a property test's run time is too.
"""

from __future__ import annotations

import copy
import json
import os
import re
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings, strategies as st

from tests.support.paths import CAPTURED, TELEPHONY

# The profile of every property test: reproducible (the same examples on
# every run and machine, no example database), no per-example deadline
# (CI machines pause), and few enough examples that the whole property
# suite runs in well under a minute on two cores. For a longer hunt on a
# machine of one's own: SWITCHBOARD_PROPERTY_EXAMPLES=2000.
HOSTILE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=int(os.environ.get("SWITCHBOARD_PROPERTY_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MEGABYTE = 2**20
# Beyond the JSON decoder's and the interpreter's recursion limits.
DEEP = 5_000

Json = Any
Path = tuple[str | int, ...]


def _envelopes() -> list[dict[str, Any]]:
    found = []
    for path in sorted(CAPTURED.glob("*.json")):
        found.extend(json.loads(path.read_text()))
    return found


def _samples() -> list[list[Any]]:
    """Our frame samples: whole `[header, body]` frames of every kind."""
    return [
        json.loads(path.read_text())
        for path in sorted(TELEPHONY.glob("*.json"))
        if path.name != "call_session.json"  # a REST body, not a frame
    ]


# The 29 captured events of three real calls, in their order.
ENVELOPES = _envelopes()
SAMPLES = _samples()


def notification(envelope: dict[str, Any]) -> list[Any]:
    """A captured envelope as the WebSocket frame that carries it."""
    return [{"type": "ServerNotification", "messageId": envelope["uuid"]}, envelope]


# --- planted values ----------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    """Values planted in a frame that must never reach a log."""

    token: str  # as a recovery token (`wsc.token`) or any text field
    number: str  # a customer's E.164 number

    def leaked(self, text: str) -> list[str]:
        """Which planted values `text` holds (the number by its digits,
        which is what masking would cut)."""
        found = [self.token] if self.token in text else []
        if self.number[1:] in text:
            found.append(self.number)
        return found


planted = st.builds(
    Planted,
    token=st.text(string.ascii_letters + string.digits, min_size=12, max_size=24).map(
        lambda t: f"SECRET-{t}"
    ),
    number=st.integers(10**9, 10**10 - 1).map(lambda n: f"+1{n}"),
)

# Keys whose values a log may name on purpose (ids, event paths, a frame's
# kind, a gateway error's code and message): nothing is planted there.
NAMED_IN_LOGS = frozenset(
    {"uuid", "telephonySessionId", "id", "event", "type", "errorCode", "message"}
)


def value_paths(node: Json, at: Path = ()) -> list[Path]:
    """Every path to a leaf value of `node`, ids and kinds excluded."""
    if isinstance(node, dict):
        return [
            p
            for key, value in node.items()
            if key not in NAMED_IN_LOGS
            for p in value_paths(value, (*at, key))
        ]
    if isinstance(node, list):
        return [p for i, value in enumerate(node) for p in value_paths(value, (*at, i))]
    return [at]


def all_paths(node: Json, at: Path = ()) -> list[Path]:
    """Every path in `node`, containers included (not the root)."""
    below: list[Path] = []
    if isinstance(node, dict):
        for key, value in node.items():
            below += [(*at, key), *all_paths(value, (*at, key))]
    elif isinstance(node, list):
        for i, value in enumerate(node):
            below += [(*at, i), *all_paths(value, (*at, i))]
    return below


def _get(node: Json, path: Path) -> Json:
    for key in path:
        node = node[key]
    return node


def _set(node: Json, path: Path, value: Json) -> None:
    _get(node, path[:-1])[path[-1]] = value


def _delete(node: Json, path: Path) -> None:
    del _get(node, path[:-1])[path[-1]]


# --- hostile values -------------------------------------------------------------

STRANGE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\u202eevil\u202c",  # right-to-left override
        "\u2066x\u2069",
        "\ufeff",
        "\ud800",  # a lone surrogate: valid as a JSON escape, not as UTF-8
        "\udfff\ud83d",
        "\U0001f4de",
        "..",
        "../../restapi",
        "%00",
        "\n\r\t",
        "s-\nforged log line",
        "null",
        "Disconnected ",
        "gone",
        "VOICEMAIL",
        "<script>alert(1)</script>",
        "1e309",
    ]
)
HUGE_NUMBERS = st.sampled_from(
    [0, -1, -(2**31), 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**30, 10**400]
)


def deep(depth: int) -> str:
    """A stand-in for a list nested `depth` deep, which `dumps` writes out
    (the encoder itself would give up at the interpreter's recursion
    limit)."""
    return f"@@deep-{depth}@@"


_DEEP = re.compile(r'"@@deep-(\d+)@@"')


def dumps(data: Json) -> str:
    """JSON text of `data`, with every `deep` stand-in nested for real."""
    return _DEEP.sub(lambda m: "[" * int(m[1]) + "]" * int(m[1]), json.dumps(data))


hostile_value = st.one_of(
    st.none(),
    st.booleans(),
    HUGE_NUMBERS,
    st.floats(allow_nan=False, allow_infinity=False),
    STRANGE_TEXT,
    st.text(max_size=40),
    st.sampled_from([[], {}, [None], {"code": None}, {"": ""}]),
    st.sampled_from([20, 900, DEEP]).map(deep),
)


@st.composite
def mutated(draw: st.DrawFn, template: Json, secrets: Planted) -> Json:
    """`template` (copied) with secrets planted and 0-4 fields spoiled."""
    data = copy.deepcopy(template)
    leaves = value_paths(data)
    if leaves:
        for value in (secrets.token, secrets.number):
            _set(data, draw(st.sampled_from(leaves)), value)
    # Where a frame keeps its recovery token and a party its numbers.
    header = data[0] if isinstance(data, list) and data else None
    if isinstance(header, dict):
        header["wsc"] = {"token": secrets.token, "sequence": draw(HUGE_NUMBERS)}
    for _ in range(draw(st.integers(0, 4))):
        paths = all_paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["delete", "retype", "wrap", "duplicate"]))
        holder = _get(data, path[:-1])
        if how == "delete":
            _delete(data, path)
        elif how == "retype":
            _set(data, path, draw(hostile_value))
        elif how == "wrap":
            _set(data, path, draw(st.sampled_from([[_get(data, path)], {"": 0}])))
        elif isinstance(holder, list):  # a duplicated party, recording, ...
            holder.insert(path[-1], copy.deepcopy(holder[path[-1]]))
    return data


@st.composite
def frame_text(draw: st.DrawFn, data: Json) -> str:
    """`data` as WebSocket text, maybe spoiled as text: cut short, padded
    to megabytes, wrapped deeper than any parser's stack, or glued to
    junk."""
    text = dumps(data)
    how = draw(
        st.sampled_from(["as is", "as is", "truncated", "oversized", "deep", "junk"])
    )
    if how == "truncated":
        return text[: draw(st.integers(0, max(len(text) - 1, 0)))]
    if how == "oversized":
        size = draw(st.sampled_from([MEGABYTE // 2, 2 * MEGABYTE]))
        if isinstance(data, list) and len(data) == 2 and isinstance(data[1], dict):
            body = dict(data[1], padding="x" * size)
            return dumps([data[0], body])
        return json.dumps([{"type": "Heartbeat"}, {"padding": "x" * size}])
    if how == "deep":
        depth = draw(st.sampled_from([DEEP, DEEP * 4]))
        return "[" * depth + text + "]" * depth
    if how == "junk":
        junk = draw(st.sampled_from(["\x00", "\ufeff", ",", "]", "}{", "\u202e"]))
        return draw(st.sampled_from([junk + text, text + junk]))
    return text


@st.composite
def upstream_frame(draw: st.DrawFn, secrets: Planted) -> str:
    """One spoiled frame: a captured event's or a sample's."""
    template = draw(
        st.one_of(
            st.sampled_from(ENVELOPES).map(notification), st.sampled_from(SAMPLES)
        )
    )
    return draw(frame_text(draw(mutated(template, secrets))))


@st.composite
def upstream_flow(draw: st.DrawFn, secrets: Planted) -> list[str]:
    """A stream's worth of frames: the captured events in any order, some
    twice, some spoiled, with a few spoiled samples of other kinds."""
    frames = []
    for _ in range(draw(st.integers(1, 24))):
        envelope = draw(st.sampled_from(ENVELOPES))
        if draw(st.integers(0, 3)) == 0:
            frames.append(draw(upstream_frame(secrets)))
        else:
            frames.append(dumps(notification(envelope)))
    return frames


# --- browser messages ----------------------------------------------------------


def _json_values(leaf: st.SearchStrategy[Json]) -> st.SearchStrategy[Json]:
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.text(max_size=8), inner, max_size=3),
        ),
        max_leaves=8,
    )


ANY_JSON = _json_values(st.one_of(hostile_value, st.integers(), st.text(max_size=20)))
IDS = st.one_of(
    st.sampled_from(["s-1", "p-1-2", "req-1", "a.b:c=d-_"]),
    STRANGE_TEXT,
    st.sampled_from(["s-1\n", "s-1\r\n", "x" * 129, ".", "...", "s 1", "s/1", "s?1"]),
    st.text(max_size=20),
    HUGE_NUMBERS,
    st.none(),
    st.sampled_from([["s-1"], {"id": "s-1"}]),
)
KINDS = st.one_of(
    st.sampled_from(["command", "ack", "viewing", "resync", "Command", "", "ping"]),
    ANY_JSON,
)


@st.composite
def browser_message(draw: st.DrawFn) -> str:
    """A message a console might send, mostly wrong: every field drawn from
    sane and absurd values alike, or plain junk text."""
    from telephony import actions

    fields = {
        "type": KINDS,
        "requestId": IDS,
        "action": st.one_of(st.sampled_from(sorted(actions.ACTIONS)), ANY_JSON),
        "sessionId": IDS,
        "partyId": IDS,
        "alertId": st.one_of(st.sampled_from(["no_agent:s-1", "x:"]), IDS),
        "params": ANY_JSON,
    }
    message = {
        name: draw(value)
        for name, value in fields.items()
        if draw(st.booleans())  # each field present or not
    }
    how = draw(
        st.sampled_from(["object", "object", "object", "other", "oversized", "deep"])
    )
    if how == "other":
        return draw(
            st.one_of(
                ANY_JSON.map(dumps),
                st.text(max_size=40),
                st.just(dumps(message)[:-1]),
            )
        )
    if how == "oversized":
        name = draw(st.sampled_from(sorted(fields)))
        return dumps({**message, name: "x" * MEGABYTE})
    if how == "deep":
        where = draw(st.sampled_from(sorted(fields)))
        return dumps({**message, where: deep(draw(st.sampled_from([900, DEEP])))})
    return dumps(message)


def with_secrets(
    make: Any,
) -> st.SearchStrategy[tuple[Planted, Any]]:
    """`make(secrets)`'s examples, each beside the secrets planted in it."""
    return planted.flatmap(lambda secrets: st.tuples(st.just(secrets), make(secrets)))
