// Runs the official `auth0` npm SDK (7.x) against a live Latchkey server over HTTPS.
//
// Env: LATCHKEY_DOMAIN (host:port, no scheme, e.g. 127.0.0.1:41235), LATCHKEY_BOOTSTRAP (path to
// bootstrap.json). The server's self-signed cert must be trusted via NODE_EXTRA_CA_CERTS.
// Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.
//
// SDK entry points used (auth0@7.1.0):
// - `ManagementClient` from "auth0" (Fern-generated v7 client). With {domain, clientId, clientSecret}
//   it fetches its own token: form POST https://<domain>/oauth/token, audience https://<domain>/api/v2/.
//   Errors are `ManagementError` (.statusCode, .body).
// - `AuthenticationClient` from "auth0/legacy" (re-exports auth0@4, the v7 root has no auth client).
//   oauth.passwordGrant/refreshTokenGrant send form bodies and, when an id_token comes back, verify
//   it (RS256 via https://<domain>/.well-known/jwks.json, iss must be https://<domain>/, aud = clientId).
//   Errors are `AuthApiError` (.statusCode, .error, .error_description).
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { ManagementClient, ManagementError } from "auth0";
import { AuthenticationClient, AuthApiError } from "auth0/legacy";

const INITIAL_PASSWORD = "Initial-Passw0rd!";
const CHANGED_PASSWORD = "Changed-Passw0rd!";
const LOGIN_SCOPE = "openid profile email offline_access";

class Failure extends Error {}
let lastOk = "(none)";

function check(cond, what) {
  if (!cond) throw new Failure(what);
}
function ok(step) {
  lastOk = step;
  console.log(`ok - ${step}`);
}
const show = (v) => JSON.stringify(v);

async function expectError(promise, ErrorClass, status, what) {
  try {
    await promise;
  } catch (e) {
    if (!(e instanceof ErrorClass)) throw e;
    check(e.statusCode === status, `${what}: expected ${status}, got ${e.statusCode} ${show(e.body)}`);
    return e;
  }
  throw new Failure(`${what}: expected HTTP ${status}, but the call succeeded`);
}

async function main() {
  const domain = process.env.LATCHKEY_DOMAIN;
  check(domain && !domain.includes("/"), `LATCHKEY_DOMAIN must be host:port, got ${show(domain)}`);
  const boot = JSON.parse(readFileSync(process.env.LATCHKEY_BOOTSTRAP, "utf8"));
  const connection = boot.connection;

  // maxRetries: 0 so a retried 5xx/429 cannot hide a server bug.
  const mgmt = new ManagementClient({
    domain,
    clientId: boot.management_api.client_id,
    clientSecret: boot.management_api.client_secret,
    maxRetries: 0,
    timeoutInSeconds: 15,
  });

  // 1. Create a user (the first call also makes the SDK fetch its client_credentials token).
  const email = `sdk-${randomBytes(6).toString("hex")}@example.com`;
  const created = await mgmt.users.create({ connection, email, password: INITIAL_PASSWORD });
  const userId = created.user_id;
  check(typeof userId === "string" && userId.startsWith("auth0|"), `unexpected user_id ${show(userId)}`);
  check(created.email === email, `created.email=${show(created.email)}, want ${email}`);
  check(created.identities?.[0]?.connection === connection, `created.identities=${show(created.identities)}`);
  ok(`created user ${userId}`);

  // 2. Search. v7 returns a Page: .data = users of this page, .response = the raw
  //    {start, limit, length, total, users} body (include_totals=true is the SDK default).
  const page = await mgmt.users.list({ q: `email:"${email}"`, search_engine: "v3" });
  check(
    page.data.length === 1 && page.data[0].user_id === userId,
    `users.list(q=email) returned ${show(page.data)}`,
  );
  check(page.response.total === 1, `users.list total=${show(page.response.total)}, want 1`);
  ok("listed user by q=email");

  const byEmail = await mgmt.users.listUsersByEmail({ email });
  check(byEmail.length === 1 && byEmail[0].user_id === userId, `users-by-email returned ${show(byEmail)}`);
  ok("got user by email");

  const fetched = await mgmt.users.get(userId);
  check(fetched.user_id === userId && fetched.email === email, `users.get returned ${show(fetched)}`);
  ok("got user by id");

  // 3. Password-realm login with the initial password.
  const auth = new AuthenticationClient({
    domain,
    clientId: boot.default_client.client_id,
    clientSecret: boot.default_client.client_secret,
  });
  const login = (password) =>
    auth.oauth.passwordGrant({ username: email, password, realm: connection, scope: LOGIN_SCOPE });
  const first = await login(INITIAL_PASSWORD);
  for (const key of ["access_token", "id_token", "refresh_token"]) {
    check(first.data[key], `login response lacks ${key}: ${show(Object.keys(first.data))}`);
  }
  ok("logged in with initial password (access, id and refresh tokens; id_token verified by SDK)");

  // 3b. "Forgot password" (TextApiResponse: the unquoted text) and a ticket.
  const sent = await auth.database.changePassword({ email, connection });
  check(sent.data === "We've just sent you an email to reset your password.", `changePassword data=${show(sent.data)}`);
  check(sent.headers.get("x-ratelimit-limit") === "10", `changePassword headers lack X-RateLimit-Limit`);
  const ticket = await mgmt.tickets.changePassword({ user_id: userId, includeEmailInRedirect: true, ttl_sec: 0 });
  check(
    ticket.ticket.startsWith(`https://${domain}/lo/reset?ticket=`) && ticket.ticket.endsWith("#"),
    `tickets.changePassword=${show(ticket)}`,
  );
  ok("database.changePassword answers Auth0's text; tickets.changePassword returns the reset URL");

  // 4. Change the password through the Management API.
  const updated = await mgmt.users.update(userId, { password: CHANGED_PASSWORD, connection });
  check(updated.user_id === userId, `users.update returned ${show(updated)}`);
  ok("changed password via users.update");

  const denied = await expectError(login(INITIAL_PASSWORD), AuthApiError, 403, "login with old password");
  check(denied.error === "invalid_grant", `old password: error=${show(denied.error)}, want invalid_grant`);
  check(
    denied.error_description === "Wrong email or password.",
    `old password: error_description=${show(denied.error_description)}`,
  );
  ok("old password refused (403 invalid_grant)");

  const second = await login(CHANGED_PASSWORD);
  check(second.data.access_token && second.data.id_token, `new login: ${show(Object.keys(second.data))}`);
  ok("logged in with new password");

  const stale = await expectError(
    auth.oauth.refreshTokenGrant({ refresh_token: first.data.refresh_token }),
    AuthApiError,
    403,
    "pre-change refresh token",
  );
  check(stale.error === "invalid_grant", `pre-change refresh token: error=${show(stale.error)}`);
  ok("refresh token issued before the password change refused (403 invalid_grant)");

  // Control: a refresh token issued after the change still works.
  check(second.data.refresh_token, `new login lacks refresh_token: ${show(Object.keys(second.data))}`);
  const refreshed = await auth.oauth.refreshTokenGrant({ refresh_token: second.data.refresh_token });
  check(refreshed.data.access_token, `refresh with post-change token: ${show(Object.keys(refreshed.data))}`);
  ok("refresh token issued after the password change works");

  // 5. Weak password is rejected by the connection's policy.
  const weak = await expectError(
    mgmt.users.update(userId, { password: "weak", connection }),
    ManagementError,
    400,
    "weak password update",
  );
  check(String(weak.body?.message).includes("PasswordStrengthError"), `weak password body=${show(weak.body)}`);
  ok("weak password refused (400 PasswordStrengthError)");

  // 6. Delete, then the user is gone.
  await mgmt.users.delete(userId);
  ok("deleted user");
  const gone = await expectError(mgmt.users.get(userId), ManagementError, 404, "get after delete");
  check(gone.body?.errorCode === "inexistent_user", `404 body=${show(gone.body)}`);
  ok("get after delete gives 404 inexistent_user");

  // 7. The change-password mail template: create, read, update, and a broken one refused.
  await mgmt.emailTemplates.create({
    template: "reset_email", syntax: "liquid", enabled: true, from: "Shop <no-reply@shop.example>",
    subject: "Reset your password", body: "<a href=\"{{ url }}\">Reset</a> for {{ user.email }}",
  });
  const tpl = await mgmt.emailTemplates.get("reset_email");
  check(tpl.template === "reset_email" && tpl.urlLifetimeInSeconds === 432000, `emailTemplates.get=${show(tpl)}`);
  const patched = await mgmt.emailTemplates.update("reset_email", { urlLifetimeInSeconds: 600, subject: "Reset now" });
  check(patched.urlLifetimeInSeconds === 600 && patched.subject === "Reset now", `emailTemplates.update=${show(patched)}`);
  const broken = await expectError(
    mgmt.emailTemplates.update("reset_email", { body: "{% if url %}unclosed" }), ManagementError, 400, "broken template",
  );
  check(String(broken.body?.message).startsWith("Error in template body"), `broken template body=${show(broken.body)}`);
  ok("email template created, read, updated; a broken one refused (400)");
}

try {
  await main();
  console.log("node management flow: all steps passed");
} catch (e) {
  let detail;
  if (e instanceof Failure) detail = e.message;
  else if (e instanceof AuthApiError) detail = `AuthApiError ${e.statusCode} ${e.error}: ${e.error_description}`;
  else if (e instanceof ManagementError) detail = `ManagementError ${e.statusCode} ${show(e.body)}`;
  else detail = `${e?.name}: ${e?.message}${e?.cause ? ` (cause: ${e.cause.code ?? e.cause.message})` : ""}`;
  console.error(`FAIL: ${detail} (last passed step: ${lastOk})`);
  process.exitCode = e instanceof Failure || e instanceof AuthApiError || e instanceof ManagementError ? 1 : 2;
}
