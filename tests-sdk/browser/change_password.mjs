// Runs the official `auth0-js` browser SDK (9.x) in headless Chromium against a live Latchkey
// server, cross-origin: `WebAuth.changePassword` from a page on an allowed web origin succeeds,
// and the same call from a page on an origin no client allows is refused by CORS.
//
// Env: LATCHKEY_BASE_URL (e.g. https://127.0.0.1:41235), LATCHKEY_BOOTSTRAP (path to
// bootstrap.json), CHROMIUM (path to the Chromium binary, default /usr/bin/chromium). With an
// https server using a self-signed cert, NODE_EXTRA_CA_CERTS must name that cert (for the
// Management API calls made from node); Chromium runs with --ignore-certificate-errors.
// Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.
//
// SDK entry points used (auth0-js@9.32.0, dist/auth0.min.js, global `auth0`):
// - `new auth0.WebAuth({domain, clientID})`: rootUrl = domain when it starts with "http",
//   otherwise "https://" + domain. The script passes host:port (the usual Auth0 form) for an
//   https server and the full URL for an http one.
// - `changePassword({email, connection}, cb)`: superagent POST {rootUrl}/dbconnections/change_password,
//   JSON body {client_id, email, connection}, headers Content-Type: application/json and
//   Auth0-Client (so the browser sends a CORS preflight), no credentials. A text/html or
//   text/plain answer is passed to cb as the body text. A network or CORS failure reaches cb as
//   {original: <superagent error with crossDomain = true>} with no statusCode.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { chromium } from "playwright-core";
import { api, check, ok, run, show } from "./common.mjs";

const EMAIL = "browser@example.com";
const PASSWORD = "Browser-Password-1";
const EXPECTED = "We've just sent you an email to reset your password.";
const CALL_TIMEOUT_MS = 20_000;



const here = dirname(fileURLToPath(import.meta.url));
const bundle = readFileSync(join(here, "node_modules/auth0-js/dist/auth0.min.js"));
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>latchkey auth0-js test</title>
<script src="/auth0.min.js"></script></head>
<body><p>auth0-js change password</p></body></html>`;

// A static site: "/" is the page, "/auth0.min.js" the SDK bundle (and an empty favicon, so the
// console holds only what the SDK call caused). Resolves with {server, origin}.
function startSite() {
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(PAGE);
    } else if (path === "/auth0.min.js") {
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" });
      res.end(bundle);
    } else if (path === "/favicon.ico") {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolve({ server, origin: `http://127.0.0.1:${server.address().port}` });
    });
  });
}


// Opens the site's page in a fresh context and runs changePassword there. Returns what the SDK
// callback got, plus the console lines, failed requests and the change_password response seen.
async function changePasswordFrom(browser, site, sdkOptions, params) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const consoleLines = [];
    const failedRequests = [];
    let apiResponse = null;
    page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
    page.on("requestfailed", (r) => failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    page.on("response", (r) => {
      if (r.url().includes("/dbconnections/change_password") && r.request().method() === "POST") {
        apiResponse = { status: r.status(), headers: r.headers() };
      }
    });
    const loaded = await page.goto(`${site.origin}/`);
    check(loaded?.ok(), `could not load ${site.origin}/: ${loaded?.status()}`);
    check(await page.evaluate(() => typeof window.auth0?.WebAuth === "function"), "auth0-js did not load in the page");
    const outcome = await page.evaluate(
      ({ sdkOptions, params, timeoutMs }) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => resolve({ timeout: true }), timeoutMs);
          const webAuth = new window.auth0.WebAuth(sdkOptions);
          webAuth.changePassword(params, (err, result) => {
            clearTimeout(timer);
            if (err) {
              const o = err.original || {};
              resolve({
                err: {
                  code: err.code ?? null,
                  description: err.description ?? null,
                  statusCode: err.statusCode ?? null,
                  original: { message: o.message ?? null, crossDomain: o.crossDomain ?? null, status: o.status ?? null },
                },
              });
            } else {
              resolve({ result });
            }
          });
        }),
      { sdkOptions, params, timeoutMs: CALL_TIMEOUT_MS },
    );
    // Let late console lines (Chromium logs CORS refusals asynchronously) arrive.
    await page.waitForTimeout(200);
    return { outcome, consoleLines, failedRequests, apiResponse };
  } finally {
    await context.close();
  }
}

async function main() {
  const baseUrl = (process.env.LATCHKEY_BASE_URL || "").replace(/\/+$/, "");
  check(/^https?:\/\/[^/]+$/.test(baseUrl), `LATCHKEY_BASE_URL must be http(s)://host:port, got ${show(baseUrl)}`);
  check(process.env.LATCHKEY_BOOTSTRAP, "LATCHKEY_BOOTSTRAP is not set");
  const boot = JSON.parse(readFileSync(process.env.LATCHKEY_BOOTSTRAP, "utf8"));
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  const connection = boot.connection || "Username-Password-Authentication";
  const clientID = boot.default_client.client_id;
  const issuer = `${baseUrl}/`;
  // auth0-js prefixes "https://" unless the domain starts with "http".
  const domain = baseUrl.startsWith("https://") ? baseUrl.slice("https://".length) : baseUrl;

  // 1. Management API: token, user, and the default client's web origins.
  const tok = await api(baseUrl, "POST", "/oauth/token", null, {
    grant_type: "client_credentials",
    client_id: boot.management_api.client_id,
    client_secret: boot.management_api.client_secret,
    audience: `${issuer}api/v2/`,
  });
  check(tok.status === 200 && tok.body.access_token, `client_credentials token: ${tok.status} ${show(tok.body)}`);
  const token = tok.body.access_token;
  ok("got a Management API token");

  const user = await api(baseUrl, "POST", "/api/v2/users", token, { connection, email: EMAIL, password: PASSWORD, verify_email: false });
  check(user.status === 201, `create user: ${user.status} ${show(user.body)}`);
  ok(`created user ${user.body.user_id} <${EMAIL}>`);

  const allowedSite = await startSite();
  const refusedSite = await startSite();
  let browser;
  try {
    ok(`static sites: allowed ${allowedSite.origin}, not allowed ${refusedSite.origin}`);

    const clientPath = `/api/v2/clients/${encodeURIComponent(clientID)}`;
    const before = await api(baseUrl, "GET", clientPath, token);
    check(before.status === 200, `get client: ${before.status} ${show(before.body)}`);
    const existing = Array.isArray(before.body.web_origins) ? before.body.web_origins : [];
    const patched = await api(baseUrl, "PATCH", clientPath, token, {
      web_origins: [...existing, allowedSite.origin],
    });
    check(patched.status === 200, `patch client web_origins: ${patched.status} ${show(patched.body)}`);
    check(
      patched.body.web_origins?.includes(allowedSite.origin) && existing.every((o) => patched.body.web_origins.includes(o)),
      `web_origins after PATCH: ${show(patched.body.web_origins)} (had ${show(existing)})`,
    );
    ok(`default client web_origins = ${show(patched.body.web_origins)}`);

    // 2. Chromium.
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ["--no-sandbox", "--ignore-certificate-errors"],
    });
    ok(`launched ${executablePath} (Chromium ${browser.version()}, headless)`);

    const sdkOptions = { domain, clientID };
    const params = { email: EMAIL, connection };

    // 3. Not allowed origin first: the preflight is refused, so no mail may come of it.
    const refused = await changePasswordFrom(browser, refusedSite, sdkOptions, params);
    check(!refused.outcome.timeout, `changePassword from ${refusedSite.origin} never called back`);
    check(
      refused.outcome.err,
      `changePassword from the not-allowed origin ${refusedSite.origin} succeeded: ${show(refused.outcome.result)}`,
    );
    check(
      refused.outcome.err.original.crossDomain === true && refused.outcome.err.statusCode === null,
      `not-allowed origin: expected a CORS (network) error, got ${show(refused.outcome.err)}`,
    );
    check(
      refused.consoleLines.some((l) => l.includes("blocked by CORS policy") && l.includes(refusedSite.origin)),
      `not-allowed origin: no "blocked by CORS policy" in the console: ${show(refused.consoleLines)}`,
    );
    check(refused.apiResponse === null, `not-allowed origin: the page saw a response ${show(refused.apiResponse)}`);
    ok(`changePassword from ${refusedSite.origin} refused by CORS: ${show(refused.outcome.err.original.message?.split("\n")[0])}`);
    for (const l of refused.consoleLines) console.log(`     console ${l}`);

    // 4. Allowed origin: the SDK gets the server's text.
    const allowed = await changePasswordFrom(browser, allowedSite, sdkOptions, params);
    check(!allowed.outcome.timeout, `changePassword from ${allowedSite.origin} never called back`);
    check(
      !allowed.outcome.err,
      `changePassword from ${allowedSite.origin} failed: ${show(allowed.outcome.err)}; console: ${show(allowed.consoleLines)}; failed requests: ${show(allowed.failedRequests)}`,
    );
    check(allowed.outcome.result === EXPECTED, `changePassword result ${show(allowed.outcome.result)}, want ${show(EXPECTED)}`);
    check(
      allowed.apiResponse?.status === 200 &&
        allowed.apiResponse.headers["access-control-allow-origin"] === allowedSite.origin,
      `change_password response as the page saw it: ${show(allowed.apiResponse)}`,
    );
    ok(`changePassword from ${allowedSite.origin} via ${domain}: ${show(allowed.outcome.result)}`);
  } finally {
    if (browser) await browser.close();
    allowedSite.server.close();
    refusedSite.server.close();
  }
}

await run("browser change password", main);
