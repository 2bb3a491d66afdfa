// The admin console journey in real headless Chromium against a live Latchkey server:
//
//   Management API: a user user-journey@example.com
//   → /admin → the sign-in card → a wrong password is refused → the bootstrap administrator
//   signs in → Users → search "user-journey" → the user's page → Change Password with a weak
//   password (the rules marked, an error) → a strong one → "Password changed. The user was not
//   told…"
//   → the user logs in with it (password-realm grant, default client: 200; the old one: 403)
//   → Emails → the reset_email template → a new subject and URL lifetime 4321 → Preview shows
//   the new subject (nothing saved) → Save → the Management API reads lifetime 4321 → a reset
//   request (/dbconnections/change_password) → the mail has the new subject, and its link opens
//   the hosted reset page
//   → Sign out → "Don't remember your password?" → the administrator's address → "We've just
//   sent you an email…" → the console reset mail → its link → a weak password is refused → a
//   new one → "Your password was changed" → the old password is refused, the new one signs in.
//
// Env: LATCHKEY_BASE_URL (https://127.0.0.1:PORT), LATCHKEY_BOOTSTRAP (bootstrap.json, with the
// administrator under "admin"), LATCHKEY_MAIL_DIR (the test's mirror of every mail its SMTP
// sink received), LATCHKEY_SCREENSHOTS (full-page PNGs NN-<name>.png, created),
// LATCHKEY_RESET_SUBJECT (the Liquid subject to type into the reset template; a default when
// unset), CHROMIUM (default /usr/bin/chromium), NODE_EXTRA_CA_CERTS (the server's self-signed
// certificate, for node's fetch).
//
// The console has no JavaScript and a CSP of default-src 'none'; style-src 'self': every
// message Chromium logs about the policy is printed ("csp: …"), and on a console page it fails
// the journey, except the refused inline styles of a mail inside the template preview (the
// preview says the mail's own styles are not applied).
//
// Accessibility: every page that gets a screenshot is replayed afterwards and checked with
// axe-core (common.mjs checkAccessibility; see login_journey.mjs for why it is a replay).
//
// Exit 0 = pass; otherwise a "FAIL: ..." line on stderr and a non-zero exit.
import {
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
} from "./common.mjs";

const EMAIL = "user-journey@example.com";
const USER_PASSWORD = "User-Journey-Password-1";
const WEAK_PASSWORD = "abc";
const CONSOLE_PASSWORD = "Set-By-The-Console-7";
const ADMIN_WEAK_PASSWORD = "short1A";
const ADMIN_NEW_PASSWORD = "Journey-Reset-Console-2025";
const WRONG_ADMIN_PASSWORD = "Not-The-Admin-Password-9";
const RESET_SUBJECT = process.env.LATCHKEY_RESET_SUBJECT || "Admin journey: reset for {{ user.email }}";
const URL_LIFETIME = 4321;
const MAIL_TIMEOUT_MS = 15_000;

const PASSWORD_CHANGED_NOTICE =
  "Password changed. The user was not told; their sessions and refresh tokens were revoked.";
const RESET_LINK = /https?:\/\/[^\s"'<>]*\/lo\/reset\?ticket=[A-Za-z0-9_-]{43}/;
const ADMIN_RESET_LINK = /https?:\/\/[^\s"'<>]*\/admin\/reset\?ticket=[A-Za-z0-9_-]+/;

// The subject as the server renders it for a recipient (only {{ user.email }} is used here).
const renderSubject = (subject, email) => subject.replace(/\{\{\s*user\.email\s*\}\}/g, email);

// The Subject header of a raw mail, unfolded.
function subjectOf(text) {
  const head = text.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, " ");
  return head.match(/^Subject: (.*)$/m)?.[1]?.trim() ?? null;
}

async function main() {
  const { baseUrl, boot, outbox, executablePath, shotDir, connection, clientId, clientSecret } = journeyEnv();
  const adminEmail = boot.admin?.email;
  const adminPassword = boot.admin?.password;
  check(adminEmail && adminPassword, `bootstrap.json has no "admin" {email, password}: ${show(Object.keys(boot))}`);

  // 1. Management API: the user.
  const token = await managementToken(baseUrl, boot);

  const userId = await createUser(baseUrl, token, connection, EMAIL, USER_PASSWORD);

  // The user's password-realm login with the default client: {status, body}.
  const userLogin = (password) =>
    api(baseUrl, "POST", "/oauth/token", null, {
      grant_type: "http://auth0.com/oauth/grant-type/password-realm",
      client_id: clientId,
      client_secret: clientSecret,
      username: EMAIL,
      password,
      realm: connection,
      scope: "openid",
    });

  const chrome = await launchJourneyBrowser(executablePath, shotDir);
  // Every console message about the Content Security Policy: {label, url, text}.
  const cspMessages = [];
  try {
    // A browser context of its own (no cookies), and the steps on its one page: the common ones
    // (common.mjs openTab) and the console's.
    async function freshBrowser(label) {
      const b = await chrome.openTab(label, {
        onConsole: (m, page) => {
          if (/Content Security Policy/i.test(m.text())) {
            cspMessages.push({ label, url: page.url(), text: m.text() });
            console.log(`csp: ${label} at ${page.url()}: ${m.text()}`);
          }
        },
        clues: async (t) => ` (alert: ${show(await t.text("[role=alert]"))}, status: ${show(await t.text("[role=status]"))})`,
      });
      const { page, text } = b;
      return {
        ...b,
        path() {
          const u = new URL(page.url());
          return `${u.pathname}${u.search}`;
        },
        // The status notice (role=status) must read `want` (a prefix when `prefix`).
        async expectNotice(want, where, prefix = false) {
          const got = await text("[role=status]");
          check(
            got !== null && (prefix ? got.startsWith(want) : got === want),
            `${label}: ${where}: the notice at ${page.url()} is ${show(got)}, want ${show(want)}${prefix ? "…" : ""} ` +
              `(alert: ${show(await text("[role=alert]"))})`,
          );
          return got;
        },
        async signIn(email, password) {
          await page.fill("#email", email);
          await page.fill("#password", password);
          return b.clickAndLoad(b.button("Sign in"));
        },
      };
    }

    // 2. The console: sign-in, the user, Change Password.
    const admin = await freshBrowser("console");
    const entry = await admin.page.goto(`${baseUrl}/admin`);
    check(entry?.status() === 200, `GET /admin: ${entry?.status()} at ${admin.page.url()}`);
    await admin.expectHeading("Sign in to the console", "/admin without a session");
    check(admin.path().startsWith("/admin/login"), `/admin without a session led to ${admin.page.url()}, want /admin/login`);
    check(
      (await admin.page.locator("#email").count()) + (await admin.page.locator("#password").count()) === 2,
      `the sign-in card has no #email/#password at ${admin.page.url()}`,
    );
    await admin.screenshot("admin-login");
    ok(`/admin redirects to the sign-in card at ${admin.path()}`);

    const wrong = await admin.signIn(adminEmail, WRONG_ADMIN_PASSWORD);
    await admin.expectHeading("Sign in to the console", "after a wrong password");
    const signInError = await admin.text("#form-error");
    check(
      wrong?.status() === 400 && signInError === "Wrong email or password.",
      `a wrong console password: HTTP ${wrong?.status()}, ${show(signInError)}; want 400 "Wrong email or password."`,
    );
    check((await admin.page.inputValue("#email")) === adminEmail, "the sign-in card forgot the address after a wrong password");
    check((await admin.page.getAttribute("#password", "aria-invalid")) === "true", "the password field is not aria-invalid after a wrong password");
    await admin.screenshot("admin-login-error");
    ok(`a wrong password is refused (400): ${show(signInError)}`);

    const signedIn = await admin.signIn(adminEmail, adminPassword);
    check(signedIn?.status() === 200, `the right console password: HTTP ${signedIn?.status()}`);
    await admin.expectHeading("Users", "after signing in");
    check(admin.path() === "/admin/users", `signing in led to ${admin.page.url()}, want /admin/users`);
    check((await admin.text("form.signout span")) === adminEmail, `the header does not name ${adminEmail}: ${show(await admin.text("form.signout span"))}`);
    check(
      (await admin.page.locator('nav[aria-label=Console] a[aria-current="page"]').textContent())?.trim() === "Users",
      "the navigation does not mark Users as the current section",
    );
    await admin.screenshot("users");
    ok(`signed in as ${adminEmail}: the Users list`);

    // Create user: the form (the connection's rules listed), then a weak password refused with
    // the rules marked, through the same service as POST /api/v2/users.
    const newForm = await admin.clickAndLoad(admin.link("Create user"));
    check(newForm?.status() === 200, `Create user: HTTP ${newForm?.status()}`);
    await admin.expectHeading("Create user", "the Create user page");
    await admin.screenshot("user-new");
    await admin.page.fill("#email", "console-made@example.com");
    await admin.page.fill("#password", WEAK_PASSWORD);
    const refusedNew = await admin.clickAndLoad(admin.button("Create user"));
    check(refusedNew?.status() === 400, `Create user with a weak password: HTTP ${refusedNew?.status()}, want 400`);
    check((await admin.page.locator("#new-user-rules li.bad").count()) > 0, "no rule is marked unmet on Create user");
    await admin.screenshot("user-new-weak");
    ok("Create user: the form, and a weak password refused (400) with the rules marked");

    // A console address that names no page answers a console page, not the API's JSON.
    const nowhere = await admin.page.goto(`${baseUrl}/admin/no-such-page`);
    check(nowhere?.status() === 404, `an unknown console URL: HTTP ${nowhere?.status()}, want 404`);
    await admin.expectHeading("Page not found", "an unknown console URL");
    await admin.screenshot("not-found");
    ok("an unknown console URL answers the console's 404 page");
    await admin.page.goto(`${baseUrl}/admin/users`);

    await admin.page.fill("#q", "user-journey");
    const searched = await admin.clickAndLoad(admin.button("Search"));
    check(searched?.status() === 200, `the user search: HTTP ${searched?.status()}`);
    check(admin.path() === "/admin/users?q=user-journey", `the search led to ${admin.page.url()}`);
    const rows = admin.page.locator("table tbody tr");
    check((await rows.count()) === 1, `the search for "user-journey" lists ${await rows.count()} row(s), want 1`);
    check(((await rows.first().textContent()) ?? "").includes(userId), `the row found does not show ${userId}: ${show(await rows.first().textContent())}`);
    await admin.screenshot("users-search");
    ok(`the search for "user-journey" finds ${EMAIL} alone`);

    const opened = await admin.clickAndLoad(admin.link(EMAIL));
    check(opened?.status() === 200, `the user page: HTTP ${opened?.status()}`);
    await admin.expectHeading(EMAIL, "the user page");
    const userPath = `/admin/users/${encodeURIComponent(userId)}`;
    check(admin.path() === userPath, `the user link led to ${admin.page.url()}, want ${userPath}`);
    check(((await admin.text("dl.facts")) ?? "").includes(userId), "the profile does not show the user id");
    await admin.screenshot("user");
    ok(`the user page ${admin.path()}`);

    const weak = await (async () => {
      await admin.page.fill("#newPassword", WEAK_PASSWORD);
      await admin.page.fill("#confirmNewPassword", WEAK_PASSWORD);
      return admin.clickAndLoad(admin.button("Change Password"));
    })();
    check(weak?.status() === 400, `Change Password with a weak password: HTTP ${weak?.status()}, want 400`);
    await admin.expectHeading(EMAIL, "after a weak password");
    const weakError = await admin.text("#password-error");
    check(weakError === "Password is too weak", `the weak password's error: ${show(weakError)}`);
    const unmet = await admin.page.locator("#user-rules > ul > li.bad").count();
    const met = await admin.page.locator("#user-rules > ul > li.ok").count();
    check(unmet > 0, `no rule is marked unmet after ${show(WEAK_PASSWORD)} (${met} met)`);
    const unmetText = await admin.page.locator("#user-rules > ul > li.bad").allTextContents();
    check(unmetText.every((t) => t.startsWith("Not met: ")), `the unmet rules lack their screen-reader prefix: ${show(unmetText)}`);
    await admin.screenshot("change-password-weak");
    ok(`a weak password is refused (400): ${show(weakError)}; ${unmet} rule(s) not met, ${met} met: ${show(unmetText)}`);

    // A refused change changes nothing.
    const stillOld = await userLogin(USER_PASSWORD);
    check(stillOld.status === 200, `the old password after the refused change: ${stillOld.status} ${show(stillOld.body)}`);

    await admin.page.fill("#newPassword", CONSOLE_PASSWORD);
    await admin.page.fill("#confirmNewPassword", CONSOLE_PASSWORD);
    const changed = await admin.clickAndLoad(admin.button("Change Password"));
    check(changed?.status() === 200, `Change Password: HTTP ${changed?.status()}`);
    await admin.expectHeading(EMAIL, "after Change Password");
    check(admin.path() === `${userPath}?done=password`, `Change Password led to ${admin.page.url()}`);
    await admin.expectNotice(PASSWORD_CHANGED_NOTICE, "after Change Password");
    check((await admin.page.locator("#password-error").count()) === 0, "an error beside the changed password");
    await admin.screenshot("change-password-done");
    ok(`Change Password: ${show(PASSWORD_CHANGED_NOTICE)}`);

    // 3. The user logs in with it.
    const fresh = await userLogin(CONSOLE_PASSWORD);
    check(fresh.status === 200 && fresh.body.access_token && fresh.body.id_token, `password-realm with the new password: ${fresh.status} ${show(fresh.body)}`);
    const stale = await userLogin(USER_PASSWORD);
    check(stale.status === 403 && stale.body?.error === "invalid_grant", `password-realm with the old password: ${stale.status} ${show(stale.body)}, want 403 invalid_grant`);
    ok(`the user logs in with the console's password (200); the old one is refused (403 ${stale.body.error})`);

    // 4. Emails: the reset template, a preview, a save, then the next reset mail.
    const emails = await admin.clickAndLoad(admin.page.locator("nav[aria-label=Console]").getByRole("link", { name: "Emails", exact: true }));
    check(emails?.status() === 200, `Emails: HTTP ${emails?.status()}`);
    await admin.expectHeading("Emails", "the Emails section");
    await admin.screenshot("emails");
    ok("the Emails section lists the provider, the test mail and the templates");

    const templatePath = "/admin/emails/reset_email";
    const tpl = await admin.clickAndLoad(admin.link("Password reset link"));
    check(tpl?.status() === 200, `the reset template: HTTP ${tpl?.status()}`);
    await admin.expectHeading("Password reset link (reset_email)", "the reset template");
    check(admin.path() === templatePath, `the template link led to ${admin.page.url()}`);
    const oldSubject = await admin.page.inputValue("#subject");
    const oldLifetime = await admin.page.inputValue("#url_lifetime");
    check(oldSubject !== RESET_SUBJECT, `the reset template already has the subject ${show(RESET_SUBJECT)}`);
    await admin.screenshot("template");
    ok(`the reset template: subject ${show(oldSubject)}, URL lifetime ${oldLifetime}, preview ${show(await admin.text("#preview-subject"))}`);

    await admin.page.fill("#subject", RESET_SUBJECT);
    await admin.page.fill("#url_lifetime", String(URL_LIFETIME));
    const previewed = await admin.clickAndLoad(admin.button("Preview"));
    check(previewed?.status() === 200, `Preview: HTTP ${previewed?.status()}`);
    await admin.expectHeading("Password reset link (reset_email)", "after Preview");
    await admin.expectNotice("Preview of the changes below: nothing was saved yet.", "after Preview");
    const sampleSubject = renderSubject(RESET_SUBJECT, "jane.doe@example.com");
    const previewSubject = await admin.text("#preview-subject");
    check(previewSubject === sampleSubject, `the preview's subject is ${show(previewSubject)}, want ${show(sampleSubject)}`);
    check((await admin.page.inputValue("#subject")) === RESET_SUBJECT, "the subject field lost the typed subject after Preview");
    check((await admin.page.inputValue("#url_lifetime")) === String(URL_LIFETIME), "the lifetime field lost the typed value after Preview");
    const unsaved = await api(baseUrl, "GET", "/api/v2/email-templates/reset_email", token);
    check(unsaved.body?.subject !== RESET_SUBJECT, `Preview saved the template: ${show(unsaved.body)}`);
    await admin.screenshot("template-preview");
    ok(`Preview shows the subject ${show(previewSubject)}; nothing saved (Management API: ${unsaved.status} ${show(unsaved.body?.subject)})`);

    const saved = await admin.clickAndLoad(admin.button("Save"));
    check(saved?.status() === 200, `Save: HTTP ${saved?.status()}`);
    check(admin.path() === `${templatePath}?done=saved`, `Save led to ${admin.page.url()}`);
    await admin.expectNotice("Template saved. The preview below shows it as saved.", "after Save");
    check((await admin.text("#preview-subject")) === sampleSubject, `the saved template's preview subject: ${show(await admin.text("#preview-subject"))}`);
    check((await admin.page.inputValue("#url_lifetime")) === String(URL_LIFETIME), `the saved lifetime reads ${await admin.page.inputValue("#url_lifetime")}`);
    await admin.screenshot("template-saved");
    ok("Save: the template is saved with the new subject and lifetime");

    // Attack protection: breached-password detection turned on from its form.
    const protection = await admin.page.goto(`${baseUrl}/admin/attack-protection`);
    check(protection?.status() === 200, `Attack protection: HTTP ${protection?.status()}`);
    await admin.expectHeading("Attack protection", "the attack-protection page");
    await admin.page.check('input[name="enabled"]');
    await admin.page.check('input[name="block"]');
    await admin.page.check('input[name="notify_user"]');
    await admin.page.check('input[name="signup_block"]');
    await admin.page.check('input[name="change_block"]');
    const protected_ = await admin.clickAndLoad(
      admin.page.locator('form[action="/admin/attack-protection/breached-passwords"] button[type="submit"]'),
    );
    check(protected_?.status() === 200, `Save breached-password detection: HTTP ${protected_?.status()}`);
    await admin.expectNotice("Breached-password detection saved.", "after saving attack protection", true);
    await admin.screenshot("attack-protection");
    const detection = await api(baseUrl, "GET", "/api/v2/attack-protection/breached-password-detection", token);
    check(detection.body?.enabled === true, `the Management API reads ${show(detection.body)}`);
    ok("Attack protection: breached-password detection saved from the console, read back by the Management API");

    const stored = await api(baseUrl, "GET", "/api/v2/email-templates/reset_email", token);
    check(stored.status === 200, `GET email-templates/reset_email: ${stored.status} ${show(stored.body)}`);
    check(stored.body.subject === RESET_SUBJECT, `the Management API reads the subject ${show(stored.body.subject)}`);
    check(stored.body.urlLifetimeInSeconds === URL_LIFETIME, `the Management API reads urlLifetimeInSeconds ${show(stored.body.urlLifetimeInSeconds)}, want ${URL_LIFETIME}`);
    ok(`Management API: reset_email subject ${show(stored.body.subject)}, urlLifetimeInSeconds ${stored.body.urlLifetimeInSeconds}`);

    let seen = new Set(mailFiles(outbox).map((f) => f.path));
    const asked = await fetch(`${baseUrl}/dbconnections/change_password`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ client_id: clientId, email: EMAIL, connection }),
    });
    const askedText = await asked.text();
    check(asked.status === 200, `POST /dbconnections/change_password: ${asked.status} ${show(askedText)}`);
    ok(`POST /dbconnections/change_password: ${asked.status} ${show(askedText)}`);

    const resetMail = await waitForMail(outbox, seen, RESET_LINK, MAIL_TIMEOUT_MS);
    const wantSubject = renderSubject(RESET_SUBJECT, EMAIL);
    check(resetMail.text.includes(`To: ${EMAIL}`), `the reset mail ${resetMail.path} is not to ${EMAIL}`);
    check(subjectOf(resetMail.text) === wantSubject, `the reset mail's subject is ${show(subjectOf(resetMail.text))}, want ${show(wantSubject)}`);
    ok(`reset mail ${resetMail.path}: ${show(subjectOf(resetMail.text))}, ${resetMail.link.replace(/ticket=.*/, "ticket=…")}`);

    const visitor = await freshBrowser("user");
    const hosted = await visitor.page.goto(resetMail.link);
    check(hosted?.status() === 200, `GET the reset link: ${hosted?.status()}`);
    await visitor.expectHeading("Change your password", "the reset link from the edited template");
    check((await visitor.page.locator("#newPassword").count()) === 1, "the hosted reset page has no #newPassword");
    await visitor.screenshot("user-reset-link");
    ok(`the mail's link opens the hosted reset page ${new URL(visitor.page.url()).pathname}`);

    // 5. Sign out, then "Don't remember your password?" end to end.
    const out = await admin.clickAndLoad(admin.button("Sign out"));
    check(out?.status() === 200, `Sign out: HTTP ${out?.status()}`);
    await admin.expectHeading("Sign in to the console", "after Sign out");
    check(admin.path() === "/admin/login?done=out", `Sign out led to ${admin.page.url()}`);
    await admin.expectNotice("You are signed out.", "after Sign out");
    check(
      !(await admin.context.cookies()).some((c) => c.name === "lk_admin" && c.value),
      `the browser still holds a console session after Sign out`,
    );
    await admin.screenshot("signed-out");
    const afterOut = await admin.page.goto(`${baseUrl}${userPath}`);
    check(afterOut?.status() === 200 && admin.path().startsWith("/admin/login"), `the user page after Sign out: ${afterOut?.status()} at ${admin.page.url()}`);
    await admin.expectHeading("Sign in to the console", "the user page after Sign out");
    ok("signed out: the user page sends the browser to sign in again");

    await admin.clickAndLoad(admin.link("Don't remember your password?"));
    await admin.expectHeading("Reset your password", `after "Don't remember your password?"`);
    check(admin.path() === "/admin/forgot", `"Don't remember your password?" led to ${admin.page.url()}`);
    await admin.screenshot("admin-forgot");
    ok(`"Don't remember your password?" opens ${admin.path()}`);

    seen = new Set(mailFiles(outbox).map((f) => f.path));
    await admin.page.fill("#email", adminEmail);
    const sent = await admin.clickAndLoad(admin.button("Send the link"));
    check(sent?.status() === 200, `"Send the link": HTTP ${sent?.status()}`);
    await admin.expectHeading("Sign in to the console", 'after "Send the link"');
    check(admin.path() === "/admin/login?done=sent", `"Send the link" led to ${admin.page.url()}`);
    await admin.expectNotice("We've just sent you an email to reset your password.", 'after "Send the link"');
    await admin.screenshot("admin-forgot-sent");
    ok("the forgot form answers: We've just sent you an email to reset your password.");

    const adminMail = await waitForMail(outbox, seen, ADMIN_RESET_LINK, MAIL_TIMEOUT_MS);
    const adminSubject = subjectOf(adminMail.text);
    check(adminMail.text.includes(`To: ${adminEmail}`), `the console reset mail ${adminMail.path} is not to ${adminEmail}`);
    check((adminSubject ?? "").includes("console password"), `the console reset mail's subject: ${show(adminSubject)}`);
    ok(`console reset mail ${adminMail.path}: ${show(adminSubject)}, ${adminMail.link.replace(/ticket=.*/, "ticket=…")}`);

    const resetForm = await admin.page.goto(adminMail.link);
    check(resetForm?.status() === 200, `GET the console reset link: ${resetForm?.status()}`);
    await admin.expectHeading("Choose a new password", "the console reset link");
    check(((await admin.text("p.lead")) ?? "").includes(adminEmail), `the reset page does not name ${adminEmail}: ${show(await admin.text("p.lead"))}`);
    await admin.screenshot("admin-reset");
    ok("the console reset link shows the new-password form");

    await admin.page.fill("#newPassword", ADMIN_WEAK_PASSWORD);
    await admin.page.fill("#confirmNewPassword", ADMIN_WEAK_PASSWORD);
    const tooWeak = await admin.clickAndLoad(admin.button("Change password"));
    check(tooWeak?.status() === 400, `a weak console password: HTTP ${tooWeak?.status()}, want 400`);
    await admin.expectHeading("Choose a new password", "after a weak console password");
    const adminWeakError = await admin.text("#form-error");
    const adminUnmet = await admin.page.locator("#rules > ul > li.bad").allTextContents();
    check(adminWeakError === "The password does not meet the rules below." && adminUnmet.length > 0, `a weak console password: ${show(adminWeakError)}, unmet ${show(adminUnmet)}`);
    await admin.screenshot("admin-reset-weak");
    ok(`a weak console password is refused: ${show(adminWeakError)}; unmet ${show(adminUnmet)}`);

    // Strong, but holding the address's local part: refused as personal information.
    const localPart = adminEmail.split("@")[0];
    if (localPart.length >= 3) {
      const personal = `${localPart[0].toUpperCase()}${localPart.slice(1)}-Journey-Reset-2025`;
      await admin.page.fill("#newPassword", personal);
      await admin.page.fill("#confirmNewPassword", personal);
      const refused = await admin.clickAndLoad(admin.button("Change password"));
      check(refused?.status() === 400, `a console password with ${show(localPart)} in it: HTTP ${refused?.status()}, want 400`);
      await admin.expectHeading("Choose a new password", "after a password with the address in it");
      const personalError = await admin.text("#form-error");
      check(personalError === "The password must not contain your email address.", `a password with the address in it: ${show(personalError)}`);
      const personalMet = await admin.page.locator("#rules > ul > li.ok").count();
      const personalUnmet = await admin.page.locator("#rules > ul > li.bad").count();
      await admin.screenshot("admin-reset-personal");
      ok(`a console password with ${show(localPart)} in it is refused: ${show(personalError)} (rules shown: ${personalMet} met, ${personalUnmet} not met)`);
    }

    await admin.page.fill("#newPassword", ADMIN_NEW_PASSWORD);
    await admin.page.fill("#confirmNewPassword", ADMIN_NEW_PASSWORD);
    const reset = await admin.clickAndLoad(admin.button("Change password"));
    check(reset?.status() === 200, `the new console password: HTTP ${reset?.status()} (${show(await admin.text("#form-error"))})`);
    await admin.expectHeading("Sign in to the console", "after the new console password");
    check(admin.path() === "/admin/login?done=reset", `the new console password led to ${admin.page.url()}`);
    await admin.expectNotice("Your password was changed. Sign in with the new one.", "after the new console password");
    await admin.screenshot("admin-reset-done");
    ok("the console password is changed");

    const spent = await admin.page.goto(adminMail.link);
    check(spent?.status() === 400, `the used console reset link: HTTP ${spent?.status()}, want 400`);
    await admin.expectHeading("This link can no longer be used", "the used console reset link");
    await admin.page.goto(`${baseUrl}/admin/login`);
    ok("the used link can no longer be used");

    const oldRefused = await admin.signIn(adminEmail, adminPassword);
    check(oldRefused?.status() === 400, `the old console password: HTTP ${oldRefused?.status()}, want 400`);
    check((await admin.text("#form-error")) === "Wrong email or password.", `the old console password: ${show(await admin.text("#form-error"))}`);
    const back = await admin.signIn(adminEmail, ADMIN_NEW_PASSWORD);
    check(back?.status() === 200, `the new console password at sign-in: HTTP ${back?.status()}`);
    await admin.expectHeading("Users", "signing in with the new console password");
    check(admin.path() === "/admin/users", `signing in led to ${admin.page.url()}`);
    ok("the old console password is refused; the new one signs in to the Users list");

    // The console has no script; a CSP message on a console page means something was refused,
    // except the mail's own inline styles inside the template preview.
    const unexpectedCsp = cspMessages.filter(
      (m) =>
        new URL(m.url).pathname.startsWith("/admin") &&
        !(new URL(m.url).pathname.startsWith("/admin/emails/") && /inline style/i.test(m.text)),
    );
    const previewStyles = cspMessages.length - unexpectedCsp.length;
    if (previewStyles > 0) console.log(`# ${previewStyles} refused inline style(s) of the mail in the template preview (expected)`);
    check(unexpectedCsp.length === 0, `CSP messages on console pages: ${show(unexpectedCsp)}`);
    check(chrome.pageErrors.length === 0, `JavaScript errors on the pages: ${show(chrome.pageErrors)}`);
    ok(`no JavaScript error; CSP messages: ${cspMessages.length} (${previewStyles} from the preview's inline styles)`);

    // 6. Accessibility (axe-core) of every page that got a screenshot.
    await chrome.checkAccessibility();
    await chrome.closeTabs();
  } finally {
    await chrome.close();
  }
}

await run("browser admin console journey", main);
