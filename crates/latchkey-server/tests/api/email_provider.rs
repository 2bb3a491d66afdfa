#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

async fn stored_password(app: &TestApp) -> Option<String> {
    let url = app.store_url();
    let store = latchkey_store_sql::connect(&url).await.unwrap();
    let pass: Option<String> =
        sqlx::query_scalar("SELECT smtp_pass FROM email_provider WHERE id = 1")
            .fetch_one(latchkey_store_sql::writer_pool(&store))
            .await
            .unwrap();
    store.close().await;
    pass
}

#[tokio::test]
async fn the_smtp_provider_is_configured_and_its_password_is_never_shown() {
    let app = spawn_app().await;
    let (s, nf) = app.api(Method::GET, "/emails/provider", None).await;
    assert_eq!(
        (s, nf["message"].as_str()),
        (404, Some("Email provider has not been configured."))
    );

    let create = json!({"name": "smtp", "enabled": true, "default_from_address": "no-reply@shop.example",
        "credentials": {"smtp_host": "smtp.shop.example", "smtp_port": 587, "smtp_user": "mailer", "smtp_pass": "Smtp-S3cret"}});
    let (s, created) = app
        .api(Method::POST, "/emails/provider", Some(create.clone()))
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(
        created["credentials"],
        json!({"smtp_host": "smtp.shop.example", "smtp_port": 587, "smtp_user": "mailer"})
    );
    let (s, dup) = app
        .api(Method::POST, "/emails/provider", Some(create))
        .await;
    assert_eq!(
        (s, dup["message"].as_str()),
        (409, Some("Email provider is already configured."))
    );

    let (_, brief) = app.api(Method::GET, "/emails/provider", None).await;
    assert_eq!(
        brief,
        json!({"name": "smtp", "enabled": true}),
        "without fields Auth0 returns name and enabled"
    );
    let (_, full) = app
        .api(Method::GET, "/emails/provider?fields=name,credentials,default_from_address,settings&include_fields=true", None)
        .await;
    assert_eq!(full["credentials"]["smtp_host"], "smtp.shop.example");
    assert!(!full.to_string().contains("Smtp-S3cret"));

    let (s, patched) = app
        .api(
            Method::PATCH,
            "/emails/provider",
            Some(json!({"credentials": {"smtp_port": 2525}, "enabled": false})),
        )
        .await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(patched["credentials"]["smtp_port"], 2525);
    assert_eq!(
        stored_password(&app).await.as_deref(),
        Some("Smtp-S3cret"),
        "a PATCH without smtp_pass keeps it"
    );
    app.api(
        Method::PATCH,
        "/emails/provider",
        Some(json!({"credentials": {"smtp_pass": null}})),
    )
    .await;
    assert_eq!(stored_password(&app).await, None, "null clears it");

    assert_eq!(
        app.api(Method::DELETE, "/emails/provider", None).await.0,
        204
    );
    assert_eq!(app.api(Method::GET, "/emails/provider", None).await.0, 404);
    assert_eq!(
        app.api(Method::DELETE, "/emails/provider", None).await.0,
        404
    );
}

#[tokio::test]
async fn only_smtp_relays_with_valid_settings_are_accepted() {
    let app = spawn_app().await;
    for body in [
        json!({"name": "sendgrid", "credentials": {"api_key": "k"}}),
        json!({"name": "sendgrid", "credentials": {"smtp_host": "h", "smtp_port": 25}}),
        json!({"name": "smtp", "credentials": {"smtp_port": 25}}),
        json!({"name": "smtp", "credentials": {"smtp_host": "bad host!", "smtp_port": 25}}),
        json!({"name": "smtp", "credentials": {"smtp_host": "h", "smtp_port": 70000}}),
        json!({"name": "smtp", "credentials": {"smtp_host": "h", "smtp_port": 25}, "default_from_address": "nope"}),
    ] {
        let (s, e) = app
            .api(Method::POST, "/emails/provider", Some(body.clone()))
            .await;
        assert_eq!(s, 400, "{body} → {e}");
    }
}
