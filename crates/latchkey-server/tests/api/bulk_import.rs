//! Bulk user import (`/api/v2/jobs/users-imports`): users with every hash format Auth0 accepts
//! log in with their original passwords and are re-hashed to argon2id; ids are kept; bad lines
//! are reported in Auth0's shape while the good ones land; the job survives a restart. The
//! hashes below were made with Python's hashlib, not with the code under test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "Imported-Passw0rd!";

/// `POST /api/v2/jobs/users-imports` as the SDKs send it (multipart, the file as `users`).
pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    connection_id: &str,
    users: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let boundary = "latchkey-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"users\"; filename=\"users.json\"\r\nContent-Type: application/json\r\n\r\n{users}\r\n"
    );
    for (k, v) in std::iter::once(&("connection_id", connection_id)).chain(extra) {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let res = app
        .http
        .post(app.url("/api/v2/jobs/users-imports"))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn database_connection_id(app: &TestApp, token: &str) -> String {
    let (status, list) = app
        .api_with(
            token,
            Method::GET,
            "/connections?name=Username-Password-Authentication",
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    list[0]["id"].as_str().unwrap().to_owned()
}

/// Polls the job until it has ended (the deadline only turns a hang into a failure).
pub(crate) async fn finished_job(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, job) = app
            .api_with(token, Method::GET, &format!("/jobs/{id}"), None)
            .await;
        assert_eq!(status, 200, "{job}");
        if job["status"] == "completed" || job["status"] == "failed" {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job never ended: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn users_with_every_format() -> Vec<(String, String, Value)> {
    let bcrypt = bcrypt::hash(PASSWORD, 4).unwrap();
    let custom = |alg: &str, hash: Value, salt: Option<Value>| {
        let mut v = json!({"algorithm": alg, "hash": hash});
        if let Some(s) = salt {
            v["salt"] = s;
        }
        v
    };
    let formats: Vec<(&str, &str, Value)> = vec![
        ("bcrypt-column", PASSWORD, Value::Null),
        (
            "bcrypt",
            PASSWORD,
            custom("bcrypt", json!({"value": bcrypt}), None),
        ),
        (
            "md4",
            "message digest",
            custom(
                "md4",
                json!({"value": "d9130a8164549fe818874806e1c7014b"}),
                None,
            ),
        ),
        (
            "md5",
            PASSWORD,
            custom(
                "md5",
                json!({"value": "11bca4d962364cd3f3c0bb84d97e021e", "encoding": "hex"}),
                Some(json!({"value": "NaCl", "position": "prefix"})),
            ),
        ),
        (
            "sha1",
            PASSWORD,
            custom(
                "sha1",
                json!({"value": "d3koCFCoyphpJqVX8DCSH4McTHU=", "encoding": "base64"}),
                Some(json!({"value": "pepper", "position": "suffix"})),
            ),
        ),
        (
            "sha256",
            PASSWORD,
            custom(
                "sha256",
                json!({"value": "e55327841d25a9f8151c194ffab7a2cd13467092d6fcf39e2243a37e26c2f748"}),
                None,
            ),
        ),
        (
            "sha512",
            PASSWORD,
            custom(
                "sha512",
                json!({"value": "962a9f40535bfcb068775bad5dce089f98ba50d5091905f9302dc02480451685915fd9023917f0dc0020aafee49411c20e964169773d6a7b9780e5b2437a79e3", "encoding": "hex"}),
                Some(json!({"value": "00ff10", "encoding": "hex", "position": "prefix"})),
            ),
        ),
        (
            "hmac",
            PASSWORD,
            custom(
                "hmac",
                json!({"value": "b313043a291c617bec2f87bc4ac3fead9d79fd2ed99b7b9cb89115dba0e879b4",
                       "encoding": "hex", "digest": "sha256",
                       "key": {"value": "server-key", "encoding": "utf8"}}),
                None,
            ),
        ),
        (
            "pbkdf2",
            PASSWORD,
            custom(
                "pbkdf2",
                json!({"value": "$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHRzYWx0$Rb/4XAZU5pciL6yNdJJIM8jE7W5Q3QMkSIac5fURkdQ"}),
                None,
            ),
        ),
        (
            "ldap",
            PASSWORD,
            custom(
                "ldap",
                json!({"value": "{SSHA}mBlCz1iYx3EPvDY1FwSwlSVnlodzNGx0"}),
                None,
            ),
        ),
    ];
    let run = unique("imp");
    formats
        .into_iter()
        .map(|(name, password, hash)| {
            let email = format!("{name}-{run}@example.com");
            let mut user = json!({
                "email": email,
                "email_verified": true,
                "user_id": format!("{name}-{run}"),
                "given_name": name,
                "user_metadata": {"plan": "gold"},
            });
            if hash.is_null() {
                user["password_hash"] = json!(bcrypt);
            } else {
                user["custom_password_hash"] = hash;
            }
            (email, password.to_owned(), user)
        })
        .collect()
}

#[tokio::test]
async fn users_of_every_hash_format_log_in_and_are_rehashed_to_argon2id() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let connection_id = database_connection_id(&app, &token).await;
    let users = users_with_every_format();
    let file = Value::Array(users.iter().map(|(_, _, u)| u.clone()).collect()).to_string();
    let (status, job) = upload(
        &app,
        &token,
        &connection_id,
        &file,
        &[("external_id", "migration-1")],
    )
    .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["status"], "pending");
    assert_eq!(job["type"], "users_import");
    assert_eq!(job["connection_id"], connection_id.as_str());
    assert_eq!(job["external_id"], "migration-1");
    assert!(job["id"].as_str().unwrap().starts_with("job_"));
    assert!(job["created_at"].as_str().unwrap().ends_with('Z'));
    let job = finished_job(&app, &token, job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        job["summary"],
        json!({"failed": 0, "updated": 0, "inserted": users.len(), "total": users.len()})
    );
    // No errors: the errors route answers with the job itself, as Auth0 does.
    let (status, errors) = app
        .api_with(
            &token,
            Method::GET,
            &format!("/jobs/{}/errors", job["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(errors["id"], job["id"]);

    for (email, password, user) in &users {
        let wrong = app.login(email, "not-the-password", "openid").await;
        assert_eq!(wrong.status(), 403, "{email}");
        let res = app.login(email, password, "openid").await;
        assert_eq!(res.status(), 200, "{email}: {}", res.text().await.unwrap());
        let tokens: Value = res.json().await.unwrap();
        // The id the file gave is the token's subject.
        let sub = jwt_part(tokens["id_token"].as_str().unwrap(), 1)["sub"].clone();
        assert_eq!(
            sub,
            json!(format!("auth0|{}", user["user_id"].as_str().unwrap()))
        );
        // And again, now against the argon2id hash stored by the first login.
        assert_eq!(app.login(email, password, "openid").await.status(), 200);
    }
    let stored = dump_tables(&app, &["users"]).await;
    assert!(!stored.contains("$lk-import$"), "an imported hash survived");
    assert!(!stored.contains("$2b$"), "a bcrypt hash survived");
    let (_, profile) = app
        .api_with(
            &token,
            Method::GET,
            &format!(
                "/users/{}",
                encode_id(&format!(
                    "auth0|{}",
                    users[0].2["user_id"].as_str().unwrap()
                ))
            ),
            None,
        )
        .await;
    assert_eq!(profile["given_name"], "bcrypt-column");
    assert_eq!(profile["email_verified"], true);
    assert_eq!(profile["user_metadata"]["plan"], "gold");
    app.stop().await;
}

#[tokio::test]
async fn bad_lines_are_reported_in_auth0_shape_while_good_lines_land_and_upsert_updates() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let connection_id = database_connection_id(&app, &token).await;
    let run = unique("bad");
    let good = format!("good-{run}@example.com");
    let file = json!([
        {"email": good, "password_hash": bcrypt::hash(PASSWORD, 4).unwrap(), "given_name": "First"},
        {"email": "not-an-address"},
        {"given_name": "No address"},
        {"email": format!("extra-{run}@example.com"), "favourite_colour": "blue"},
        {"email": format!("hash-{run}@example.com"), "custom_password_hash": {"algorithm": "crc32", "hash": {"value": "00"}}},
        {"email": format!("type-{run}@example.com"), "email_verified": "yes"},
        {"email": good},
    ])
    .to_string();
    let (status, job) = upload(&app, &token, &connection_id, &file, &[]).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    let job = finished_job(&app, &token, &id).await;
    assert_eq!(
        job["summary"],
        json!({"failed": 6, "updated": 0, "inserted": 1, "total": 7})
    );
    let (status, errors) = app
        .api_with(&token, Method::GET, &format!("/jobs/{id}/errors"), None)
        .await;
    assert_eq!(status, 200);
    let codes: Vec<(String, String)> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["user"].is_object(), "{e}");
            let first = &e["errors"][0];
            assert!(
                first["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{e}"
            );
            (
                first["code"].as_str().unwrap().to_owned(),
                first["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("INVALID_FORMAT", "email"),
        ("OBJECT_MISSING_REQUIRED_PROPERTY", ""),
        ("OBJECT_ADDITIONAL_PROPERTIES", ""),
        ("INVALID_FORMAT", "custom_password_hash"),
        ("INVALID_TYPE", "email_verified"),
        ("DUPLICATED_USER", ""),
    ];
    assert_eq!(
        codes,
        expected
            .iter()
            .map(|(c, p)| ((*c).to_owned(), (*p).to_owned()))
            .collect::<Vec<_>>(),
        "{errors}"
    );
    assert_eq!(errors[0]["user"]["email"], "not-an-address");
    assert_eq!(app.login(&good, PASSWORD, "openid").await.status(), 200);

    // Upsert: the existing address is updated (its id stays), a new one inserted.
    let newcomer = format!("new-{run}@example.com");
    let file = json!([
        {"email": good, "given_name": "Second", "email_verified": true},
        {"email": newcomer, "password_hash": bcrypt::hash(PASSWORD, 4).unwrap()},
    ])
    .to_string();
    let (status, job) = upload(&app, &token, &connection_id, &file, &[("upsert", "true")]).await;
    assert_eq!(status, 202, "{job}");
    let job = finished_job(&app, &token, job["id"].as_str().unwrap()).await;
    assert_eq!(
        job["summary"],
        json!({"failed": 0, "updated": 1, "inserted": 1, "total": 2})
    );
    let (_, found) = app
        .api_with(
            &token,
            Method::GET,
            &format!("/users-by-email?email={good}"),
            None,
        )
        .await;
    assert_eq!(found[0]["given_name"], "Second");
    // The password stays when the upsert brings none.
    assert_eq!(app.login(&good, PASSWORD, "openid").await.status(), 200);
    assert_eq!(app.login(&newcomer, PASSWORD, "openid").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn uploads_are_checked_before_a_job_exists() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let connection_id = database_connection_id(&app, &token).await;
    // Over Auth0's 500 KB.
    let big = format!(
        "[{}]",
        vec![r#"{"email":"a@example.com"}"#; 25_000].join(",")
    );
    let (status, body) = upload(&app, &token, &connection_id, &big, &[]).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["statusCode"], 413);
    let (status, body) = upload(&app, &token, &connection_id, "{\"not\": \"an array\"}", &[]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "invalid_body");
    let (status, body) = upload(&app, &token, "con_doesnotexist00", "[]", &[]).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app
        .api_with(&token, Method::GET, "/jobs/job_missing", None)
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["errorCode"], "inexistent_job");
    // Not multipart at all.
    let (status, body) = app
        .api_with(&token, Method::POST, "/jobs/users-imports", Some(json!({})))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "invalid_body");
    app.stop().await;
}

#[tokio::test]
async fn an_import_survives_a_restart_and_imports_each_user_once() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let connection_id = database_connection_id(&app, &token).await;
    let run = unique("restart");
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let users: Vec<Value> = (0..1200)
        .map(|i| json!({"email": format!("u{i}-{run}@example.com"), "password_hash": hash}))
        .collect();
    let (status, job) = upload(
        &app,
        &token,
        &connection_id,
        &Value::Array(users).to_string(),
        &[],
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    // Stopped wherever the run is (not started, between batches, or done).
    let (data_dir, database_url, _) = app.stop().await;
    let app = start(data_dir, database_url, None).await;
    let token = app.mgmt_token().await;
    let job = finished_job(&app, &token, &id).await;
    assert_eq!(
        job["summary"],
        json!({"failed": 0, "updated": 0, "inserted": 1200, "total": 1200}),
        "{job}"
    );
    assert_eq!(
        app.login(&format!("u1199-{run}@example.com"), PASSWORD, "openid")
            .await
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn imported_totp_factors_challenge_at_login_and_phone_factors_are_refused() {
    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DP";
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let connection_id = database_connection_id(&app, &token).await;
    app.api_with(
        &token,
        Method::PUT,
        "/guardian/factors/otp",
        Some(json!({"enabled": true})),
    )
    .await;
    let run = unique("mfa");
    let email = format!("totp-{run}@example.com");
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let file = json!([
        {"email": email, "password_hash": hash, "mfa_factors": [{"totp": {"secret": SECRET}}]},
        {"email": format!("phone-{run}@example.com"), "password_hash": hash,
         "mfa_factors": [{"phone": {"value": "+15555550100"}}]},
        {"email": format!("badkey-{run}@example.com"), "mfa_factors": [{"totp": {"secret": "not base32!"}}]},
    ])
    .to_string();
    let (status, job) = upload(&app, &token, &connection_id, &file, &[]).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    let job = finished_job(&app, &token, &id).await;
    assert_eq!(
        job["summary"],
        json!({"failed": 2, "updated": 0, "inserted": 1, "total": 3})
    );
    let (_, errors) = app
        .api_with(&token, Method::GET, &format!("/jobs/{id}/errors"), None)
        .await;
    assert_eq!(
        errors[0]["errors"][0]["code"], "UNSUPPORTED_VALUE",
        "{errors}"
    );
    assert_eq!(errors[0]["errors"][0]["path"], "mfa_factors/0");
    assert_eq!(errors[1]["errors"][0]["code"], "INVALID_FORMAT", "{errors}");
    assert_eq!(errors[1]["errors"][0]["path"], "mfa_factors/0/totp/secret");
    // The report keeps who was refused and why, never their hashes or second-factor secrets.
    assert_eq!(errors[0]["user"]["password_hash"], "[redacted]", "{errors}");
    assert_eq!(errors[1]["user"]["mfa_factors"], "[redacted]", "{errors}");
    assert!(!errors.to_string().contains(&hash), "{errors}");

    let res = app.login(&email, PASSWORD, "openid").await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required", "{body}");
    let (client_id, secret) = app.app_client();
    let res = app
        .token(
            json!({"grant_type": "http://auth0.com/oauth/grant-type/mfa-otp",
                      "client_id": client_id, "client_secret": secret,
                      "mfa_token": body["mfa_token"], "otp": totp_now(SECRET)}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    app.stop().await;
}

#[tokio::test]
async fn the_cli_imports_a_file_past_the_api_limit_and_writes_the_refused_users() {
    let server = start_binary(false, &[]).await;
    let run = unique("cli");
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    // Over the API's 500 KB: the CLI has no such limit.
    let mut users: Vec<Value> = (0..3000)
        .map(|i| {
            json!({"email": format!("c{i}-{run}@example.com"), "password_hash": hash,
                        "user_metadata": {"padding": "x".repeat(120)}})
        })
        .collect();
    users.push(json!({"email": "broken"}));
    let file = server.data_dir.join("users.json");
    let body = Value::Array(users).to_string();
    assert!(body.len() > 500 * 1024);
    std::fs::write(&file, body).unwrap();
    let cli = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.args(["users", "import"])
            .arg(&file)
            .arg("--data-dir")
            .arg(&server.data_dir);
        match &server.database_url {
            Some(url) => cmd.env("DATABASE_URL", url),
            None => cmd.env_remove("DATABASE_URL"),
        };
        cmd.output().unwrap()
    };
    let out = cli();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3001 users: 3000 inserted, 0 updated, 1 failed"),
        "{stdout}"
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(server.data_dir.join("users.json.errors.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report[0]["user"]["email"], "broken");
    assert_eq!(report[0]["errors"][0]["code"], "INVALID_FORMAT");
    // A second run changes nothing: every user is reported as a duplicate.
    let out = cli();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("3001 users: 0 inserted, 0 updated, 3001 failed"),
        "{stdout}"
    );
    // The running server's users log in with the imported passwords.
    let boot = server.bootstrap();
    let res = reqwest::Client::new()
        .post(format!("{}/oauth/token", server.base()))
        .json(
            &json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                      "client_id": boot["default_client"]["client_id"],
                      "client_secret": boot["default_client"]["client_secret"],
                      "username": format!("c2999-{run}@example.com"), "password": PASSWORD,
                      "realm": "Username-Password-Authentication", "scope": "openid"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}
