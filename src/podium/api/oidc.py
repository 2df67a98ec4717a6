"""Verify JWT bearer tokens issued by a team's OIDC identity provider.

Podium never holds the provider's secrets: it checks a token's signature against the provider's
published public keys (a JWKS) and then its claims. Only asymmetric algorithms are accepted, and a
symmetric (``oct``) key in a JWKS is ignored, so a token cannot be "signed" with a public key used
as an HMAC secret (algorithm confusion). Keys are chosen by the token's ``kid`` and never taken
from the token itself (``jwk``, ``jku`` and ``x5u`` headers are ignored).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from podium.errors import InvalidInput, PodiumError

log = logging.getLogger("podium.api.oidc")

ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""The only algorithms a verifier may be configured with: every one needs a public key."""

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
"""What a user claim must look like to become a Podium user name (matched in full)."""

MAX_TOKEN_CHARS = 16_384
JWKS_REFRESH_COOLDOWN_S = 30.0
JWKS_CACHE_LIFESPAN_S = 300.0
JWKS_FETCH_TIMEOUT_S = 10.0
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_PRIVATE_KEY_TYPES = (RSAPrivateKey, EllipticCurvePrivateKey, Ed25519PrivateKey, Ed448PrivateKey)
_ENV_ISSUER = "PODIUM_OIDC_ISSUER"
_ENV_AUDIENCE = "PODIUM_OIDC_AUDIENCE"
_ENV_JWKS = "PODIUM_OIDC_JWKS"
_ENV_USER_CLAIM = "PODIUM_OIDC_USER_CLAIM"
_ENV_GROUPS_CLAIM = "PODIUM_OIDC_GROUPS_CLAIM"


class InvalidToken(PodiumError):
    """A bearer JWT that Podium does not accept; the message says why, never the token."""

    code = "unauthenticated"
    http_status = 401
    exit_code = 1


@dataclass(frozen=True)
class OidcSettings:
    """Which provider's tokens this server accepts, and which claims name the user."""

    issuer: str
    audience: str
    jwks: str
    user_claim: str = "sub"
    groups_claim: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_s: float = 30

    def __post_init__(self) -> None:
        if not self.issuer:
            raise InvalidInput(f"the OIDC issuer is empty; set {_ENV_ISSUER}")
        if not self.audience:
            raise InvalidInput(f"the OIDC audience is empty; set {_ENV_AUDIENCE}")
        if not self.user_claim:
            raise InvalidInput(f"the OIDC user claim is empty; set {_ENV_USER_CLAIM} (e.g. sub)")
        refused = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if refused or not self.algorithms:
            raise InvalidInput(
                f"OIDC algorithms {refused or '()'} are not accepted; choose among "
                f"{', '.join(sorted(ASYMMETRIC_ALGORITHMS))} (symmetric and 'none' never are)"
            )
        if self.leeway_s < 0:
            raise InvalidInput(f"the OIDC clock leeway must be >= 0 seconds, not {self.leeway_s}")
        jwks_location(self.jwks)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OidcSettings | None:
        """Settings from ``PODIUM_OIDC_*``; None when no issuer is set (OIDC is off)."""
        env = os.environ if environ is None else environ
        issuer = env.get(_ENV_ISSUER, "").strip()
        if not issuer:
            return None
        needed = {
            _ENV_AUDIENCE: "the audience (client id) the provider issues tokens for",
            _ENV_JWKS: "a JWKS file path or the provider's https:// JWKS URL",
        }
        for name, what in needed.items():
            if not env.get(name, "").strip():
                raise InvalidInput(
                    f"{_ENV_ISSUER} is set but {name} is not: set it to {what}, "
                    f"or unset {_ENV_ISSUER} to turn OIDC off"
                )
        return cls(
            issuer=issuer,
            audience=env[_ENV_AUDIENCE].strip(),
            jwks=env[_ENV_JWKS].strip(),
            user_claim=env.get(_ENV_USER_CLAIM, "").strip() or "sub",
            groups_claim=env.get(_ENV_GROUPS_CLAIM, "").strip() or None,
        )


@dataclass(frozen=True)
class JwtIdentity:
    """Who a verified token speaks for."""

    name: str
    groups: tuple[str, ...]
    expires_at: float
    issuer: str


def jwks_location(jwks: str) -> str | Path:
    """Where the keys live: a URL (str) to fetch, or a local file (Path).

    Plain ``http://`` is refused except on this machine: keys fetched in the clear could be
    swapped by anyone on the path.
    """
    parsed = urlparse(jwks)
    scheme = parsed.scheme.lower()
    if scheme == "https":
        return jwks
    if scheme == "http":
        if (parsed.hostname or "") in LOCAL_HOSTS:
            return jwks
        raise InvalidInput(
            f"{_ENV_JWKS} uses plain http:// for {parsed.hostname!r}; use https:// "
            "(http:// is accepted only for 127.0.0.1 or localhost)"
        )
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(f"{_ENV_JWKS} names a file on another host; use file:///path")
        return Path(unquote(parsed.path))
    if scheme and len(scheme) > 1:
        raise InvalidInput(
            f"{_ENV_JWKS} has the scheme {scheme}://; use a file path, file:///path or https://"
        )
    if not jwks:
        raise InvalidInput(f"{_ENV_JWKS} is empty; set a JWKS file path or https:// URL")
    return Path(jwks)


@dataclass(frozen=True)
class _Key:
    """One public verification key from a JWKS."""

    kid: str | None
    algorithm: str
    public_key: Any


def _usable_keys(jwk_set: jwt.PyJWKSet) -> tuple[_Key, ...]:
    keys: list[_Key] = []
    for jwk in jwk_set.keys:
        if jwk.key_type == "oct" or jwk.public_key_use not in (None, "sig"):
            continue
        if jwk.algorithm_name not in ASYMMETRIC_ALGORITHMS:
            continue
        key = jwk.key
        if isinstance(key, _PRIVATE_KEY_TYPES):
            key = key.public_key()
        kid = jwk.key_id if isinstance(jwk.key_id, str) else None
        keys.append(_Key(kid=kid, algorithm=jwk.algorithm_name, public_key=key))
    return tuple(keys)


def _parse_jwks(doc: object) -> tuple[_Key, ...]:
    """The public signing keys of a JWKS document; symmetric and unknown entries are dropped."""
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError('it is not a JSON object with a "keys" list')
    entries = [
        entry
        for entry in doc["keys"]
        if isinstance(entry, dict)
        and entry.get("kty") != "oct"
        and entry.get("alg", "RS256") in ASYMMETRIC_ALGORITHMS
    ]
    if not entries:
        return ()
    try:
        return _usable_keys(jwt.PyJWKSet(entries))
    except jwt.PyJWKSetError:
        return ()


class _Problems:
    """Logs a key source's failure once, not on every request that meets it."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._last: str | None = None

    def cleared(self) -> None:
        self._last = None

    def unavailable(self, problem: str) -> InvalidToken:
        if problem != self._last:
            log.warning(
                "cannot read the OIDC keys at %s: %s",
                self.location,
                problem,
                extra={"event": "oidc_jwks_unavailable", "jwks": self.location},
            )
            self._last = problem
        return InvalidToken(
            f"the server cannot read the identity provider's keys at {_ENV_JWKS} "
            f"({self.location}): {problem}; tell the Podium operator"
        )


class _KeySource(Protocol):
    location: str

    def keys(self, *, kid_missing: bool) -> tuple[_Key, ...]: ...


class _FileKeys:
    """A JWKS file, re-read whenever it changes (the provider rotated its keys).

    Whoever updates the file should write a new one and rename it into place: a half-written
    file is refused, not half-used.
    """

    def __init__(self, path: Path) -> None:
        self.location = str(path)
        self._path = path
        self._problems = _Problems(self.location)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys: tuple[_Key, ...] = ()

    def keys(self, *, kid_missing: bool) -> tuple[_Key, ...]:
        with self._lock:
            try:
                st = self._path.stat()
            except OSError as exc:
                raise self._problems.unavailable(exc.strerror or str(exc)) from None
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                self._stamp = None
                try:
                    keys = _parse_jwks(json.loads(self._path.read_text(encoding="utf-8")))
                except (OSError, ValueError) as exc:
                    raise self._problems.unavailable(str(exc)) from None
                if not keys:
                    raise self._problems.unavailable("it holds no public signing key")
                self._problems.cleared()
                self._stamp, self._keys = stamp, keys
            return self._keys


class _UrlKeys:
    """A JWKS endpoint, cached for a while and fetched again for an unknown ``kid``.

    The refetch for an unknown ``kid`` waits :data:`JWKS_REFRESH_COOLDOWN_S` after the last
    fetch, so tokens with made-up key ids cannot make the server hammer the provider.
    """

    def __init__(self, url: str, clock: Callable[[], float]) -> None:
        self.location = url
        self._clock = clock
        self._problems = _Problems(url)
        self._client = jwt.PyJWKClient(
            url, cache_jwk_set=True, lifespan=JWKS_CACHE_LIFESPAN_S, timeout=JWKS_FETCH_TIMEOUT_S
        )
        self._lock = threading.Lock()
        self._last_fetch: float | None = None

    def keys(self, *, kid_missing: bool) -> tuple[_Key, ...]:
        with self._lock:
            now = self._clock()
            refresh = kid_missing and (
                self._last_fetch is None or now - self._last_fetch >= JWKS_REFRESH_COOLDOWN_S
            )
            try:
                keys = _usable_keys(self._client.get_jwk_set(refresh=refresh))
            except (jwt.PyJWTError, ValueError, NotImplementedError) as exc:
                raise self._problems.unavailable(str(exc) or type(exc).__name__) from None
            if refresh or self._last_fetch is None:
                self._last_fetch = now
            if not keys:
                raise self._problems.unavailable("it holds no public signing key")
            self._problems.cleared()
            return keys


def _b64url_json(segment: str) -> Any:
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return json.loads(raw)


def _iso(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{timestamp:.0f} (seconds since 1970)"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    """A claim by name, or by dotted path into nested objects (``realm_access.roles``)."""
    if name in claims:
        return claims[name]
    node: Any = claims
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _time_claim(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken(f"the token's {name!r} claim is not a number of seconds since 1970")
    return float(value)


def _check_times(claims: Mapping[str, Any], settings: OidcSettings, now: float) -> float:
    expires_at = _time_claim(claims, "exp")
    if expires_at is None:
        raise InvalidToken(
            "the bearer token has no expiry ('exp' claim); Podium accepts only tokens that "
            "expire: get one from your identity provider"
        )
    if now >= expires_at + settings.leeway_s:
        raise InvalidToken(
            f"the bearer token expired at {_iso(expires_at)}; get a new one from your "
            "identity provider"
        )
    not_before = _time_claim(claims, "nbf")
    if not_before is not None and not_before > now + settings.leeway_s:
        raise InvalidToken(
            f"the bearer token is not valid before {_iso(not_before)}; if that is in the past, "
            "the clocks of this server and the identity provider disagree"
        )
    issued_at = _time_claim(claims, "iat")
    if issued_at is not None and issued_at > now + settings.leeway_s:
        raise InvalidToken(
            f"the bearer token was issued in the future ({_iso(issued_at)}); the clocks of "
            "this server and the identity provider disagree"
        )
    return expires_at


def _check_audience(claims: Mapping[str, Any], settings: OidcSettings) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if settings.audience not in audiences:
        shown = "missing" if aud is None else _shown(aud)
        raise InvalidToken(
            f"the token's audience is {shown}; this server accepts {settings.audience!r} "
            f"({_ENV_AUDIENCE}): ask your identity provider for a token for this audience"
        )


def _groups(claims: Mapping[str, Any], settings: OidcSettings) -> tuple[str, ...]:
    if settings.groups_claim is None:
        return ()
    value = _claim(claims, settings.groups_claim)
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(g, str) and g for g in value):
        return tuple(value)
    raise InvalidToken(
        f"the token's {settings.groups_claim!r} claim ({_ENV_GROUPS_CLAIM}) is not a list of "
        "group names"
    )


def check_claims(claims: Mapping[str, Any], settings: OidcSettings, now: float) -> JwtIdentity:
    """The identity in a signature-checked token's claims, or :class:`InvalidToken`."""
    issuer = claims.get("iss")
    if issuer != settings.issuer:
        shown = "missing" if issuer is None else _shown(issuer)
        raise InvalidToken(
            f"the token's issuer is {shown}; this server accepts {settings.issuer!r} "
            f"({_ENV_ISSUER})"
        )
    _check_audience(claims, settings)
    expires_at = _check_times(claims, settings, now)
    claim = settings.user_claim
    name = _claim(claims, claim)
    if name is None:
        raise InvalidToken(
            f"the token has no {claim!r} claim ({_ENV_USER_CLAIM}); ask your identity "
            "provider's administrator to include it, or name a claim the tokens carry"
        )
    if not isinstance(name, str) or not name:
        raise InvalidToken(f"the token's {claim!r} claim ({_ENV_USER_CLAIM}) is not a name")
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidToken(
            f"the token's {claim!r} claim {_shown(name)} is not a usable Podium user name: it "
            f"must match ^{NAME_PATTERN.pattern}$; choose another {_ENV_USER_CLAIM}"
        )
    return JwtIdentity(
        name=name, groups=_groups(claims, settings), expires_at=expires_at, issuer=issuer
    )


class JwtVerifier:
    """Checks bearer JWTs against one provider's keys and the claims :class:`OidcSettings` sets.

    ``verify`` may block on the network (a JWKS URL is fetched on first use, when its cache of
    a few minutes expires, and for an unknown ``kid``), so call it from a worker thread.
    """

    def __init__(self, settings: OidcSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        where = jwks_location(settings.jwks)
        self._source: _KeySource = (
            _FileKeys(where) if isinstance(where, Path) else _UrlKeys(where, clock)
        )

    @staticmethod
    def looks_like_jwt(token: str) -> bool:
        """Whether ``token`` has a JWT's shape (so it is not one of Podium's own API tokens)."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            return False
        if not all(_B64URL.fullmatch(part) for part in parts):
            return False
        try:
            header = _b64url_json(parts[0])
        except (ValueError, binascii.Error):
            return False
        return isinstance(header, dict) and isinstance(header.get("alg"), str)

    def load_keys(self) -> int:
        """Read the keys now (at startup, to report a bad ``PODIUM_OIDC_JWKS`` early)."""
        return len(self._source.keys(kid_missing=False))

    def verify(self, token: str) -> JwtIdentity:
        """The identity a valid token speaks for; :class:`InvalidToken` for any other."""
        if len(token) > MAX_TOKEN_CHARS or not self.looks_like_jwt(token):
            raise InvalidToken(
                "the bearer token is not a well-formed JWT; send the identity provider's "
                "access or ID token as 'Authorization: Bearer <token>'"
            )
        algorithm, kid = self._header(token)
        key = self._key_for(algorithm, kid)
        try:
            claims = jwt.decode(
                token,
                key=key.public_key,
                algorithms=[algorithm],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidToken(
                f"the token's signature does not verify against the keys at {_ENV_JWKS} "
                f"({self._source.location}); get a token from the identity provider this "
                "server trusts"
            ) from None
        except jwt.PyJWTError:
            raise InvalidToken("the bearer token is not a well-formed JWT") from None
        return check_claims(claims, self.settings, self._clock())

    def _header(self, token: str) -> tuple[str, str | None]:
        header = _b64url_json(token.split(".", 1)[0])
        algorithm = header["alg"]
        if algorithm.lower() == "none":
            raise InvalidToken("the bearer token is unsigned (alg 'none'); Podium refuses it")
        if algorithm not in self.settings.algorithms:
            why = " (symmetric algorithms are never accepted)" if algorithm[:2] == "HS" else ""
            raise InvalidToken(
                f"the bearer token is signed with {_shown(algorithm)}{why}; this server accepts "
                f"{', '.join(self.settings.algorithms)}"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the bearer token's key id ('kid' header) is not a string")
        return algorithm, kid

    def _key_for(self, algorithm: str, kid: str | None) -> _Key:
        keys = self._source.keys(kid_missing=False)
        matching: tuple[_Key, ...]
        if kid is None:
            if len(keys) != 1:
                raise InvalidToken(
                    f"the bearer token names no key ('kid' header) and {_ENV_JWKS} "
                    f"({self._source.location}) holds {len(keys)} keys; Podium cannot tell "
                    "which one signed it"
                )
            matching = keys
        else:
            matching = tuple(k for k in keys if k.kid == kid)
            if not matching:
                keys = self._source.keys(kid_missing=True)
                matching = tuple(k for k in keys if k.kid == kid)
            if not matching:
                raise InvalidToken(
                    f"the bearer token's key {_shown(kid)} is not among the keys at {_ENV_JWKS} "
                    f"({self._source.location}); if the provider just rotated its keys, "
                    "retry in a minute"
                )
        for key in matching:
            if key.algorithm == algorithm:
                return key
        raise InvalidToken(
            f"the bearer token is signed with {algorithm}, but its key at {_ENV_JWKS} is for "
            f"{', '.join(sorted({k.algorithm for k in matching}))}"
        )
