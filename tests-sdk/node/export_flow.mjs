// User exports through the official `auth0` npm SDK's own job methods (7.x), over HTTPS.
//
// Env: LATCHKEY_DOMAIN (host:port), LATCHKEY_BOOTSTRAP (path to bootstrap.json); the server's
// self-signed cert trusted via NODE_EXTRA_CA_CERTS. Exit 0 = pass; otherwise "FAIL: ..." on stderr.
//
// SDK entry points used (auth0@7.1.0): mgmt.jobs.usersExports.create({connection_id, format,
// limit, fields}), mgmt.jobs.get(id) (its `location`), mgmt.users.create to seed users. The
// file is fetched with Node's fetch and gunzipped with node:zlib.
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
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

async function finished(mgmt, id) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = await mgmt.jobs.get(id);
    if (job.status === "completed" || job.status === "failed") return job;
    check(Date.now() < deadline, `job ${id} never ended: ${show(job)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function download(job) {
  check(typeof job.location === "string", `no location: ${show(job)}`);
  const res = await fetch(job.location);
  check(res.status === 200, `download: ${res.status}`);
  check(res.headers.get("content-type") === "application/gzip", `content-type ${res.headers.get("content-type")}`);
  return gunzipSync(Buffer.from(await res.arrayBuffer())).toString("utf8");
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
  const conns = await mgmt.connections.list({ name: connection });
  const connectionId = conns.data[0].id;
  const run = randomBytes(5).toString("hex");
  const emails = [];
  for (let i = 0; i < 3; i++) {
    const email = `node-exp${i}-${run}@example.com`;
    await mgmt.users.create({ connection, email, password: "Exported-Passw0rd!", user_metadata: { n: i } });
    emails.push(email);
  }
  ok("users created");

  const created = await mgmt.jobs.usersExports.create({ connection_id: connectionId, format: "json" });
  check(created.type === "users_export" && created.status === "pending", `created=${show(created)}`);
  check(created.connection_id === connectionId, `created=${show(created)}`);
  const job = await finished(mgmt, created.id);
  check(job.status === "completed", `job=${show(job)}`);
  const records = (await download(job)).trim().split("\n").map((l) => JSON.parse(l));
  for (const [i, email] of emails.entries()) {
    const r = records.find((x) => x.email === email);
    check(r && r.user_metadata?.n === i, `record for ${email}: ${show(records)}`);
  }
  ok("jobs.usersExports.create (json): NDJSON behind the signed location");

  const csvJob = await mgmt.jobs.usersExports.create({
    format: "csv",
    fields: [{ name: "user_id", export_as: "id" }, { name: "email" }],
  });
  const csvText = await download(await finished(mgmt, csvJob.id));
  const lines = csvText.trim().split("\n");
  check(lines[0] === "id,email" && lines.length === 4, `csv=${csvText}`);
  check(lines.slice(1).every((l) => l.startsWith(`"'auth0|`)), `csv=${csvText}`);
  ok("csv with export_as, every user of the tenant");

  try {
    await mgmt.jobs.usersExports.create({ format: "csv", limit: -1 });
    throw new Failure("a negative limit was accepted");
  } catch (e) {
    if (!(e instanceof ManagementError)) throw e;
    check(e.statusCode === 400, `negative limit: ${e.statusCode} ${show(e.body)}`);
  }
  ok("a negative limit is refused with 400");
}

try {
  await main();
  console.log("node export flow: all steps passed");
} catch (e) {
  let detail;
  if (e instanceof Failure) detail = e.message;
  else if (e instanceof ManagementError) detail = `ManagementError ${e.statusCode} ${show(e.body)}`;
  else detail = `${e?.name}: ${e?.message}${e?.cause ? ` (cause: ${e.cause.code ?? e.cause.message})` : ""}`;
  console.error(`FAIL: ${detail} (last passed step: ${lastOk})`);
  process.exitCode = e instanceof Failure || e instanceof ManagementError ? 1 : 2;
}
