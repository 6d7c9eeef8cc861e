"""OAuth endpoints: token (JWT and refresh grants), revoke, wstoken.

docs/ringcentral.md 2 and 5.2. The token endpoint is form-encoded only and
authenticates the app with HTTP Basic; every failure returns RingCentral's
OAuth error body.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from urllib.parse import parse_qs

from telephony.simulator.defaults import GRANTED_SCOPE
from telephony.simulator.rest.auth import OAuthSession, TokenStore
from telephony.simulator.rest.errors import ApiError, api_error, oauth_error
from telephony.simulator.rest.httpserver import Request, Response, json_response

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"


class OAuthEndpoints:
    """Handlers for /restapi/oauth/*."""

    def __init__(
        self,
        *,
        tokens: TokenStore,
        client_id: str,
        client_secret: str,
        jwt: str,
        ws_uri: Callable[[Request], str],
    ) -> None:
        self._tokens = tokens
        self._client_id = client_id
        self._client_secret = client_secret
        self._jwt = jwt
        self._ws_uri = ws_uri

    def token(self, request: Request) -> Response:
        """POST /restapi/oauth/token."""
        form = self._form(request)
        self._check_client(request)
        grant = form.get("grant_type", "")
        if grant == JWT_GRANT:
            session = self._jwt_login(form)
        elif grant == "refresh_token":
            session = self._tokens.refresh(form.get("refresh_token", ""))
        else:
            raise oauth_error(
                400, "unsupported_grant_type", "OAU-250", "Unsupported grant type"
            )
        return json_response(200, self._token_info(session))

    def revoke(self, request: Request) -> Response:
        """POST /restapi/oauth/revoke: ends the whole OAuth session."""
        form = self._form(request)
        self._check_client(request)
        token = form.get("token") or request.query_value("token") or ""
        self._tokens.revoke(token)
        return Response(200)

    def wstoken(self, request: Request, session: OAuthSession) -> Response:
        """POST /restapi/oauth/wstoken: single-use gateway token."""
        return json_response(
            200,
            {
                "uri": self._ws_uri(request),
                "ws_access_token": self._tokens.issue_ws_token(session),
                "expires_in": self._tokens.ws_ttl,
            },
        )

    def _jwt_login(self, form: dict[str, str]) -> OAuthSession:
        assertion = form.get("assertion", "")
        if not hmac.compare_digest(assertion.encode(), self._jwt.encode()):
            # The platform's code for a rejected JWT is not confirmed in
            # public sources; OAU-140 is its "invalid resource owner
            # credentials" code, the closest documented meaning.
            raise oauth_error(
                400, "invalid_grant", "OAU-140", "Invalid resource owner credentials"
            )
        return self._tokens.login(
            endpoint_id=form.get("endpoint_id") or None,
            access_ttl=_ttl(form.get("access_token_ttl")),
            refresh_ttl=_ttl(form.get("refresh_token_ttl")),
        )

    def _token_info(self, session: OAuthSession) -> dict[str, object]:
        return {
            "access_token": session.access_token,
            "token_type": "bearer",
            "expires_in": session.access_ttl,
            "refresh_token": session.refresh_token,
            "refresh_token_expires_in": session.refresh_ttl,
            "scope": GRANTED_SCOPE,
            "owner_id": session.owner_id,
            "endpoint_id": session.endpoint_id,
            "session_id": session.id,
        }

    def _check_client(self, request: Request) -> None:
        scheme, _, encoded = request.header("authorization").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise oauth_error(
                401, "invalid_client", "OAU-123", "Client authentication is required"
            )
        try:
            client_id, _, secret = (
                base64.b64decode(encoded, validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            raise oauth_error(
                401, "invalid_client", "OAU-123", "Invalid Authorization header"
            ) from None
        valid = hmac.compare_digest(client_id.encode(), self._client_id.encode())
        valid &= hmac.compare_digest(secret.encode(), self._client_secret.encode())
        if not valid:
            raise oauth_error(
                401, "invalid_client", "OAU-146", "Invalid client credentials"
            )

    @staticmethod
    def _form(request: Request) -> dict[str, str]:
        media_type = request.header("content-type").split(";")[0].strip().lower()
        if media_type != FORM:
            raise _unsupported_media(media_type)
        try:
            pairs = parse_qs(
                request.body.decode(), keep_blank_values=True, strict_parsing=False
            )
        except UnicodeDecodeError:
            raise api_error(400, "CMN-104", "Cannot parse request") from None
        return {name: values[-1] for name, values in pairs.items()}


def _ttl(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and int(value) > 0 else None


def _unsupported_media(media_type: str) -> ApiError:
    return api_error(415, "CMN-415", f"Unsupported Media Type: [{media_type}]")
