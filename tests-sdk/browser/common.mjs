// What the browser scripts share: `ok - …` steps, `FAIL: … (last passed step: …)` reporting
// with exit 1 (an assertion) or 2 (anything else), a JSON helper for the Management API, the
// mails the test mirrors into a directory, and for the journeys: their environment, the
// Management API steps they all take (token, user, client URLs), Chromium and its tabs (the
// common steps, screenshots, page snapshots, errors), the application's openid-client calls, the
// little application at the callback, and the axe-core pass over the pages they saw.

import { mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as oidc from "openid-client";
import { chromium } from "playwright-core";

export class Failure extends Error {}

let lastOk = "(none)";

export function check(cond, what) {
  if (!cond) throw new Failure(what);
}

export function ok(step) {
  lastOk = step;
  console.log(`ok - ${step}`);
}

export const show = (v) => JSON.stringify(v);

// `fetch` with a JSON body and an optional Bearer token; the body comes back parsed when it is JSON.
export async function api(base, method, path, token, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

// Runs `main`, reports how it ended, then runs `cleanup` (if any) whatever happened.
export async function run(name, main, cleanup = () => {}) {
  try {
    await main();
    console.log(`${name}: all steps passed`);
  } catch (e) {
    const detail = e instanceof Failure ? e.message : `${e?.name}: ${e?.message}${e?.cause ? ` (cause: ${e.cause.code ?? e.cause.message})` : ""}`;
    console.error(`FAIL: ${detail} (last passed step: ${lastOk})`);
    process.exitCode = e instanceof Failure ? 1 : 2;
  } finally {
    await cleanup();
  }
}

// Quoted-printable → text: soft line breaks go, =XX becomes the byte.
export function decodeQuotedPrintable(s) {
  const joined = s.replace(/=\r?\n/g, "");
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

// The .eml files in `dir` (the test writes each mail its SMTP sink received there): {path, mtime}.
export function mailFiles(dir) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith(".eml"))
    .map((n) => {
      const path = join(dir, n);
      return { path, mtime: statSync(path).mtimeMs };
    });
}

// Waits for a mail in `dir` not among `seen` (paths) whose decoded text matches `pattern`;
// returns {path, text, link} (link = the match) of the newest such mail.
export async function waitForMail(dir, seen, pattern, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fresh = mailFiles(dir)
      .filter((f) => !seen.has(f.path))
      .sort((a, b) => b.mtime - a.mtime);
    for (const f of fresh) {
      const text = decodeQuotedPrintable(readFileSync(f.path, "utf8"));
      const m = text.match(pattern);
      if (m) return { path: f.path, text, link: m[0] };
    }
    check(Date.now() < deadline, `no new mail matching ${pattern} in ${dir} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


// The journeys' environment, checked: LATCHKEY_BASE_URL (https://host:port, as `baseUrl`; the
// issuer is `${baseUrl}/`), LATCHKEY_BOOTSTRAP (bootstrap.json, read as `boot`, with its
// connection and default client), LATCHKEY_MAIL_DIR (`outbox`), LATCHKEY_SCREENSHOTS (`shotDir`,
// created), CHROMIUM (`executablePath`, default /usr/bin/chromium).
export function journeyEnv() {
  const baseUrl = (process.env.LATCHKEY_BASE_URL || "").replace(/\/+$/, "");
  check(/^https:\/\/[^/]+$/.test(baseUrl), `LATCHKEY_BASE_URL must be https://host:port, got ${show(baseUrl)}`);
  check(process.env.LATCHKEY_BOOTSTRAP, "LATCHKEY_BOOTSTRAP is not set");
  check(process.env.LATCHKEY_MAIL_DIR, "LATCHKEY_MAIL_DIR is not set");
  check(process.env.LATCHKEY_SCREENSHOTS, "LATCHKEY_SCREENSHOTS is not set");
  const boot = JSON.parse(readFileSync(process.env.LATCHKEY_BOOTSTRAP, "utf8"));
  const shotDir = process.env.LATCHKEY_SCREENSHOTS;
  mkdirSync(shotDir, { recursive: true });
  return {
    baseUrl,
    issuer: `${baseUrl}/`,
    boot,
    outbox: process.env.LATCHKEY_MAIL_DIR,
    shotDir,
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    connection: boot.connection || "Username-Password-Authentication",
    clientId: boot.default_client.client_id,
    clientSecret: boot.default_client.client_secret,
  };
}

// A Management API token: client_credentials with the bootstrap's management_api client.
export async function managementToken(baseUrl, boot) {
  const tok = await api(baseUrl, "POST", "/oauth/token", null, {
    grant_type: "client_credentials",
    client_id: boot.management_api.client_id,
    client_secret: boot.management_api.client_secret,
    audience: boot.management_api.audience || `${baseUrl}/api/v2/`,
  });
  check(tok.status === 200 && tok.body.access_token, `client_credentials token: ${tok.status} ${show(tok.body)}`);
  ok("got a Management API token");
  return tok.body.access_token;
}

// A user on `connection`, made with the Management API; returns the user_id. No verification
// mail (Auth0 sends one by default for an unverified address): the journeys count their mails.
export async function createUser(baseUrl, token, connection, email, password) {
  const user = await api(baseUrl, "POST", "/api/v2/users", token, { connection, email, password, verify_email: false });
  check(user.status === 201 && user.body.user_id, `create user: ${user.status} ${show(user.body)}`);
  ok(`created user ${user.body.user_id} <${email}>`);
  return user.body.user_id;
}

// A JSON field that should hold a list, as a list (none: empty).
export const list = (v) => (Array.isArray(v) ? v : []);

// Appends URLs to the client's lists ({callbacks: [url], allowed_logout_urls: [url], …}): the
// client as it is, then a PATCH of those lists extended; returns the PATCH's answer {status, body}.
export async function addClientUrls(baseUrl, token, clientId, additions) {
  const clientPath = `/api/v2/clients/${encodeURIComponent(clientId)}`;
  const client = await api(baseUrl, "GET", clientPath, token);
  check(client.status === 200, `get client: ${client.status} ${show(client.body)}`);
  const patch = Object.fromEntries(Object.entries(additions).map(([field, urls]) => [field, [...list(client.body[field]), ...urls]]));
  return api(baseUrl, "PATCH", clientPath, token, patch);
}

// Headless Debian Chromium with the flags the journeys use.
export function launchChromium(executablePath) {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

// How long a journey's action or navigation may take.
const STEP_TIMEOUT_MS = 15_000;

// Chromium for a journey (launchChromium) and what its tabs record: the screenshots
// (NN-<name>.png in `shotDir`, listed by close()), the {name, url, html} snapshot of every page
// that got one, for checkAccessibility, and the JavaScript errors on the pages (`pageErrors`).
export async function launchJourneyBrowser(executablePath, shotDir) {
  const browser = await launchChromium(executablePath);
  ok(`launched ${executablePath} (Chromium ${browser.version()}, headless)`);
  const shots = [];
  const snapshots = [];
  const pageErrors = [];
  const contexts = [];
  return {
    browser,
    pageErrors,
    // A browser context of its own (no cookies) and the steps on its one page. `label`, when
    // given, begins the tab's failure messages and its page errors; `onConsole(message, page)`
    // sees every console message; `clues(tab)` is what a failed expectHeading says about the
    // page between its URL and the console errors.
    async openTab(label = null, { onConsole = () => {}, clues = async () => "" } = {}) {
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
      contexts.push(context);
      context.setDefaultTimeout(STEP_TIMEOUT_MS);
      context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
      const page = await context.newPage();
      const at = label === null ? "" : `${label}: `;
      const consoleErrors = [];
      page.on("pageerror", (e) => pageErrors.push(`${at}${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
        onConsole(m, page);
      });
      // What the browser said lately (CSP refusals, failed loads), for failure messages.
      const recentConsole = () => show(consoleErrors.slice(-3));
      const heading = async () => (await page.locator("h1").first().textContent({ timeout: 1000 }).catch(() => null))?.trim() ?? null;
      const text = async (selector) => (await page.locator(selector).first().textContent({ timeout: 1000 }).catch(() => null))?.trim() ?? null;

      const tab = {
        page,
        context,
        heading,
        text,
        // Every check runs on a loaded page (goto waits for "load"; clicks go through
        // clickAndLoad), so a wrong page fails fast instead of after the step timeout.
        async expectHeading(want, where) {
          try {
            await page.locator("h1", { hasText: want }).first().waitFor({ state: "visible", timeout: 3000 });
          } catch {
            throw new Failure(
              `${at}${where}: want a page headed ${show(want)}, got ${show(await heading())} at ${page.url()}` +
                `${await clues(tab)}; console errors: ${recentConsole()}`,
            );
          }
        },
        // A full-page screenshot, and the page as it stands for the accessibility pass.
        async screenshot(name) {
          const path = join(shotDir, `${String(shots.length + 1).padStart(2, "0")}-${name}.png`);
          await page.screenshot({ path, fullPage: true });
          shots.push(path);
          snapshots.push({ name, url: page.url(), html: await page.content() });
        },
        // Clicks and waits for the next document; returns the last main-frame response on the
        // way (the form's answer, or where its redirects ended).
        async clickAndLoad(locator) {
          const responses = [];
          const onResponse = (r) => {
            if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) responses.push(r);
          };
          page.on("response", onResponse);
          const loaded = page.waitForEvent("load").catch((e) => e);
          await locator.click();
          const outcome = await loaded;
          page.off("response", onResponse);
          if (outcome instanceof Error) {
            throw new Failure(
              `${at}no page loaded after clicking ${locator}: still at ${page.url()} (${show(await heading())}); ` +
                `console errors: ${recentConsole()}`,
            );
          }
          return responses.at(-1) ?? null;
        },
        button: (name) => page.getByRole("button", { name, exact: true }),
        link: (name) => page.getByRole("link", { name, exact: true }),
        submitButton: () => page.locator('form button[type="submit"]').first(),
        // The hosted login page, with its form.
        async loginFormShown(where) {
          await tab.expectHeading("Log in", where);
          check(
            (await page.locator("#username").count()) + (await page.locator("#password").count()) === 2,
            `${at}${where}: the login page has no #username/#password at ${page.url()}`,
          );
        },
        async submitLogin(email, password) {
          await page.fill("#username", email);
          await page.fill("#password", password);
          return tab.clickAndLoad(tab.submitButton());
        },
        // Waits for the browser to reach the application's `callback`; returns the URL there.
        async waitForCallback(callback, where) {
          const origin = new URL(callback).origin;
          try {
            await page.waitForURL((u) => u.origin === origin, { timeout: 3000 });
          } catch {
            throw new Failure(
              `${at}${where}: the browser never reached ${callback}; it is at ${page.url()} (${show(await heading())}, ` +
                `alert ${show(await text("[role=alert]"))}); console errors: ${recentConsole()}`,
            );
          }
          const url = page.url();
          check(url.startsWith(`${callback}?`), `${at}${where}: sent to ${url}, want ${callback}`);
          return url;
        },
      };
      return tab;
    },
    // The axe-core pass over every page that got a screenshot.
    checkAccessibility: () => checkAccessibility(browser, snapshots),
    // Closes the tabs' contexts; the browser stays.
    async closeTabs() {
      for (const c of contexts.splice(0)) await c.close();
    },
    // Closes the browser and lists the screenshots.
    async close() {
      await browser.close();
      for (const s of shots) console.log(`screenshot ${s}`);
    },
  };
}

// The application's openid-client configuration from discovery at `issuer` (client_secret_post;
// ID token signatures checked against the JWKS); the metadata must name that issuer.
export async function discover(issuer, clientId, clientSecret) {
  let config;
  try {
    config = await oidc.discovery(new URL(issuer), clientId, clientSecret, oidc.ClientSecretPost(clientSecret), {
      execute: [oidc.enableNonRepudiationChecks],
    });
  } catch (e) {
    throw new Failure(`openid-client discovery of ${issuer}: ${e?.code ?? e?.name}: ${e?.message}`);
  }
  const meta = config.serverMetadata();
  check(meta.issuer === issuer, `discovery issuer ${show(meta.issuer)}, want ${show(issuer)}`);
  return config;
}

// A fresh authorization request: new state, nonce and PKCE verifier (S256) every time.
// Returns {url, verifier, state, nonce}.
export async function authorizationRequest(config, redirectUri, scope, extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    ...extra,
  });
  return { url: url.href, verifier, state, nonce };
}

// The code exchange and every check openid-client does (state, iss, PKCE, nonce, ID token
// signature); returns the token response. `where`, when given, begins the failure message.
export async function codeExchange(config, req, callbackUrl, where = null) {
  try {
    return await oidc.authorizationCodeGrant(config, new URL(callbackUrl), {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
      idTokenExpected: true,
    });
  } catch (e) {
    const cause = e?.cause ? ` (cause: ${show(e.cause?.body ?? e.cause?.message ?? e.cause)})` : "";
    throw new Failure(`${where === null ? "" : `${where}: `}openid-client code exchange: ${e?.code ?? e?.name}: ${e?.message}${cause}`);
  }
}

const APP_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>The application</title></head>
<body><h1>The application</h1><p>The browser is back at the application.</p></body></html>`;

// The application: answers every path with APP_PAGE and records the URLs. Resolves with
// {server, origin, hits, close()}.
export function startApp() {
  const hits = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/favicon.ico") {
      res.writeHead(204);
      res.end();
      return;
    }
    hits.push(`${origin}${req.url}`);
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(APP_PAGE);
  });
  let origin;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      origin = `http://127.0.0.1:${server.address().port}`;
      const close = () => {
        server.closeAllConnections();
        server.close();
      };
      resolve({ server, origin, hits, close });
    });
  });
}

const AXE_PATH = join(dirname(fileURLToPath(import.meta.url)), "node_modules/axe-core/axe.min.js");
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const AXE_FAILING = new Set(["serious", "critical"]);
const AXE_STEP_TIMEOUT_MS = 15_000;

// The axe-core pass over the snapshots ({name, url, html} of each page as the journey saw it),
// in its own context (bypassCSP, so that the injected axe script runs; the journey's context
// never had it). Prints every violation, then fails if any is serious or critical.
export async function checkAccessibility(browser, snapshots) {
  check(snapshots.length > 0, "accessibility: no page snapshots to check");
  const axeSource = readFileSync(AXE_PATH, "utf8");
  const context = await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true, viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(AXE_STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(AXE_STEP_TIMEOUT_MS);
  const failing = [];
  const started = Date.now();
  let axeVersion = null;
  try {
    for (const snap of snapshots) {
      const page = await context.newPage();
      const failedLoads = [];
      page.on("requestfailed", (r) => {
        if (r.url() !== snap.url.split("#")[0]) failedLoads.push(`${r.url()}: ${r.failure()?.errorText}`);
      });
      // The document from the snapshot; its stylesheet (and any other GET) from the server;
      // nothing that could change the server's state.
      await page.route("**/*", (route) => {
        const req = route.request();
        if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
          // A request URL never carries the fragment (reset links end in an empty "#").
          if (req.url() === snap.url.split("#")[0]) {
            return route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: snap.html });
          }
          return route.abort();
        }
        return req.method() === "GET" ? route.continue() : route.abort();
      });
      const res = await page.goto(snap.url, { waitUntil: "load" });
      check(res?.status() === 200, `accessibility: replaying ${snap.name} at ${snap.url}: ${res?.status()}`);
      // The replay must look like the journey's page: its stylesheet really applied.
      const styled = await page.evaluate(() => [...document.styleSheets].some((s) => s.cssRules.length > 0));
      check(styled, `accessibility: ${snap.name}: no stylesheet applied in the replay (failed loads: ${show(failedLoads)})`);
      await page.addScriptTag({ content: axeSource });
      axeVersion ??= await page.evaluate(() => globalThis.axe?.version ?? null);
      check(axeVersion, `accessibility: ${snap.name}: axe-core did not load (addScriptTag from ${AXE_PATH})`);
      const violations = await page.evaluate(async (tags) => {
        const r = await globalThis.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
        return r.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          helpUrl: v.helpUrl,
          nodes: v.nodes.length,
          target: v.nodes[0]?.target ?? [],
          summary: v.nodes[0]?.failureSummary ?? "",
        }));
      }, AXE_TAGS);
      await page.close();
      let minor = 0;
      for (const v of violations) {
        const target = v.target.map((t) => (Array.isArray(t) ? t.join(" >> ") : t)).join(" ");
        const summary = v.summary.replace(/\s+/g, " ").trim();
        console.log(
          `a11y: ${snap.name}: ${v.impact} ${v.id}: ${v.help} — first target ${show(target)}` +
            `${v.nodes > 1 ? ` (+${v.nodes - 1} more)` : ""}; ${summary} (${v.helpUrl})`,
        );
        if (AXE_FAILING.has(v.impact)) failing.push(`${snap.name}: ${v.impact} ${v.id} at ${target}`);
        else minor++;
      }
      const serious = violations.length - minor;
      if (serious === 0) ok(`a11y ${snap.name}: no serious violations (${minor} minor)`);
      else console.log(`not ok - a11y ${snap.name}: ${serious} serious/critical violation(s) (${minor} minor)`);
    }
  } finally {
    await context.close();
  }
  console.log(`a11y: ${snapshots.length} pages checked with axe-core ${axeVersion} (${AXE_TAGS.join(", ")}) in ${Date.now() - started} ms`);
  check(failing.length === 0, `accessibility: ${failing.length} serious/critical axe-core violation(s): ${failing.join("; ")}`);
}
