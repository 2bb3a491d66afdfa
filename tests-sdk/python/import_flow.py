#!/usr/bin/env python3
"""Bulk user import through auth0-python's own job methods, against a live Latchkey server.

Env: LATCHKEY_BASE_URL (e.g. http://127.0.0.1:41234), LATCHKEY_BOOTSTRAP (path to bootstrap.json).
Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.

SDK entry points used (auth0-python 6.8.0):
- Auth0(...).jobs.users_imports.create(users=(name, bytes, type), connection_id=..., upsert=...,
  external_id=...): the multipart POST /api/v2/jobs/users-imports.
- .jobs.get(id) and .jobs.errors.get(id): the job's status and the users it refused.
- GetToken(...).login(...): the imported users log in with their original passwords.
The password hashes are made here with Python's hashlib (md5 with a salt, PBKDF2-SHA512, HMAC-SHA1).
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from urllib.parse import urlparse

from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error
from auth0.management import Auth0
from auth0.management.core.api_error import ApiError

PASSWORD = "Imported-Passw0rd!"
LAST_OK = ["(none)"]


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def ok(step):
    LAST_OK[0] = step
    print(f"ok - {step}", flush=True)


def b64(raw):
    return base64.b64encode(raw).decode().rstrip("=")


def wait(mgmt, job_id):
    deadline = time.monotonic() + 60
    while True:
        job = mgmt.jobs.get(job_id)
        if job.status in ("completed", "failed"):
            return job
        check(time.monotonic() < deadline, f"job {job_id} never ended: {job!r}")
        time.sleep(0.1)


def dump(obj):
    return obj.model_dump() if hasattr(obj, "model_dump") else obj


def main():
    base_url = os.environ["LATCHKEY_BASE_URL"].rstrip("/")
    with open(os.environ["LATCHKEY_BOOTSTRAP"]) as f:
        boot = json.load(f)
    parsed = urlparse(base_url)
    domain, protocol = parsed.netloc, parsed.scheme
    mgmt_cfg, app_cfg = boot["management_api"], boot["default_client"]
    cc = GetToken(domain, mgmt_cfg["client_id"], client_secret=mgmt_cfg["client_secret"],
                  protocol=protocol).client_credentials(mgmt_cfg["audience"])
    mgmt = Auth0(base_url=f"{base_url}/api/v2", token=cc["access_token"], max_retries=0, timeout=15)
    app = GetToken(domain, app_cfg["client_id"], client_secret=app_cfg["client_secret"], protocol=protocol)
    connection = boot["connection"]
    connection_id = next(c.id for c in mgmt.connections.list(name=connection))
    run = uuid.uuid4().hex[:10]

    salt = os.urandom(16)
    pbkdf2 = hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt, 2000, 64)
    users = [
        {"email": f"md5-{run}@example.com", "user_id": f"md5-{run}", "email_verified": True,
         "custom_password_hash": {"algorithm": "md5",
                                  "hash": {"value": hashlib.md5(b"s4lt" + PASSWORD.encode()).hexdigest(), "encoding": "hex"},
                                  "salt": {"value": "s4lt", "position": "prefix"}}},
        {"email": f"pbkdf2-{run}@example.com",
         "custom_password_hash": {"algorithm": "pbkdf2",
                                  "hash": {"value": f"$pbkdf2-sha512$i=2000,l=64${b64(salt)}${b64(pbkdf2)}"}}},
        {"email": f"hmac-{run}@example.com", "app_metadata": {"roles": ["admin"]},
         "custom_password_hash": {"algorithm": "hmac",
                                  "hash": {"value": base64.b64encode(hmac.new(b"k3y", PASSWORD.encode(), hashlib.sha1).digest()).decode(),
                                           "encoding": "base64", "digest": "sha1",
                                           "key": {"value": "k3y", "encoding": "utf8"}}}},
        {"email": "not an address"},
        {"email": f"extra-{run}@example.com", "shoe_size": 44},
    ]
    created = mgmt.jobs.users_imports.create(
        users=("users.json", json.dumps(users).encode(), "application/json"),
        connection_id=connection_id, external_id=f"py-{run}")
    check(created.status == "pending" and created.type == "users_import" and created.id.startswith("job_"),
          f"unexpected job {created!r}")
    check(created.connection_id == connection_id and created.external_id == f"py-{run}", f"{created!r}")
    ok("jobs.users_imports.create answered 202 with a pending users_import job")

    job = wait(mgmt, created.id)
    summary = dump(job.summary)
    check(job.status == "completed" and summary == {"failed": 2, "updated": 0, "inserted": 3, "total": 5},
          f"unexpected finished job {job!r}")
    ok("jobs.get shows the completed job and its summary")

    errors = mgmt.jobs.errors.get(created.id)
    check(isinstance(errors, list) and len(errors) == 2, f"errors: {errors!r}")
    first = dump(errors[0])
    check(first["user"]["email"] == "not an address", f"first error: {first!r}")
    check([(e["code"], e["path"]) for e in first["errors"]] == [("INVALID_FORMAT", "email")], f"{first!r}")
    second = dump(errors[1])
    check(second["errors"][0]["code"] == "OBJECT_ADDITIONAL_PROPERTIES", f"{second!r}")
    ok("jobs.errors.get lists the refused users in Auth0's shape")

    for kind in ("md5", "pbkdf2", "hmac"):
        tokens = app.login(username=f"{kind}-{run}@example.com", password=PASSWORD, realm=connection, scope="openid")
        check(tokens.get("access_token"), f"{kind} login: {tokens!r}")
    user = mgmt.users.get(f"auth0|md5-{run}")
    check(user.email == f"md5-{run}@example.com" and user.email_verified, f"{user!r}")
    ok("imported users log in with their original passwords; the given user_id is kept")

    again = mgmt.jobs.users_imports.create(
        users=("users.json", json.dumps([{"email": f"hmac-{run}@example.com", "given_name": "Updated"}]).encode(),
               "application/json"),
        connection_id=connection_id, upsert=True)
    job = wait(mgmt, again.id)
    check(dump(job.summary) == {"failed": 0, "updated": 1, "inserted": 0, "total": 1}, f"upsert: {job!r}")
    tokens = app.login(username=f"hmac-{run}@example.com", password=PASSWORD, realm=connection, scope="openid")
    check(tokens.get("access_token"), "login after upsert")
    ok("upsert updates the existing user and keeps the password")


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
    except Exception as e:
        print(f"FAIL: {type(e).__name__}: {e} (last passed step: {LAST_OK[0]})", file=sys.stderr)
        sys.exit(2)
    print("python import flow: all steps passed")
