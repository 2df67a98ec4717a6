"""api/oidc.py: JWT bearer tokens checked against a JWKS file or URL, with a fixed clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from podium.api.oidc import (
    InvalidToken,
    JwtIdentity,
    JwtVerifier,
    OidcSettings,
    check_claims,
)
from podium.errors import InvalidInput

NOW = 1_780_000_000.0  # 2026-05-28T20:26:40Z
ISSUER = "https://id.example.com/realms/data"
AUDIENCE = "podium"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_KEY_2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        doc = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        doc["alg"] = "RS256"
    else:
        doc = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        doc["alg"] = "ES256"
    return {**doc, "kid": kid, "use": "sig"}


def write_jwks(path: Path, *jwks: dict[str, Any]) -> None:
    path.write_text(json.dumps({"keys": list(jwks)}), encoding="utf-8")


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "groups": ["data-eng", "ml"],
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    payload: dict[str, Any],
    key: Any = RSA_KEY,
    *,
    algorithm: str = "RS256",
    kid: str | None = "rsa-1",
) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    write_jwks(path, public_jwk(RSA_KEY, "rsa-1"), public_jwk(EC_KEY, "ec-1"))
    return path


def make_verifier(jwks: Path | str, **overrides: Any) -> JwtVerifier:
    options: dict[str, Any] = {"groups_claim": "groups", **overrides}
    settings = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks=str(jwks), **options)
    return JwtVerifier(settings, clock=lambda: NOW)


@pytest.fixture
def verifier(jwks_file: Path) -> JwtVerifier:
    return make_verifier(jwks_file)


def refused(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    error = caught.value
    assert (error.code, error.http_status, error.exit_code) == ("unauthenticated", 401, 1)
    assert token not in error.message
    signature = token.split(".")[-1]
    assert len(signature) < 8 or signature not in error.message
    return error.message


# --- valid tokens -------------------------------------------------------------------------------


def test_rs256_token_gives_the_identity(verifier: JwtVerifier) -> None:
    identity = verifier.verify(sign(claims()))
    assert identity == JwtIdentity(
        name="alice", groups=("data-eng", "ml"), expires_at=NOW + 600, issuer=ISSUER
    )


def test_es256_token_gives_the_identity(verifier: JwtVerifier) -> None:
    token = sign(claims(sub="bob@example.com"), EC_KEY, algorithm="ES256", kid="ec-1")
    identity = verifier.verify(token)
    assert (identity.name, identity.groups) == ("bob@example.com", ("data-eng", "ml"))


def test_audience_may_be_a_list_and_groups_absent(verifier: JwtVerifier) -> None:
    identity = verifier.verify(sign(claims(aud=["other", AUDIENCE], groups=None)))
    assert identity.groups == ()


def test_other_user_claim_and_nested_groups(jwks_file: Path) -> None:
    verifier = make_verifier(
        jwks_file, user_claim="preferred_username", groups_claim="realm_access.roles"
    )
    token = sign(claims(preferred_username="carol", realm_access={"roles": ["admin"]}))
    identity = verifier.verify(token)
    assert (identity.name, identity.groups) == ("carol", ("admin",))


def test_a_token_without_kid_works_when_the_set_has_one_key(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    write_jwks(path, public_jwk(RSA_KEY, "rsa-1"))
    assert make_verifier(path).verify(sign(claims(), kid=None)).name == "alice"


def test_a_token_without_kid_is_refused_when_the_set_has_several(verifier: JwtVerifier) -> None:
    assert "names no key" in refused(verifier, sign(claims(), kid=None))


def test_a_file_url_names_the_jwks_file(jwks_file: Path) -> None:
    verifier = make_verifier(jwks_file.as_uri())
    assert verifier.load_keys() == 2
    assert verifier.verify(sign(claims())).name == "alice"


# --- time ---------------------------------------------------------------------------------------


def test_expired_token_says_when_and_what_to_do(verifier: JwtVerifier) -> None:
    message = refused(verifier, sign(claims(exp=int(NOW) - 3600)))
    assert message == (
        "the bearer token expired at 2026-05-28T19:26:40Z; get a new one from your "
        "identity provider"
    )


def test_expiry_has_leeway(verifier: JwtVerifier) -> None:
    assert verifier.verify(sign(claims(exp=int(NOW) - 20))).name == "alice"
    assert "expired" in refused(verifier, sign(claims(exp=int(NOW) - 31)))


def test_exp_is_required(verifier: JwtVerifier) -> None:
    assert "no expiry" in refused(verifier, sign(claims(exp=None)))


def test_exp_must_be_a_number(verifier: JwtVerifier) -> None:
    assert "not a number" in refused(verifier, sign(claims(exp="tomorrow")))


def test_not_yet_valid_token(verifier: JwtVerifier) -> None:
    message = refused(verifier, sign(claims(nbf=int(NOW) + 3600)))
    assert "not valid before 2026-05-28T21:26:40Z" in message
    assert verifier.verify(sign(claims(nbf=int(NOW) + 20))).name == "alice"


def test_token_issued_in_the_future(verifier: JwtVerifier) -> None:
    assert "issued in the future" in refused(verifier, sign(claims(iat=int(NOW) + 3600)))


# --- issuer, audience, user ---------------------------------------------------------------------


def test_wrong_issuer_names_both(verifier: JwtVerifier) -> None:
    message = refused(verifier, sign(claims(iss="https://evil.example.com")))
    assert message == (
        "the token's issuer is 'https://evil.example.com'; this server accepts "
        f"'{ISSUER}' (PODIUM_OIDC_ISSUER)"
    )


def test_issuer_must_match_exactly(verifier: JwtVerifier) -> None:
    assert "issuer" in refused(verifier, sign(claims(iss=ISSUER + "/")))
    assert "issuer" in refused(verifier, sign(claims(iss=ISSUER[:-1])))
    assert "issuer" in refused(verifier, sign(claims(iss=None)))


def test_wrong_audience(verifier: JwtVerifier) -> None:
    message = refused(verifier, sign(claims(aud="grafana")))
    assert "audience is 'grafana'" in message
    assert "PODIUM_OIDC_AUDIENCE" in message
    assert "audience is missing" in refused(verifier, sign(claims(aud=None)))


def test_missing_user_claim(jwks_file: Path) -> None:
    verifier = make_verifier(jwks_file, user_claim="preferred_username")
    message = refused(verifier, sign(claims()))
    assert "no 'preferred_username' claim (PODIUM_OIDC_USER_CLAIM)" in message


@pytest.mark.parametrize("name", ["", 42, ["alice"], None])
def test_user_claim_must_be_a_non_empty_string(verifier: JwtVerifier, name: object) -> None:
    token = sign({**claims(), "sub": name})
    assert "'sub' claim" in refused(verifier, token)


@pytest.mark.parametrize(
    "name", ["bob smith", "../etc/passwd", "-alice", "alice\n", "a" * 129, "ålice", "a;b"]
)
def test_a_name_with_bad_characters_is_refused(verifier: JwtVerifier, name: str) -> None:
    assert "not a usable Podium user name" in refused(verifier, sign(claims(sub=name)))


def test_groups_must_be_names(verifier: JwtVerifier) -> None:
    assert "not a list of group names" in refused(verifier, sign(claims(groups=[1, 2])))


def test_check_claims_is_a_pure_rule() -> None:
    settings = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks="/nowhere.json")
    identity = check_claims(claims(), settings, NOW)
    assert identity.name == "alice"
    assert identity.groups == ()
    with pytest.raises(InvalidToken, match="expired"):
        check_claims(claims(), settings, NOW + 3600)


# --- signatures and algorithms ------------------------------------------------------------------


def test_signature_by_another_key_is_refused(verifier: JwtVerifier) -> None:
    message = refused(verifier, sign(claims(), RSA_KEY_2))
    assert message.startswith(
        "the token's signature does not verify against the keys at PODIUM_OIDC_JWKS"
    )


def test_tampered_payload_is_refused(verifier: JwtVerifier) -> None:
    header, _, signature = sign(claims()).split(".")
    forged = b64url(json.dumps(claims(sub="root")).encode())
    assert "signature does not verify" in refused(verifier, f"{header}.{forged}.{signature}")


def test_alg_none_is_refused(verifier: JwtVerifier) -> None:
    token = jwt.encode(claims(), "", algorithm="none", headers={"kid": "rsa-1"})
    assert JwtVerifier.looks_like_jwt(token)
    assert "unsigned (alg 'none')" in refused(verifier, token)
    header = b64url(json.dumps({"alg": "NoNe", "kid": "rsa-1"}).encode())
    payload = b64url(json.dumps(claims()).encode())
    assert "unsigned" in refused(verifier, f"{header}.{payload}.")


def test_hs256_signed_with_the_public_key_is_refused(verifier: JwtVerifier) -> None:
    """Algorithm confusion: the RSA public key, which anyone has, used as an HMAC secret."""
    secret = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64url(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims(sub="root")).encode())
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    message = refused(verifier, f"{header}.{payload}.{b64url(mac)}")
    assert "symmetric algorithms are never accepted" in message


def test_a_symmetric_key_in_the_jwks_is_never_used(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    secret = b"a shared secret of thirty-two bytes"
    oct_key = {"kty": "oct", "kid": "shared", "alg": "HS256", "k": b64url(secret)}
    write_jwks(path, oct_key, public_jwk(RSA_KEY, "rsa-1"))
    verifier = make_verifier(path)
    assert verifier.load_keys() == 1
    token = jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": "shared"})
    assert "symmetric" in refused(verifier, token)


def test_settings_refuse_symmetric_and_none_algorithms() -> None:
    for algorithms in (("HS256",), ("RS256", "none"), ()):
        with pytest.raises(InvalidInput, match="not accepted"):
            OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks="/k.json", algorithms=algorithms)


def test_an_algorithm_not_configured_is_refused(jwks_file: Path) -> None:
    verifier = make_verifier(jwks_file, algorithms=("RS256",))
    token = sign(claims(), EC_KEY, algorithm="ES256", kid="ec-1")
    assert "this server accepts RS256" in refused(verifier, token)


def test_a_key_is_used_only_for_its_own_algorithm(verifier: JwtVerifier) -> None:
    token = sign(claims(), EC_KEY, algorithm="ES256", kid="rsa-1")
    assert "its key at PODIUM_OIDC_JWKS is for RS256" in refused(verifier, token)


def test_kid_not_in_the_set(verifier: JwtVerifier) -> None:
    message = refused(verifier, sign(claims(), kid="rsa-9"))
    assert "key 'rsa-9' is not among the keys at PODIUM_OIDC_JWKS" in message


@pytest.mark.parametrize(
    "token", ["pod_3f9a1c", "a.b", "abc.def.ghi", "x" * 20_000, "e30.e30.", "..."]
)
def test_malformed_tokens_are_refused(verifier: JwtVerifier, token: str) -> None:
    assert "not a well-formed JWT" in refused(verifier, token)


def test_looks_like_jwt() -> None:
    assert JwtVerifier.looks_like_jwt(sign(claims()))
    no_alg = b64url(b'{"typ":"JWT"}')
    for token in ("pod_3f9a1c", "a.b", "abc.def.ghi", f"{no_alg}.e30.sig", "a.b.c.d", "é.e.e"):
        assert not JwtVerifier.looks_like_jwt(token), token


# --- key sources --------------------------------------------------------------------------------


def test_key_rotation_rereads_the_file(jwks_file: Path) -> None:
    verifier = make_verifier(jwks_file)
    assert verifier.verify(sign(claims())).name == "alice"
    rotated = sign(claims(sub="dave"), RSA_KEY_2, kid="rsa-2")
    assert "not among the keys" in refused(verifier, rotated)

    write_jwks(jwks_file, public_jwk(RSA_KEY, "rsa-1"), public_jwk(RSA_KEY_2, "rsa-2"))
    assert verifier.verify(rotated).name == "dave"

    write_jwks(jwks_file, public_jwk(RSA_KEY_2, "rsa-2"))
    assert "not among the keys" in refused(verifier, sign(claims()))


def test_an_unreadable_jwks_file_is_the_servers_problem(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    verifier = make_verifier(path)
    message = refused(verifier, sign(claims()))
    assert message.startswith("the server cannot read the identity provider's keys")
    with pytest.raises(InvalidToken, match="cannot read"):
        verifier.load_keys()
    path.write_text("{not json", encoding="utf-8")
    assert "cannot read" in refused(verifier, sign(claims()))
    write_jwks(path, {"kty": "oct", "k": "c2VjcmV0"})
    assert "no public signing key" in refused(verifier, sign(claims()))
    write_jwks(path, public_jwk(RSA_KEY, "rsa-1"))
    assert verifier.verify(sign(claims())).name == "alice"


@dataclass
class JwksServer:
    url: str
    keys: list[dict[str, Any]]
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer(url="", keys=[public_jwk(RSA_KEY, "rsa-1")])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if not self.path.endswith("/certs"):
                self.send_error(404)
                return
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/realms/data/certs"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_jwks_fetched_over_http_and_cached(jwks_server: JwksServer) -> None:
    clock = [NOW]
    settings = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks=jwks_server.url)
    verifier = JwtVerifier(settings, clock=lambda: clock[0])
    assert verifier.verify(sign(claims())).name == "alice"
    assert verifier.verify(sign(claims(sub="bob"))).name == "bob"
    assert jwks_server.requests == ["/realms/data/certs"]

    jwks_server.keys.append(public_jwk(RSA_KEY_2, "rsa-2"))
    rotated = sign(claims(sub="dave"), RSA_KEY_2, kid="rsa-2")
    assert "not among the keys" in refused(verifier, rotated)  # fetched a moment ago
    assert len(jwks_server.requests) == 1
    clock[0] += 31
    assert verifier.verify(rotated).name == "dave"
    assert len(jwks_server.requests) == 2


def test_a_failing_jwks_url(jwks_server: JwksServer) -> None:
    missing = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks=jwks_server.url + "-gone")
    message = refused(JwtVerifier(missing, clock=lambda: NOW), sign(claims()))
    assert message.startswith("the server cannot read the identity provider's keys")
    assert "404" in message

    jwks_server.keys = []
    settings = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks=jwks_server.url)
    assert "cannot read" in refused(JwtVerifier(settings, clock=lambda: NOW), sign(claims()))


@pytest.mark.parametrize(
    ("jwks", "problem"),
    [
        ("http://id.example.com/certs", "plain http://"),
        ("ftp://id.example.com/certs", "scheme ftp://"),
        ("file://otherhost/keys.json", "another host"),
    ],
)
def test_jwks_locations_refused(jwks: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks=jwks)


def test_jwks_locations_accepted() -> None:
    for jwks in ("https://id.example.com/certs", "http://localhost:8080/certs", "keys.json"):
        assert OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks=jwks).jwks == jwks


# --- from_env -----------------------------------------------------------------------------------

ENV = (
    "PODIUM_OIDC_ISSUER",
    "PODIUM_OIDC_AUDIENCE",
    "PODIUM_OIDC_JWKS",
    "PODIUM_OIDC_USER_CLAIM",
    "PODIUM_OIDC_GROUPS_CLAIM",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_from_env_without_issuer_is_off(clean_env: pytest.MonkeyPatch) -> None:
    assert OidcSettings.from_env() is None
    clean_env.setenv("PODIUM_OIDC_AUDIENCE", AUDIENCE)
    assert OidcSettings.from_env() is None


def test_from_env_reads_every_setting(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PODIUM_OIDC_ISSUER", ISSUER)
    clean_env.setenv("PODIUM_OIDC_AUDIENCE", AUDIENCE)
    clean_env.setenv("PODIUM_OIDC_JWKS", "https://id.example.com/certs")
    assert OidcSettings.from_env() == OidcSettings(
        issuer=ISSUER, audience=AUDIENCE, jwks="https://id.example.com/certs"
    )
    clean_env.setenv("PODIUM_OIDC_USER_CLAIM", "preferred_username")
    clean_env.setenv("PODIUM_OIDC_GROUPS_CLAIM", "groups")
    settings = OidcSettings.from_env()
    assert settings is not None
    assert (settings.user_claim, settings.groups_claim) == ("preferred_username", "groups")


@pytest.mark.parametrize("missing", ["PODIUM_OIDC_AUDIENCE", "PODIUM_OIDC_JWKS"])
def test_from_env_names_the_missing_variable(clean_env: pytest.MonkeyPatch, missing: str) -> None:
    clean_env.setenv("PODIUM_OIDC_ISSUER", ISSUER)
    clean_env.setenv("PODIUM_OIDC_AUDIENCE", AUDIENCE)
    clean_env.setenv("PODIUM_OIDC_JWKS", "/etc/podium/jwks.json")
    clean_env.delenv(missing)
    with pytest.raises(InvalidInput, match=f"PODIUM_OIDC_ISSUER is set but {missing} is not"):
        OidcSettings.from_env()


def test_from_env_refuses_plain_http(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PODIUM_OIDC_ISSUER", ISSUER)
    clean_env.setenv("PODIUM_OIDC_AUDIENCE", AUDIENCE)
    clean_env.setenv("PODIUM_OIDC_JWKS", "http://id.example.com/certs")
    with pytest.raises(InvalidInput, match="PODIUM_OIDC_JWKS uses plain http://"):
        OidcSettings.from_env()
