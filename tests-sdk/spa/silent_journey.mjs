// Silent authentication and express-openid-connect's defaults in headless Chromium, against
// the real server over TLS (tests/api/browser_silent.rs), each library unchanged:
//   1. auth0-spa-js in a single-page app served from another origin (another port of the same
//      site, as an application beside its Auth0 custom domain): log in with
//      loginWithRedirect, then getTokenSilently({cacheMode: "off"}) renews through the default
//      hidden iframe (/authorize?prompt=none&response_mode=web_message); with useRefreshTokens
//      it renews through /oauth/token; the fallback session cookie alone still signs the
//      browser in; loginWithPopup gets its answer by web_message too. (This Chromium blocks
//      third-party cookies, so from another site only refresh tokens could renew; the
//      cookie's SameSite=None; Secure is checked instead.)
//   2. express-openid-connect with its default configuration (response_type=id_token,
//      response_mode=form_post) in node over https: /profile shows the user after the
//      form_post page submitted itself; with JavaScript off the page offers its button.
// Chromium and the helpers come from ../browser (common.mjs).

import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import express from "express";
import eoc from "express-openid-connect";
import {
  api,
  check,
  createUser,
  journeyEnv,
  launchJourneyBrowser,
  managementToken,
  ok,
  run,
  show,
} from "../browser/common.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const SPA_JS = readFileSync(join(here, "node_modules/@auth0/auth0-spa-js/dist/auth0-spa-js.production.js"));
const env = journeyEnv();
const { baseUrl, boot, connection, executablePath, shotDir } = env;
const PASSWORD = "Spa-Journey-Passw0rd!";
const email = `spa-${Date.now()}@example.com`;
const closers = [];

// The single-page application: one page for every path; `/rt` makes its client use refresh
// tokens (kept in localStorage), `/` the default in-memory cache and the hidden iframe.
function spaPage(domain, clientId) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The SPA</title></head>
<body><h1>The SPA</h1><p id="status">loading</p>
<script src="/auth0-spa-js.production.js"></script>
<script>
window.spaReady = (async () => {
  const refresh = location.pathname === "/rt";
  const client = await auth0.createAuth0Client({
    domain: ${JSON.stringify(domain)},
    clientId: ${JSON.stringify(clientId)},
    authorizationParams: { redirect_uri: location.origin + location.pathname },
    useRefreshTokens: refresh,
    useRefreshTokensFallback: false,
    cacheLocation: refresh ? "localstorage" : "memory",
  });
  window.spa = client;
  if (new URLSearchParams(location.search).has("code")) {
    await client.handleRedirectCallback();
    history.replaceState({}, "", location.pathname);
  }
  const signedIn = await client.isAuthenticated();
  document.getElementById("status").textContent = signedIn ? "logged in" : "logged out";
  return signedIn;
})();
</script></body></html>`;
}

function listen(server, host) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve(server.address().port));
  });
}

// The server's own certificate (it names 127.0.0.1 and localhost), for the applications.
function serverCertificate() {
  const tlsDir = dirname(process.env.NODE_EXTRA_CA_CERTS);
  return { cert: readFileSync(join(tlsDir, "cert.pem")), key: readFileSync(join(tlsDir, "key.pem")) };
}

async function startSpa(domain, clientIdOf) {
  const server = createHttpsServer(serverCertificate(), (req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/auth0-spa-js.production.js") {
      res.writeHead(200, { "Content-Type": "text/javascript" });
      return res.end(SPA_JS);
    }
    if (url.pathname === "/favicon.ico") {
      res.writeHead(204);
      return res.end();
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(spaPage(domain, clientIdOf()));
  });
  const port = await listen(server, "127.0.0.1");
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return `https://127.0.0.1:${port}`;
}

// express-openid-connect over https with the server's own certificate (it names localhost),
// configured with the four options its README starts with and nothing else.
async function startExpress(clientIdOf) {
  const app = express();
  const server = createHttpsServer(serverCertificate(), app);
  const port = await listen(server, "127.0.0.1");
  const origin = `https://localhost:${port}`;
  let mounted = null;
  app.use((req, res, next) => {
    mounted ??= eoc.auth({ issuerBaseURL: env.issuer, baseURL: origin, clientID: clientIdOf(), secret: "a-long-random-secret-for-the-app-session-cookie" });
    mounted(req, res, next);
  });
  app.get("/profile", eoc.requiresAuth(), (req, res) => {
    res.type("html").send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Profile</title></head><body><h1>Profile</h1><pre id="user"></pre><script type="application/json" id="claims">${JSON.stringify(req.oidc.user).replace(/</g, "\\u003c")}</script></body></html>`);
  });
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return origin;
}

async function enableConnection(token, clientId) {
  const conns = await api(baseUrl, "GET", `/api/v2/connections?name=${encodeURIComponent(connection)}`, token);
  check(conns.status === 200 && conns.body[0], `connections: ${conns.status} ${show(conns.body)}`);
  const enabled = [...conns.body[0].enabled_clients, clientId];
  const patch = await api(baseUrl, "PATCH", `/api/v2/connections/${conns.body[0].id}`, token, { enabled_clients: enabled });
  check(patch.status === 200, `enable ${connection}: ${patch.status} ${show(patch.body)}`);
}

async function createClient(token, body) {
  const made = await api(baseUrl, "POST", "/api/v2/clients", token, body);
  check(made.status === 201, `create client ${body.name}: ${made.status} ${show(made.body)}`);
  check(made.body.grant_types.includes("implicit"), `${body.name}: Auth0's default grant types include implicit: ${show(made.body.grant_types)}`);
  await enableConnection(token, made.body.client_id);
  ok(`created ${body.app_type} application ${made.body.client_id} (grant types ${made.body.grant_types.join(", ")})`);
  return made.body.client_id;
}

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));

async function spaJourney(journey, token) {
  let spaClientId = null;
  const spaOrigin = await startSpa(new URL(baseUrl).host, () => spaClientId);
  spaClientId = await createClient(token, {
    name: "auth0-spa-js",
    app_type: "spa",
    token_endpoint_auth_method: "none",
    callbacks: [`${spaOrigin}/`, `${spaOrigin}/rt`],
    web_origins: [spaOrigin],
    allowed_origins: [spaOrigin],
    allowed_logout_urls: [spaOrigin],
  });
  const tab = await journey.openTab("spa");
  const { page, context } = tab;
  const requests = [];
  page.on("request", (r) => requests.push({ url: r.url(), method: r.method(), body: r.postData() ?? "" }));
  const spaReady = async (where) => {
    const signedIn = await page.evaluate(() => window.spaReady);
    check(signedIn === true, `${where}: auth0-spa-js says the user is not authenticated at ${page.url()}`);
  };

  await page.goto(`${spaOrigin}/`, { waitUntil: "load" });
  check((await page.evaluate(() => window.spaReady)) === false, "the SPA starts logged out");
  await Promise.all([page.waitForURL((u) => u.origin === baseUrl), page.evaluate(() => window.spa.loginWithRedirect())]);
  await page.waitForLoadState("load");
  await tab.loginFormShown("loginWithRedirect");
  await tab.submitLogin(email, PASSWORD);
  await page.waitForURL((u) => u.origin === spaOrigin, { timeout: 5000 });
  await page.waitForLoadState("load");
  await spaReady("after loginWithRedirect");
  ok("auth0-spa-js loginWithRedirect: logged in, back at the SPA");

  // The session cookies under TLS: usable cross-site, with the compatibility twin.
  const cookies = await context.cookies(baseUrl);
  const session = cookies.find((c) => c.name === "lk_session");
  const compat = cookies.find((c) => c.name === "lk_session_compat");
  check(session?.sameSite === "None" && session.secure && session.httpOnly, `lk_session: ${show(session)}`);
  check(compat?.secure && compat.httpOnly && compat.value === session.value, `lk_session_compat: ${show(compat)}`);
  ok("the session cookie is SameSite=None; Secure; HttpOnly, with lk_session_compat beside it");

  const first = await page.evaluate(() => window.spa.getTokenSilently({ detailedResponse: true }));
  const before = requests.length;
  await new Promise((r) => setTimeout(r, 1100)); // a new second: a fresh token differs
  const fresh = await page.evaluate(() => window.spa.getTokenSilently({ cacheMode: "off", detailedResponse: true }));
  const during = requests.slice(before);
  const iframe = during.find((r) => r.url.startsWith(`${baseUrl}/authorize?`));
  check(iframe, `getTokenSilently made no /authorize request: ${show(during.map((r) => r.url))}`);
  const params = new URL(iframe.url).searchParams;
  check(params.get("prompt") === "none" && params.get("response_mode") === "web_message", `iframe request: ${iframe.url}`);
  check(during.some((r) => r.url === `${baseUrl}/oauth/token` && r.body.includes("authorization_code")), "no code exchange after the iframe");
  check(fresh.access_token !== first.access_token, "getTokenSilently returned the cached token, not a fresh one");
  check(claimsOf(fresh.access_token).iat > claimsOf(first.access_token).iat, "the new access token is not newer");
  check(claimsOf(fresh.id_token).email === email, `id_token: ${show(claimsOf(fresh.id_token))}`);
  ok("getTokenSilently({cacheMode: 'off'}): a fresh token through the hidden iframe (prompt=none, web_message)");

  // The web_message page itself, for the record (a tab cannot be its parent: it posts nowhere).
  const shot = await journey.openTab("web_message page");
  await shot.context.addCookies(cookies);
  await shot.page.goto(iframe.url, { waitUntil: "load" });
  await shot.expectHeading("Signing you in", "the web_message page");
  await shot.screenshot("web-message");

  // Refresh tokens: /rt logs in again through the session (no form), here with the fallback
  // cookie alone, then renews through /oauth/token without any iframe.
  await context.clearCookies({ name: "lk_session" });
  await page.goto(`${spaOrigin}/rt`, { waitUntil: "load" });
  await page.evaluate(() => window.spaReady);
  await Promise.all([page.waitForURL((u) => u.origin === spaOrigin && u.pathname === "/rt" && u.search.includes("code=")), page.evaluate(() => window.spa.loginWithRedirect())]);
  await page.waitForLoadState("load");
  await spaReady("after single sign-on with lk_session_compat only");
  ok("single sign-on with the fallback cookie alone (no login form)");
  const withRefresh = requests.length;
  await new Promise((r) => setTimeout(r, 1100));
  const renewed = await page.evaluate(() => window.spa.getTokenSilently({ cacheMode: "off", detailedResponse: true }));
  const renewal = requests.slice(withRefresh);
  check(renewal.some((r) => r.url === `${baseUrl}/oauth/token` && r.body.includes("refresh_token")), `no refresh_token grant: ${show(renewal.map((r) => r.url))}`);
  check(!renewal.some((r) => r.url.startsWith(`${baseUrl}/authorize`)), "useRefreshTokens still used the iframe");
  check(claimsOf(renewed.access_token).sub === claimsOf(fresh.access_token).sub, "renewed token for another user");
  ok("useRefreshTokens: getTokenSilently renewed through /oauth/token (refresh_token grant)");

  // loginWithPopup in a browser without a session: the popup's login form answers its opener
  // with web_message.
  const fresh2 = await journey.openTab("popup");
  await fresh2.page.goto(`${spaOrigin}/`, { waitUntil: "load" });
  check((await fresh2.page.evaluate(() => window.spaReady)) === false, "the popup tab starts logged out");
  const [popup] = await Promise.all([
    fresh2.page.waitForEvent("popup"),
    fresh2.page.evaluate(() => {
      window.popupLogin = window.spa.loginWithPopup().then(() => window.spa.isAuthenticated());
    }),
  ]);
  await popup.waitForURL((u) => u.origin === baseUrl);
  await popup.waitForLoadState("load");
  await popup.fill("#username", email);
  await popup.fill("#password", PASSWORD);
  await Promise.all([popup.waitForEvent("close"), popup.locator('form button[type="submit"]').first().click()]);
  check((await fresh2.page.evaluate(() => window.popupLogin)) === true, "loginWithPopup did not sign the SPA in");
  ok("loginWithPopup: the popup answered its opener with web_message and closed");
}

async function expressJourney(journey, token) {
  let clientId = null;
  const origin = await startExpress(() => clientId);
  clientId = await createClient(token, {
    name: "express-openid-connect",
    app_type: "regular_web",
    callbacks: [`${origin}/callback`],
    allowed_logout_urls: [origin],
  });

  // JavaScript on: the form_post page submits itself.
  const tab = await journey.openTab("express");
  const { page } = tab;
  const navigations = [];
  page.on("response", (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) navigations.push(`${r.request().method()} ${r.url()} ${r.status()}`);
  });
  await page.goto(`${origin}/profile`, { waitUntil: "load" });
  await tab.loginFormShown("express /profile");
  const authorize = navigations.find((n) => n.includes(`${baseUrl}/authorize?`));
  const params = new URL(authorize.split(" ")[1]).searchParams;
  check(params.get("response_type") === "id_token" && params.get("response_mode") === "form_post", `express asked for ${authorize}`);
  await tab.submitLogin(email, PASSWORD);
  await page.waitForURL(`${origin}/profile`, { timeout: 5000 });
  await tab.expectHeading("Profile", "after the form_post");
  const user = JSON.parse(await page.locator("#claims").textContent());
  check(user.email === email, `req.oidc.user: ${show(user)}`);
  check(navigations.some((n) => n.startsWith(`POST ${origin}/callback`)), `no POST to the callback: ${show(navigations)}`);
  ok(`express-openid-connect defaults (id_token, form_post): /profile shows ${user.email}; the form_post page submitted itself`);

  // JavaScript off: the same page waits with its button.
  const context = await journey.browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15_000);
  const quiet = { page: await context.newPage() };
  try {
    await quiet.page.goto(`${origin}/profile`, { waitUntil: "load" });
    await quiet.page.fill("#username", email);
    await quiet.page.fill("#password", PASSWORD);
    await Promise.all([quiet.page.waitForLoadState("load"), quiet.page.locator('form button[type="submit"]').first().click()]);
    await quiet.page.getByRole("button", { name: "Continue to the application" }).waitFor({ timeout: 5000 });
    const path = join(shotDir, "90-form-post-without-javascript.png");
    await quiet.page.screenshot({ path, fullPage: true });
    console.log(`screenshot ${path}`);
    await Promise.all([quiet.page.waitForURL(`${origin}/profile`), quiet.page.getByRole("button", { name: "Continue to the application" }).click()]);
    ok("without JavaScript the form_post page offers its button, and it works");
  } finally {
    await context.close();
  }
}

let journey;
await run(
  "silent authentication journey",
  async () => {
    const token = await managementToken(baseUrl, boot);
    await createUser(baseUrl, token, connection, email, PASSWORD);
    journey = await launchJourneyBrowser(executablePath, shotDir);
    await spaJourney(journey, token);
    await expressJourney(journey, token);
    await journey.checkAccessibility();
  },
  async () => {
    for (const close of closers) close();
    await journey?.close();
  },
);
