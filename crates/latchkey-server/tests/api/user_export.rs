//! User exports (`POST /api/v2/jobs/users-exports`): the job, its signed `location`, the gzip
//! file (newline-delimited JSON and CSV as Auth0 writes them), round trips of both into a
//! fresh server through the bulk import, the refusals; and `latchkey users export`, whose
//! `--with-secrets` file is sealed to a passphrase and brings users to a fresh server with
//! their passwords and TOTP keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::bulk_import::{database_connection_id, finished_job, upload};
use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::io::Read as _;

const PASSWORD: &str = "Exported-Passw0rd!";
const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DP";

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// Starts an export, waits for it, downloads `location`: the job and the file's text.
async fn export(app: &TestApp, token: &str, body: Value) -> (Value, String) {
    let (status, job) = app
        .api_with(token, Method::POST, "/jobs/users-exports", Some(body))
        .await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["type"], "users_export");
    let job = finished_job(app, token, job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed", "{job}");
    let location = job["location"].as_str().expect("location").to_owned();
    let res = app.http.get(&location).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/gzip");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename="),
        "{disposition}"
    );
    let bytes = res.bytes().await.unwrap();
    (job, gunzip(&bytes))
}

/// Users with a profile and metadata, created through the Management API.
async fn seed(app: &TestApp, token: &str, run: &str, n: usize) -> Vec<String> {
    let mut emails = Vec::new();
    for i in 0..n {
        let email = format!("u{i}-{run}@example.com");
        let (status, body) = app
            .api_with(
                token,
                Method::POST,
                "/users",
                Some(json!({"connection": "Username-Password-Authentication", "email": email,
                    "password": PASSWORD, "given_name": format!("Ann \"{i}\""), "family_name": "O, Neil",
                    "user_metadata": {"plan": if i % 2 == 0 { "pro" } else { "free" }, "n": i},
                    "app_metadata": {"roles": ["a", "b"]}})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        emails.push(email);
    }
    emails
}

/// One CSV line's cells (RFC 4180 quoting), the leading `'` Auth0 puts before strings removed.
fn csv_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut cell = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        cell.push('"');
                    } else {
                        break;
                    }
                } else {
                    cell.push(c);
                }
            }
            cell = cell.strip_prefix('\'').map(str::to_owned).unwrap_or(cell);
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                cell.push(c);
                chars.next();
            }
        }
        cells.push(cell);
        if chars.next().is_none() {
            break;
        }
    }
    cells
}

/// What a migrating team does with an export: each record into Auth0's bulk-import shape.
fn to_import(record: &Value) -> Value {
    let mut user = serde_json::Map::new();
    for key in [
        "email",
        "email_verified",
        "given_name",
        "family_name",
        "user_metadata",
        "app_metadata",
        "blocked",
    ] {
        if let Some(v) = record.get(key).filter(|v| !v.is_null()) {
            user.insert(key.into(), v.clone());
        }
    }
    if let Some(id) = record["user_id"].as_str() {
        user.insert("user_id".into(), json!(id.trim_start_matches("auth0|")));
    }
    Value::Object(user)
}

async fn import_into_fresh_server(users: Vec<Value>) -> (TestApp, String) {
    let fresh = spawn_app().await;
    let token = fresh.mgmt_token().await;
    let connection_id = database_connection_id(&fresh, &token).await;
    let (status, job) = upload(
        &fresh,
        &token,
        &connection_id,
        &Value::Array(users).to_string(),
        &[],
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let job = finished_job(&fresh, &token, job["id"].as_str().unwrap()).await;
    assert_eq!(job["summary"]["failed"], 0, "{job}");
    (fresh, token)
}

async fn user_by_email(app: &TestApp, token: &str, email: &str) -> Value {
    let (status, list) = app
        .api_with(
            token,
            Method::GET,
            &format!("/users-by-email?email={email}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    list[0].clone()
}

#[tokio::test]
async fn json_and_csv_exports_download_and_round_trip_into_a_fresh_server() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let run = unique("exp");
    let emails = seed(&app, &token, &run, 5).await;
    let connection_id = database_connection_id(&app, &token).await;

    // JSON (newline-delimited), default fields, every user of the tenant.
    let (job, text) = export(&app, &token, json!({"format": "json"})).await;
    assert_eq!(job["format"], "json");
    assert!(job.get("connection_id").is_none(), "{job}");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 5, "{text}");
    let first = records.iter().find(|r| r["email"] == emails[0]).unwrap();
    assert_eq!(first["user_metadata"], json!({"plan": "pro", "n": 0}));
    assert_eq!(first["given_name"], "Ann \"0\"");
    assert!(first["user_id"].as_str().unwrap().starts_with("auth0|"));
    assert!(first["created_at"].is_string());
    // The API never exports a password hash or a second-factor secret.
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );

    // CSV with chosen fields, names and Auth0's escaping; a limit.
    let (job, text) = export(
        &app,
        &token,
        json!({"connection_id": connection_id, "format": "csv", "limit": 3, "fields": [
            {"name": "user_id"}, {"name": "email"}, {"name": "given_name"},
            {"name": "family_name"}, {"name": "email_verified"}, {"name": "logins_count"},
            {"name": "user_metadata.plan", "export_as": "plan"},
            {"name": "identities[0].connection", "export_as": "provider"}]}),
    )
    .await;
    assert_eq!(job["connection_id"], connection_id);
    assert_eq!(job["connection"], "Username-Password-Authentication");
    assert_eq!(job["limit"], 3);
    assert_eq!(
        job["fields"][6],
        json!({"name": "user_metadata.plan", "export_as": "plan"})
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "user_id,email,given_name,family_name,email_verified,logins_count,plan,provider"
    );
    assert_eq!(lines.len(), 4, "{text}");
    // The first three users by id, whichever they are.
    for row in &lines[1..] {
        let i = emails
            .iter()
            .position(|e| row.contains(e.as_str()))
            .unwrap();
        let plan = if i % 2 == 0 { "pro" } else { "free" };
        let expected = format!(
            "\"'{}\",\"'Ann \"\"{i}\"\"\",\"'O, Neil\",false,0,\"'{plan}\",\"'Username-Password-Authentication\"",
            emails[i]
        );
        assert!(row.ends_with(&expected), "{row}\n{expected}");
        assert!(row.starts_with("\"'auth0|"), "{row}");
    }

    // CSV, default fields, round trip: convert, import into a fresh server, compare.
    let (_, text) = export(&app, &token, json!({"format": "csv"})).await;
    let mut lines = text.lines();
    let header = csv_cells(lines.next().unwrap());
    let csv_users: Vec<Value> = lines
        .map(|l| {
            let cells = csv_cells(l);
            let mut record = serde_json::Map::new();
            for (name, cell) in header.iter().zip(cells) {
                let value = match name.as_str() {
                    "email_verified" | "blocked" => json!(cell == "true"),
                    _ if cell.is_empty() => Value::Null,
                    _ => json!(cell),
                };
                record.insert(name.clone(), value);
            }
            to_import(&Value::Object(record))
        })
        .collect();
    assert_eq!(csv_users.len(), 5);
    let (fresh, fresh_token) = import_into_fresh_server(csv_users).await;
    let original = user_by_email(&app, &token, &emails[1]).await;
    let copy = user_by_email(&fresh, &fresh_token, &emails[1]).await;
    for key in [
        "user_id",
        "email",
        "given_name",
        "family_name",
        "email_verified",
    ] {
        assert_eq!(copy[key], original[key], "{key}: {copy}");
    }
    fresh.stop().await;

    // JSON round trip: metadata objects come along.
    let (_, text) = export(&app, &token, json!({"format": "json"})).await;
    let json_users: Vec<Value> = text
        .lines()
        .map(|l| to_import(&serde_json::from_str(l).unwrap()))
        .collect();
    let (fresh, fresh_token) = import_into_fresh_server(json_users).await;
    for email in &emails {
        let original = user_by_email(&app, &token, email).await;
        let copy = user_by_email(&fresh, &fresh_token, email).await;
        for key in [
            "user_id",
            "email",
            "given_name",
            "family_name",
            "user_metadata",
            "app_metadata",
        ] {
            assert_eq!(copy[key], original[key], "{key}: {copy}");
        }
    }
    fresh.stop().await;
    app.stop().await;
}

/// A link signed with the tenant's own keys (read from the store, as a second node would).
async fn signed_link(app: &TestApp, job_id: &str, expires: i64) -> String {
    let url = app.store_url();
    let store = latchkey_store_sql::connect(&url).await.unwrap();
    let keys = latchkey_core::tenant_keys::TenantKeys::load(&store)
        .await
        .unwrap();
    let sig = keys.proof(&format!("user-export\0{job_id}"), expires);
    store.close().await;
    app.url(&format!("/exports/{job_id}?sig={sig}"))
}

#[tokio::test]
async fn download_links_are_signed_short_lived_and_bad_requests_are_refused() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    seed(&app, &token, &unique("sig"), 1).await;
    let (job, _) = export(
        &app,
        &token,
        json!({"format": "json", "fields": [{"name": "email"}]}),
    )
    .await;
    let id = job["id"].as_str().unwrap();
    let location = job["location"].as_str().unwrap();
    let (_, sig) = location.split_once("sig=").unwrap();
    let (expiry, _) = sig.split_once('.').unwrap();
    let expiry: i64 = expiry.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        expiry > now && expiry <= now + 61,
        "a link lives about a minute: {location}"
    );

    let status = |url: String| {
        let http = app.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    // Tampered signature, moved expiry, another job's id, no signature: 403.
    let tampered = format!("{}{}", &location[..location.len() - 2], "AA");
    assert_eq!(status(tampered).await, 403);
    let moved = location.replace(
        &format!("sig={expiry}."),
        &format!("sig={}.", expiry + 3600),
    );
    assert_eq!(status(moved).await, 403);
    assert_eq!(
        status(location.replace(id, "job_0000000000000000")).await,
        403
    );
    assert_eq!(status(app.url(&format!("/exports/{id}"))).await, 403);
    // Signed by the tenant's keys: valid until its expiry, refused after it.
    assert_eq!(status(signed_link(&app, id, now + 30).await).await, 200);
    assert_eq!(status(signed_link(&app, id, now - 1).await).await, 403);

    // Bad bodies: Auth0's 400 (and 404 for an unknown connection).
    for (body, code) in [
        (json!({"format": "xml"}), 400),
        (json!({"limit": -1}), 400),
        (json!({"limit": 0}), 400),
        (json!({"limit": "ten"}), 400),
        (json!({"fields": [{"name": "password_hash"}]}), 400),
        (json!({"fields": [{"nam": "email"}]}), 400),
        (json!({"fields": [{"name": "identities[x]"}]}), 400),
        (json!({"fields": []}), 400),
        (
            json!({"format": "csv", "fields": [{"name": "user_metadata"}]}),
            400,
        ),
        (json!({"unknown": true}), 400),
        (json!({"connection_id": "con_0000000000000000"}), 404),
    ] {
        let (status, err) = app
            .api_with(
                &token,
                Method::POST,
                "/jobs/users-exports",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, code, "{body}: {err}");
        assert_eq!(err["statusCode"], code, "{err}");
        assert!(
            err["error"].is_string() && err["message"].is_string(),
            "{err}"
        );
    }
    let (_, err) = app
        .api_with(
            &token,
            Method::POST,
            "/jobs/users-exports",
            Some(json!({"connection_id": "con_0000000000000000"})),
        )
        .await;
    assert_eq!(err["errorCode"], "inexistent_connection", "{err}");

    // A file past its 24 hours: no location, and the link is refused.
    let url = app.store_url();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE user_exports SET expires_at = 1 WHERE job_id = $1")
        .bind(id.to_owned())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (_, job) = app
        .api_with(&token, Method::GET, &format!("/jobs/{id}"), None)
        .await;
    assert!(job.get("location").is_none(), "{job}");
    assert_eq!(status(signed_link(&app, id, now + 30).await).await, 404);
    app.stop().await;
}

fn cli(server: &Server, args: &[&str], passphrase: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
    cmd.arg("users")
        .args(args)
        .arg("--data-dir")
        .arg(&server.data_dir)
        .stdin(std::process::Stdio::null())
        .env_remove("LATCHKEY_EXPORT_PASSPHRASE");
    if let Some(p) = passphrase {
        cmd.env("LATCHKEY_EXPORT_PASSPHRASE", p);
    }
    match &server.database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd.output().unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn password_login(server: &Server, username: &str, password: &str) -> reqwest::Response {
    let boot = server.bootstrap();
    reqwest::Client::new()
        .post(format!("{}/oauth/token", server.base()))
        .json(
            &json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                      "client_id": boot["default_client"]["client_id"],
                      "client_secret": boot["default_client"]["client_secret"],
                      "username": username, "password": password,
                      "realm": "Username-Password-Authentication", "scope": "openid"}),
        )
        .send()
        .await
        .unwrap()
}

async fn mgmt(server: &Server) -> (reqwest::Client, String) {
    let boot = server.bootstrap();
    let http = reqwest::Client::new();
    let res: Value = http
        .post(format!("{}/oauth/token", server.base()))
        .json(&json!({"grant_type": "client_credentials",
                      "client_id": boot["management_api"]["client_id"],
                      "client_secret": boot["management_api"]["client_secret"],
                      "audience": format!("{}/api/v2/", server.base())}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (http, res["access_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_cli_exports_sealed_secrets_that_a_fresh_server_imports_with_working_logins() {
    let source = start_binary(false, &[]).await;
    let run = unique("seal");
    let (http, token) = mgmt(&source).await;
    // A user made here (argon2id), one imported with bcrypt and a TOTP key, one with a salted
    // sha256 hash from another system (kept as imported until its first login).
    let native = format!("native-{run}@example.com");
    let res = http
        .post(format!("{}/api/v2/users", source.base()))
        .bearer_auth(&token)
        .json(
            &json!({"connection": "Username-Password-Authentication", "email": native,
                      "password": PASSWORD, "user_metadata": {"k": "v"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (with_totp, salted) = (
        format!("totp-{run}@example.com"),
        format!("sha-{run}@example.com"),
    );
    let digest = {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(format!("pepper{PASSWORD}").as_bytes());
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let file = source.data_dir.join("legacy.json");
    std::fs::write(
        &file,
        json!([
            {"email": with_totp, "password_hash": bcrypt::hash(PASSWORD, 4).unwrap(),
             "mfa_factors": [{"totp": {"secret": TOTP_SECRET}}]},
            {"email": salted, "custom_password_hash": {"algorithm": "sha256",
             "hash": {"value": digest}, "salt": {"value": "pepper", "position": "prefix"}}},
        ])
        .to_string(),
    )
    .unwrap();
    let out = cli(&source, &["import", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));

    // Without --with-secrets: what the API writes, plain or gzip by extension.
    let plain = source.data_dir.join("users.ndjson");
    let out = cli(&source, &["export", plain.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let exported = std::fs::read_to_string(&plain).unwrap();
    assert_eq!(exported.lines().count(), 3, "{exported}");
    assert!(
        !exported.contains("$2b$") && !exported.contains("argon2"),
        "{exported}"
    );
    let gz = source.data_dir.join("users.csv.gz");
    let out = cli(
        &source,
        &[
            "export",
            gz.to_str().unwrap(),
            "--format",
            "csv",
            "--fields",
            "user_id,email",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let csv = gunzip(&std::fs::read(&gz).unwrap());
    assert_eq!(csv.lines().next(), Some("user_id,email"), "{csv}");

    // With secrets: refused without a passphrase, sealed with one.
    let sealed = source.data_dir.join("users.sealed");
    let out = cli(
        &source,
        &["export", sealed.to_str().unwrap(), "--with-secrets"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("LATCHKEY_EXPORT_PASSPHRASE"),
        "{}",
        text(&out)
    );
    let out = cli(
        &source,
        &["export", sealed.to_str().unwrap(), "--with-secrets"],
        Some("open sesame"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(bytes.starts_with(b"LKSEAL"));
    assert!(
        !String::from_utf8_lossy(&bytes).contains(&native),
        "the file is encrypted"
    );

    let target = start_binary(false, &[]).await;
    // Wrong passphrase, tampered or cut file: clear errors, nothing imported.
    let out = cli(
        &target,
        &["import", sealed.to_str().unwrap()],
        Some("open barley"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("wrong passphrase"), "{}", text(&out));
    let mut tampered = bytes.clone();
    let at = bytes.len() - 20;
    tampered[at] ^= 0x40;
    let tampered_file = source.data_dir.join("tampered.sealed");
    std::fs::write(&tampered_file, &tampered).unwrap();
    let out = cli(
        &target,
        &["import", tampered_file.to_str().unwrap()],
        Some("open sesame"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("tampered"), "{}", text(&out));
    std::fs::write(&tampered_file, &bytes[..bytes.len() - 30]).unwrap();
    let out = cli(
        &target,
        &["import", tampered_file.to_str().unwrap()],
        Some("open sesame"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("truncated"), "{}", text(&out));

    let out = cli(
        &target,
        &["import", sealed.to_str().unwrap()],
        Some("open sesame"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("3 users: 3 inserted, 0 updated, 0 failed"),
        "{}",
        text(&out)
    );
    for email in [&native, &salted] {
        let res = password_login(&target, email, PASSWORD).await;
        assert_eq!(res.status(), 200, "{email}: {}", res.text().await.unwrap());
    }
    let res = password_login(&target, &native, "not-the-password").await;
    assert_eq!(res.status(), 403);
    // The TOTP key came along: the login asks for it, and the code works.
    let (http, token) = mgmt(&target).await;
    let res = http
        .put(format!("{}/api/v2/guardian/factors/otp", target.base()))
        .bearer_auth(&token)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = password_login(&target, &with_totp, PASSWORD).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required", "{body}");
    let boot = target.bootstrap();
    let res = reqwest::Client::new()
        .post(format!("{}/oauth/token", target.base()))
        .json(
            &json!({"grant_type": "http://auth0.com/oauth/grant-type/mfa-otp",
                      "client_id": boot["default_client"]["client_id"],
                      "client_secret": boot["default_client"]["client_secret"],
                      "mfa_token": body["mfa_token"], "otp": totp_now(TOTP_SECRET)}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // Ids and metadata are kept.
    let copy: Value = http
        .get(format!(
            "{}/api/v2/users-by-email?email={native}",
            target.base()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(copy[0]["user_metadata"], json!({"k": "v"}), "{copy}");
}
