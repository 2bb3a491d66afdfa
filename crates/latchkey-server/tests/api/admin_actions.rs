//! The console's Actions section over real HTTP: an action created in the console, its code
//! saved, a secret added, deployed, bound and reordered on a trigger, tested (the secret
//! redacted from its logs) and deleted, with the Management API reading each change; refused
//! input shown beside its field with a 400; every route refuses visitors and forms without
//! their CSRF token; a secret's value never appears in any page.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, spawn_app};
use crate::login::{Browser, hidden};
use reqwest::Method;
use serde_json::{Value, json};

const SECRET: &str = "console-secret-value-7Qz9";
const TRIGGER: &str = "post-change-password";
const CODE: &str = "exports.onExecutePostChangePassword = async (event, api) => {\n  console.log(\"hi\", event.secrets.K);\n};\n";

/// A signed-in console browser that keeps every page it was shown.
struct Console<'a> {
    app: &'a TestApp,
    b: Browser,
    csrf: String,
    seen: Vec<String>,
}

impl<'a> Console<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let mut b = crate::admin::signed_in_admin(app).await;
        let (status, page, _) = b.get(&app.url("/admin/actions")).await;
        assert_eq!(status, 200, "{page}");
        let csrf = hidden(&page, "_csrf");
        Self {
            app,
            b,
            csrf,
            seen: vec![page],
        }
    }

    async fn get(&mut self, path: &str) -> (u16, String) {
        let (status, page, _) = self.b.get(&self.app.url(path)).await;
        self.seen.push(page.clone());
        (status, page)
    }

    /// Posts a form with the session's CSRF token: (status, page, Location).
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> (u16, String, Option<String>) {
        let mut form = vec![("_csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let (status, page, location) = self.b.post(&self.app.url(path), &form).await;
        self.seen.push(page.clone());
        (status, page, location)
    }

    /// Posts, expects a redirect to `expect`, follows it and returns the page.
    async fn post_ok(&mut self, path: &str, fields: &[(&str, &str)], expect: &str) -> String {
        let (status, page, location) = self.post(path, fields).await;
        assert_eq!(status, 303, "{path}: {page}");
        let location = location.unwrap();
        assert_eq!(location, expect, "{path}");
        let (status, page) = self.get(&location).await;
        assert_eq!(status, 200, "{page}");
        page
    }

    /// Posts `op` for `action` to TRIGGER's bindings; expects the overview saying `done`.
    async fn binding(&mut self, op: &str, action: &str, done: &str) -> String {
        self.post_ok(
            &format!("/admin/actions/bindings/{TRIGGER}"),
            &[("op", op), ("action", action)],
            &format!("/admin/actions?done={done}"),
        )
        .await
    }

    /// Creates an action on `trigger` through the form; returns its id.
    async fn create(&mut self, name: &str, trigger: &str) -> String {
        let (status, page, location) = self
            .post("/admin/actions", &[("name", name), ("trigger", trigger)])
            .await;
        assert_eq!(status, 303, "{page}");
        id_from(&location.unwrap())
    }
}

async fn action(app: &TestApp, id: &str) -> (u16, Value) {
    app.api(Method::GET, &format!("/actions/actions/{id}"), None)
        .await
}

/// The names of a trigger's bound actions, in order, as the Management API lists them.
async fn bound(app: &TestApp, trigger: &str) -> Vec<String> {
    let (status, list) = app
        .api(
            Method::GET,
            &format!("/actions/triggers/{trigger}/bindings"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    list["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["action"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The overview's panel for `trigger`.
fn trigger_panel<'p>(page: &'p str, trigger: &str) -> &'p str {
    let at = page
        .find(&format!(r#"id="t-{trigger}""#))
        .unwrap_or_else(|| panic!("no {trigger} panel in {page}"));
    let rest = &page[at..];
    &rest[..rest.find("</section>").unwrap()]
}

/// Where `needle` first appears in `haystack` (it must).
fn at(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in {haystack}"))
}

fn id_from(location: &str) -> String {
    let rest = location.strip_prefix("/admin/actions/").unwrap();
    rest[..rest.find('?').unwrap()].to_owned()
}

#[tokio::test]
async fn the_actions_pages_refuse_visitors_and_forms_without_their_token() {
    let app = spawn_app().await;
    let (status, created) = app
        .api(
            Method::POST,
            "/actions/actions",
            Some(
                json!({"name": "Guarded", "supported_triggers": [{"id": TRIGGER, "version": "v2"}],
                        "code": "exports.onExecutePostChangePassword = async () => {};",
                        "secrets": [{"name": "K", "value": SECRET}]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, before) = action(&app, &id).await;
    let path = format!("/admin/actions/{id}");
    let gets = ["/admin/actions".to_owned(), path.clone()];
    let posts = [
        "/admin/actions".to_owned(),
        format!("/admin/actions/bindings/{TRIGGER}"),
        path.clone(),
        format!("{path}/secrets"),
        format!("{path}/secrets/remove"),
        format!("{path}/test"),
        format!("{path}/delete"),
    ];
    let fields = |token: &'static str| {
        vec![
            ("_csrf", token),
            ("name", "K"),
            ("trigger", TRIGGER),
            ("action", id.as_str()),
            ("op", "add"),
            (
                "code",
                "exports.onExecutePostChangePassword = async () => { throw 1 };",
            ),
            ("intent", "deploy"),
            ("secret_name", "K"),
            ("secret_value", "forged"),
            ("event", "{}"),
            ("confirm", "Guarded"),
        ]
    };

    for p in &gets {
        let res = app.http.get(app.url(p)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{p}");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("/admin/login?next="),
            "{p} → {location}"
        );
    }
    for p in &posts {
        let res = app
            .http
            .post(app.url(p))
            .form(&fields("x"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{p}");
    }

    let mut c = Console::new(&app).await;
    for p in &gets {
        let (status, page) = c.get(p).await;
        assert_eq!(status, 200, "{p}: {page}");
        assert!(page.contains(r#"name="_csrf""#), "{p}");
    }
    for p in &posts {
        for token in ["", "forged-token"] {
            let (status, _, _) = c.b.post(&app.url(p), &fields(token)).await;
            assert_eq!(status, 403, "{p} with {token:?}");
        }
    }
    // Nothing changed: not the draft, not the bindings, no new action.
    assert_eq!(action(&app, &id).await, (200, before));
    assert!(bound(&app, TRIGGER).await.is_empty());
    let (_, list) = app.api(Method::GET, "/actions/actions", None).await;
    assert_eq!(list["total"], 1, "{list}");

    // Unknown ids and triggers are a 404 page.
    let (status, _) = c.get("/admin/actions/no-such-action").await;
    assert_eq!(status, 404);
    let (status, _, _) = c
        .post(
            "/admin/actions/bindings/pre-user-registration",
            &[("op", "add"), ("action", &id)],
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = c
        .post("/admin/actions/no-such-action/delete", &[("confirm", "x")])
        .await;
    assert_eq!(status, 404);

    for page in &c.seen {
        assert!(!page.contains(SECRET), "{page}");
    }
}

#[tokio::test]
async fn new_actions_start_from_their_triggers_handler_and_sample_event() {
    let app = spawn_app().await;
    let mut c = Console::new(&app).await;
    for (trigger, handler, event_key) in [
        (
            "post-login",
            "exports.onExecutePostLogin",
            "&quot;transaction&quot;",
        ),
        (
            "post-change-password",
            "exports.onExecutePostChangePassword",
            "&quot;last_password_reset&quot;",
        ),
        (
            "password-reset-post-challenge",
            "exports.onExecutePostChallenge",
            "&quot;authentication&quot;",
        ),
    ] {
        let name = format!("Starts {trigger}");
        let (status, page, location) = c
            .post("/admin/actions", &[("name", &name), ("trigger", trigger)])
            .await;
        assert_eq!(status, 303, "{page}");
        let location = location.unwrap();
        assert!(location.ends_with("?done=created"), "{location}");
        let id = id_from(&location);
        let (status, page) = c.get(&location).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Action created."));
        let code = &page[at(&page, r#"<textarea id="code""#)..];
        let code = &code[..at(code, "</textarea>")];
        assert!(code.contains(r#"spellcheck="false""#), "{code}");
        assert!(
            code.contains(&format!("{handler} = async (event, api) =&gt; {{")),
            "{code}"
        );
        // Post-login also carries the (commented) handler for coming back through `/continue`.
        assert_eq!(
            code.contains("exports.onContinuePostLogin"),
            trigger == "post-login",
            "{code}"
        );
        let event = &page[at(&page, r#"<textarea id="event""#)..];
        let event = &event[..at(event, "</textarea>")];
        assert!(event.contains("&quot;user&quot;"), "{event}");
        assert!(event.contains(event_key), "{event}");
        assert!(page.contains("not deployed"));
        assert!(page.contains("Not deployed yet."));
        // The Management API reads the same action.
        let (status, a) = action(&app, &id).await;
        assert_eq!(status, 200);
        assert_eq!(a["name"], name.as_str());
        assert_eq!(a["supported_triggers"][0]["id"], trigger);
        assert!(a["code"].as_str().unwrap().contains(handler), "{a}");
        assert!(a.get("deployed_version").is_none(), "{a}");
    }
    let (_, page) = c.get("/admin/actions").await;
    for trigger in [
        "post-login",
        "post-change-password",
        "password-reset-post-challenge",
    ] {
        assert!(page.contains(&format!("Starts {trigger}")), "{page}");
        // Nothing is deployed, so nothing can be bound yet.
        let panel = trigger_panel(&page, trigger);
        assert!(panel.contains("No action runs on this trigger."), "{panel}");
        assert!(!panel.contains("<select"), "{panel}");
    }
    assert!(page.contains(r#"<a href="/admin/actions" aria-current="page">Actions</a>"#));
}

#[tokio::test]
async fn an_action_made_in_the_console_is_saved_deployed_bound_tested_and_deleted() {
    let app = spawn_app().await;
    let mut c = Console::new(&app).await;
    let (_, page) = c.get("/admin/actions").await;
    for trigger in [
        "post-login",
        "post-change-password",
        "password-reset-post-challenge",
    ] {
        assert!(page.contains(&format!(r#"id="t-{trigger}""#)), "{page}");
    }
    assert!(page.contains("No action yet."));
    assert!(page.contains(r#"<label for="new-name">Name</label>"#));

    // Refused: the message beside the field, a 400, what was typed kept, nothing created.
    let (status, page, _) = c
        .post("/admin/actions", &[("name", "  "), ("trigger", TRIGGER)])
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(r#"id="new-name-error""#), "{page}");
    assert!(
        page.contains(r#"aria-invalid="true" aria-describedby="new-name-error""#),
        "{page}"
    );
    let (status, page, _) = c
        .post(
            "/admin/actions",
            &[("name", "Kept name"), ("trigger", "pre-user-registration")],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(r#"id="new-trigger-error""#), "{page}");
    assert!(page.contains(r#"value="Kept name""#), "{page}");
    let (_, list) = app.api(Method::GET, "/actions/actions", None).await;
    assert_eq!(list["total"], 0, "{list}");

    // Create, then save the code (a browser sends the textarea with CRLF).
    let id_a = c.create("Audit changes", TRIGGER).await;
    let path_a = format!("/admin/actions/{id_a}");
    let (status, page, _) = c
        .post(
            "/admin/actions",
            &[("name", "Audit changes"), ("trigger", TRIGGER)],
        )
        .await;
    assert_eq!(status, 400, "a second action with the same name: {page}");
    assert!(page.contains(r#"id="new-name-error""#), "{page}");
    assert!(page.contains("already exists"), "{page}");

    let crlf = CODE.replace('\n', "\r\n");
    let page = c
        .post_ok(
            &path_a,
            &[("code", &crlf), ("intent", "save")],
            &format!("{path_a}?done=saved"),
        )
        .await;
    assert!(page.contains("Draft saved."));
    let (_, a) = action(&app, &id_a).await;
    assert_eq!(a["code"], CODE);
    assert!(a.get("deployed_version").is_none(), "{a}");

    // A secret: the value is required, never shown back; the name is listed.
    let (status, page, _) = c
        .post(
            &format!("{path_a}/secrets"),
            &[("secret_name", "K"), ("secret_value", "")],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(r#"id="secret-value-error""#), "{page}");
    assert!(page.contains(r#"id="secret-name" name="secret_name" type="text" value="K""#));
    let (status, page, _) = c
        .post(
            &format!("{path_a}/secrets"),
            &[("secret_name", "not valid!"), ("secret_value", SECRET)],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(r#"id="secret-name-error""#), "{page}");
    let page = c
        .post_ok(
            &format!("{path_a}/secrets"),
            &[("secret_name", "K"), ("secret_value", SECRET)],
            &format!("{path_a}?done=secret-saved"),
        )
        .await;
    assert!(page.contains("<td><code>K</code></td>"), "{page}");
    assert!(page.contains(r#"type="password""#));
    let page = c
        .post_ok(
            &format!("{path_a}/secrets"),
            &[
                ("secret_name", "OTHER"),
                ("secret_value", "other-value-1234"),
            ],
            &format!("{path_a}?done=secret-saved"),
        )
        .await;
    assert!(page.contains("<td><code>OTHER</code></td>"), "{page}");
    c.post_ok(
        &format!("{path_a}/secrets/remove"),
        &[("name", "OTHER")],
        &format!("{path_a}?done=secret-removed"),
    )
    .await;
    let (_, a) = action(&app, &id_a).await;
    let names: Vec<&str> = a["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["K"]);
    assert_eq!(a["code"], CODE, "saving a secret keeps the code");

    // Test: a bad event is refused beside its field; a good one runs the draft.
    let (status, page, _) = c
        .post(&format!("{path_a}/test"), &[("event", "{not json")])
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(r#"id="event-error""#), "{page}");
    assert!(page.contains(r#"aria-invalid="true" aria-describedby="event-error event-hint""#));
    assert!(
        page.contains("{not json</textarea>"),
        "what was typed stays: {page}"
    );
    let (status, page, _) = c
        .post(&format!("{path_a}/test"), &[("event", "[1, 2]")])
        .await;
    assert_eq!(status, 400, "{page}");
    let (status, page, _) = c
        .post(
            &format!("{path_a}/test"),
            &[("event", r#"{"user": {"email": "someone@example.com"}}"#)],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let result = &page[at(&page, r#"id="test-result""#)..];
    assert!(result.contains("completed"), "{result}");
    let logs = &result[at(result, r#"id="test-logs""#)..];
    let logs = &logs[..at(logs, "</pre>")];
    assert!(logs.contains("hi"), "{logs}");
    assert!(logs.contains("hi [redacted]"), "{logs}");
    assert!(result.contains("The action asked for nothing."), "{result}");

    // Deploy: the draft becomes version 1.
    let page = c
        .post_ok(
            &path_a,
            &[("code", CODE), ("intent", "deploy")],
            &format!("{path_a}?done=deployed"),
        )
        .await;
    assert!(page.contains("Deployed."), "{page}");
    assert!(page.contains("Version 1"), "{page}");
    assert!(
        page.contains(r#"<span class="badge ok">Deployed</span>"#),
        "{page}"
    );
    let (_, a) = action(&app, &id_a).await;
    assert_eq!(a["deployed_version"]["number"], 1, "{a}");
    assert_eq!(a["all_changes_deployed"], true);

    // A second action, not deployed yet: binding it is refused with the service's message.
    let id_b = c.create("Second step", TRIGGER).await;
    let path_b = format!("/admin/actions/{id_b}");
    let bindings = format!("/admin/actions/bindings/{TRIGGER}");
    let (status, page, _) = c.post(&bindings, &[("op", "add"), ("action", &id_b)]).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("must be deployed before it is bound"),
        "{page}"
    );
    assert!(
        page.contains(r#"id="bind-post-change-password-error""#),
        "{page}"
    );
    let (status, page, _) = c.post(&bindings, &[("op", "add"), ("action", "")]).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Choose the action to add."), "{page}");
    assert!(bound(&app, TRIGGER).await.is_empty());

    // Bind A, deploy B, bind B after it.
    let page = c.binding("add", &id_a, "bound").await;
    assert!(page.contains("Action bound"), "{page}");
    let panel = trigger_panel(&page, TRIGGER);
    assert!(panel.contains("Audit changes"), "{panel}");
    assert!(
        !panel.contains(&format!(r#"<option value="{id_b}""#)),
        "B is not deployed: {panel}"
    );
    assert_eq!(bound(&app, TRIGGER).await, ["Audit changes"]);
    c.post_ok(
        &path_b,
        &[
            (
                "code",
                "exports.onExecutePostChangePassword = async (event, api) => {};\n",
            ),
            ("intent", "deploy"),
        ],
        &format!("{path_b}?done=deployed"),
    )
    .await;
    let (_, page) = c.get("/admin/actions").await;
    let panel = trigger_panel(&page, TRIGGER);
    assert!(
        panel.contains(&format!(r#"<option value="{id_b}">Second step</option>"#)),
        "{panel}"
    );
    assert!(
        !panel.contains(&format!(r#"<option value="{id_a}""#)),
        "A is bound already: {panel}"
    );
    // Only post-change-password offers it.
    assert!(!trigger_panel(&page, "post-login").contains(&id_b));
    c.binding("add", &id_b, "bound").await;
    assert_eq!(bound(&app, TRIGGER).await, ["Audit changes", "Second step"]);

    // Reorder: B up, then down again; remove B and bind it again.
    let page = c.binding("up", &id_b, "moved").await;
    assert_eq!(bound(&app, TRIGGER).await, ["Second step", "Audit changes"]);
    let panel = trigger_panel(&page, TRIGGER);
    assert!(
        at(panel, "Second step") < at(panel, "Audit changes"),
        "{panel}"
    );
    assert!(
        panel.contains(r#"aria-label="Move Second step up" disabled"#),
        "{panel}"
    );
    assert!(
        panel.contains(r#"aria-label="Move Audit changes down" disabled"#),
        "{panel}"
    );
    c.binding("down", &id_b, "moved").await;
    assert_eq!(bound(&app, TRIGGER).await, ["Audit changes", "Second step"]);
    c.binding("remove", &id_b, "unbound").await;
    assert_eq!(bound(&app, TRIGGER).await, ["Audit changes"]);
    let (status, page, _) = c.post(&bindings, &[("op", "up"), ("action", &id_b)]).await;
    assert_eq!(status, 400, "moving an unbound action: {page}");
    c.binding("add", &id_b, "bound").await;
    assert_eq!(bound(&app, TRIGGER).await, ["Audit changes", "Second step"]);

    // A draft saved after the deploy: "changes not deployed" in the list.
    c.post_ok(
        &path_a,
        &[("code", &format!("{CODE}// later\n")), ("intent", "save")],
        &format!("{path_a}?done=saved"),
    )
    .await;
    let (_, page) = c.get("/admin/actions").await;
    let table = &page[at(&page, r#"id="al""#)..];
    let row_a = &table[at(table, "Audit changes")..];
    let row_a = &row_a[..at(row_a, "</tr>")];
    assert!(row_a.contains("Version 1"), "{row_a}");
    assert!(row_a.contains("changes not deployed"), "{row_a}");
    let row_b = &table[at(table, "Second step")..];
    let row_b = &row_b[..at(row_b, "</tr>")];
    assert!(!row_b.contains("changes not deployed"), "{row_b}");
    // The trigger still runs version 1, the draft has the new code.
    let (_, a) = action(&app, &id_a).await;
    assert_eq!(a["all_changes_deployed"], false);
    assert_eq!(a["deployed_version"]["number"], 1);

    // Delete: the typed name must match; a bound action goes with its binding.
    let (status, page, _) = c
        .post(&format!("{path_a}/delete"), &[("confirm", "audit")])
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(r#"id="confirm-error""#), "{page}");
    assert!(page.contains(r#"aria-invalid="true" aria-describedby="confirm-error confirm-hint""#));
    assert_eq!(action(&app, &id_a).await.0, 200);
    let (_, page) = c.get(&path_a).await;
    assert!(page.contains("This action is bound to"), "{page}");
    let page = c
        .post_ok(
            &format!("{path_a}/delete"),
            &[("confirm", "Audit changes")],
            "/admin/actions?done=deleted",
        )
        .await;
    assert!(page.contains("Action deleted."), "{page}");
    assert!(!page.contains("Audit changes"), "{page}");
    assert_eq!(action(&app, &id_a).await.0, 404);
    assert_eq!(bound(&app, TRIGGER).await, ["Second step"]);
    let (status, _) = c.get(&path_a).await;
    assert_eq!(status, 404);

    // Not one page showed the secret's value.
    assert!(c.seen.len() > 20);
    for page in &c.seen {
        assert!(!page.contains(SECRET), "the secret leaked into {page}");
    }
}

/// Markup, quotes and template syntax in every value the Actions and Applications pages show
/// (names, code, log output, a secret's name, client fields, URLs, refusal messages) come out
/// as text: escaped, never as live HTML, never evaluated.
#[tokio::test]
async fn hostile_values_on_the_actions_and_applications_pages_come_out_escaped() {
    const RAW: &str = "<script>alert(1)</script>";
    const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let hostile = format!(r#"{RAW} "quoted" {{{{7*7}}}}"#);
    let check = |what: &str, page: &str| {
        assert!(!page.contains(RAW), "{what}: raw markup in {page}");
        assert!(
            page.contains(ESCAPED),
            "{what}: no escaped markup in {page}"
        );
    };

    let app = spawn_app().await;
    let mut c = Console::new(&app).await;

    // An action named with the hostile text, its code logging it, deployed and bound.
    let id = c.create(&hostile, "post-login").await;
    let path = format!("/admin/actions/{id}");
    let code = format!(
        "exports.onExecutePostLogin = async (event, api) => {{\n  console.log({});\n}};\n",
        serde_json::to_string(&hostile).unwrap()
    );
    c.post_ok(
        &path,
        &[("code", &code), ("intent", "deploy")],
        &format!("{path}?done=deployed"),
    )
    .await;
    let page = c
        .post_ok(
            "/admin/actions/bindings/post-login",
            &[("op", "add"), ("action", &id)],
            "/admin/actions?done=bound",
        )
        .await;
    check("overview", &page);
    assert!(page.contains("&quot;quoted&quot;"), "{page}");
    assert!(page.contains("{{7*7}}"), "{page}");
    let panel = trigger_panel(&page, "post-login");
    assert!(
        panel.contains(&format!(
            r#"aria-label="Move {ESCAPED} &quot;quoted&quot; {{{{7*7}}}} up""#
        )),
        "{panel}"
    );

    let (status, page) = c.get(&path).await;
    assert_eq!(status, 200, "{page}");
    check("action page", &page);
    assert!(page.contains("&quot;quoted&quot;") && page.contains("{{7*7}}"));
    assert!(
        page.contains(&format!("<title>{ESCAPED} &quot;quoted&quot;")),
        "{page}"
    );

    // Refusals that show the typed values or quote them back.
    let (status, page, _) = c
        .post(
            "/admin/actions",
            &[("name", &hostile), ("trigger", "post-login")],
        )
        .await;
    assert_eq!(status, 400, "a taken name: {page}");
    check("new action refused", &page);
    let (status, page, _) = c
        .post(
            &format!("{path}/secrets"),
            &[("secret_name", &hostile), ("secret_value", "v")],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    check("secret refused", &page);
    let (status, page, _) = c.post(&format!("{path}/delete"), &[("confirm", RAW)]).await;
    assert_eq!(status, 400, "{page}");
    check("delete refused", &page);
    let (status, page, _) = c
        .post(&format!("{path}/test"), &[("event", &format!("{RAW} {{"))])
        .await;
    assert_eq!(status, 400, "{page}");
    check("bad event", &page);

    // A test run: the code's log output is text.
    let event = json!({"user": {"name": hostile}}).to_string();
    let (status, page, _) = c.post(&format!("{path}/test"), &[("event", &event)]).await;
    assert_eq!(status, 200, "{page}");
    check("test run", &page);
    let logs = &page[at(&page, r#"id="test-logs""#)..];
    let logs = &logs[..at(logs, "</pre>")];
    assert!(logs.contains(ESCAPED), "{logs}");

    // An application with the hostile text in its description and a callback URL (a client's
    // name may not hold `<` or `>`: it gets the quotes, the ampersand and the braces).
    let (status, client) = app
        .api(
            Method::POST,
            "/clients",
            Some(
                json!({"name": r#"Tom & "quoted" {{7*7}}"#, "description": hostile,
                        "app_type": "regular_web",
                        "callbacks": [format!("https://app.example.com/cb?q={RAW}")]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{client}");
    let client_id = client["client_id"].as_str().unwrap();
    let app_path = format!("/admin/applications/{client_id}");
    let (status, page) = c.get("/admin/applications").await;
    assert_eq!(status, 200);
    check("applications", &page);
    assert!(
        page.contains("Tom &amp; &quot;quoted&quot; {{7*7}}</a>"),
        "{page}"
    );
    let (status, page) = c.get(&app_path).await;
    assert_eq!(status, 200);
    check("application page", &page);
    assert!(
        page.contains("<title>Tom &amp; &quot;quoted&quot; {{7*7}}"),
        "{page}"
    );
    assert!(page.contains(&format!(
        "https://app.example.com/cb?q={ESCAPED}</textarea>"
    )));
    let (status, page, _) = c
        .post(
            &app_path,
            &[
                ("callbacks", RAW),
                ("allowed_logout_urls", ""),
                ("web_origins", ""),
                ("allowed_origins", ""),
            ],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    check("application refused", &page);
    assert!(
        page.contains(&format!("contains an invalid URL: {ESCAPED}")),
        "{page}"
    );
    let (status, page, _) = c
        .post(&format!("{app_path}/rotate-secret"), &[("confirm", "yes")])
        .await;
    assert_eq!(status, 200, "{page}");
    check("rotated secret", &page);
}
