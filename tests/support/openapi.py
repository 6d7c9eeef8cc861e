"""Validate simulator payloads against RingCentral's public OpenAPI file.

The spec (OpenAPI 3.0.3) is loaded once per test run and used as a JSON
Schema resource, so `$ref`s between components resolve as in the file.
"""

from __future__ import annotations

import functools
from typing import Any

import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.support.paths import OPENAPI

SPEC_PATH = OPENAPI
SPEC_URI = "urn:ringcentral:rc-public-openapi"


@functools.cache
def spec() -> dict[str, Any]:
    """The parsed OpenAPI document (C loader when available: 50k lines)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=loader)


@functools.cache
def _registry() -> Registry:
    resource = Resource(contents=spec(), specification=DRAFT4)
    return Registry().with_resource(SPEC_URI, resource)


@functools.cache
def validator(schema: str) -> Draft4Validator:
    """Validator for `components.schemas.<schema>`, with $refs resolved."""
    if schema not in spec()["components"]["schemas"]:
        raise KeyError(f"no schema {schema} in the OpenAPI file")
    ref = {"$ref": f"{SPEC_URI}#/components/schemas/{schema}"}
    return Draft4Validator(ref, registry=_registry())


def assert_valid(schema: str, instance: Any) -> None:
    """Fail with every violation listed if `instance` breaks the schema."""
    errors = sorted(validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    messages = [f"{list(e.path)}: {e.message}" for e in errors]
    assert not messages, f"{schema} violations:\n" + "\n".join(messages)


def required(schema: str) -> list[str]:
    """The schema's `required` list (to assert presence explicitly)."""
    return list(spec()["components"]["schemas"][schema].get("required", []))


@functools.cache
def response_validator(response: str) -> Draft4Validator:
    """Validator for `components.responses.<response>` (its JSON schema)."""
    responses = spec()["components"].get("responses", {})
    if response not in responses:
        raise KeyError(f"no response {response} in the OpenAPI file")
    pointer = f"{SPEC_URI}#/components/responses/{response}"
    ref = {"$ref": f"{pointer}/content/application~1json/schema"}
    return Draft4Validator(ref, registry=_registry())


def assert_valid_response(response: str, instance: Any) -> None:
    """Like `assert_valid`, for a named response (e.g. OauthInvalidRequest)."""
    errors = response_validator(response).iter_errors(instance)
    messages = [f"{list(e.path)}: {e.message}" for e in errors]
    assert not messages, f"{response} violations:\n" + "\n".join(messages)
