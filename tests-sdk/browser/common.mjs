// What the browser scripts share: `ok - …` steps, `FAIL: … (last passed step: …)` reporting
// with exit 1 (an assertion) or 2 (anything else), and a JSON helper for the Management API.

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
