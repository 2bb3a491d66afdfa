// Embedded login in real headless Chromium, with Auth0's own front-end libraries unchanged:
// Lock 14 (npm auth0-lock, bundled for the browser with esbuild as an application would) and
// auth0-js 9 (its published dist/auth0.min.js), on an application origin other than the
// server's (a small node HTTPS server on 127.0.0.1, its own port: another origin of the same
// site, as an application on its own subdomain next to a custom domain for the server):
//
//   Lock loads /client/{id}.js from the server (a <script>: ORB/CORP must let it through)
//   → "Don't remember your password?" → email → Lock's success message → the reset mail
//   (SMTP) → the hosted reset page → new password → back in Lock: a wrong password shows
//   Lock's error → the new password: /co/authenticate (CORS with credentials) →
//   /authorize?login_ticket=… → a code at the application's callback → exchanged here with the
//   client secret (responseType "code": the implicit types are another piece of work) → the ID
//   token's claims.
//   Then auth0-js WebAuth.login (a fresh browser context) → code → tokens.
//
// Env: as the journeys in ../browser (LATCHKEY_BASE_URL, LATCHKEY_BOOTSTRAP, LATCHKEY_MAIL_DIR,
// LATCHKEY_SCREENSHOTS, CHROMIUM; NODE_EXTRA_CA_CERTS for node's fetch). The shared helpers are
// ../browser/common.mjs (playwright-core from there).
//
// Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.
import { createServer } from "node:https";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import {
  addClientUrls,
  api,
  check,
  createUser,
  journeyEnv,
  launchJourneyBrowser,
  mailFiles,
  managementToken,
  ok,
  run,
  show,
  waitForMail,
} from "../browser/common.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const EMAIL = "lock-journey@example.com";
const OLD_PASSWORD = "Old-Lock-Password-1";
const NEW_PASSWORD = "New-Lock-Password-2";
const JS_EMAIL = "auth0js-journey@example.com";
const JS_PASSWORD = "Auth0js-Password-3";

let app = null;

// Lock as an application ships it: the npm package bundled for the browser (Lock publishes no
// browser build on npm), with window.Auth0Lock as its CDN build has it.
async function lockBundle() {
  const out = await esbuild.build({
    stdin: {
      contents: "import Auth0Lock from 'auth0-lock'; window.Auth0Lock = Auth0Lock;",
      resolveDir: HERE,
      loader: "js",
    },
    bundle: true,
    write: false,
    format: "iife",
    minify: true,
    // As for any browser bundle, but `module` before `main` for `require()` too: auth0-js is
    // `"type": "module"` and its `main` is a UMD file that esbuild would read as an empty ES
    // module; its ESM build (`module`) is the one a bundler can use.
    mainFields: ["browser", "module", "main"],
    define: { "process.env.NODE_ENV": '"production"', global: "window" },
    logLevel: "silent",
  });
  return out.outputFiles[0].text;
}

// Lock's English dictionary as Auth0's CDN serves it (`{languageBaseUrl}/js/lock/{version}/en.js`):
// Lock loads it even for English; here the application serves it from the npm package.
function englishDictionary() {
  const require = createRequire(import.meta.url);
  const version = require("auth0-lock/package.json").version;
  const en = require("auth0-lock/lib/i18n/en.js").default;
  return { path: `/js/lock/${version}/en.js`, body: `Auth0.registerLanguageDictionary("en", ${JSON.stringify(en)});` };
}

const page = (title, body) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1>${body}</body></html>`;

// The application: Lock's page, auth0-js's page, the libraries, and the callback. HTTPS with
// the server's own certificate (Chromium is told to ignore certificate errors). Why the same
// site: Chromium 156 blocks third-party cookies by default ("UserPreferences"), so from another
// site the verifier cookie of /co/authenticate is refused and the ticket with it — as on Auth0,
// whose documentation says cross-origin authentication then needs a custom domain (the app and
// the login on one site); auth0-js's crossOriginVerification fallback cannot help in Chromium
// either, its iframe's storage being partitioned.
function startApp(files, tlsDir) {
  const hits = [];
  const tls = { key: readFileSync(join(tlsDir, "key.pem")), cert: readFileSync(join(tlsDir, "cert.pem")) };
  const server = createServer(tls, (req, res) => {
    const url = new URL(req.url, "http://x");
    hits.push(url.pathname + url.search);
    const file = files[url.pathname];
    if (file) {
      res.writeHead(200, { "Content-Type": file.type });
      res.end(file.body);
      return;
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(page("The application", "<p>Back at the application.</p>"));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const origin = `https://127.0.0.1:${server.address().port}`;
      resolve({
        origin,
        hits,
        close: () => {
          server.closeAllConnections();
          server.close();
        },
      });
    });
  });
}

async function main() {
  const { baseUrl, issuer, boot, outbox, executablePath, shotDir, connection, clientId, clientSecret } = journeyEnv();
  const domain = new URL(baseUrl).host;
  const token = await managementToken(baseUrl, boot);
  const userId = await createUser(baseUrl, token, connection, EMAIL, OLD_PASSWORD);
  const jsUserId = await createUser(baseUrl, token, connection, JS_EMAIL, JS_PASSWORD);

  const settings = (callback) => JSON.stringify({ clientId, domain, baseUrl, callback, connection });
  const files = {
    "/lock.js": { type: "text/javascript", body: await lockBundle() },
    "/auth0.js": { type: "text/javascript", body: readFileSync(join(HERE, "node_modules/auth0-js/dist/auth0.min.js")) },
  };
  const dictionary = englishDictionary();
  files[dictionary.path] = { type: "text/javascript", body: dictionary.body };
  ok("bundled auth0-lock with esbuild; auth0-js from its dist/auth0.min.js");
  app = await startApp(files, join(dirname(process.env.LATCHKEY_BOOTSTRAP), "tls"));
  const CALLBACK = `${app.origin}/callback`;
  // Lock's page: the options an application passes for its own domain (the configuration from
  // the server, not Auth0's CDN), a code at the callback.
  files["/lock"] = {
    type: "text/html; charset=utf-8",
    body: page(
      "Lock",
      `<script src="/lock.js"></script><script>
const s = ${settings(CALLBACK)};
window.lockEvents = [];
const lock = new Auth0Lock(s.clientId, s.domain, {
  configurationBaseUrl: s.baseUrl,
  languageBaseUrl: location.origin,
  auth: { redirect: true, redirectUrl: s.callback, responseType: "code", params: { scope: "openid profile email" } },
  allowedConnections: [s.connection],
});
for (const e of ["show", "unrecoverable_error", "authorization_error", "forgot_password submit", "signin submit"]) {
  lock.on(e, (x) => window.lockEvents.push([e, x && (x.error || x.code || x.description) || null]));
}
lock.show();
</script>`,
    ),
  };
  files["/auth0js"] = {
    type: "text/html; charset=utf-8",
    body: page(
      "auth0-js",
      `<p id="result">waiting</p><script src="/auth0.js"></script><script>
const s = ${settings(CALLBACK)};
const webAuth = new auth0.WebAuth({ domain: s.domain, clientID: s.clientId, redirectUri: s.callback, responseType: "code", scope: "openid profile email" });
window.login = (username, password) => new Promise((resolve) => {
  webAuth.login({ realm: s.connection, username, password }, (err) => resolve(err));
});
</script>`,
    ),
  };

  const patched = await addClientUrls(baseUrl, token, clientId, {
    callbacks: [CALLBACK],
    allowed_origins: [app.origin],
    web_origins: [app.origin],
  });
  check(patched.status === 200, `patch client URLs: ${patched.status} ${show(patched.body)}`);
  const flag = await api(baseUrl, "PATCH", `/api/v2/clients/${clientId}`, token, { cross_origin_authentication: true });
  check(flag.status === 200 && flag.body.cross_origin_authentication === true, `cross_origin_authentication: ${flag.status} ${show(flag.body)}`);
  ok(`the application runs at ${app.origin}; client ${clientId} allows it, with cross-origin authentication`);

  const chrome = await launchJourneyBrowser(executablePath, shotDir);
  try {
    const consoleLines = [];
    const tab = await chrome.openTab("lock", { onConsole: (m) => consoleLines.push(`${m.type()}: ${m.text()}`) });
    const { page: p, screenshot } = tab;
    // Lock's form, or a failure that says what Lock and the browser said.
    const lockForm = async (where) => {
      try {
        await p.locator('input[name="password"]').waitFor({ state: "visible", timeout: 15_000 });
      } catch {
        await screenshot(`failed-${where}`);
        throw new Error(
          `${where}: Lock shows no login form; events ${show(await p.evaluate(() => window.lockEvents))}; ` +
            `console ${show(consoleLines.slice(-8))}; page errors ${show(chrome.pageErrors)}`,
        );
      }
    };
    const lockMessage = async (kind) =>
      (await p.locator(`.auth0-global-message-${kind}`).first().textContent({ timeout: 10_000 }).catch(() => null))?.trim() ?? null;

    // 1. Lock renders its login form from the server's client configuration.
    const started = Date.now();
    await p.goto(`${app.origin}/lock`);
    await lockForm("first visit");
    const events = await p.evaluate(() => window.lockEvents);
    check(!events.some(([e]) => e === "unrecoverable_error"), `Lock: ${show(events)}`);
    check(app.hits.length > 0, "the application was not reached");
    ok(`Lock shows its login form after ${Date.now() - started} ms (events ${show(events)})`);
    await screenshot("lock-login");

    // 2. "Don't remember your password?" → email → Lock's success message → the mail.
    await p.getByText("Don't remember your password?").click();
    // The login screen slides out (its password field goes), the forgot screen stays.
    await p.locator('input[name="password"]').waitFor({ state: "detached" });
    await p.locator('input[name="email"]').waitFor({ state: "visible" });
    await screenshot("lock-forgot");
    const seen = new Set(mailFiles(outbox).map((f) => f.path));
    await p.fill('input[name="email"]', EMAIL);
    await p.locator("button.auth0-lock-submit").click();
    const sent = await lockMessage("success");
    await p.waitForTimeout(800);
    check(sent === "We've just sent you an email to reset your password.", `Lock after forgot: ${show(sent)}; error ${show(await lockMessage("error"))}`);
    await screenshot("lock-forgot-sent");
    ok(`Lock: ${show(sent)}`);
    const mail = await waitForMail(outbox, seen, /https?:\/\/[^\s"'<>]*\/lo\/reset\?ticket=[A-Za-z0-9_-]{43}/);
    check(mail.text.includes(`To: ${EMAIL}`), `the reset mail ${mail.path} is not to ${EMAIL}`);
    ok("the reset mail arrived over SMTP");

    // 3. The hosted reset page sets the new password.
    await p.goto(mail.link);
    await tab.expectHeading("Change your password", "the reset link");
    await p.fill("#newPassword", NEW_PASSWORD);
    await p.fill("#confirmNewPassword", NEW_PASSWORD);
    await tab.clickAndLoad(tab.submitButton());
    await tab.expectHeading("Password changed", "after the new password");
    ok("the new password is set on the hosted reset page");

    // 4. Back in Lock: the old password is refused with Lock's message; the new one logs in.
    await p.goto(`${app.origin}/lock`);
    await lockForm("after the reset");
    await p.fill('input[name="email"]', EMAIL);
    await p.fill('input[name="password"]', OLD_PASSWORD);
    await p.locator("button.auth0-lock-submit").click();
    const refused = await lockMessage("error");
    check(refused === "Wrong email or password.", `Lock with the old password: ${show(refused)}`);
    await p.waitForTimeout(800); // Lock's message slides in: picture it once it has.
    await screenshot("lock-wrong-password");
    ok(`Lock with the old password: ${show(refused)}`);
    await p.fill('input[name="password"]', NEW_PASSWORD);
    await p.locator("button.auth0-lock-submit").click();
    const lockCallback = await atCallback(tab, CALLBACK, "Lock login with the new password");
    await screenshot("lock-callback");
    const lockClaims = await exchange(baseUrl, issuer, clientId, clientSecret, CALLBACK, lockCallback, "Lock");
    check(lockClaims.sub === userId && lockClaims.email === EMAIL, `Lock's ID token: ${show(lockClaims)}`);
    ok(`Lock logged in: the callback's code gave an ID token for ${lockClaims.sub} (${lockClaims.email})`);

    // 5. auth0-js WebAuth.login in a fresh browser: its own cross-origin login.
    const js = await chrome.openTab("auth0-js");
    await js.page.goto(`${app.origin}/auth0js`);
    const wrong = await js.page.evaluate(([u]) => window.login(u, "Not-The-Password-1"), [JS_EMAIL]);
    check(wrong && wrong.code === "access_denied" && wrong.description === "Wrong email or password.", `auth0-js wrong password: ${show(wrong)}`);
    ok(`auth0-js login with a wrong password: ${show({ code: wrong.code, description: wrong.description })}`);
    js.page.evaluate(([u, pw]) => window.login(u, pw), [JS_EMAIL, JS_PASSWORD]).catch(() => {});
    const jsCallback = await atCallback(js, CALLBACK, "auth0-js login");
    await js.screenshot("auth0js-callback");
    const jsClaims = await exchange(baseUrl, issuer, clientId, clientSecret, CALLBACK, jsCallback, "auth0-js");
    check(jsClaims.sub === jsUserId, `auth0-js ID token sub ${show(jsClaims.sub)}, want ${jsUserId}`);
    ok(`auth0-js WebAuth.login logged in: ID token for ${jsClaims.sub}`);
    check(chrome.pageErrors.length === 0, `JavaScript errors on the pages: ${show(chrome.pageErrors)}`);
  } finally {
    await chrome.close();
  }
}

// Waits until `tab` is at the application's callback (its pages share the callback's origin, so
// the shared waitForCallback would stop at once); returns the URL there.
async function atCallback(tab, callback, where) {
  try {
    await tab.page.waitForURL((u) => u.href.startsWith(`${callback}?`), { timeout: 15_000 });
  } catch {
    const alert = await tab.page.locator(".auth0-global-message").first().textContent({ timeout: 500 }).catch(() => null);
    check(false, `${where}: the browser never reached ${callback}; it is at ${tab.page.url()} (${show(await tab.heading())}, Lock says ${show(alert)})`);
  }
  return tab.page.url();
}

// The application's side: the code from the callback URL for tokens (client secret), and the
// ID token's claims after checking who it is from and for.
async function exchange(baseUrl, issuer, clientId, clientSecret, callback, callbackUrl, who) {
  const code = new URL(callbackUrl).searchParams.get("code");
  check(code, `${who}: no code at the callback: ${callbackUrl}`);
  const res = await api(baseUrl, "POST", "/oauth/token", null, {
    grant_type: "authorization_code",
    client_id: clientId,
    client_secret: clientSecret,
    code,
    redirect_uri: callback,
  });
  check(res.status === 200 && res.body.id_token, `${who}: code exchange ${res.status} ${show(res.body)}`);
  const claims = JSON.parse(Buffer.from(res.body.id_token.split(".")[1], "base64url").toString());
  check(claims.iss === issuer && claims.aud === clientId, `${who}: ID token iss/aud ${show({ iss: claims.iss, aud: claims.aud })}`);
  check(Array.isArray(claims.amr) ? claims.amr.includes("pwd") : true, `${who}: amr ${show(claims.amr)}`);
  return claims;
}

run("lock journey", main, () => app?.close());
