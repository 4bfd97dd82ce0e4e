"""HTTP endpoints of the voice app (thin: parse, call one service, shape the answer)."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.client_address import request_client_address
from tenants.db import in_public_schema
from tenants.errors import AuthenticationError
from tenants.responses import error_response
from tenants.selectors import resolve_api_key
from voice.engine.config import AgentConfig
from voice.engine.errors import AuraError, InvalidRequestError
from voice.realtime.client_secrets import (
    client_secret_mint,
    end_user_from_request,
    ttl_from_request,
)
from voice.realtime.limits import (
    LimitExceededError,
    client_secret_allowed_for,
    client_secret_allowed_from,
)
from voice.realtime.session_config import apply_session_update

STATUS_BY_TYPE = {
    "authentication_error": 401,
    "permission_error": 403,
    "rate_limit_error": 429,
    "invalid_request_error": 400,
}


def bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            "Send your secret key as 'Authorization: Bearer sk_…'.", code="missing_api_key"
        )
    return token.strip()


@csrf_exempt
@require_POST
async def client_secret_create(request: HttpRequest) -> HttpResponse:
    """POST /v1/realtime/client_secrets: a short-lived `ek_…` key for a browser."""
    try:
        await client_secret_allowed_from(request_client_address(request))
        issuer = await in_public_schema(
            resolve_api_key, bearer_token(request), required_scope="realtime"
        )
        if issuer.kind != "sk":
            raise AuthenticationError("Client secrets are minted with a secret (sk_) key.")
        await client_secret_allowed_for(issuer.key_id)
        body = _json_body(request)
        session = body.get("session") or {}
        if not isinstance(session, dict):
            raise InvalidRequestError("session must be an object", param="session")
        # Refuse settings now that would otherwise fail only when the browser connects.
        apply_session_update(AgentConfig(), session)
        secret = await client_secret_mint(
            issuer=issuer,
            ttl_s=ttl_from_request(body),
            session=session,
            end_user_id=end_user_from_request(body),
        )
    except AuraError as error:
        response = error_response(request, error, status=STATUS_BY_TYPE.get(error.error_type, 500))
        if isinstance(error, LimitExceededError) and error.retry_after_s is not None:
            response["Retry-After"] = str(error.retry_after_s)
        return response
    return JsonResponse(
        {"value": secret.value, "expires_at": secret.expires_at, "session": session}
    )


def _json_body(request: HttpRequest) -> dict[str, object]:
    if not request.body:
        return {}
    if len(request.body) > 64 * 1024:
        raise InvalidRequestError("request body over 64 KiB")
    try:
        body = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidRequestError("request body is not valid JSON", code="invalid_json") from error
    if not isinstance(body, dict):
        raise InvalidRequestError("request body must be a JSON object", code="invalid_json")
    return body
