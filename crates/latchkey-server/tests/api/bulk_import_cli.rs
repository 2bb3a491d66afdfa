//! `latchkey users import FILE` streams a file of any size into a job row the Management API
//! shows (`GET /api/v2/jobs/{id}`), is safe to re-run (duplicates reported, `--upsert`
//! updates), keeps what it wrote when the file breaks off; and an API import that asked for
//! `send_completion_email` mails its summary to the console administrators over SMTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::bulk_import::{database_connection_id, finished_job, upload};
use crate::helpers::*;
use crate::smtp_sink::SmtpSink;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const PASSWORD: &str = "Imported-Passw0rd!";

/// Runs the CLI against `app`'s store; answers (success, stdout, stderr).
async fn cli(app: &TestApp, file: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
    cmd.args(["users", "import"])
        .arg(file)
        .args(extra)
        .arg("--data-dir")
        .arg(&app.data_dir);
    match &app.database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    let out = crate::helpers::output_of(cmd).await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The job id at the start of the summary line (`job_…: N users: …`).
fn job_id(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("job_"))
        .unwrap_or_else(|| panic!("no summary line in {stdout}"));
    line.split(':').next().unwrap().to_owned()
}

fn users_file(run: &str, n: usize, plan: &str) -> String {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let users: Vec<Value> = (0..n)
        .map(|i| {
            json!({"email": format!("s{i}-{run}@example.com"), "password_hash": hash,
                   "user_metadata": {"plan": plan, "padding": "x".repeat(150)}})
        })
        .collect();
    Value::Array(users).to_string()
}

#[tokio::test]
async fn the_cli_streams_a_big_file_into_a_visible_job_and_a_rerun_changes_nobody() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let run = unique("stream");
    let file = app.data_dir.join("stream.json");
    // 4,000 users, most of a megabyte: twice the API's limit.
    let body = users_file(&run, 4000, "basic");
    assert!(body.len() > 2 * 500 * 1024, "{}", body.len());
    std::fs::write(&file, &body).unwrap();

    let (ok, stdout, stderr) = cli(&app, &file, &[]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("4000 users: 4000 inserted, 0 updated, 0 failed"),
        "{stdout}"
    );
    // Not a terminal: no progress line.
    assert!(!stderr.contains("users/s"), "{stderr}");
    let errors_file = app.data_dir.join("stream.json.errors.json");
    assert!(!errors_file.exists());

    // The job is a row like the API's, without the file.
    let id = job_id(&stdout);
    let (status, job) = app
        .api_with(&token, Method::GET, &format!("/jobs/{id}"), None)
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["type"], "users_import", "{job}");
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["connection"], "Username-Password-Authentication");
    assert_eq!(
        job["summary"],
        json!({"failed": 0, "updated": 0, "inserted": 4000, "total": 4000}),
        "{job}"
    );
    let res = app
        .login(&format!("s3999-{run}@example.com"), PASSWORD, "openid")
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // Again: every user is a duplicate, nobody is written twice.
    let (ok, stdout, stderr) = cli(&app, &file, &[]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("4000 users: 0 inserted, 0 updated, 4000 failed"),
        "{stdout}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&errors_file).unwrap()).unwrap();
    let report = report.as_array().unwrap();
    assert_eq!(report.len(), 4000);
    assert_eq!(report[0]["user"]["email"], format!("s0-{run}@example.com"));
    assert_eq!(report[0]["errors"][0]["code"], "DUPLICATED_USER");
    assert_eq!(report[0]["user"]["password_hash"], "[redacted]");
    assert_eq!(
        report[3999]["user"]["email"],
        format!("s3999-{run}@example.com")
    );
    let by_email = format!("/users-by-email?email=s17-{run}%40example.com");
    let (status, users) = app.api_with(&token, Method::GET, &by_email, None).await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    assert_eq!(users[0]["user_metadata"]["plan"], "basic");

    // With --upsert the same file updates them.
    std::fs::write(&file, users_file(&run, 4000, "gold")).unwrap();
    let (ok, stdout, stderr) = cli(&app, &file, &["--upsert"]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("4000 users: 0 inserted, 4000 updated, 0 failed"),
        "{stdout}"
    );
    let (_, users) = app.api_with(&token, Method::GET, &by_email, None).await;
    assert_eq!(users[0]["user_metadata"]["plan"], "gold", "{users}");
    app.stop().await;
}

#[tokio::test]
async fn a_file_that_breaks_off_keeps_the_users_before_the_fault_and_fails_the_job() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let run = unique("broken");
    let file = app.data_dir.join("broken.json");
    let body = users_file(&run, 1200, "basic");
    // Cut inside the 1,201st user's neighbourhood: the array never closes.
    let cut = body.rfind("{\"email\"").unwrap() + 5;
    std::fs::write(&file, &body[..cut]).unwrap();
    let (ok, stdout, stderr) = cli(&app, &file, &[]).await;
    assert!(!ok, "{stdout}{stderr}");
    assert!(stderr.contains("not a JSON array of users"), "{stderr}");
    assert!(
        stdout.contains("1199 users: 1199 inserted, 0 updated, 0 failed"),
        "{stdout}"
    );
    let id = job_id(&stdout);
    let (status, job) = app
        .api_with(&token, Method::GET, &format!("/jobs/{id}"), None)
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["status"], "failed", "{job}");
    // The whole file afterwards: the first 1,199 are duplicates, the last one lands.
    std::fs::write(&file, &body).unwrap();
    let (ok, stdout, stderr) = cli(&app, &file, &[]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("1200 users: 1 inserted, 0 updated, 1199 failed"),
        "{stdout}"
    );
    // Not an array at all, and an unknown connection: clear errors, no panic.
    std::fs::write(&file, r#"{"email": "a@example.com"}"#).unwrap();
    let (ok, _, stderr) = cli(&app, &file, &[]).await;
    assert!(!ok);
    assert!(stderr.contains("not a JSON array of users"), "{stderr}");
    let (ok, _, stderr) = cli(&app, &file, &["--connection", "No-Such-Connection"]).await;
    assert!(!ok);
    assert!(stderr.contains("connection does not exist"), "{stderr}");
    app.stop().await;
}

#[tokio::test]
async fn an_import_that_asked_for_it_mails_its_summary_to_the_console_administrators() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(move |s| {
        s.mail.smtp_url = Some(url.into());
    })
    .await;
    let token = app.mgmt_token().await;
    let connection_id = database_connection_id(&app, &token).await;
    let run = unique("mail");
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let users = json!([
        {"email": format!("m1-{run}@example.com"), "password_hash": hash},
        {"email": "not-an-address"},
    ])
    .to_string();
    let (status, job) = upload(
        &app,
        &token,
        &connection_id,
        &users,
        &[("send_completion_email", "true")],
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    let ended = finished_job(&app, &token, &id).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    let admin = app.bootstrap["admin"]["email"].as_str().unwrap();
    assert_eq!(mails[0].to, vec![admin.to_owned()]);
    let data = crate::smtp_sink::decode_quoted_printable(&mails[0].data);
    assert!(data.contains(&id), "{data}");
    assert!(data.contains("Username-Password-Authentication"), "{data}");
    assert!(data.contains("completed"), "{data}");
    assert!(
        data.contains(&format!("/api/v2/jobs/{id}/errors")),
        "{data}"
    );
    // The refused user's address is not in the mail: the errors endpoint has it.
    assert!(!data.contains("not-an-address"), "{data}");

    // Without the flag, nothing is mailed.
    let users = json!([{"email": format!("m2-{run}@example.com"), "password_hash": hash}]);
    let (status, job) = upload(&app, &token, &connection_id, &users.to_string(), &[]).await;
    assert_eq!(status, 202, "{job}");
    finished_job(&app, &token, job["id"].as_str().unwrap()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.mails().len(), 1);
    app.stop().await;
}
