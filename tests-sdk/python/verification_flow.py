#!/usr/bin/env python3
"""Email verification through auth0-python's own methods, against a live Latchkey server.

Env: LATCHKEY_BASE_URL (e.g. http://127.0.0.1:41234), LATCHKEY_BOOTSTRAP (path to bootstrap.json).
Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.

SDK entry points used (auth0-python 6.8.0):
- Auth0(...).tickets.verify_email(user_id=..., result_url=..., include_email_in_redirect=...,
  ttl_sec=...): POST /api/v2/tickets/email-verification.
- .jobs.verification_email.create(user_id=..., client_id=...): POST /api/v2/jobs/verification-email;
  .jobs.get(id) until the job ends.
- .users.create / .users.get: the user and its email_verified.
The ticket link is followed with urllib (redirects not followed, to read Auth0's query). The job's
mail is checked by the Rust test that runs this script (it reads the SMTP sink): the addressee is
printed as "MAIL-TO <address>".
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import parse_qs, urlparse

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


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def follow(link):
    """The link's answer: (status, Location or None)."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        res = opener.open(link.rstrip("#"), timeout=15)
        return res.status, None
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("location")


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
    connection = boot["connection"]
    run = uuid.uuid4().hex[:10]

    email = f"ticket-{run}@example.com"
    user = mgmt.users.create(connection=connection, email=email, password="Verify-Passw0rd!",
                             verify_email=False)
    check(user.email_verified is False, f"{user!r}")
    answer = mgmt.tickets.verify_email(user_id=user.user_id, result_url="https://app.example/verified",
                                       include_email_in_redirect=True, ttl_sec=600)
    link = answer.ticket
    check(link.startswith(f"{base_url}/lo/email-verification?ticket=") and link.endswith("#"), link)
    ok("tickets.verify_email answered 201 with a ticket URL")

    status, location = follow(link)
    check(status in (302, 303) and location, f"following the link: {status} {location}")
    to = urlparse(location)
    query = parse_qs(to.query)
    check(f"{to.scheme}://{to.netloc}{to.path}" == "https://app.example/verified", location)
    check(query.get("success") == ["true"] and query.get("code") == ["success"]
          and query.get("email") == [email] and query.get("message"), f"{query!r}")
    check(mgmt.users.get(user.user_id).email_verified is True, "email_verified after the link")
    ok("the link verified the address and redirected with success, message, code and email")

    status, location = follow(link)
    query = parse_qs(urlparse(location or "").query)
    check(query.get("success") == ["false"], f"second use: {status} {location}")
    ok("a second use is refused")

    try:
        mgmt.tickets.verify_email(user_id=user.user_id, organization_id="org_abc")
        raise Failure("organization_id was accepted")
    except ApiError as e:
        check(e.status_code == 400, f"organization_id: {e.status_code} {e.body!r}")
    try:
        mgmt.tickets.verify_email(user_id="auth0|nobody-here")
        raise Failure("an unknown user was accepted")
    except ApiError as e:
        check(e.status_code == 404, f"unknown user: {e.status_code} {e.body!r}")
    ok("organization_id and unknown users are refused (400, 404)")

    mailed = f"job-{run}@example.com"
    other = mgmt.users.create(connection=connection, email=mailed, password="Verify-Passw0rd!",
                              verify_email=False)
    job = mgmt.jobs.verification_email.create(user_id=other.user_id, client_id=app_cfg["client_id"])
    check(job.type == "verification_email" and job.status in ("pending", "completed")
          and job.id.startswith("job_") and job.created_at, f"{job!r}")
    deadline = time.monotonic() + 30
    while True:
        got = mgmt.jobs.get(job.id)
        if got.status != "pending":
            break
        check(time.monotonic() < deadline, f"job stayed pending: {got!r}")
        time.sleep(0.1)
    check(got.status == "completed" and got.type == "verification_email", f"{got!r}")
    print(f"MAIL-TO {mailed}", flush=True)
    ok("jobs.verification_email.create queued the mail; jobs.get shows it completed")


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
    print("python verification flow: all steps passed")
