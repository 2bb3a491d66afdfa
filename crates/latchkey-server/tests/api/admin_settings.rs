//! The console's Database, Settings and Applications sections over real HTTP: what they save is
//! what the Management API then reads and enforces (password policy, tenant settings, the
//! change-password flow, MFA, application URLs, a rotated secret); refused input changes
//! nothing; every route refuses visitors, and every form a missing or wrong CSRF token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, encode_id, spawn_app};
use crate::login::hidden;
use reqwest::Method;
use serde_json::{Value, json};

const CONNECTION: &str = "Username-Password-Authentication";

async fn connection(app: &TestApp) -> Value {
    let (s, list) = app
        .api(
            Method::GET,
            &format!("/connections?name={CONNECTION}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{list}");
    list[0].clone()
}

async fn tenant(app: &TestApp) -> Value {
    let (s, settings) = app.api(Method::GET, "/tenants/settings", None).await;
    assert_eq!(s, 200, "{settings}");
    settings
}

/// A machine-to-machine application allowed to get Management API tokens.
async fn m2m_client(app: &TestApp) -> Value {
    let (s, client) = app
        .api(
            Method::POST,
            "/clients",
            Some(
                json!({"name": "Console Robot", "app_type": "non_interactive",
                        "callbacks": ["https://robot.example.com/old"]}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{client}");
    let (s, grant) = app
        .api(
            Method::POST,
            "/client-grants",
            Some(json!({"client_id": client["client_id"],
                        "audience": format!("{}api/v2/", app.issuer()), "scope": ["read:users"]})),
        )
        .await;
    assert_eq!(s, 201, "{grant}");
    client
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> u16 {
    app.token(
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret,
                     "audience": format!("{}api/v2/", app.issuer())}),
    )
    .await
    .status()
    .as_u16()
}

/// The value of the `id` input in `html`.
fn input_value(html: &str, id: &str) -> String {
    let at = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[at..];
    let v = rest.find(r#"value=""#).unwrap() + 7;
    rest[v..v + rest[v..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn the_sections_refuse_visitors_and_forms_without_their_token() {
    let app = spawn_app().await;
    let conn = connection(&app).await;
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    let client = m2m_client(&app).await;
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let settings_before = tenant(&app).await;
    let gets = [
        "/admin/database".to_owned(),
        format!("/admin/database/{conn_id}"),
        "/admin/settings".to_owned(),
        "/admin/applications".to_owned(),
        format!("/admin/applications/{client_id}"),
    ];
    let posts = [
        format!("/admin/database/{conn_id}"),
        "/admin/settings".to_owned(),
        "/admin/settings/password-flow".to_owned(),
        "/admin/settings/mfa".to_owned(),
        format!("/admin/applications/{client_id}"),
        format!("/admin/applications/{client_id}/rotate-secret"),
    ];
    // Every field a form might take, filled in: a refused form must do nothing with them.
    let fields = |token: &'static str| {
        vec![
            ("_csrf", token),
            ("level", "excellent"),
            ("min_length", "40"),
            ("friendly_name", "Forged"),
            ("session_lifetime", "1"),
            ("idle_session_lifetime", "1"),
            ("flow", "v1"),
            ("otp", "on"),
            ("policy", "all-applications"),
            ("callbacks", "https://evil.example.com/cb"),
            ("confirm", "yes"),
        ]
    };

    for path in &gets {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("/admin/login?next="),
            "{path} → {location}"
        );
    }
    for path in &posts {
        let res = app
            .http
            .post(app.url(path))
            .form(&fields("x"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }

    let mut b = crate::admin::signed_in_admin(&app).await;
    for path in &gets {
        let (status, page, _) = b.get(&app.url(path)).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(page.contains(r#"name="_csrf""#), "{path}");
    }
    for path in &posts {
        for token in ["", "forged-token"] {
            let (status, _, _) = b.post(&app.url(path), &fields(token)).await;
            assert_eq!(status, 403, "{path} with {token:?}");
        }
    }

    // Nothing changed.
    assert_eq!(connection(&app).await, conn);
    assert_eq!(tenant(&app).await, settings_before);
    let (_, after) = app
        .api(Method::GET, &format!("/clients/{client_id}"), None)
        .await;
    assert_eq!(after["callbacks"], json!(["https://robot.example.com/old"]));
    assert_eq!(
        client_credentials(&app, &client_id, client["client_secret"].as_str().unwrap()).await,
        200
    );

    // Unknown ids are a 404 page, not an error.
    for path in [
        "/admin/database/con_doesnotexist0000",
        "/admin/applications/no-such-client",
    ] {
        let (status, _, _) = b.get(&app.url(path)).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn the_password_policy_saved_in_the_console_is_the_one_the_management_api_enforces() {
    let app = spawn_app().await;
    let user = app
        .create_user("policy@example.com", "Initial-Password-1")
        .await;
    let user_path = format!("/users/{}", encode_id(user["user_id"].as_str().unwrap()));
    let before = connection(&app).await;
    let conn_id = before["id"].as_str().unwrap().to_owned();
    let mut b = crate::admin::signed_in_admin(&app).await;

    // One database connection: its form and preview are the section's page.
    let (status, page, _) = b.get(&app.url("/admin/database")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!(r#"action="/admin/database/{conn_id}""#)),
        "{page}"
    );
    assert!(page.contains(r#"id="policy-preview""#));
    assert!(!page.contains("At least 14 characters in length"));
    let csrf = hidden(&page, "_csrf");
    let path = format!("/admin/database/{conn_id}");
    let form = |level: &'static str, min: &'static str, size: &'static str| {
        vec![
            ("level", level),
            ("min_length", min),
            ("history", "on"),
            ("history_size", size),
            ("dictionary", "on"),
            ("words", "Latchkey-Custom-Word-7\n\n  second-word  \n"),
            ("no_personal_info", "on"),
        ]
    };

    // Out-of-range and malformed values: the service's message, a 400, nothing saved.
    for (min, size, message) in [
        ("0", "3", "min_length must be between 1 and 128"),
        ("129", "3", "min_length must be between 1 and 128"),
        ("fourteen", "3", "options is invalid"),
        ("14", "25", "password_history.size must be between 0 and 24"),
    ] {
        let mut fields = form("good", min, size);
        fields.push(("_csrf", &csrf));
        let (status, refused, _) = b.post(&app.url(&path), &fields).await;
        assert_eq!(status, 400, "{min}/{size}: {refused}");
        assert!(refused.contains(message), "{message} in {refused}");
        // What was typed stays in the form.
        assert!(refused.contains(&format!(r#"value="{min}""#)));
    }
    assert_eq!(connection(&app).await, before);

    let mut fields = form("good", "14", "3");
    fields.push(("_csrf", &csrf));
    let (status, _, location) = b.post(&app.url(&path), &fields).await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert_eq!(location, format!("{path}?done=saved"));
    let (status, saved, _) = b.get(&app.url(&location)).await;
    assert_eq!(status, 200);
    assert!(saved.contains("Password policy saved."));
    // The preview shows the saved rules, as end users see them.
    let preview = &saved[saved.find(r#"id="policy-preview""#).unwrap()..];
    assert!(
        preview.contains("At least 14 characters in length"),
        "{preview}"
    );
    assert!(preview.contains("Contain at least 3 of the following 4 types of characters:"));
    assert!(preview.contains("one of the 2 custom words"));
    assert!(preview.contains("last 3 passwords"));
    assert!(saved.contains("Latchkey-Custom-Word-7\nsecond-word</textarea>"));

    // The Management API reads what was saved; the other options are untouched.
    let after = connection(&app).await;
    let options = &after["options"];
    assert_eq!(options["passwordPolicy"], "good");
    assert_eq!(options["password_complexity_options"]["min_length"], 14);
    assert_eq!(
        options["password_history"],
        json!({"enable": true, "size": 3})
    );
    assert_eq!(
        options["password_dictionary"],
        json!({"enable": true, "dictionary": ["Latchkey-Custom-Word-7", "second-word"]})
    );
    assert_eq!(
        options["password_no_personal_info"],
        json!({"enable": true})
    );
    for (key, value) in before["options"].as_object().unwrap() {
        if !key.starts_with("password") {
            assert_eq!(&options[key], value, "{key}");
        }
    }

    // And enforces it: 10 characters, or the custom word (any case), are refused.
    for refused in [
        "Short-Pw-1",
        "Latchkey-Custom-Word-7",
        "latchkey-custom-word-7",
    ] {
        let (s, body) = app
            .api(
                Method::PATCH,
                &user_path,
                Some(json!({"password": refused, "connection": CONNECTION})),
            )
            .await;
        assert_eq!(s, 400, "{refused}: {body}");
    }
    let (s, body) = app
        .api(
            Method::PATCH,
            &user_path,
            Some(json!({"password": "Sturdy-Passphrase-42", "connection": CONNECTION})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        app.login("policy@example.com", "Sturdy-Passphrase-42", "openid")
            .await
            .status(),
        200
    );

    // Turning the checks off again: the preview follows.
    let (status, _, _) = b
        .post(
            &app.url(&path),
            &[
                ("_csrf", &csrf),
                ("level", "low"),
                ("min_length", ""),
                ("history_size", "3"),
                ("words", ""),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = b.get(&app.url(&path)).await;
    let preview = &page[page.find(r#"id="policy-preview""#).unwrap()..];
    assert!(
        preview.contains("At least 6 characters in length"),
        "{preview}"
    );
    assert!(preview.contains("No other check"));
    let options = connection(&app).await["options"].clone();
    assert_eq!(options["passwordPolicy"], "low");
    assert!(options["password_complexity_options"]["min_length"].is_null());
    assert_eq!(options["password_dictionary"]["enable"], false);
}

#[tokio::test]
async fn tenant_settings_saved_in_the_console_reach_the_api_and_the_hosted_pages() {
    let app = spawn_app().await;
    let mut b = crate::admin::signed_in_admin(&app).await;
    let (status, page, _) = b.get(&app.url("/admin/settings")).await;
    assert_eq!(status, 200);
    // The v1 flow's risk is explained in plain words.
    assert!(page.contains("the link only confirms it"), "{page}");
    assert!(page.contains("that password is applied and the sender can sign in as them"));
    let csrf = hidden(&page, "_csrf");
    let general = |name: &'static str,
                   logo: &'static str,
                   colour: &'static str,
                   session: &'static str,
                   idle: &'static str| {
        vec![
            ("friendly_name", name),
            ("picture_url", logo),
            ("primary_color", colour),
            ("support_email", "help@acme.example"),
            ("support_url", "https://acme.example/help"),
            ("session_lifetime", session),
            ("idle_session_lifetime", idle),
        ]
    };

    // Refused: the service's message, a 400, what was typed kept, nothing saved.
    let before = tenant(&app).await;
    for (fields, message) in [
        (
            general("Acme", "not a url", "#0a7e3c", "24", "2"),
            "picture_url must be an absolute http(s) URL",
        ),
        (
            general("Acme", "", "green", "24", "2"),
            "universal_login.colors.primary must be a colour written #rrggbb",
        ),
        (
            general("Acme", "", "#0a7e3c", "0", "2"),
            "session_lifetime must be a number of hours above 0",
        ),
        (
            general("Acme", "", "#0a7e3c", "24", "5000"),
            "idle_session_lifetime must be a number of hours above 0 and at most 2400",
        ),
        (
            general("Acme", "", "#0a7e3c", "a day", "2"),
            "session_lifetime must be a number of hours",
        ),
    ] {
        let mut fields = fields;
        fields.push(("_csrf", &csrf));
        let (status, refused, _) = b.post(&app.url("/admin/settings"), &fields).await;
        assert_eq!(status, 400, "{message}: {refused}");
        assert!(refused.contains(message), "{message} in {refused}");
        assert!(refused.contains(r#"value="Acme""#));
    }
    let mut bad_mail = general("Acme", "", "", "24", "2");
    bad_mail[3] = ("support_email", "not-an-address");
    bad_mail.push(("_csrf", &csrf));
    let (status, refused, _) = b.post(&app.url("/admin/settings"), &bad_mail).await;
    assert_eq!(status, 400);
    assert!(refused.contains("support_email is not a valid email address"));
    assert_eq!(tenant(&app).await, before);

    // Saved: the API reads it, the hosted pages wear it.
    let mut fields = general(
        "Acme <Widgets>",
        "https://cdn.acme.example/logo.png",
        "#0a7e3c",
        "24",
        "2.5",
    );
    fields.push(("_csrf", &csrf));
    let (status, _, location) = b.post(&app.url("/admin/settings"), &fields).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/admin/settings?done=saved"))
    );
    let (_, saved, _) = b.get(&app.url("/admin/settings?done=saved")).await;
    assert!(saved.contains("Settings saved."));
    assert!(saved.contains(r#"value="Acme &lt;Widgets&gt;""#), "{saved}");
    let settings = tenant(&app).await;
    assert_eq!(settings["friendly_name"], "Acme <Widgets>");
    assert_eq!(settings["picture_url"], "https://cdn.acme.example/logo.png");
    assert_eq!(settings["support_email"], "help@acme.example");
    assert_eq!(settings["support_url"], "https://acme.example/help");
    assert_eq!(settings["session_lifetime"], 24.0);
    assert_eq!(settings["idle_session_lifetime"], 2.5);
    assert_eq!(settings["universal_login"]["colors"]["primary"], "#0a7e3c");
    let forgot = app
        .http
        .get(app.url("/lo/forgot"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(forgot.contains("Acme &lt;Widgets&gt;"), "{forgot}");
    assert!(forgot.contains(r#"<img src="https://cdn.acme.example/logo.png""#));
    let css = app
        .http
        .get(app.url("/lo/style.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(css.contains("--primary:#0a7e3c"), "{}", &css[..80]);

    // Emptying an optional field removes the setting; the colour goes back to the default.
    let mut fields = general("Acme", "", "", "24", "2.5");
    fields.push(("_csrf", &csrf));
    let (status, _, _) = b.post(&app.url("/admin/settings"), &fields).await;
    assert_eq!(status, 303);
    let settings = tenant(&app).await;
    assert!(settings.get("picture_url").is_none(), "{settings}");
    assert!(settings["universal_login"]["colors"]["primary"].is_null());

    // The change-password flow: v1 on, then back to v2; anything else changes nothing.
    let flow = "/admin/settings/password-flow";
    let (status, _, location) = b
        .post(&app.url(flow), &[("_csrf", &csrf), ("flow", "v1")])
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/admin/settings?done=flow-v1"))
    );
    assert_eq!(tenant(&app).await["flags"]["change_pwd_flow_v1"], true);
    let (_, page, _) = b.get(&app.url("/admin/settings?done=flow-v1")).await;
    assert!(page.contains("v1 (legacy)</span>"));
    let (status, _, _) = b
        .post(&app.url(flow), &[("_csrf", &csrf), ("flow", "v3")])
        .await;
    assert_eq!(status, 400);
    assert_eq!(tenant(&app).await["flags"]["change_pwd_flow_v1"], true);
    let (status, _, _) = b
        .post(&app.url(flow), &[("_csrf", &csrf), ("flow", "v2")])
        .await;
    assert_eq!(status, 303);
    let flags = tenant(&app).await["flags"].clone();
    assert_eq!(flags["change_pwd_flow_v1"], false);
    assert_eq!(flags["enable_client_connections"], true, "{flags}");

    // MFA: the factor and the policy, as the Guardian endpoints read them.
    let mfa = "/admin/settings/mfa";
    let (status, _, location) = b
        .post(
            &app.url(mfa),
            &[
                ("_csrf", &csrf),
                ("otp", "on"),
                ("policy", "all-applications"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/admin/settings?done=mfa"))
    );
    let (_, policies) = app.api(Method::GET, "/guardian/policies", None).await;
    assert_eq!(policies, json!(["all-applications"]));
    let (_, factors) = app.api(Method::GET, "/guardian/factors", None).await;
    let otp = factors
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "otp")
        .unwrap();
    assert_eq!(otp["enabled"], true);
    let (_, page, _) = b.get(&app.url("/admin/settings?done=mfa")).await;
    assert!(page.contains("Required</span>"));
    let (status, _, _) = b
        .post(&app.url(mfa), &[("_csrf", &csrf), ("policy", "sometimes")])
        .await;
    assert_eq!(status, 400);
    let (_, policies) = app.api(Method::GET, "/guardian/policies", None).await;
    assert_eq!(policies, json!(["all-applications"]));
    let (status, _, _) = b
        .post(&app.url(mfa), &[("_csrf", &csrf), ("policy", "never")])
        .await;
    assert_eq!(status, 303);
    let (_, policies) = app.api(Method::GET, "/guardian/policies", None).await;
    assert_eq!(policies, json!([]));
    let (_, factors) = app.api(Method::GET, "/guardian/factors", None).await;
    assert!(
        factors
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["enabled"] == false)
    );
}

#[tokio::test]
async fn applications_urls_and_a_rotated_secret_from_the_console() {
    let app = spawn_app().await;
    let client = m2m_client(&app).await;
    let id = client["client_id"].as_str().unwrap().to_owned();
    let old_secret = client["client_secret"].as_str().unwrap().to_owned();
    let mut b = crate::admin::signed_in_admin(&app).await;

    // The list and the page show no secret.
    let (status, list, _) = b.get(&app.url("/admin/applications")).await;
    assert_eq!(status, 200);
    assert!(list.contains("Console Robot") && list.contains(&format!("/admin/applications/{id}")));
    let (status, page, _) = b.get(&app.url(&format!("/admin/applications/{id}"))).await;
    assert_eq!(status, 200);
    for secret in [old_secret.clone(), app.mgmt_client().1, app.app_client().1] {
        assert!(!list.contains(&secret) && !page.contains(&secret));
    }
    let csrf = hidden(&page, "_csrf");
    let path = format!("/admin/applications/{id}");

    // An invalid URL: the service's message, a 400, what was typed kept, nothing saved.
    let (status, refused, _) = b
        .post(
            &app.url(&path),
            &[
                ("_csrf", &csrf),
                ("callbacks", "https://robot.example.com/cb\nnot a url"),
                ("allowed_logout_urls", ""),
                ("web_origins", ""),
                ("allowed_origins", ""),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        refused.contains("callbacks contains an invalid URL: not a url"),
        "{refused}"
    );
    assert!(refused.contains("https://robot.example.com/cb\nnot a url</textarea>"));
    let (_, unchanged) = app.api(Method::GET, &format!("/clients/{id}"), None).await;
    assert_eq!(
        unchanged["callbacks"],
        json!(["https://robot.example.com/old"])
    );

    // Saved: one URL a line, blank lines dropped.
    let (status, _, location) = b
        .post(
            &app.url(&path),
            &[
                ("_csrf", &csrf),
                (
                    "callbacks",
                    "https://robot.example.com/cb\r\n\r\n  https://robot.example.com/other  \r\n",
                ),
                ("allowed_logout_urls", "https://robot.example.com/bye"),
                ("web_origins", "https://robot.example.com"),
                ("allowed_origins", ""),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(location.unwrap(), format!("{path}?done=saved"));
    let (_, saved) = app.api(Method::GET, &format!("/clients/{id}"), None).await;
    assert_eq!(
        saved["callbacks"],
        json!([
            "https://robot.example.com/cb",
            "https://robot.example.com/other"
        ])
    );
    assert_eq!(
        saved["allowed_logout_urls"],
        json!(["https://robot.example.com/bye"])
    );
    assert_eq!(saved["web_origins"], json!(["https://robot.example.com"]));
    assert_eq!(saved["allowed_origins"], json!([]));

    // Rotation needs the box ticked.
    let rotate = format!("{path}/rotate-secret");
    let (status, _, _) = b.post(&app.url(&rotate), &[("_csrf", &csrf)]).await;
    assert_eq!(status, 400);
    assert_eq!(client_credentials(&app, &id, &old_secret).await, 200);

    // Rotated: the new secret is on this page only; the old one is refused at once.
    let (status, rotated, _) = b
        .post(&app.url(&rotate), &[("_csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = input_value(&rotated, "client-secret");
    assert_eq!(new_secret.len(), 64);
    assert_ne!(new_secret, old_secret);
    assert_eq!(client_credentials(&app, &id, &old_secret).await, 401);
    assert_eq!(client_credentials(&app, &id, &new_secret).await, 200);
    let (_, again, _) = b.get(&app.url(&path)).await;
    assert!(!again.contains(&new_secret));
    let (_, list, _) = b.get(&app.url("/admin/applications")).await;
    assert!(!list.contains(&new_secret));
}

#[tokio::test]
async fn several_database_connections_are_listed_then_edited_one_by_one() {
    let app = spawn_app().await;
    let (s, second) = app
        .api(
            Method::POST,
            "/connections",
            Some(json!({"name": "Partners", "strategy": "auth0",
                        "options": {"passwordPolicy": "fair"}})),
        )
        .await;
    assert_eq!(s, 201, "{second}");
    let second_id = second["id"].as_str().unwrap().to_owned();
    let first_id = connection(&app).await["id"].as_str().unwrap().to_owned();
    let mut b = crate::admin::signed_in_admin(&app).await;
    let (status, list, _) = b.get(&app.url("/admin/database")).await;
    assert_eq!(status, 200);
    for id in [&first_id, &second_id] {
        assert!(
            list.contains(&format!(r#"href="/admin/database/{id}""#)),
            "{list}"
        );
    }
    assert!(list.contains("Partners") && !list.contains(r#"id="policy-preview""#));

    let path = format!("/admin/database/{second_id}");
    let (status, page, _) = b.get(&app.url(&path)).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"<option value="fair" selected>"#), "{page}");
    let (status, _, _) = b
        .post(
            &app.url(&path),
            &[
                ("_csrf", &hidden(&page, "_csrf")),
                ("level", "excellent"),
                ("min_length", "16"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, partners) = app
        .api(Method::GET, &format!("/connections/{second_id}"), None)
        .await;
    assert_eq!(partners["options"]["passwordPolicy"], "excellent");
    assert_eq!(
        partners["options"]["password_complexity_options"]["min_length"],
        16
    );
    // The other connection is untouched.
    let first = connection(&app).await;
    assert_eq!(first["options"]["passwordPolicy"], "good");
    assert!(first["options"]["password_complexity_options"].is_null());
}
