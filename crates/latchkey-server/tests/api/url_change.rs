//! Moving a data dir to a new public URL (the first thing every operator does): the Management
//! API's identifier follows the issuer, so its client grants keep working; the start-up log
//! says what the old URL's tokens and links are now; bootstrap.json follows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{backend_is_postgres, free_port, fresh_postgres, launch_binary, temp_dir};
use serde_json::{Value, json};

async fn management_token(base: &str, boot: &Value, audience: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": boot["management_api"]["client_id"],
            "client_secret": boot["management_api"]["client_secret"],
            "audience": audience,
        }))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn a_new_public_url_keeps_the_management_api_working() {
    let dir = temp_dir();
    let database_url = if backend_is_postgres() {
        Some(fresh_postgres().await)
    } else {
        None
    };
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let first = launch_binary(
        dir.clone(),
        port,
        database_url.clone(),
        false,
        &[("LATCHKEY_SERVER__PUBLIC_URL", "http://old.example.test/")],
    )
    .await;
    let boot = first.bootstrap();
    assert_eq!(
        boot["management_api"]["audience"],
        "http://old.example.test/api/v2/"
    );
    let (status, body) = management_token(&base, &boot, "http://old.example.test/api/v2/").await;
    assert_eq!(status, 200, "{body}");
    first.stop_and_read_log().await;

    // The same data dir behind its real name.
    let second = launch_binary(
        dir.clone(),
        port,
        database_url,
        false,
        &[("LATCHKEY_SERVER__PUBLIC_URL", "https://id.example.test/")],
    )
    .await;
    let (status, body) = management_token(&base, &boot, "https://id.example.test/api/v2/").await;
    assert_eq!(status, 200, "the grant followed the issuer: {body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v2/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let moved = second.bootstrap();
    assert_eq!(moved["issuer"], "https://id.example.test/");
    assert_eq!(
        moved["management_api"]["audience"],
        "https://id.example.test/api/v2/"
    );
    assert_eq!(
        moved["management_api"]["client_secret"],
        boot["management_api"]["client_secret"]
    );
    let log = second.stop_and_read_log().await;
    assert!(
        log.contains("public URL changed") && log.contains("http://old.example.test/"),
        "the start-up log says what changed:\n{log}"
    );
}
