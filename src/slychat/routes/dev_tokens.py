"""`POST /api/dev/token {role, id}`: a token for the demo page, in dev mode only.

Dev mode means no key is configured: the process made up its own secret and `make run`
prints tokens anyway. Outside dev mode the route does not exist (404), whatever
SLYCHAT_DEMO says: a server holding a real key never mints tokens for a web request.

Even in dev mode only the page itself may ask: another web site open in the developer's
browser must not be able to mint a token against their local server (CORS allows any
origin by default), nor reach it through a domain name of its own resolving to loopback
(DNS rebinding). So the request must be same-origin JSON, to a loopback or configured host.
"""

from __future__ import annotations

import ipaddress
import json

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from slychat.container import Container
from slychat.domain import web_urls
from slychat.domain.errors import AppError, Forbidden, Invalid
from slychat.domain.identity import Role, User
from slychat.protocol import outbound as wire
from slychat.services.auth import parse_user_id

ROLES = {"customer": Role.CUSTOMER, "vendor": Role.VENDOR}
TOKEN_TTL = 12 * 3600
_MAX_BODY = 1024
_NO_STORE = {"Cache-Control": "no-store"}


def dev_token_routes(container: Container) -> list[Route]:
    if not (container.settings.dev_mode and container.tokens.dev_mode):
        return []
    trusted_hosts = {"localhost"}
    public = web_urls.parse(container.settings.public_url)
    if public is not None:
        trusted_hosts.add(public.hostname)
    ttl = int(min(TOKEN_TTL, container.tokens.policy.max_lifetime))

    async def mint(request: Request) -> JSONResponse:
        try:
            _check_caller(request, trusted_hosts)
            user = _user(await _body(request))
            token = container.tokens.mint(user, ttl)
        except AppError as exc:
            return JSONResponse(wire.error(exc), exc.status_code, headers=_NO_STORE)
        data = {"token": token, "userId": user.id, "userType": user.role.value, "expiresIn": ttl}
        body = wire.ok("Token minted (dev mode)", data)
        return JSONResponse(body, headers=_NO_STORE)

    return [Route("/api/dev/token", mint, methods=["POST"])]


def _check_caller(request: Request, trusted_hosts: set[str]) -> None:
    host = request.headers.get("host", "")
    # Host and Origin are read as the browser wrote them (web_urls), never more loosely.
    this = web_urls.authority(host)
    if this is None or not (_is_ip(this.hostname) or this.hostname in trusted_hosts):
        raise Forbidden("Dev tokens are only handed out on loopback or SLYCHAT_PUBLIC_URL")
    # Browsers say where a request comes from; a page of another site is refused.
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("Dev tokens are only handed out to this server's own page")
    origin = request.headers.get("origin")
    if origin is not None and not _same_host(origin, host):
        raise Forbidden("Dev tokens are only handed out to this server's own page")
    # Cross-origin JSON needs a CORS preflight; a form post cannot send it.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Invalid("Send the request as application/json")


def _same_host(origin: str, host: str) -> bool:
    """Whether `origin` is an origin on the very host (and port) the request was sent to."""
    url = web_urls.parse(origin)
    here = None if url is None else web_urls.authority(host, url.scheme)
    return url is not None and here is not None and url.origin == here.origin


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


async def _body(request: Request) -> object:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_BODY:
            raise Invalid("The request body is too large")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise Invalid("The body must be JSON: {role, id}") from exc


def _user(body: object) -> User:
    if not isinstance(body, dict):
        raise Invalid("The body must be a JSON object: {role, id}")
    role = body.get("role")
    if not isinstance(role, str) or role.lower() not in ROLES:
        raise Invalid("role must be 'customer' or 'vendor'")
    user_id = parse_user_id(body.get("id"), Invalid("id must be a user id (an integer)"))
    return User(ROLES[role.lower()], user_id)
