#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn templates_are_created_read_patched_and_replaced_like_auth0s() {
    let app = spawn_app().await;
    let (s, missing) = app
        .api(Method::GET, "/email-templates/reset_email", None)
        .await;
    assert_eq!(
        (s, missing["errorCode"].as_str()),
        (404, Some("inexistent_email_template"))
    );

    let create = json!({"template": "reset_email", "syntax": "liquid", "enabled": true,
        "from": "Shop <no-reply@shop.example>", "subject": "Reset your {{ application.name }} password",
        "body": "<p>Hi {{ user.email }}, <a href=\"{{ url }}\">reset</a></p>"});
    let (s, t) = app
        .api(Method::POST, "/email-templates", Some(create.clone()))
        .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["template"], "reset_email");
    assert_eq!(t["urlLifetimeInSeconds"], 432_000);
    assert_eq!(t["includeEmailInRedirect"], true);
    let (s, dup) = app
        .api(Method::POST, "/email-templates", Some(create))
        .await;
    assert_eq!((s, dup["statusCode"].as_i64()), (409, Some(409)));

    let (s, patched) = app
        .api(Method::PATCH, "/email-templates/reset_email",
             Some(json!({"subject": "New subject", "urlLifetimeInSeconds": 3600, "resultUrl": "https://shop.example/done"})))
        .await;
    assert_eq!(s, 200, "{patched}");
    let (_, read) = app
        .api(Method::GET, "/email-templates/reset_email", None)
        .await;
    assert_eq!(read["subject"], "New subject");
    assert_eq!(read["urlLifetimeInSeconds"], 3600);
    assert_eq!(read["resultUrl"], "https://shop.example/done");

    // A broken template is refused at save time with its parse error, and nothing changes.
    let (s, broken) = app
        .api(
            Method::PATCH,
            "/email-templates/reset_email",
            Some(json!({"body": "{% if user.email %}never closed"})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        broken["message"]
            .as_str()
            .unwrap()
            .starts_with("Error in template body:"),
        "{broken}"
    );
    let (_, unchanged) = app
        .api(Method::GET, "/email-templates/reset_email", None)
        .await;
    assert_eq!(unchanged["body"], read["body"]);

    let (s, replaced) = app
        .api(
            Method::PUT,
            "/email-templates/reset_email",
            Some(
                json!({"template": "reset_email", "syntax": "liquid", "enabled": false,
                         "from": "no-reply@shop.example", "subject": "S", "body": "B {{ url }}"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{replaced}");
    assert_eq!(replaced["enabled"], false);
    assert!(
        replaced.get("resultUrl").is_none(),
        "PUT replaces the whole template"
    );
}

#[tokio::test]
async fn template_requests_are_validated() {
    let app = spawn_app().await;
    let (s, nf) = app
        .api(
            Method::PATCH,
            "/email-templates/verify_email",
            Some(json!({"subject": "x"})),
        )
        .await;
    assert_eq!(
        (s, nf["message"].as_str()),
        (404, Some("Template not found and cannot be updated."))
    );
    let cases = [
        json!({"template": "no_such_template", "syntax": "liquid", "enabled": true, "from": "a@b.c", "subject": "s", "body": "b"}),
        json!({"template": "verify_email", "syntax": "handlebars", "enabled": true, "from": "a@b.c", "subject": "s", "body": "b"}),
        json!({"template": "verify_email", "syntax": "liquid", "enabled": true, "from": "a@b.c", "subject": "s"}),
        json!({"template": "verify_email", "syntax": "liquid", "enabled": true, "from": "nobody", "subject": "s", "body": "b"}),
        json!({"template": "verify_email", "syntax": "liquid", "enabled": true, "from": "a@b.c", "subject": "{{ x", "body": "b"}),
        json!({"template": "verify_email", "syntax": "liquid", "enabled": true, "from": "a@b.c", "subject": "s", "body": "b", "colour": "red"}),
        json!({"template": "verify_email", "syntax": "liquid", "enabled": true, "from": "a@b.c", "subject": "s", "body": "b", "resultUrl": "javascript:alert(1)"}),
    ];
    for body in cases {
        let (s, e) = app
            .api(Method::POST, "/email-templates", Some(body.clone()))
            .await;
        assert_eq!(s, 400, "{body} → {e}");
    }
    let (s, _) = app
        .api(Method::PUT, "/email-templates/verify_email",
             Some(json!({"template": "reset_email", "syntax": "liquid", "enabled": true, "from": "a@b.c", "subject": "s", "body": "b"})))
        .await;
    assert_eq!(s, 400, "the body's template must match the path");
}
