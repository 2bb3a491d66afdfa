#!/usr/bin/env python3
"""Runs the official auth0-python SDK (6.x) against a live Latchkey server over plain http.

Env: LATCHKEY_BASE_URL (e.g. http://127.0.0.1:41234), LATCHKEY_BOOTSTRAP (path to bootstrap.json).
Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.

SDK entry points used (auth0-python 6.8.0):
- auth0.authentication.GetToken(domain, client_id, client_secret=..., protocol="http"):
  .client_credentials(audience), .login(...) (password-realm grant), .refresh_token(rt).
  Errors raise auth0.authentication.exceptions.Auth0Error(.status_code, .error_code, .message).
- auth0.authentication.Database(domain, client_id, protocol="http"): .signup(...) (public sign-up)
  and .change_password(email, connection) ("forgot password"; the SDK drops `password`).
- Auth0(...).tickets.change_password(...): POST /api/v2/tickets/password-change.
- auth0.management.Auth0(base_url="http://host:port/api/v2", token=...): the Fern-generated
  client. The friendlier auth0.management.ManagementClient(domain=...) hard-codes
  base_url=f"https://{domain}/api/v2", so it cannot reach an http server.
  Errors raise auth0.management.core.api_error.ApiError subclasses (.status_code, .body).
"""
import json
import os
import sys
import uuid
from urllib.parse import urlparse

from auth0.authentication import Database, GetToken
from auth0.authentication.exceptions import Auth0Error
from auth0.management import Auth0
from auth0.management.core.api_error import ApiError

INITIAL_PASSWORD = "Initial-Passw0rd!"
CHANGED_PASSWORD = "Changed-Passw0rd!"
LOGIN_SCOPE = "openid profile email offline_access"


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


LAST_OK = ["(none)"]


def ok(step):
    LAST_OK[0] = step
    print(f"ok - {step}", flush=True)


def expect_auth_error(call, status, code, what):
    try:
        call()
    except Auth0Error as e:
        check(
            e.status_code == status and e.error_code == code,
            f"{what}: expected {status} {code}, got {e.status_code} {e.error_code} ({e.message})",
        )
        return e
    raise Failure(f"{what}: expected {status} {code}, but the call succeeded")


def expect_api_error(call, status, what):
    try:
        call()
    except ApiError as e:
        check(e.status_code == status, f"{what}: expected {status}, got {e.status_code} body={e.body!r}")
        return e
    raise Failure(f"{what}: expected HTTP {status}, but the call succeeded")


def login_as(app, username, password, connection):
    return app.login(username=username, password=password, realm=connection, scope=LOGIN_SCOPE)


def main():
    base_url = os.environ["LATCHKEY_BASE_URL"].rstrip("/")
    with open(os.environ["LATCHKEY_BOOTSTRAP"]) as f:
        boot = json.load(f)
    parsed = urlparse(base_url)
    domain, protocol = parsed.netloc, parsed.scheme  # "127.0.0.1:41234", "http"
    connection = boot["connection"]
    mgmt_cfg, app_cfg = boot["management_api"], boot["default_client"]

    # 1. Management API token via client_credentials.
    tok = GetToken(domain, mgmt_cfg["client_id"], client_secret=mgmt_cfg["client_secret"], protocol=protocol)
    cc = tok.client_credentials(mgmt_cfg["audience"])
    check(cc.get("access_token"), f"client_credentials returned no access_token: {cc!r}")
    check(str(cc.get("token_type", "")).lower() == "bearer", f"unexpected token_type: {cc!r}")
    ok("management token via client_credentials")

    # max_retries=0: a retried 5xx would hide server bugs.
    mgmt = Auth0(base_url=f"{base_url}/api/v2", token=cc["access_token"], max_retries=0, timeout=15)

    # 2. Create a user.
    email = f"sdk-{uuid.uuid4().hex[:12]}@example.com"
    created = mgmt.users.create(connection=connection, email=email, password=INITIAL_PASSWORD)
    user_id = created.user_id
    check(user_id and user_id.startswith("auth0|"), f"unexpected user_id {user_id!r}")
    check(created.email == email, f"created.email={created.email!r}, want {email!r}")
    check(
        created.identities and created.identities[0].connection == connection,
        f"created.identities={created.identities!r}",
    )
    ok(f"created user {user_id}")

    # 3. Search (page=0&per_page=50&include_totals=true are the SDK defaults).
    pager = mgmt.users.list(q=f'email:"{email}"', search_engine="v3")
    found = [u for u in (pager.items or []) if u.user_id == user_id]
    check(len(found) == 1, f"users.list(q=email) did not return the user; items={pager.items!r}")
    check(pager.response.total == 1, f"users.list total={pager.response.total!r}, want 1")
    ok("listed user by q=email")

    by_email = mgmt.users.list_users_by_email(email=email)
    check([u.user_id for u in by_email] == [user_id], f"users-by-email returned {by_email!r}")
    ok("got user by email")

    fetched = mgmt.users.get(user_id)
    check(fetched.user_id == user_id and fetched.email == email, f"users.get returned {fetched!r}")
    ok("got user by id")

    # 4. Password-realm login with the initial password.
    app = GetToken(domain, app_cfg["client_id"], client_secret=app_cfg["client_secret"], protocol=protocol)
    login = lambda pw: app.login(username=email, password=pw, realm=connection, scope=LOGIN_SCOPE)
    tokens = login(INITIAL_PASSWORD)
    for key in ("access_token", "id_token", "refresh_token"):
        check(tokens.get(key), f"login response lacks {key}: {sorted(tokens)}")
    old_refresh = tokens["refresh_token"]
    ok("logged in with initial password (access, id and refresh tokens)")

    # 5. Change the password through the Management API.
    updated = mgmt.users.update(user_id, password=CHANGED_PASSWORD, connection=connection)
    check(updated.user_id == user_id, f"users.update returned {updated!r}")
    ok("changed password via users.update")

    e = expect_auth_error(lambda: login(INITIAL_PASSWORD), 403, "invalid_grant", "login with old password")
    check(e.message == "Wrong email or password.", f"old-password message was {e.message!r}")
    ok("old password refused (403 invalid_grant)")

    new_tokens = login(CHANGED_PASSWORD)
    check(new_tokens.get("access_token") and new_tokens.get("id_token"), f"new login: {sorted(new_tokens)}")
    ok("logged in with new password")

    expect_auth_error(lambda: app.refresh_token(old_refresh), 403, "invalid_grant", "pre-change refresh token")
    ok("refresh token issued before the password change refused (403 invalid_grant)")

    # Control: a refresh token issued after the change still works (the SDK sends scope="").
    check(new_tokens.get("refresh_token"), f"new login lacks refresh_token: {sorted(new_tokens)}")
    refreshed = app.refresh_token(new_tokens["refresh_token"])
    check(refreshed.get("access_token"), f"refresh with post-change token: {sorted(refreshed)}")
    ok("refresh token issued after the password change works")

    # 6. Weak password is rejected by the connection's policy.
    e = expect_api_error(
        lambda: mgmt.users.update(user_id, password="weak", connection=connection), 400, "weak password update"
    )
    check("PasswordStrengthError" in str((e.body or {}).get("message")), f"weak password body={e.body!r}")
    ok("weak password refused (400 PasswordStrengthError)")

    # 7. "Forgot password" through the Authentication API: the same text for any address.
    db = Database(domain, app_cfg["client_id"], protocol=protocol)
    sent = db.change_password(email=email, connection=connection, password="ignored-by-the-sdk")
    check(sent == "We've just sent you an email to reset your password.", f"change_password returned {sent!r}")
    unknown = db.change_password(email=f"nobody-{uuid.uuid4().hex[:12]}@example.com", connection=connection)
    check(unknown == sent, f"unknown address answered {unknown!r}")
    ok("Database.change_password answers Auth0's text, for known and unknown addresses")

    # 8. A password-change ticket through the Management API.
    ticket = mgmt.tickets.change_password(
        user_id=user_id, result_url="https://app.example.com/done", ttl_sec=0,
        mark_email_as_verified=True, include_email_in_redirect=True,
    )
    check(
        ticket.ticket.startswith(f"{base_url}/lo/reset?ticket=") and ticket.ticket.endswith("#"),
        f"tickets.change_password returned {ticket!r}",
    )
    e = expect_api_error(
        lambda: mgmt.tickets.change_password(user_id="auth0|000000000000000000000000"), 404, "ticket for nobody"
    )
    ok("tickets.change_password returns the reset URL; unknown users get 404")

    # 9. Delete, then the user is gone.
    mgmt.users.delete(user_id)
    ok("deleted user")
    e = expect_api_error(lambda: mgmt.users.get(user_id), 404, "get after delete")
    check((e.body or {}).get("errorCode") == "inexistent_user", f"404 body={e.body!r}")
    ok("get after delete gives 404 inexistent_user")

    # 10. Public sign-up through the Authentication API, then a login with that password.
    signup_email = f"sdk-signup-{uuid.uuid4().hex[:12]}@example.com"
    created = db.signup(email=signup_email, password=INITIAL_PASSWORD, connection=connection,
                        given_name="Signed", user_metadata={"source": "sdk"})
    check(created.get("email") == signup_email and len(created.get("_id", "")) == 24, f"signup returned {created!r}")
    check(login_as(app, signup_email, INITIAL_PASSWORD, connection).get("access_token"), "login after signup")
    ok("signed up with Database.signup and logged in")
    e = expect_auth_error(
        lambda: db.signup(email=signup_email, password=INITIAL_PASSWORD, connection=connection),
        400, "invalid_signup", "second signup with the same email",
    )
    ok("second signup refused without revealing the account (400 invalid_signup)")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAIL: {e} (last passed step: {LAST_OK[0]})", file=sys.stderr)
        sys.exit(1)
    except (Auth0Error, ApiError) as e:
        detail = f"{e.status_code} {e.body!r}" if isinstance(e, ApiError) else f"{e.status_code} {e.error_code}: {e.message}"
        print(f"FAIL: unexpected SDK error {type(e).__name__}: {detail} (last passed step: {LAST_OK[0]})", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # connection refused, bad env, response the SDK cannot parse, ...
        print(f"FAIL: {type(e).__name__}: {e} (last passed step: {LAST_OK[0]})", file=sys.stderr)
        sys.exit(2)
    print("python management flow: all steps passed")
