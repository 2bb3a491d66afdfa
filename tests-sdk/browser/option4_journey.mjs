// The seed's "option 4" in real headless Chromium against a live Latchkey server: a password
// change after re-authentication, driven by Auth0's sample post-login action (read verbatim from
// crates/latchkey-server/tests/fixtures/sample_post_login_action.js), with npm openid-client as
// the application:
//
//   Management API: the user; the machine-to-machine application the sample names (imported
//   as client_id YOUR_CLIENT_ID, with its secret) and its grant for create:user_tickets on the
//   Management API; the sample as a post-login action with the secret YOUR_CLIENT_SECRET,
//   deployed and bound
//   → authorization URL with prompt=login, max_age=0, scope "openid update:password" and
//   login_hint → the login page, the email already filled in → the password → the action makes a
//   password-change ticket through the M2M client and sends the browser to it: the hosted reset
//   page /lo/reset?ticket=…, with no session cookie yet → the new password twice → "Password
//   changed" (and the "password changed" notice by mail)
//   → a fresh, ordinary authorization (scope openid) → the old password is refused → the new
//   one logs in → the code at the callback → openid-client exchanges it (state, PKCE, nonce, ID
//   token signature against the JWKS).
//
// Env: as login_journey.mjs (LATCHKEY_BASE_URL, LATCHKEY_BOOTSTRAP, LATCHKEY_MAIL_DIR,
// LATCHKEY_SCREENSHOTS, CHROMIUM, NODE_EXTRA_CA_CERTS), and LATCHKEY_SAMPLE_ACTION: the path of
// the sample action's source, sent as the action's code byte for byte.
//
// Accessibility: every page that gets a screenshot is replayed afterwards and checked with
// axe-core (common.mjs checkAccessibility; see login_journey.mjs for why it is a replay).
//
// Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.
import { readFileSync } from "node:fs";
import {
  addClientUrls,
  api,
  authorizationRequest,
  check,
  codeExchange,
  createUser,
  discover,
  journeyEnv,
  launchJourneyBrowser,
  list,
  mailFiles,
  managementToken,
  ok,
  run,
  show,
  startApp,
  waitForMail,
} from "./common.mjs";

const EMAIL = "option4@example.com";
const OLD_PASSWORD = "Old-Password-1";
const NEW_PASSWORD = "New-Password-2";
// The machine-to-machine application the sample names: its id is the sample's literal.
const M2M_CLIENT_ID = "YOUR_CLIENT_ID";
const M2M_SECRET = "option4-m2m-secret-for-the-sample-action-0123456789";
const MAIL_TIMEOUT_MS = 15_000;

let app = null;

async function main() {
  const { baseUrl, issuer, boot, outbox, executablePath, shotDir, connection, clientId, clientSecret } = journeyEnv();
  const samplePath = process.env.LATCHKEY_SAMPLE_ACTION;
  check(samplePath, "LATCHKEY_SAMPLE_ACTION is not set (the path of sample_post_login_action.js)");
  const sample = readFileSync(samplePath, "utf8");
  check(sample.includes("createPasswordChangeTicket") && sample.includes("YOUR_CLIENT_SECRET"), `${samplePath} is not the sample action`);

  // 1. Management API: the user, the M2M application and its grant, the action.
  const token = await managementToken(baseUrl, boot);
  const userId = await createUser(baseUrl, token, connection, EMAIL, OLD_PASSWORD);

  const m2m = await api(baseUrl, "POST", "/api/v2/clients", token, {
    name: "Actions M2M",
    app_type: "non_interactive",
    client_id: M2M_CLIENT_ID,
    client_secret: M2M_SECRET,
    grant_types: ["client_credentials"],
  });
  check(m2m.status === 201 && m2m.body.client_id === M2M_CLIENT_ID, `create the M2M client: ${m2m.status} ${show(m2m.body)}`);
  const grant = await api(baseUrl, "POST", "/api/v2/client-grants", token, {
    client_id: M2M_CLIENT_ID,
    audience: `${issuer}api/v2/`,
    scope: ["create:user_tickets"],
  });
  check(grant.status === 201, `create the client grant: ${grant.status} ${show(grant.body)}`);
  ok(`imported the M2M client ${M2M_CLIENT_ID}, granted create:user_tickets on ${issuer}api/v2/`);

  const action = await api(baseUrl, "POST", "/api/v2/actions/actions", token, {
    name: "Password change after re-authentication",
    supported_triggers: [{ id: "post-login", version: "v3" }],
    code: sample,
    secrets: [{ name: "YOUR_CLIENT_SECRET", value: M2M_SECRET }],
  });
  check(action.status === 201 && action.body.id, `create the action: ${action.status} ${show(action.body)}`);
  check(action.body.code === sample, "the action's stored code is not the sample byte for byte");
  const actionId = action.body.id;
  const deployed = await api(baseUrl, "POST", `/api/v2/actions/actions/${encodeURIComponent(actionId)}/deploy`, token);
  check(deployed.status === 200, `deploy the action: ${deployed.status} ${show(deployed.body)}`);
  const bound = await api(baseUrl, "PATCH", "/api/v2/actions/triggers/post-login/bindings", token, {
    bindings: [{ ref: { type: "action_id", value: actionId } }],
  });
  check(bound.status === 200, `bind the action: ${bound.status} ${show(bound.body)}`);
  check(
    list(bound.body.bindings).some((b) => b.action?.id === actionId),
    `the post-login bindings do not hold the action: ${show(bound.body)}`,
  );
  ok(`the sample action ${actionId} (${sample.length} bytes, verbatim) is deployed and bound to post-login`);

  // 2. The application and its openid-client configuration.
  app = await startApp();
  const CALLBACK = `${app.origin}/callback`;
  const patched = await addClientUrls(baseUrl, token, clientId, { callbacks: [CALLBACK] });
  check(patched.status === 200 && list(patched.body.callbacks).includes(CALLBACK), `patch client: ${patched.status} ${show(patched.body)}`);
  ok(`the application runs at ${app.origin}; default client ${clientId} allows ${CALLBACK}`);
  const config = await discover(issuer, clientId, clientSecret);
  ok(`openid-client discovery: issuer ${config.serverMetadata().issuer}`);

  const chrome = await launchJourneyBrowser(executablePath, shotDir);
  try {
    // One tab throughout; a wrong page's failure lists the cookies the browser holds.
    const tab = await chrome.openTab(null, {
      clues: async (t) =>
        ` (alert: ${show(await t.text("[role=alert]"))}); the browser holds the cookies ` +
        `${show((await t.context.cookies()).map((c) => `${c.name} (Path=${c.path})`))}`,
    });
    const { page, context, screenshot, expectHeading, clickAndLoad, submitButton } = tab;
    const cookieNames = async () => (await context.cookies(baseUrl)).map((c) => c.name);

    // 3. Option 4: re-authentication with update:password.
    const change = await authorizationRequest(config, CALLBACK, "openid update:password", {
      prompt: "login",
      max_age: "0",
      login_hint: EMAIL,
    });
    const query = new URL(change.url).searchParams;
    check(
      query.get("prompt") === "login" && query.get("max_age") === "0" && query.get("scope") === "openid update:password" && query.get("login_hint") === EMAIL,
      `openid-client's authorization URL lacks the option-4 parameters: ${change.url}`,
    );
    const shown = await page.goto(change.url);
    check(shown?.status() === 200, `GET ${change.url}: ${shown?.status()}`);
    await tab.loginFormShown("/authorize with prompt=login, max_age=0, update:password");
    const prefilled = await page.inputValue("#username");
    check(prefilled === EMAIL, `the email field holds ${show(prefilled)}, want ${show(EMAIL)} from login_hint`);
    await screenshot("login");
    ok(`/authorize shows the login page, the email filled in from login_hint (${show(prefilled)})`);

    // Only the password is typed: the email is the one login_hint put there.
    await page.fill("#password", OLD_PASSWORD);
    const toReset = await clickAndLoad(submitButton());
    check(toReset?.status() === 200, `the password answer ended in HTTP ${toReset?.status()} at ${page.url()}`);
    const resetUrl = new URL(page.url());
    check(
      resetUrl.origin === baseUrl && resetUrl.pathname === "/lo/reset" && /^[A-Za-z0-9_-]{43}$/.test(resetUrl.searchParams.get("ticket") ?? ""),
      `after the password the browser is at ${page.url()}, want ${baseUrl}/lo/reset?ticket=… (the action's redirect)`,
    );
    check(!app.hits.some((u) => u.includes(`state=${change.state}`)), "the option-4 login reached the application's callback");
    await expectHeading("Change your password", "the ticket's reset page");
    check((await page.locator("#newPassword").count()) === 1 && (await page.locator("#confirmNewPassword").count()) === 1, "the reset page has no #newPassword/#confirmNewPassword");
    const beforeChange = await cookieNames();
    check(!beforeChange.includes("lk_session"), `a session cookie exists before the change: ${show(beforeChange)}`);
    await screenshot("reset-form");
    ok(`the password leads to the action's ticket: ${resetUrl.origin}${resetUrl.pathname}?ticket=…; no session cookie (${show(beforeChange)})`);

    // The ticket was made by the M2M client: its client-credentials exchange is in the tenant log.
    let logged = false;
    for (let i = 0; i < 50 && !logged; i++) {
      const logs = await api(baseUrl, "GET", "/api/v2/logs?q=type:seccft", token);
      logged = logs.status === 200 && show(logs.body).includes(M2M_CLIENT_ID);
      if (!logged) await new Promise((r) => setTimeout(r, 100));
    }
    check(logged, `no client-credentials exchange (seccft) by ${M2M_CLIENT_ID} in the tenant log`);
    ok(`the tenant log has the sample's client-credentials exchange by ${M2M_CLIENT_ID}`);

    const seen = new Set(mailFiles(outbox).map((f) => f.path));
    await page.fill("#newPassword", NEW_PASSWORD);
    await page.fill("#confirmNewPassword", NEW_PASSWORD);
    const done = await clickAndLoad(submitButton());
    check(done?.status() === 200, `the new password: HTTP ${done?.status()} at ${page.url()}`);
    await expectHeading("Password changed", "after submitting the new password");
    const doneText = await tab.text("[role=status]");
    await screenshot("reset-done");
    ok(`new password set: ${show(doneText)}`);
    const notice = await waitForMail(outbox, seen, /^Subject: .*password was changed/m, MAIL_TIMEOUT_MS);
    check(notice.text.includes(`To: ${EMAIL}`), `the "password changed" notice ${notice.path} is not to ${EMAIL}`);
    ok(`"password changed" notice: ${notice.path}`);
    const afterChange = await cookieNames();
    check(!afterChange.includes("lk_session"), `a session cookie exists after the change: ${show(afterChange)}`);

    // 4. A fresh, ordinary authorization: the old password is refused, the new one logs in.
    const login = await authorizationRequest(config, CALLBACK, "openid");
    await page.goto(login.url);
    await tab.loginFormShown("/authorize after the change");
    await tab.submitLogin(EMAIL, OLD_PASSWORD);
    await expectHeading("Log in", "after the old password");
    const error = await tab.text("#form-error");
    check(error === "Wrong email or password.", `the old password: want "Wrong email or password.", got ${show(error)} at ${page.url()}`);
    check(!app.hits.some((u) => u.includes(`state=${login.state}`)), "the old password reached the callback");
    await screenshot("login-old-refused");
    ok(`the old password is refused: ${show(error)}`);

    await tab.submitLogin(EMAIL, NEW_PASSWORD);
    const callback = await tab.waitForCallback(CALLBACK, "login with the new password");
    const params = new URL(callback).searchParams;
    check(params.get("code") && params.get("state") === login.state, `callback ${callback}: want a code and state ${login.state}`);
    const tokens = await codeExchange(config, login, callback, "login with the new password");
    const claims = tokens.claims();
    check(claims?.sub === userId, `id_token sub ${show(claims?.sub)}, want ${show(userId)}`);
    check(claims.nonce === login.nonce, `id_token nonce ${show(claims.nonce)}, want ${show(login.nonce)}`);
    check(Array.isArray(claims.amr) && claims.amr.includes("pwd"), `id_token amr ${show(claims.amr)}, want "pwd"`);
    ok(`the new password logs in; openid-client exchanged the code: sub ${claims.sub}, amr ${show(claims.amr)}`);

    check(chrome.pageErrors.length === 0, `JavaScript errors on the pages: ${show(chrome.pageErrors)}`);
    await chrome.closeTabs();

    // 5. Accessibility (axe-core) of every page that got a screenshot.
    await chrome.checkAccessibility();
  } finally {
    await chrome.close();
  }
}

await run("browser option-4 journey", main, () => app?.close());
