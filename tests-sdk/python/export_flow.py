#!/usr/bin/env python3
"""User exports through auth0-python's own job methods, against a live Latchkey server.

Env: LATCHKEY_BASE_URL (e.g. http://127.0.0.1:41234), LATCHKEY_BOOTSTRAP (path to bootstrap.json).
Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.

SDK entry points used (auth0-python 6.8.0):
- Auth0(...).jobs.users_exports.create(connection_id=..., format=..., limit=..., fields=[...]):
  POST /api/v2/jobs/users-exports.
- .jobs.get(id): the job's status, then its `location` (a short-lived signed link).
- .users.create(...) to seed users; the file is downloaded with urllib and gunzipped with gzip.
"""

import csv
import gzip
import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlparse

from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error
from auth0.management import Auth0
from auth0.management.core.api_error import ApiError

LAST_OK = ["(none)"]


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def ok(step):
    LAST_OK[0] = step
    print(f"ok - {step}", flush=True)


def dump(obj):
    return obj.model_dump() if hasattr(obj, "model_dump") else obj


def wait(mgmt, job_id):
    deadline = time.monotonic() + 60
    while True:
        job = mgmt.jobs.get(job_id)
        if job.status in ("completed", "failed"):
            return job
        check(time.monotonic() < deadline, f"job {job_id} never ended: {job!r}")
        time.sleep(0.1)


def download(job):
    location = dump(job).get("location")
    check(isinstance(location, str), f"no location: {job!r}")
    with urllib.request.urlopen(location) as res:
        check(res.headers["Content-Type"] == "application/gzip", f"content-type {res.headers['Content-Type']}")
        return gzip.decompress(res.read()).decode(), location


def main():
    base_url = os.environ["LATCHKEY_BASE_URL"].rstrip("/")
    with open(os.environ["LATCHKEY_BOOTSTRAP"]) as f:
        boot = json.load(f)
    parsed = urlparse(base_url)
    domain, protocol = parsed.netloc, parsed.scheme
    mgmt_cfg = boot["management_api"]
    cc = GetToken(domain, mgmt_cfg["client_id"], client_secret=mgmt_cfg["client_secret"],
                  protocol=protocol).client_credentials(mgmt_cfg["audience"])
    mgmt = Auth0(base_url=f"{base_url}/api/v2", token=cc["access_token"], max_retries=0, timeout=15)
    connection = boot["connection"]
    connection_id = next(c.id for c in mgmt.connections.list(name=connection))
    run = uuid.uuid4().hex[:10]
    emails = []
    for i in range(3):
        email = f"py-exp{i}-{run}@example.com"
        mgmt.users.create(connection=connection, email=email, password="Exported-Passw0rd!",
                          user_metadata={"plan": "pro" if i == 0 else "free"})
        emails.append(email)
    ok("users created")

    created = mgmt.jobs.users_exports.create(format="json")
    check(created.type == "users_export" and created.status == "pending" and created.id.startswith("job_"),
          f"unexpected job {created!r}")
    job = wait(mgmt, created.id)
    check(job.status == "completed", f"{job!r}")
    text, location = download(job)
    records = [json.loads(line) for line in text.splitlines()]
    by_email = {r.get("email"): r for r in records}
    check(all(e in by_email for e in emails), f"missing users in {records!r}")
    check(by_email[emails[0]]["user_metadata"] == {"plan": "pro"}, f"{by_email[emails[0]]!r}")
    check("password" not in text, "no password material in an API export")
    ok("jobs.users_exports.create (json, default fields): NDJSON with every user")

    created = mgmt.jobs.users_exports.create(
        connection_id=connection_id, format="csv", limit=2,
        fields=[{"name": "email"}, {"name": "user_metadata.plan", "export_as": "plan"}])
    check(created.connection_id == connection_id and created.limit == 2, f"{created!r}")
    job = wait(mgmt, created.id)
    text, _ = download(job)
    rows = list(csv.reader(io.StringIO(text)))
    check(rows[0] == ["email", "plan"] and len(rows) == 3, f"csv: {rows!r}")
    check(all(r[0].startswith("'") and r[1] in ("'pro", "'free") for r in rows[1:]), f"csv: {rows!r}")
    ok("csv with chosen fields, export_as and a limit; strings escaped as Auth0 does")

    tampered = location[:-2] + ("AA" if not location.endswith("AA") else "BB")
    try:
        urllib.request.urlopen(tampered)
        raise Failure("a tampered link was served")
    except urllib.error.HTTPError as e:
        check(e.code == 403, f"tampered link: {e.code}")
    ok("a tampered location is refused")

    try:
        mgmt.jobs.users_exports.create(format="csv", fields=[{"name": "user_metadata"}])
        raise Failure("a whole metadata object in CSV was accepted")
    except ApiError as e:
        check(e.status_code == 400, f"{e.status_code} {e.body!r}")
    ok("a bad field list is refused with 400")


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
    print("python export flow: all steps passed")
