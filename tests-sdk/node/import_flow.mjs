// Bulk user import through the official `auth0` npm SDK's own job methods (7.x), over HTTPS.
//
// Env: LATCHKEY_DOMAIN (host:port), LATCHKEY_BOOTSTRAP (path to bootstrap.json); the server's
// self-signed cert trusted via NODE_EXTRA_CA_CERTS. Exit 0 = pass; otherwise "FAIL: ..." on stderr.
//
// SDK entry points used (auth0@7.1.0): mgmt.jobs.usersImports.create({users, connection_id,
// upsert, external_id}) (multipart), mgmt.jobs.get(id), mgmt.jobs.errors.get(id); and
// AuthenticationClient.oauth.passwordGrant from "auth0/legacy" for the imported users' logins.
// The sha256 hash is made here with node:crypto.
import { readFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { ManagementClient, ManagementError } from "auth0";
import { AuthenticationClient, AuthApiError } from "auth0/legacy";

const PASSWORD = "Imported-Passw0rd!";
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
  const sha = createHash("sha256").update(PASSWORD + "pepper").digest("hex");
  const users = [
    {
      email: `sha-${run}@example.com`,
      user_id: `legacy-${run}`,
      custom_password_hash: {
        algorithm: "sha256",
        hash: { value: sha, encoding: "hex" },
        salt: { value: "pepper", position: "suffix" },
      },
    },
    { email: `blocked-${run}@example.com`, blocked: "no" },
  ];
  const file = new Blob([JSON.stringify(users)], { type: "application/json" });
  const created = await mgmt.jobs.usersImports.create({
    users: file,
    connection_id: connectionId,
    external_id: `node-${run}`,
  });
  check(created.status === "pending" && created.type === "users_import", `created=${show(created)}`);
  check(created.connection_id === connectionId && created.external_id === `node-${run}`, `created=${show(created)}`);
  ok("jobs.usersImports.create queued the import");

  const job = await finished(mgmt, created.id);
  check(
    job.status === "completed" &&
      job.summary?.failed === 1 &&
      job.summary?.updated === 0 &&
      job.summary?.inserted === 1 &&
      job.summary?.total === 2,
    `job=${show(job)}`,
  );
  ok("jobs.get shows the completed job and its summary");

  const errors = await mgmt.jobs.errors.get(created.id);
  check(Array.isArray(errors) && errors.length === 1, `errors=${show(errors)}`);
  check(errors[0].user.email === `blocked-${run}@example.com`, `errors=${show(errors)}`);
  check(errors[0].errors[0].code === "INVALID_TYPE" && errors[0].errors[0].path === "blocked", `errors=${show(errors)}`);
  ok("jobs.errors.get lists the refused user in Auth0's shape");

  const auth = new AuthenticationClient({
    domain,
    clientId: boot.default_client.client_id,
    clientSecret: boot.default_client.client_secret,
  });
  const login = await auth.oauth.passwordGrant({
    username: `sha-${run}@example.com`,
    password: PASSWORD,
    realm: connection,
    scope: "openid",
  });
  const sub = JSON.parse(Buffer.from(login.data.id_token.split(".")[1], "base64url").toString()).sub;
  check(sub === `auth0|legacy-${run}`, `sub=${sub}`);
  ok("the imported user logs in with the original password under the id it was imported with");

  const tooBig = new Blob(["[" + Array(30_000).fill('{"email":"a@example.com"}').join(",") + "]"]);
  try {
    await mgmt.jobs.usersImports.create({ users: tooBig, connection_id: connectionId });
    throw new Failure("a file over 500 KB was accepted");
  } catch (e) {
    if (!(e instanceof ManagementError)) throw e;
    check(e.statusCode === 413, `over 500 KB: ${e.statusCode} ${show(e.body)}`);
  }
  ok("a file over 500 KB is refused with 413");
}

try {
  await main();
  console.log("node import flow: all steps passed");
} catch (e) {
  let detail;
  if (e instanceof Failure) detail = e.message;
  else if (e instanceof AuthApiError) detail = `AuthApiError ${e.statusCode} ${e.error}: ${e.error_description}`;
  else if (e instanceof ManagementError) detail = `ManagementError ${e.statusCode} ${show(e.body)}`;
  else detail = `${e?.name}: ${e?.message}${e?.cause ? ` (cause: ${e.cause.code ?? e.cause.message})` : ""}`;
  console.error(`FAIL: ${detail} (last passed step: ${lastOk})`);
  process.exitCode = e instanceof Failure || e instanceof AuthApiError || e instanceof ManagementError ? 1 : 2;
}
