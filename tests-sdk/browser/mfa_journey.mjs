// The MFA journey in real headless Chromium against a live Latchkey server, with npm
// openid-client as the application and the script as the user's authenticator app (RFC 6238
// codes computed with node:crypto from the key the enrolment page shows):
//
//   Management API: OTP on, policy all-applications, a user without a factor
//   → authorization URL → password → enrolment page (QR code image and the key as text)
//   → a wrong code is refused → the right code → "Save your recovery code" → the callback
//   → code exchange, ID token amr has "mfa"; the enrollment is confirmed
//   → (no session) "Forgot password?" → reset link from the mail → "Verify it's you" first,
//   no password field → the recovery code → "Save your new recovery code" (a different one)
//   → the new-password form → "Password changed"
//   → (no session) the new password → "Verify it's you" → the next TOTP step → code exchange
//   → (no session) 10 wrong passwords → the 11th, right, is refused as blocked (429)
//   → the Management API lists the block for 127.0.0.1 → the unblock link from the mail
//   → "Unblock my account" → the right password → a TOTP code → code exchange.
//
// TOTP steps: a step is used once per authenticator, and the server accepts the current step
// ±1. The script remembers the last step it used and always sends a later one, waiting for the
// next 30-second step when the later one is not yet within the server's window (the
// accessibility pass runs during that wait, before the last code is sent).
//
// Env: as login_journey.mjs: LATCHKEY_BASE_URL (https://127.0.0.1:PORT), LATCHKEY_BOOTSTRAP,
// LATCHKEY_MAIL_DIR (the test's mirror of every mail its SMTP sink received), LATCHKEY_SCREENSHOTS
// (full-page PNGs NN-<name>.png, created), CHROMIUM (default /usr/bin/chromium),
// NODE_EXTRA_CA_CERTS (the server's self-signed certificate, for node's fetch).
//
// Accessibility: every page that gets a screenshot is replayed afterwards and checked with
// axe-core (common.mjs checkAccessibility; see login_journey.mjs for why it is a replay).
//
// Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.
import { createHmac } from "node:crypto";
import {
  Failure,
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

const EMAIL = "mfa-journey@example.com";
const PASSWORD = "Mfa-Journey-Password-1";
const NEW_PASSWORD = "Mfa-Journey-Password-2";
const WRONG_PASSWORD = "Not-The-Password-9";
const SCOPE = "openid profile email";
const MAIL_TIMEOUT_MS = 15_000;
// Brute-force protection blocks a (user, IP) pair after this many consecutive failures.
const BLOCK_THRESHOLD = 10;
const BLOCKED_MESSAGE =
  "Your account has been blocked after multiple consecutive login attempts. We've sent you an email with instructions on how to unblock it.";
const WRONG_CODE_MESSAGE = "That code is not valid. Enter the current code from your authenticator app.";

const RESET_LINK = /https?:\/\/[^\s"'<>]*\/lo\/reset\?ticket=[A-Za-z0-9_-]{43}/;
const UNBLOCK_LINK = /https?:\/\/[^\s"'<>]*\/lo\/unblock\?ticket=[A-Za-z0-9_.-]+/;

let app = null;

// ---- TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) ----

const TOTP_STEP_SECS = 30;

function base32Decode(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bytes = [];
  let buffer = 0;
  let bits = 0;
  for (const c of s.replace(/[\s=-]/g, "").toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Failure(`the key ${show(s)} is not base32 (${show(c)})`);
    buffer = ((buffer << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

function totpAt(key, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

const currentStep = () => Math.floor(Date.now() / 1000 / TOTP_STEP_SECS);

// The authenticator app: the code for the current step, or when that step (or a later one)
// was already used, for the step after the last used one, once the server's window (current
// step ±1) reaches it: until then `msUntilUsable` says how long to wait.
class Authenticator {
  constructor(key) {
    this.key = key;
    this.lastStep = null;
  }
  #nextStep() {
    return this.lastStep === null ? currentStep() : Math.max(this.lastStep + 1, currentStep());
  }
  msUntilUsable() {
    const step = this.#nextStep();
    // Usable once step - 1 is the current one (+200 ms against rounding at the boundary).
    return step > currentStep() + 1 ? (step - 1) * TOTP_STEP_SECS * 1000 - Date.now() + 200 : 0;
  }
  async nextCode(what) {
    const waitMs = this.msUntilUsable();
    if (waitMs > 0) {
      console.log(`# ${what}: TOTP step ${this.#nextStep()} is accepted from the next step on: waiting ${waitMs} ms`);
      await new Promise((r) => setTimeout(r, waitMs));
    }
    const step = this.#nextStep();
    this.lastStep = step;
    const offset = step - currentStep();
    ok(`${what}: the code for TOTP step ${step} (the current step${offset === 0 ? "" : ` ${offset > 0 ? "+" : ""}${offset}`})`);
    return totpAt(this.key, step);
  }
  // A six-digit code that is none of the codes the server accepts now.
  wrongCode() {
    const now = currentStep();
    const valid = new Set([-2, -1, 0, 1, 2].map((d) => totpAt(this.key, now + d)));
    for (let n = 0; ; n++) {
      const c = String((123456 + n * 111_111) % 1_000_000).padStart(6, "0");
      if (!valid.has(c)) return c;
    }
  }
}

async function main() {
  const { baseUrl, issuer, boot, outbox, executablePath, shotDir, connection, clientId, clientSecret } = journeyEnv();

  // 1. Management API: OTP and the all-applications policy, the user, the callback.
  const token = await managementToken(baseUrl, boot);

  const factor = await api(baseUrl, "PUT", "/api/v2/guardian/factors/otp", token, { enabled: true });
  check(factor.status === 200 && factor.body?.enabled === true, `PUT guardian/factors/otp: ${factor.status} ${show(factor.body)}`);
  const policies = await api(baseUrl, "PUT", "/api/v2/guardian/policies", token, ["all-applications"]);
  check(
    policies.status === 200 && show(policies.body) === show(["all-applications"]),
    `PUT guardian/policies: ${policies.status} ${show(policies.body)}`,
  );
  ok("OTP factor enabled, MFA policy all-applications");

  const userId = await createUser(baseUrl, token, connection, EMAIL, PASSWORD);
  const userPath = `/api/v2/users/${encodeURIComponent(userId)}`;
  const blocksPath = `/api/v2/user-blocks/${encodeURIComponent(userId)}`;

  app = await startApp();
  const APP_ORIGIN = app.origin;
  const CALLBACK = `${APP_ORIGIN}/callback`;
  const patched = await addClientUrls(baseUrl, token, clientId, { callbacks: [CALLBACK] });
  check(patched.status === 200 && list(patched.body.callbacks).includes(CALLBACK), `patch client: ${patched.status} ${show(patched.body)}`);
  ok(`the application runs at ${APP_ORIGIN}; default client ${clientId} allows ${CALLBACK}`);

  const config = await discover(issuer, clientId, clientSecret);
  ok(`openid-client discovery: issuer ${config.serverMetadata().issuer}`);

  const authRequest = () => authorizationRequest(config, CALLBACK, SCOPE);

  // The code exchange (state, iss, PKCE, nonce, ID token signature); returns the ID token claims.
  async function exchange(req, callbackUrl, where) {
    const tokens = await codeExchange(config, req, callbackUrl, where);
    const claims = tokens.claims();
    check(claims?.sub === userId, `${where}: id_token sub ${show(claims?.sub)}, want ${show(userId)}`);
    check(claims.nonce === req.nonce, `${where}: id_token nonce ${show(claims.nonce)}, want ${show(req.nonce)}`);
    check(
      Array.isArray(claims.amr) && claims.amr.includes("mfa") && claims.amr.includes("pwd"),
      `${where}: id_token amr ${show(claims.amr)}, want "pwd" and "mfa"`,
    );
    return claims;
  }

  const chrome = await launchJourneyBrowser(executablePath, shotDir);
  try {
    // A browser context of its own (no cookies), and the steps on its one page: the common ones
    // (common.mjs openTab) and this journey's.
    async function freshBrowser(label) {
      const b = await chrome.openTab(label, { clues: async (t) => ` (alert: ${show(await t.text("[role=alert]"))})` });
      const { page } = b;
      return {
        ...b,
        submitLogin: (password) => b.submitLogin(EMAIL, password),
        async submitCode(code) {
          await page.fill("#code", code);
          const typed = await page.inputValue("#code");
          check(
            typed === code,
            `${label}: the code field at ${page.url()} holds ${show(typed)} after typing ${show(code)} ` +
              `(maxlength ${show(await page.getAttribute("#code", "maxlength"))})`,
          );
          return b.clickAndLoad(b.submitButton());
        },
        waitForCallback: (where) => b.waitForCallback(CALLBACK, where),
        // The authorization URL → the login form.
        async startLogin(where) {
          const req = await authRequest();
          const res = await page.goto(req.url);
          check(res?.status() === 200, `${label}: GET ${req.url}: ${res?.status()}`);
          await b.loginFormShown(where);
          return req;
        },
      };
    }

    // 2. Enrolment at the first login.
    const one = await freshBrowser("enrolment");
    const first = await one.startLogin("the first /authorize");
    await one.screenshot("login");
    ok("/authorize shows the login page");

    const passwordAnswer = await one.submitLogin(PASSWORD);
    check(passwordAnswer?.status() === 200, `the password answer: ${passwordAnswer?.status()}`);
    await one.expectHeading("Secure your account", "after the password (MFA required, no factor yet)");
    const qr = one.page.locator("p.qr img");
    check((await qr.count()) === 1, "the enrolment page has no QR code image (p.qr img)");
    const qrSrc = (await qr.getAttribute("src")) ?? "";
    check(qrSrc.startsWith("data:image/svg+xml;base64,"), `the QR code is not an SVG data URL: ${show(qrSrc.slice(0, 60))}`);
    const svg = Buffer.from(qrSrc.slice(qrSrc.indexOf(",") + 1), "base64").toString("utf8");
    check(/<svg[\s>]/.test(svg) && svg.includes("</svg>"), `the QR code image is not an SVG document: ${show(svg.slice(0, 80))}`);
    const qrShown = await qr.evaluate((img) => img.complete && img.naturalWidth > 0);
    check(qrShown, "the QR code image did not render (refused by the page's CSP?)");
    check(((await qr.getAttribute("alt")) ?? "").trim().length > 0, "the QR code image has no alt text");
    const keyText = (await one.text("p.key code")) ?? "";
    check(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/.test(keyText), `the key on the enrolment page: ${show(keyText)}`);
    check(await one.page.locator("p.key code").isVisible(), "the key is not visible on the enrolment page");
    const key = base32Decode(keyText.replace(/\s+/g, ""));
    check(key.length >= 16, `the key holds ${key.length * 8} bits, want at least 128`);
    const phone = new Authenticator(key);
    await one.screenshot("mfa-enrol");
    ok(`the enrolment page shows an SVG QR code (${svg.length} bytes) and the key ${keyText.slice(0, 4)}… (${key.length * 8} bits)`);

    const wrongEnrol = await one.submitCode(phone.wrongCode());
    check(wrongEnrol?.status() === 400, `a wrong enrolment code: HTTP ${wrongEnrol?.status()}, want 400`);
    await one.expectHeading("Secure your account", "after a wrong enrolment code");
    const enrolError = await one.text("#form-error");
    check(enrolError === WRONG_CODE_MESSAGE, `a wrong enrolment code: ${show(enrolError)}`);
    check((await one.page.getAttribute("#code", "aria-invalid")) === "true", "the code field is not aria-invalid after a wrong code");
    check((await one.text("p.key code")) === keyText, "the enrolment page shows another key after a wrong code");
    await one.screenshot("mfa-enrol-error");
    ok(`a wrong enrolment code is refused (400): ${show(enrolError)}`);

    const enrolled = await one.submitCode(await phone.nextCode("enrolment"));
    check(enrolled?.status() === 200, `the right enrolment code: HTTP ${enrolled?.status()}`);
    await one.expectHeading("Save your recovery code", "after the right enrolment code");
    // Shown in groups of four (ABCD EFGH …); typed back as shown.
    const recovery = await one.text("#recovery-code");
    check(/^([A-Z0-9]{4} ){5}[A-Z0-9]{4}$/.test(recovery ?? ""), `the recovery code: ${show(recovery)}`);
    await one.screenshot("mfa-recovery");
    ok(`the right code enrols the authenticator; recovery code ${recovery.slice(0, 4)}… shown`);

    await one.clickAndLoad(one.page.getByRole("link", { name: "I saved it, continue" }));
    const firstCallback = await one.waitForCallback("after the recovery code page");
    const firstClaims = await exchange(first, firstCallback, "enrolment login");
    ok(`the callback got a code; openid-client exchanged it: amr ${show(firstClaims.amr)}`);

    const enrollments = await api(baseUrl, "GET", `${userPath}/enrollments`, token);
    check(enrollments.status === 200 && Array.isArray(enrollments.body), `GET enrollments: ${enrollments.status} ${show(enrollments.body)}`);
    const confirmed = enrollments.body.filter(
      (e) => String(e.id).startsWith("totp|") && e.status === "confirmed" && e.auth_method === "authenticator",
    );
    check(confirmed.length === 1, `enrollments: want one confirmed authenticator app (totp|…): ${show(enrollments.body)}`);
    ok(`enrollments: ${show(enrollments.body.map((e) => `${e.id} ${e.status} ${e.auth_method}`))}`);

    // 3. A reset that demands the second factor: the recovery code this time.
    const two = await freshBrowser("reset");
    await two.startLogin("/authorize for the reset");
    await two.clickAndLoad(two.page.getByRole("link", { name: "Forgot password?" }));
    await two.expectHeading("Reset your password", 'after "Forgot password?"');
    check(new URL(two.page.url()).pathname === "/lo/forgot", `"Forgot password?" led to ${two.page.url()}`);
    await two.screenshot("forgot-form");
    ok(`"Forgot password?" opens ${two.page.url()}`);

    let seen = new Set(mailFiles(outbox).map((f) => f.path));
    await two.page.fill("#email", EMAIL);
    await two.clickAndLoad(two.submitButton());
    await two.expectHeading("Check your email", "after submitting the forgot form");
    await two.screenshot("forgot-sent");
    ok(`forgot form: ${show(await two.text("[role=status]"))}`);

    const resetMail = await waitForMail(outbox, seen, RESET_LINK, MAIL_TIMEOUT_MS);
    check(resetMail.text.includes(`To: ${EMAIL}`), `the reset mail ${resetMail.path} is not to ${EMAIL}`);
    ok(`reset mail ${resetMail.path}: ${resetMail.link.replace(/ticket=.*/, "ticket=…")}`);

    const resetPage = await two.page.goto(resetMail.link);
    check(resetPage?.status() === 200, `GET the reset link: ${resetPage?.status()}`);
    await two.expectHeading("Verify it's you", "the reset link of a user with an authenticator");
    const passwordFields = await two.page.locator("#newPassword, #confirmNewPassword, input[type=password]").count();
    check(passwordFields === 0, `the reset MFA page has ${passwordFields} password field(s)`);
    check((await two.page.locator("#code").count()) === 1, "the reset MFA page has no #code field");
    await two.screenshot("reset-mfa");
    ok("the reset link asks for the second factor first, with no new-password field");

    const recovered = await two.submitCode(recovery);
    check(recovered?.status() === 200, `the recovery code at the reset: HTTP ${recovered?.status()}`);
    await two.expectHeading("Save your new recovery code", "after the recovery code at the reset");
    const newRecovery = await two.text("#recovery-code");
    check(/^([A-Z0-9]{4} ){5}[A-Z0-9]{4}$/.test(newRecovery ?? ""), `the new recovery code: ${show(newRecovery)}`);
    check(newRecovery !== recovery, "the new recovery code is the one just used");
    await two.screenshot("reset-new-recovery");
    ok(`the recovery code passes and is replaced by ${newRecovery.slice(0, 4)}…`);

    await two.clickAndLoad(two.page.getByRole("link", { name: "I saved it, continue" }));
    await two.expectHeading("Change your password", "after saving the new recovery code");
    check((await two.page.locator("#newPassword").count()) === 1, "no #newPassword after the second factor");
    await two.screenshot("reset-form-after-mfa");
    ok("after the second factor the link shows the new-password form");

    seen = new Set(mailFiles(outbox).map((f) => f.path));
    await two.page.fill("#newPassword", NEW_PASSWORD);
    await two.page.fill("#confirmNewPassword", NEW_PASSWORD);
    await two.clickAndLoad(two.submitButton());
    await two.expectHeading("Password changed", "after submitting the new password");
    await two.screenshot("reset-done");
    ok(`new password set: ${show(await two.text("[role=status]"))}`);
    const changedMail = await waitForMail(outbox, seen, /^Subject: .*password was changed/m, MAIL_TIMEOUT_MS);
    ok(`"password changed" notice: ${changedMail.path}`);

    // 4. The new password, then the challenge: the code of the next step.
    const three = await freshBrowser("challenge");
    const second = await three.startLogin("/authorize after the reset");
    const challenge = await three.submitLogin(NEW_PASSWORD);
    check(challenge?.status() === 200, `the new password: HTTP ${challenge?.status()}`);
    await three.expectHeading("Verify it's you", "after the new password");
    check((await three.page.locator("#code").count()) === 1, "the challenge page has no #code field");
    check((await three.page.locator("p.qr, p.key").count()) === 0, "the challenge page shows a QR code or key again");
    await three.screenshot("mfa-challenge");
    ok("the new password leads to the second-factor challenge");

    await three.submitCode(await phone.nextCode("login after the reset"));
    const secondCallback = await three.waitForCallback("after the TOTP code");
    const secondClaims = await exchange(second, secondCallback, "login after the reset");
    ok(`the TOTP code logs in; openid-client exchanged the code: amr ${show(secondClaims.amr)}`);

    // 5. Brute force: ten wrong passwords block this IP, even for the right one.
    const four = await freshBrowser("brute force");
    const blockedReq = await four.startLogin("/authorize before the wrong passwords");
    seen = new Set(mailFiles(outbox).map((f) => f.path));
    for (let i = 1; i <= BLOCK_THRESHOLD; i++) {
      const res = await four.submitLogin(WRONG_PASSWORD);
      await four.expectHeading("Log in", `after wrong password ${i}`);
      const error = await four.text("#form-error");
      check(
        res?.status() === 400 && error === "Wrong email or password.",
        `wrong password ${i}: HTTP ${res?.status()}, ${show(error)}; want 400 "Wrong email or password."`,
      );
      if (i === 1) await four.screenshot("login-error");
    }
    ok(`${BLOCK_THRESHOLD} wrong passwords: each answered 400 "Wrong email or password."`);

    const blockedRes = await four.submitLogin(NEW_PASSWORD);
    await four.expectHeading("Log in", "the right password after the block");
    const blockedError = await four.text("#form-error");
    check(blockedRes?.status() === 429, `the right password after ${BLOCK_THRESHOLD} failures: HTTP ${blockedRes?.status()}, want 429`);
    check(blockedError === BLOCKED_MESSAGE, `the right password after the block: ${show(blockedError)}`);
    check(new URL(four.page.url()).origin === baseUrl, `the blocked login left the server: ${four.page.url()}`);
    check(!app.hits.some((u) => u.includes(`state=${blockedReq.state}`)), "the blocked login reached the callback");
    await four.screenshot("login-blocked");
    ok(`the right password is refused (429): ${show(blockedError)}`);

    const blocks = await api(baseUrl, "GET", blocksPath, token);
    check(blocks.status === 200, `GET user-blocks: ${blocks.status} ${show(blocks.body)}`);
    check(
      list(blocks.body.blocked_for).some((b) => b.ip === "127.0.0.1" && b.identifier === EMAIL),
      `user-blocks does not list 127.0.0.1: ${show(blocks.body)}`,
    );
    ok(`user-blocks: ${show(blocks.body.blocked_for)}`);

    const blockedMail = await waitForMail(outbox, seen, UNBLOCK_LINK, MAIL_TIMEOUT_MS);
    check(blockedMail.text.includes(`To: ${EMAIL}`), `the blocked mail ${blockedMail.path} is not to ${EMAIL}`);
    check(/^Subject: .*account was blocked/m.test(blockedMail.text), `the unblock link came in another mail: ${blockedMail.path}`);
    ok(`blocked mail ${blockedMail.path}: ${blockedMail.link.replace(/ticket=.*/, "ticket=…")}`);

    const unblockPage = await four.page.goto(blockedMail.link);
    check(unblockPage?.status() === 200, `GET the unblock link: ${unblockPage?.status()}`);
    await four.expectHeading("Unblock your account", "the unblock link");
    const facts = (await four.text("dl.facts")) ?? "";
    check(facts.includes(EMAIL) && facts.includes("127.0.0.1"), `the unblock page's facts: ${show(facts)}`);
    const stillBlocked = await api(baseUrl, "GET", blocksPath, token);
    check(list(stillBlocked.body?.blocked_for).length === 1, `opening the unblock link changed the blocks: ${show(stillBlocked.body)}`);
    await four.screenshot("unblock");
    ok("the unblock link shows the block (account and 127.0.0.1) and lifts nothing yet");

    const unblocked = await four.clickAndLoad(four.page.getByRole("button", { name: "Unblock my account" }));
    check(unblocked?.status() === 200, `"Unblock my account": HTTP ${unblocked?.status()}`);
    await four.expectHeading("Your account is unblocked", 'after "Unblock my account"');
    await four.screenshot("unblocked");
    const lifted = await api(baseUrl, "GET", blocksPath, token);
    check(lifted.status === 200 && list(lifted.body.blocked_for).length === 0, `user-blocks after unblocking: ${show(lifted.body)}`);
    ok("the account is unblocked; user-blocks is empty");

    const third = await four.startLogin("/authorize after unblocking");
    const again = await four.submitLogin(NEW_PASSWORD);
    check(again?.status() === 200, `the right password after unblocking: HTTP ${again?.status()}`);
    await four.expectHeading("Verify it's you", "the right password after unblocking");

    // 6. Accessibility (axe-core) of every page that got a screenshot (all have by now), while
    // the next TOTP step comes round if it must (the challenge stays valid five minutes).
    const waitMs = phone.msUntilUsable();
    const [a11yError] = await Promise.all([
      chrome.checkAccessibility().then(() => null, (e) => e),
      new Promise((r) => setTimeout(r, waitMs)),
    ]);

    await four.submitCode(await phone.nextCode("login after unblocking"));
    const thirdCallback = await four.waitForCallback("after unblocking and the TOTP code");
    const thirdClaims = await exchange(third, thirdCallback, "login after unblocking");
    ok(`after unblocking the password and a TOTP code log in; amr ${show(thirdClaims.amr)}`);

    check(chrome.pageErrors.length === 0, `JavaScript errors on the pages: ${show(chrome.pageErrors)}`);
    if (a11yError) throw a11yError;
    await chrome.closeTabs();
  } finally {
    await chrome.close();
  }
}

await run("browser MFA journey", main, () => app?.close());
