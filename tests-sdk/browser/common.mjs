// What the browser scripts share: `ok - …` steps, `FAIL: … (last passed step: …)` reporting
// with exit 1 (an assertion) or 2 (anything else), a JSON helper for the Management API, the
// mails the test mirrors into a directory, and for the journeys: Chromium, the little
// application at the callback, and the axe-core pass over the pages they saw.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
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

const APP_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>The application</title></head>
<body><h1>The application</h1><p>The browser is back at the application.</p></body></html>`;

// The application: answers every path with APP_PAGE and records the URLs. Resolves with
// {server, origin, hits}.
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
      resolve({ server, origin, hits });
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
        if (r.url() !== snap.url) failedLoads.push(`${r.url()}: ${r.failure()?.errorText}`);
      });
      // The document from the snapshot; its stylesheet (and any other GET) from the server;
      // nothing that could change the server's state.
      await page.route("**/*", (route) => {
        const req = route.request();
        if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
          if (req.url() === snap.url) {
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
