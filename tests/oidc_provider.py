"""An OpenID Connect provider for tests, run as its own process on loopback.

Built on Authlib's authorization server (Flask): the authorization code grant with PKCE and
OpenID Connect's ID token, client authentication, refresh tokens. Its tokens are shaped like
Amazon Cognito's (``token_use``, ``client_id``, ``cognito:username``), signed RS256 with keys it
publishes as a JWKS. Tests steer it through ``/test/…``: its users (and disabling them), key
rotation, and a bad ID token on request (wrong signature, audience, issuer, nonce, expired).

    python -m tests.oidc_provider --port 9000 --client-id app --client-secret s \\
        --redirect-uri http://127.0.0.1:8000/accounts/oidc/callback/ \\
        --logout-uri http://127.0.0.1:8000/accounts/login/
"""

import argparse
import json
import secrets
import threading
import time
from dataclasses import dataclass, field

import jwt
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, redirect, request
from markupsafe import escape

LOCK = threading.Lock()


def new_key() -> tuple[str, rsa.RSAPrivateKey]:
    return f"key-{secrets.token_hex(4)}", rsa.generate_private_key(65537, 2048)


@dataclass
class User:
    sub: str
    username: str
    email: str = ""
    email_verified: bool = False
    disabled: bool = False


@dataclass
class Client(ClientMixin):
    client_id: str
    secret: str
    redirect_uris: list
    logout_uris: list

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in {"openid", "email", "profile"})

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret or "", self.secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == ("client_secret_basic" if self.secret else "none")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in {"authorization_code", "refresh_token"}


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


@dataclass
class Refresh(TokenMixin):
    client_id: str
    sub: str
    scope: str
    revoked: bool = False

    def check_client(self, client):
        return client.client_id == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return 30 * 24 * 3600

    def is_expired(self):
        return False

    def is_revoked(self):
        return self.revoked

    def get_user(self):
        return STATE.users.get(self.sub)

    def get_client(self):
        return STATE.client


class State:
    def __init__(self, issuer: str, client: Client):
        self.issuer = issuer
        self.client = client
        self.users: dict[str, User] = {}
        self.codes: dict[str, Code] = {}
        self.refresh: dict[str, Refresh] = {}
        self.keys = [new_key()]  # the first signs; all are published
        self.misbehave: str | None = None  # what is wrong with the next ID token
        self.log: list[dict] = []

    def sign(self, claims: dict, *, key=None, kid=None, typ=None) -> str:
        signing_kid, signing_key = self.keys[0]
        headers = {"kid": kid or signing_kid}
        if typ:
            headers["typ"] = typ
        return jwt.encode(claims, key or signing_key, algorithm="RS256", headers=headers)

    def access_token(self, *, sub, client_id, username, expires_in=3600, **extra) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": sub, "client_id": client_id, "token_use": "access",
            "scope": "openid email profile", "iat": now, "exp": now + expires_in,
            "jti": secrets.token_hex(8), "username": username,
        }  # fmt: skip
        claims.update(extra)
        return self.sign(claims)


STATE: State = None  # set by make_app


def _user_or_none(sub):
    user = STATE.users.get(sub)
    return None if user is None or user.disabled else user


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "none"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        with LOCK:
            STATE.codes[code] = Code(
                code=code, client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri, scope=request.payload.scope,
                sub=request.user.sub, nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
            )  # fmt: skip

    def query_authorization_code(self, code, client):
        found = STATE.codes.get(code)
        return found if found and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code):
        with LOCK:
            STATE.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return _user_or_none(authorization_code.sub)


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "none"]

    def authenticate_refresh_token(self, refresh_token):
        found = STATE.refresh.get(refresh_token)
        return found if found and not found.revoked else None

    def authenticate_user(self, refresh_token):
        user = _user_or_none(refresh_token.sub)
        if user is None:  # as Cognito answers for a disabled user
            raise InvalidGrantError(description="User is disabled.")
        return user

    def revoke_old_credential(self, refresh_token):
        pass  # as Cognito (without rotation): a refresh token serves until it expires


class IdToken(OpenIDCode):
    def exists_nonce(self, nonce, request):
        return False

    def encode_id_token(self, token, request):
        user, code = request.user, request.authorization_code
        now = int(time.time())
        claims = {
            "iss": STATE.issuer, "sub": user.sub, "aud": request.client.client_id,
            "iat": now, "exp": now + 3600, "auth_time": code.auth_time, "token_use": "id",
            "nonce": code.nonce, "preferred_username": user.username,
            "cognito:username": user.username, "email": user.email,
            "email_verified": user.email_verified,
        }  # fmt: skip
        wrong, key = STATE.misbehave, None
        STATE.misbehave = None
        if wrong == "wrong-audience":
            claims["aud"] = "another-client"
        elif wrong == "wrong-issuer":
            claims["iss"] = "https://elsewhere.example"
        elif wrong == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif wrong == "wrong-nonce":
            claims["nonce"] = "not-the-one-sent"
        elif wrong == "bad-signature":
            key = rsa.generate_private_key(65537, 2048)  # the published kid, another key
        return STATE.sign(claims, key=key)


def make_app(issuer: str, client: Client) -> Flask:
    global STATE
    STATE = State(issuer, client)
    app = Flask(__name__)
    server = AuthorizationServer(
        app,
        query_client=lambda cid: STATE.client if cid == client.client_id else None,
        save_token=_save_token,
    )
    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            access_token_generator=lambda client, grant_type, user, scope: STATE.access_token(
                sub=user.sub, client_id=client.client_id, username=user.username
            ),
            refresh_token_generator=lambda client, grant_type, user, scope: secrets.token_urlsafe(
                32
            ),
        ),
    )
    server.register_grant(CodeGrant, [CodeChallenge(required=True), IdToken(require_nonce=True)])
    server.register_grant(RefreshGrant)

    @app.get("/.well-known/openid-configuration")
    def discovery():
        return jsonify(
            issuer=issuer,
            authorization_endpoint=f"{issuer}/authorize",
            token_endpoint=f"{issuer}/token",
            jwks_uri=f"{issuer}/jwks",
            end_session_endpoint=f"{issuer}/logout",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "none"],
        )

    @app.get("/jwks")
    def jwks():
        keys = []
        for kid, key in STATE.keys:
            entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**entry, "kid": kid, "use": "sig", "alg": "RS256"})
        STATE.log.append({"path": "/jwks"})
        return jsonify(keys=keys)

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize():
        STATE.log.append({"path": "/authorize", "args": dict(request.args)})
        if request.method == "GET":
            try:
                server.get_consent_grant(end_user=None)
            except Exception as exc:
                return Response(f"refused: {escape(str(exc))}", status=400)
            return Response(
                "<!doctype html><title>Test provider</title><h1>Test provider: sign in</h1>"
                f'<form method="post" action="/authorize?{escape(request.query_string.decode())}">'
                '<label>Username <input name="username" id="provider-username"></label>'
                '<button type="submit">Continue</button></form>',
                content_type="text/html",
            )
        user = next(
            (u for u in STATE.users.values() if u.username == request.form.get("username")), None
        )
        if user is None or user.disabled:
            return Response("no such user (or disabled)", status=403)
        return server.create_authorization_response(grant_user=user)

    @app.post("/token")
    def token():
        STATE.log.append({"path": "/token", "grant_type": request.form.get("grant_type")})
        return server.create_token_response()

    @app.get("/logout")
    def logout():
        back = request.args.get("post_logout_redirect_uri", "")
        STATE.log.append({"path": "/logout", "args": dict(request.args)})
        if back not in STATE.client.logout_uris:
            return Response("unregistered post_logout_redirect_uri", status=400)
        return redirect(back)

    @app.post("/test/users")
    def put_user():
        user = User(**request.get_json())
        STATE.users[user.sub] = user
        return jsonify(ok=True)

    @app.post("/test/rotate")
    def rotate():
        STATE.keys = [new_key(), *STATE.keys[:1]]  # new key signs; the previous one stays
        return jsonify(kid=STATE.keys[0][0])

    @app.post("/test/misbehave")
    def misbehave():
        STATE.misbehave = request.get_json()["id_token"]
        return jsonify(ok=True)

    @app.post("/test/access-token")
    def mint_access_token():
        """An access token as Cognito's token endpoint issues them, for bearer tests; with
        ``foreign_key`` signed by a key the provider does not publish."""
        body = request.get_json()
        foreign = body.pop("foreign_key", False)
        user = STATE.users[body.pop("sub")]
        claims = dict(
            sub=user.sub, client_id=body.pop("client_id", client.client_id),
            username=user.username, **body,
        )  # fmt: skip
        if foreign:
            now = int(time.time())
            payload = {"iss": issuer, "token_use": "access", "iat": now, "exp": now + 3600}
            payload.update(claims)
            return jsonify(token=STATE.sign(payload, key=rsa.generate_private_key(65537, 2048)))
        return jsonify(token=STATE.access_token(**claims))

    @app.post("/test/id-token")
    def mint_id_token():
        body = request.get_json()
        now = int(time.time())
        claims = {"iss": issuer, "sub": body["sub"], "aud": client.client_id, "iat": now,
                  "exp": now + 3600, "token_use": "id"}  # fmt: skip
        return jsonify(token=STATE.sign(claims))

    @app.get("/test/log")
    def log():
        return jsonify(log=STATE.log)

    return app


def _save_token(token, request):
    if token.get("refresh_token"):
        with LOCK:
            STATE.refresh[token["refresh_token"]] = Refresh(
                client_id=request.client.client_id, sub=request.user.sub, scope=token["scope"]
            )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", default="")
    parser.add_argument("--redirect-uri", action="append", required=True)
    parser.add_argument("--logout-uri", action="append", default=[])
    args = parser.parse_args()
    issuer = f"http://127.0.0.1:{args.port}"
    client = Client(args.client_id, args.client_secret, args.redirect_uri, args.logout_uri)
    app = make_app(issuer, client)
    app.run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
