// Journey J1 in real headless Chromium against a live Latchkey server, with an independent
// OpenID Connect client (npm openid-client 6.x) on the application's side:
//
//   authorization URL (PKCE S256 + state + nonce, built by openid-client from discovery)
//   → login page → "Forgot password?" → email → reset link from the mail (SMTP) → new password
//   → "Password changed" → fresh authorization URL → the old password is refused → the new
//   password logs in → code at the callback → openid-client exchanges it (state, PKCE, nonce,
//   ID token signature checked against the JWKS) → userinfo → single sign-on (no form) →
//   prompt=login shows the form → /v2/logout back to the application → the form again.
//
// Env: LATCHKEY_BASE_URL (https://127.0.0.1:PORT), LATCHKEY_BOOTSTRAP (path to bootstrap.json),
// LATCHKEY_MAIL_DIR (where the test writes each mail its loopback SMTP server received, as
// NNNN.eml), LATCHKEY_SCREENSHOTS (directory for full-page PNGs, created),
// CHROMIUM (default /usr/bin/chromium). NODE_EXTRA_CA_CERTS must name the server's self-signed
// certificate: node's fetch (openid-client, Management API) then trusts it. Chromium ignores
// certificate errors (ignoreHTTPSErrors).
//
// The application is a small local HTTP server on a free port (its /callback and / record the
// URL the browser was sent to); the script adds its callback and origin to the default client's
// callbacks and allowed logout URLs. (The bootstrap's http://localhost:3000 is not used:
// Playwright's page/context.route() is never called for the target of a redirect, and the
// callback is always reached by one, so that address would have to be really served; a fixed
// port would clash between concurrent runs.)
//
// Accessibility: every page that gets a screenshot is also kept as it stood (URL and DOM,
// page.content()). After the journey, a separate browser context with bypassCSP replays each one
// at its own URL (page.route answers the document from the snapshot; the stylesheet and other
// GETs come from the live server, anything else is aborted), injects npm axe-core
// (node_modules/axe-core/axe.min.js, page.addScriptTag) and runs the WCAG 2.0/2.1 A and AA
// rules. Any "serious" or "critical" violation fails the script; every violation is printed as
// an "a11y: <page>: ..." line. Why a replay and not a second walk through the pages: the forgot
// and reset forms send mail, spend the one-time reset ticket and change the password, so the
// same states cannot be reached twice (and the Rust test counts the mails). Why not run axe in
// the journey's own context: the pages' CSP (default-src 'none') refuses the injected script,
// and the journey must keep running under the real CSP.
//
// Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.
import * as oidc from "openid-client";
import {
  Failure,
  addClientUrls,
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

const EMAIL = "journey@example.com";
const OLD_PASSWORD = "Old-Journey-Password-1";
const NEW_PASSWORD = "New-Journey-Password-2";
const SCOPE = "openid profile email";
const MAIL_TIMEOUT_MS = 15_000;

let app = null;

// Waits for a mail not among `seen` (paths) that holds a reset link: {path, text, link}.
const waitForResetMail = (mailDir, seen) =>
  waitForMail(mailDir, seen, /https?:\/\/[^\s"'<>]*\/lo\/reset\?ticket=[A-Za-z0-9_-]{43}/, MAIL_TIMEOUT_MS);

async function main() {
  const { baseUrl, issuer, boot, outbox, executablePath, shotDir, connection, clientId, clientSecret } = journeyEnv();

  // 1. Management API: a token, the user, and the callback on the default client.
  const token = await managementToken(baseUrl, boot);

  const userId = await createUser(baseUrl, token, connection, EMAIL, OLD_PASSWORD);

  app = await startApp();
  const APP_ORIGIN = app.origin;
  const CALLBACK = `${APP_ORIGIN}/callback`;
  const patched = await addClientUrls(baseUrl, token, clientId, { callbacks: [CALLBACK], allowed_logout_urls: [APP_ORIGIN] });
  check(patched.status === 200, `patch client: ${patched.status} ${show(patched.body)}`);
  check(
    list(patched.body.callbacks).includes(CALLBACK) && list(patched.body.allowed_logout_urls).includes(APP_ORIGIN),
    `client after PATCH: callbacks ${show(patched.body.callbacks)}, allowed_logout_urls ${show(patched.body.allowed_logout_urls)}`,
  );
  ok(`the application runs at ${APP_ORIGIN}; default client ${clientId} allows ${CALLBACK} and logout to ${APP_ORIGIN}`);

  // 2. The independent OIDC client: discovery, with ID token signatures checked against the JWKS.
  const config = await discover(issuer, clientId, clientSecret);
  const meta = config.serverMetadata();
  check(meta.jwks_uri && meta.authorization_endpoint && meta.token_endpoint && meta.userinfo_endpoint, `discovery document lacks endpoints: ${show(meta)}`);
  check((meta.code_challenge_methods_supported ?? ["S256"]).includes("S256"), `S256 not supported: ${show(meta.code_challenge_methods_supported)}`);
  ok(`openid-client discovery: issuer ${meta.issuer}, jwks_uri ${meta.jwks_uri}`);

  // A fresh authorization request: new state, nonce and PKCE verifier every time.
  async function authRequest(extra = {}) {
    const req = await authorizationRequest(config, CALLBACK, SCOPE, extra);
    check(req.url.startsWith(meta.authorization_endpoint), `authorization URL ${req.url} is not on ${meta.authorization_endpoint}`);
    return req;
  }

  // The code exchange and every check openid-client does (state, iss, PKCE, nonce, signature).
  const exchange = (req, callbackUrl) => codeExchange(config, req, callbackUrl);

  // 3. Chromium.
  const chrome = await launchJourneyBrowser(executablePath, shotDir);
  try {
    const appHits = app.hits;
    // One tab throughout; a wrong page's failure lists the cookies the browser holds.
    const tab = await chrome.openTab(null, {
      clues: async (t) => `; the browser holds the cookies ${show((await t.context.cookies()).map((c) => `${c.name} (Path=${c.path})`))}`,
    });
    const { page, context, heading, expectHeading, screenshot, clickAndLoad, submitButton } = tab;
    async function loginFormShown(where) {
      await tab.loginFormShown(where);
      check(page.url().startsWith(`${baseUrl}/`), `${where}: the login page is not on ${baseUrl}: ${page.url()}`);
    }
    const submitLogin = (password) => tab.submitLogin(EMAIL, password);
    const waitForCallback = (where) => tab.waitForCallback(CALLBACK, where);

    // 4. The authorization URL shows the login page.
    const first = await authRequest();
    const shown = await page.goto(first.url);
    check(shown?.status() === 200, `GET ${first.url}: ${shown?.status()}`);
    await loginFormShown("first /authorize");
    check(await page.getByRole("link", { name: "Forgot password?" }).count() === 1, "the login page has no \"Forgot password?\" link");
    await screenshot("login");
    ok(`/authorize shows the login page (${await page.title()})`);

    // 5. "Forgot password?" → the email form → "sent".
    await clickAndLoad(page.getByRole("link", { name: "Forgot password?" }));
    await expectHeading("Reset your password", "after \"Forgot password?\"");
    check(new URL(page.url()).pathname === "/lo/forgot", `"Forgot password?" led to ${page.url()}`);
    check(new URL(page.url()).searchParams.get("connection") === connection, `forgot page connection: ${page.url()}`);
    await screenshot("forgot-form");
    ok(`"Forgot password?" opens ${page.url()}`);

    const seen = new Set(mailFiles(outbox).map((f) => f.path));
    await page.fill("#email", EMAIL);
    await clickAndLoad(submitButton());
    await expectHeading("Check your email", "after submitting the forgot form");
    const sentText = await page.locator("[role=status]").first().textContent();
    check(sentText?.includes("We've just sent you an email to reset your password."), `forgot answer: ${show(sentText)}`);
    await screenshot("forgot-sent");
    ok(`forgot form: ${show(sentText.trim())}`);

    // 6. The link in the mail → the reset form → "Password changed".
    const mail = await waitForResetMail(outbox, seen);
    check(mail.text.includes(`To: ${EMAIL}`), `the reset mail ${mail.path} is not to ${EMAIL}`);
    ok(`reset mail ${mail.path}: ${mail.link.replace(/ticket=.*/, "ticket=…")}`);

    const resetPage = await page.goto(mail.link);
    check(resetPage?.status() === 200, `GET reset link: ${resetPage?.status()}`);
    await expectHeading("Change your password", "the reset link");
    await screenshot("reset-form");
    ok("the reset link shows the new-password form");

    await page.fill("#newPassword", NEW_PASSWORD);
    await page.fill("#confirmNewPassword", NEW_PASSWORD);
    await clickAndLoad(submitButton());
    await expectHeading("Password changed", "after submitting the new password");
    await screenshot("reset-done");
    ok(`new password set: ${show((await page.locator("[role=status]").first().textContent())?.trim())}`);

    // 7. A fresh authorization URL: the old password is refused, the new one logs in.
    const second = await authRequest();
    await page.goto(second.url);
    await loginFormShown("/authorize after the reset");
    await submitLogin(OLD_PASSWORD);
    await expectHeading("Log in", "after the old password");
    const error = (await page.locator("#form-error").first().textContent().catch(() => null))?.trim();
    check(error === "Wrong email or password.", `old password: want "Wrong email or password.", got ${show(error)} at ${page.url()}`);
    check(!appHits.some((u) => u.includes(`state=${second.state}`)), "the old password reached the callback");
    await screenshot("login-error");
    ok(`the old password is refused: ${show(error)}`);

    await submitLogin(NEW_PASSWORD);
    const callback = await waitForCallback("login with the new password");
    const params = new URL(callback).searchParams;
    check(params.get("code") && params.get("state") === second.state, `callback ${callback}: want a code and state ${second.state}`);
    ok("the new password logs in: the callback got a code and the state");

    // 8. openid-client exchanges the code and checks the ID token; userinfo.
    const tokens = await exchange(second, callback);
    const claims = tokens.claims();
    check(claims, "no ID token in the token response");
    check(claims.sub === userId, `id_token sub ${show(claims.sub)}, want ${show(userId)}`);
    check(claims.nonce === second.nonce, `id_token nonce ${show(claims.nonce)}, want ${show(second.nonce)}`);
    check(Array.isArray(claims.amr) && claims.amr.includes("pwd"), `id_token amr ${show(claims.amr)}, want it to contain "pwd"`);
    check(claims.iss === issuer && (claims.aud === clientId || claims.aud?.includes?.(clientId)), `id_token iss/aud: ${show({ iss: claims.iss, aud: claims.aud })}`);
    const jwks = oidc.getJwksCache(config);
    check(jwks?.jwks?.keys?.length > 0, "openid-client did not fetch the JWKS (ID token signature not checked)");
    const kid = JSON.parse(Buffer.from(tokens.id_token.split(".")[0], "base64url").toString()).kid;
    ok(`openid-client exchanged the code: ID token signature checked against the JWKS (kid ${kid}), sub ${claims.sub}, nonce ok, amr ${show(claims.amr)}`);

    let info;
    try {
      info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    } catch (e) {
      throw new Failure(`openid-client userinfo: ${e?.code ?? e?.name}: ${e?.message}`);
    }
    check(info.email === EMAIL, `userinfo email ${show(info.email)}, want ${show(EMAIL)}`);
    ok(`userinfo: sub ${info.sub}, email ${info.email}`);

    // 9. Single sign-on: the next authorization request is answered at once.
    const third = await authRequest();
    const loginPosts = [];
    const onRequest = (r) => {
      if (r.method() === "POST" && r.url().startsWith(`${baseUrl}/u/login`)) loginPosts.push(r.url());
    };
    page.on("request", onRequest);
    const sso = await page.goto(third.url);
    page.off("request", onRequest);
    check(new URL(page.url()).origin === APP_ORIGIN, `SSO: /authorize showed ${page.url()} (${show(await heading())}), want the callback`);
    const hop = sso?.request().redirectedFrom();
    check(hop && hop.url() === third.url && !hop.redirectedFrom(), `SSO: want one redirect from /authorize, got ${show(hop?.url())}`);
    check(loginPosts.length === 0, `SSO: the login form was posted: ${show(loginPosts)}`);
    const ssoTokens = await exchange(third, page.url());
    check(ssoTokens.claims()?.sub === userId && ssoTokens.claims()?.nonce === third.nonce, `SSO ID token: ${show(ssoTokens.claims())}`);
    ok("SSO: /authorize answered at once with a code (no login form), and openid-client exchanged it");

    // 10. prompt=login shows the form despite the session.
    const forced = await authRequest({ prompt: "login" });
    await page.goto(forced.url);
    await loginFormShown("prompt=login");
    ok("prompt=login shows the login form despite the session");

    // 11. Logout: back to the allowed URL; the session cookie is gone; the form again.
    const logoutUrl = `${baseUrl}/v2/logout?client_id=${encodeURIComponent(clientId)}&returnTo=${encodeURIComponent(APP_ORIGIN)}`;
    const out = await page.goto(logoutUrl);
    check(new URL(page.url()).origin === APP_ORIGIN, `logout went to ${page.url()}, want ${APP_ORIGIN}`);
    check(out?.request().redirectedFrom()?.url() === logoutUrl, `logout: no redirect from ${logoutUrl}`);
    const cookies = await context.cookies(baseUrl);
    check(!cookies.some((c) => c.name === "lk_session"), `lk_session is still set after logout: ${show(cookies.map((c) => c.name))}`);
    ok(`/v2/logout redirected to ${page.url()} and cleared the session cookie`);

    // The server's own page for a logout without returnTo (the session is already gone).
    await page.goto(`${baseUrl}/v2/logout?client_id=${encodeURIComponent(clientId)}`);
    await expectHeading("You are logged out", "/v2/logout without returnTo");
    await screenshot("logged-out");
    ok("/v2/logout without returnTo shows \"You are logged out\"");

    const fourth = await authRequest();
    await page.goto(fourth.url);
    await loginFormShown("/authorize after logout");
    ok("after logout /authorize shows the login form again");

    check(chrome.pageErrors.length === 0, `JavaScript errors on the pages: ${show(chrome.pageErrors)}`);
    await chrome.closeTabs();

    // 12. Accessibility (axe-core) of every page that got a screenshot.
    await chrome.checkAccessibility();
  } finally {
    await chrome.close();
  }
}

await run("browser login journey", main, () => app?.close());
