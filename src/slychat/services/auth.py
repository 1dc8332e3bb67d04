"""JWT verification: the marketplace platform's token shape, standard claims, and the policy
every token meets (algorithms, issuer, audience, expiry, lifetime)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from slychat.domain.errors import Unauthorized
from slychat.domain.identity import Role, User

if TYPE_CHECKING:
    from slychat.config.settings import Settings

log = logging.getLogger(__name__)

_ASYMMETRIC_PREFIXES = ("RS", "ES", "PS", "Ed")
# Clock drift between the platform issuing tokens and this server, at connect and after.
CLOCK_LEEWAY_SECONDS = 30
# A token naming a user and a role is a few hundred bytes; a longer one is refused before
# any base64 or JSON work is spent on it.
MAX_TOKEN_CHARS = 8192
# `jti` values are stored (revocations) in a column this wide.
MAX_TOKEN_ID_CHARS = 255
# User ids fit a signed 64-bit column: at most 19 digits.
_MAX_ID_DIGITS = 19


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """What a correctly signed token must also satisfy."""

    issuer: str | None = None  # `iss` must equal it, when set
    audience: str | None = None  # `aud` must name it, when set
    require_exp: bool | None = None  # None: required, except in dev mode
    max_lifetime: float = 30 * 86400  # seconds from `iat` (or now) to `exp`


@dataclass(frozen=True, slots=True)
class Credentials:
    """A verified token: who it names, until when, and the id it may be revoked by."""

    user: User
    expires_at: float | None  # `exp`, epoch seconds; None: the token has none (dev mode)
    token_id: str | None  # `jti`; None: the token cannot be revoked on its own

    @property
    def honoured_until(self) -> float | None:
        """When this server stops accepting the token: `exp` plus the clock leeway."""
        return None if self.expires_at is None else self.expires_at + CLOCK_LEEWAY_SECONDS


class TokenService:
    """Verifies tokens against the configured keys, algorithms and policy; mints dev tokens."""

    def __init__(
        self,
        secret: str | None,
        algorithms: list[str],
        public_key: str | None = None,
        policy: TokenPolicy | None = None,
        dev_secret: str | None = None,
    ) -> None:
        self.algorithms = [a for a in algorithms if a.lower() != "none"]
        if not self.algorithms:
            raise ValueError("at least one JWT algorithm other than 'none' is required")
        # No key configured: dev mode signs with `dev_secret` (kept beside the database,
        # services/dev_secret.py), or one made up for this process.
        self.dev_mode = not secret and not public_key
        self._signing_key = secret or (
            (dev_secret or secrets.token_urlsafe(32)) if self.dev_mode else None
        )
        self._public_key = public_key
        self.policy = policy or TokenPolicy()
        self.require_exp = (
            self.policy.require_exp if self.policy.require_exp is not None else not self.dev_mode
        )

    def derive_key(self, label: str) -> bytes | None:
        """A key for another purpose (signing sync cursors), derived from the shared
        secret; None without one: a public key is public, so nothing secret derives from it."""
        if self._signing_key is None:
            return None
        return hmac.new(self._signing_key.encode(), label.encode(), hashlib.sha256).digest()

    def verify(self, token: object) -> User:
        """The user a token names (for callers that need nothing else)."""
        return self.credentials(token).user

    def credentials(self, token: object) -> Credentials:
        """Everything the transport needs from a token; any failure is `Unauthorized`.

        `token` is whatever a client sent, so anything at all is refused cleanly."""
        if token is None or token == "":
            raise Unauthorized("Authentication token is missing")
        if not isinstance(token, str):
            raise Unauthorized("Token must be a string")
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("Token is too long")
        claims = self._claims(token)
        try:
            expires_at = self._check_lifetime(claims)
            token_id = _token_id(claims.get("jti"))
            user = user_from_claims(claims)
        except Unauthorized:
            raise
        except Exception as exc:  # odd claim values must not escape as anything else
            log.warning("refused a token whose claims broke the reader (%s)", type(exc).__name__)
            raise Unauthorized("Invalid token") from exc
        return Credentials(user, expires_at, token_id)

    def _claims(self, token: str) -> dict[str, Any]:
        """The signature and the registered claims checked; the claims returned."""
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if not isinstance(algorithm, str) or algorithm not in self.algorithms:
                raise Unauthorized("Token algorithm is not accepted")
            # The key follows the algorithm: a public key must never serve as an HMAC secret.
            key = (
                self._public_key
                if algorithm.startswith(_ASYMMETRIC_PREFIXES)
                else self._signing_key
            )
            if key is None:
                raise Unauthorized("Token algorithm is not accepted")
            policy = self.policy
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=policy.issuer,
                audience=policy.audience,
                options={
                    # Integer `sub` is how many platforms write user ids.
                    "verify_sub": False,
                    # Without a configured audience, whatever `aud` a token carries is not
                    # this server's concern.
                    "verify_aud": policy.audience is not None,
                    "require": ["exp"] if self.require_exp else [],
                },
                leeway=CLOCK_LEEWAY_SECONDS,
            )
            _check_numeric_dates(claims)
        except Unauthorized:
            raise
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("Token is not valid yet") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("Token issuer is not accepted") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("Token audience is not accepted") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"Token has no '{exc.claim}' claim") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid token") from exc
        except Exception as exc:  # the decoder met something it did not expect
            log.warning("refused a token that broke the decoder (%s)", type(exc).__name__)
            raise Unauthorized("Invalid token") from exc
        return claims

    def _check_lifetime(self, claims: Mapping[str, Any]) -> float | None:
        """`exp` as a number (the decoder already checked it), after the lifetime check:
        a stolen token must not stay good for longer than the platform should ever issue."""
        if "exp" not in claims:
            return None
        # Both integers already (`_check_numeric_dates`).
        expires_at: int = claims["exp"]
        start: int = claims["iat"] if "iat" in claims else int(time.time())
        if expires_at - start > self.policy.max_lifetime:
            raise Unauthorized("Token lifetime is longer than this server accepts")
        return float(expires_at)

    def mint(self, user: User, ttl_seconds: int = 3600, shape: str = "platform") -> str:
        """A token for development and tests, signed with the configured secret."""
        if self._signing_key is None or self.algorithms[0].startswith(_ASYMMETRIC_PREFIXES):
            raise ValueError("minting needs a shared secret (HS*) configuration")
        if ttl_seconds > self.policy.max_lifetime:
            raise ValueError("the lifetime is longer than SLYCHAT_JWT_MAX_LIFETIME accepts")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": secrets.token_urlsafe(16),  # so that `slychat revoke` can name it
        }
        if self.policy.issuer is not None:
            claims["iss"] = self.policy.issuer
        if self.policy.audience is not None:
            claims["aud"] = self.policy.audience
        if shape == "platform":
            claims |= {"data": {"id": user.id}, "types": [user.role.value.lower()]}
        else:
            claims |= {"sub": str(user.id), "role": user.role.value.lower()}
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithms[0])


def token_service(settings: Settings, dev_secret: str | None = None) -> TokenService:
    """The token service the settings describe (in dev mode, signing with `dev_secret`)."""
    return TokenService(
        settings.jwt_secret,
        settings.jwt_algorithms,
        settings.jwt_public_key,
        TokenPolicy(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            require_exp=settings.require_exp,
            max_lifetime=settings.jwt_max_lifetime,
        ),
        dev_secret,
    )


def user_from_claims(claims: Mapping[str, Any]) -> User:
    """Read (role, id) from either the platform shape or standard claims."""
    data = claims.get("data")
    if isinstance(data, Mapping) and "id" in data:
        raw_id: Any = data.get("id")
        types = claims.get("types")
        raw_role: Any = types[0] if isinstance(types, list) and types else None
    else:
        raw_id = claims.get("sub")
        raw_role = claims.get("role")
    # ASCII only: "adm\u0131n".upper() (a dotless i) is "ADMIN".
    if not isinstance(raw_role, str) or not raw_role.isascii():
        raise Unauthorized("Token has no valid role")
    try:
        role = Role(raw_role.upper())
    except ValueError as exc:
        raise Unauthorized("Token has no valid role") from exc
    return User(role, parse_user_id(raw_id, Unauthorized("Token has no valid user id")))


def parse_user_id(raw: Any, error: Exception) -> int:
    """User ids are integers; digit strings are accepted. Anything else raises `error`."""
    if isinstance(raw, bool):
        raise error
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _is_id_text(raw.strip()):
        value = int(raw.strip())
    else:
        raise error
    if not 0 <= value < 2**63:
        raise error
    return value


def _is_id_text(text: str) -> bool:
    # Bounded before int(): a long digit string would raise ValueError past Python's
    # digit limit (or cost time below it) instead of being refused.
    return 0 < len(text) <= _MAX_ID_DIGITS and text.isascii() and text.isdigit()


# JWT times this server reads: `exp`, `nbf`, `iat`.
_NUMERIC_DATES = ("exp", "nbf", "iat")


def _check_numeric_dates(claims: Mapping[str, Any]) -> None:
    """Times are JSON integers of seconds (0 to 2^63 - 1). PyJWT reads them through int(),
    which also takes floats, booleans and digit strings; none of those is accepted here."""
    for name in _NUMERIC_DATES:
        if name not in claims:
            continue
        value = claims[name]
        if type(value) is not int or not 0 <= value < 2**63:
            raise Unauthorized(f"Token has an invalid '{name}' claim")


def _token_id(raw: Any) -> str | None:
    """`jti`: a non-empty string short enough to be stored (PyJWT refuses other types)."""
    if raw is None:
        return None
    if isinstance(raw, str) and 0 < len(raw) <= MAX_TOKEN_ID_CHARS:
        return raw
    raise Unauthorized("Token has an invalid 'jti' claim")
