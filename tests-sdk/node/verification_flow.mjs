// Email verification through the official `auth0` npm SDK's own methods (7.x), over HTTPS.
//
// Env: LATCHKEY_DOMAIN (host:port), LATCHKEY_BOOTSTRAP (path to bootstrap.json); the server's
// self-signed cert trusted via NODE_EXTRA_CA_CERTS. Exit 0 = pass; otherwise "FAIL: ..." on stderr.
//
// SDK entry points used (auth0@7.1.0): mgmt.tickets.verifyEmail({user_id, result_url,
// includeEmailInRedirect}), mgmt.jobs.verificationEmail.create({user_id}), mgmt.jobs.get(id),
// mgmt.users.create / mgmt.users.get. The link is followed with fetch (redirect: "manual").
// The job's mail is checked by the Rust test (SMTP sink): the addressee is printed as
// "MAIL-TO <address>".
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { ManagementClient, ManagementError } from "auth0";

class Failure extends Error {}
let lastOk = "(none)";
const check = (cond, what) => {
  if (!cond) throw new Failure(what);
};
const ok = (step) => {
  lastOk = step;
  console.log(`ok - ${step}`);
};
const show = (v) => JSON.stringify(v);

async function follow(link) {
  const res = await fetch(link.replace(/#$/, ""), { redirect: "manual" });
  return { status: res.status, location: res.headers.get("location") };
}

async function main() {
  const domain = process.env.LATCHKEY_DOMAIN;
  const boot = JSON.parse(readFileSync(process.env.LATCHKEY_BOOTSTRAP, "utf8"));
  const connection = boot.connection;
  const mgmt = new ManagementClient({
    domain,
    clientId: boot.management_api.client_id,
    clientSecret: boot.management_api.client_secret,
    maxRetries: 0,
    timeoutInSeconds: 15,
  });
  const run = randomBytes(5).toString("hex");

  const email = `node-ticket-${run}@example.com`;
  const user = await mgmt.users.create({ connection, email, password: "Verify-Passw0rd!", verify_email: false });
  check(user.email_verified === false, `user=${show(user)}`);
  const { ticket } = await mgmt.tickets.verifyEmail({
    user_id: user.user_id,
    result_url: "https://app.example/node-verified",
    includeEmailInRedirect: true,
  });
  check(ticket.startsWith(`https://${domain}/lo/email-verification?ticket=`) && ticket.endsWith("#"), ticket);
  ok("tickets.verifyEmail answered with a ticket URL");

  const first = await follow(ticket);
  check([302, 303].includes(first.status) && first.location, `first use: ${show(first)}`);
  const to = new URL(first.location);
  check(`${to.origin}${to.pathname}` === "https://app.example/node-verified", first.location);
  check(
    to.searchParams.get("success") === "true" &&
      to.searchParams.get("code") === "success" &&
      to.searchParams.get("email") === email,
    first.location,
  );
  const fresh = await mgmt.users.get(user.user_id);
  check(fresh.email_verified === true, `after the link: ${show(fresh)}`);
  ok("the link verified the address and redirected with Auth0's query");

  const second = await follow(ticket);
  check(new URL(second.location ?? "https://x/").searchParams.get("success") === "false", `second: ${show(second)}`);
  ok("a second use is refused");

  try {
    await mgmt.jobs.verificationEmail.create({ user_id: "auth0|nobody-here" });
    throw new Failure("an unknown user was accepted");
  } catch (e) {
    if (!(e instanceof ManagementError)) throw e;
    check(e.statusCode === 404, `unknown user: ${e.statusCode} ${show(e.body)}`);
  }
  ok("jobs.verificationEmail.create refuses an unknown user with 404");

  const mailed = `node-job-${run}@example.com`;
  const other = await mgmt.users.create({ connection, email: mailed, password: "Verify-Passw0rd!", verify_email: false });
  const job = await mgmt.jobs.verificationEmail.create({ user_id: other.user_id });
  check(job.type === "verification_email" && job.id.startsWith("job_") && job.created_at, `job=${show(job)}`);
  const deadline = Date.now() + 30_000;
  let got;
  for (;;) {
    got = await mgmt.jobs.get(job.id);
    if (got.status !== "pending") break;
    check(Date.now() < deadline, `job stayed pending: ${show(got)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  check(got.status === "completed", `job=${show(got)}`);
  console.log(`MAIL-TO ${mailed}`);
  ok("jobs.verificationEmail.create queued the mail; jobs.get shows it completed");
}

try {
  await main();
  console.log("node verification flow: all steps passed");
} catch (e) {
  let detail;
  if (e instanceof Failure) detail = e.message;
  else if (e instanceof ManagementError) detail = `ManagementError ${e.statusCode} ${show(e.body)}`;
  else detail = `${e?.name}: ${e?.message}${e?.cause ? ` (cause: ${e.cause.code ?? e.cause.message})` : ""}`;
  console.error(`FAIL: ${detail} (last passed step: ${lastOk})`);
  process.exitCode = e instanceof Failure || e instanceof ManagementError ? 1 : 2;
}
