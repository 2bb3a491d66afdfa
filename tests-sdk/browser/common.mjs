// What the browser scripts share: `ok - …` steps, `FAIL: … (last passed step: …)` reporting
// with exit 1 (an assertion) or 2 (anything else), and a JSON helper for the Management API.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

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
