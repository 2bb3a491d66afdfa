//! The strength estimate a connection may require (`options.password_strength_estimate`,
//! zxcvbn): refused passwords at sign-up, on the Management API and on the hosted reset page,
//! each with the estimate's warning and suggestions; the page in the visitor's language; bad
//! settings refused in the Management API's shape.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::bulk_import::database_connection_id;
use crate::helpers::*;
use crate::reset::ticket_token;
use reqwest::Method;
use serde_json::{Value, json};

/// Meets every character rule of the `good` level, and is still a keyboard walk.
const GUESSABLE: &str = "Qwerty123!";
const STRONG: &str = "velvet orbit gravel tundra 7";

/// Replaces the database connection's options with its own plus `extra`.
async fn set_options(app: &TestApp, extra: Value) -> (u16, Value) {
    let token = app.mgmt_token().await;
    let id = database_connection_id(app, &token).await;
    let (_, conn) = app
        .api(Method::GET, &format!("/connections/{id}"), None)
        .await;
    let mut options = conn["options"].clone();
    for (k, v) in extra.as_object().unwrap() {
        options[k] = v.clone();
    }
    app.api(
        Method::PATCH,
        &format!("/connections/{id}"),
        Some(json!({"options": options})),
    )
    .await
}

fn strength_rule(rules: &Value) -> Value {
    rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "strengthScoreAtLeast")
        .cloned()
        .unwrap_or_else(|| panic!("no strength rule in {rules}"))
}

#[tokio::test]
async fn a_connection_can_require_a_password_that_is_hard_to_guess() {
    let app = spawn_app().await;

    // Bad settings: 400 in the Management API's shape, nothing changed.
    for bad in [
        json!({"password_strength_estimate": {"enable": true, "min_score": 5}}),
        json!({"password_strength_estimate": {"enable": true, "min_score": "high"}}),
        json!({"password_strength_estimate": {"enable": true, "minimum": 3}}),
    ] {
        let (status, body) = set_options(&app, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["statusCode"], 400);
        assert_eq!(body["error"], "Bad Request");
    }
    // Off: the keyboard walk is accepted.
    app.create_user("before@example.com", GUESSABLE).await;

    let (status, body) = set_options(
        &app,
        json!({"password_strength_estimate": {"enable": true, "min_score": 3}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["options"]["password_strength_estimate"],
        json!({"enable": true, "min_score": 3})
    );

    // Sign-up: Auth0's PasswordStrengthError body, with the estimate's rule and its advice.
    let (client_id, _) = app.app_client();
    let res = app
        .http
        .post(app.url("/dbconnections/signup"))
        .json(&json!({"client_id": client_id, "email": "walk@example.com",
                      "password": GUESSABLE, "connection": "Username-Password-Authentication"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["name"], "PasswordStrengthError", "{body}");
    assert_eq!(body["code"], "invalid_password");
    let rule = strength_rule(&body["description"]["rules"]);
    assert_eq!(rule["verified"], false);
    assert_eq!(rule["format"], json!([3]));
    let advice = rule["items"].as_array().unwrap();
    assert!(!advice.is_empty(), "{rule}");
    assert!(
        advice
            .iter()
            .all(|a| a["code"] == "strengthWarning" || a["code"] == "strengthSuggestion")
    );
    assert!(
        body["policy"]
            .as_str()
            .unwrap()
            .contains("* Hard to guess: strength 3 out of 4 or more"),
        "{body}"
    );

    // The user's own details count: a long but personal password is refused.
    let res = app
        .http
        .post(app.url("/dbconnections/signup"))
        .json(&json!({"client_id": client_id, "email": "mortimerwhistlecraft@example.com",
                      "password": "mortimerwhistlecraft", "connection": "Username-Password-Authentication"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // A few uncommon words pass.
    let user = app.create_user("words@example.com", STRONG).await;
    let id = encode_id(user["user_id"].as_str().unwrap());

    // Management API: the same rule refuses the same password.
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({"password": GUESSABLE})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("PasswordStrengthError"),
        "{body}"
    );

    // The hosted reset page, in French: the rule, the warning and the suggestions.
    let ticket = ticket_token(&app, json!({"user_id": user["user_id"]})).await;
    let res = app
        .http
        .get(app.url(&format!("/lo/reset?ticket={ticket}")))
        .header("accept-language", "fr-FR,fr;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Difficile à deviner : robustesse d&#39;au moins 3 sur 4")
            || html.contains("Difficile à deviner : robustesse d&#x27;au moins 3 sur 4"),
        "{html}"
    );
    let at = html.find(r#"name="_csrf" value=""#).unwrap();
    let csrf = &html[at + 20..];
    let csrf = &csrf[..csrf.find('"').unwrap()];
    let res = app
        .http
        .post(app.url("/lo/reset"))
        .header("cookie", cookie)
        .header("accept-language", "fr-FR,fr;q=0.9")
        .form(&[
            ("_csrf", csrf),
            ("ticket", ticket.as_str()),
            ("newPassword", "qwertyuiop"),
            ("confirmNewPassword", "qwertyuiop"),
        ])
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"class="hint""#), "{html}");
    // zxcvbn's advice for it, in French ("top-100 password", "add a word or two").
    assert!(
        html.contains("Ajoutez un ou deux mots. Les mots peu courants sont préférables."),
        "{html}"
    );
    assert!(!html.contains("Add another word"), "{html}");
}

#[tokio::test]
async fn the_console_turns_the_estimate_on_and_previews_it() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let conn_id = database_connection_id(&app, &token).await;
    let mut b = crate::admin::signed_in_admin(&app).await;
    let path = format!("/admin/database/{conn_id}");
    let (status, page, _) = b.get(&app.url(&path)).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"name="estimate""#), "{page}");
    assert!(!page.contains("Hard to guess"));
    let csrf = crate::login::hidden(&page, "_csrf");
    let form = |score: &'static str| {
        vec![
            ("level", "low"),
            ("min_length", ""),
            ("history_size", "5"),
            ("words", ""),
            ("estimate", "on"),
            ("min_score", score),
            ("_csrf", csrf.as_str()),
        ]
    };
    let (status, refused, _) = b.post(&app.url(&path), &form("9")).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused.contains("min_score must be between 1 and 4"),
        "{refused}"
    );

    let (status, _, location) = b.post(&app.url(&path), &form("4")).await;
    assert_eq!(status, 303);
    let (_, saved, _) = b.get(&app.url(&location.unwrap())).await;
    let preview = &saved[saved.find(r#"id="policy-preview""#).unwrap()..];
    assert!(
        preview.contains("Hard to guess: strength 4 out of 4 or more"),
        "{preview}"
    );
    assert!(saved.contains(r#"<option value="4" selected>"#), "{saved}");
    let (_, conn) = app
        .api(Method::GET, &format!("/connections/{conn_id}"), None)
        .await;
    assert_eq!(
        conn["options"]["password_strength_estimate"],
        json!({"enable": true, "min_score": 4})
    );
    // A strong-enough password for score 4 is still accepted through the API.
    app.create_user("four@example.com", "velvet orbit gravel tundra quartz 7")
        .await;
}
