//! `spawn_app()`: the real application on a real port, over a fresh SQLite file or a fresh
//! PostgreSQL database (`LATCHKEY_TEST_BACKEND=postgres`), with cheap argon2 costs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use latchkey_server::{Application, Settings};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{}_{n}_{nanos}", std::process::id())
}

pub fn temp_dir() -> PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(unique("latchkey-test-"));
    // Private, as the server insists for a data directory.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    dir
}

pub fn backend_is_postgres() -> bool {
    std::env::var("LATCHKEY_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// A fresh PostgreSQL database for one test.
pub async fn fresh_postgres() -> String {
    let base = std::env::var("LATCHKEY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = unique("lk_").to_lowercase();
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&format!("{base}/postgres"))
        .await
        .expect("connect to PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    format!("{base}/{name}")
}

pub fn settings(data_dir: &std::path::Path, database_url: Option<String>) -> Settings {
    let env = vec![
        (
            "LATCHKEY_SERVER__LISTEN".to_owned(),
            "127.0.0.1:0".to_owned(),
        ),
        (
            "LATCHKEY_PASSWORDS__ARGON2_MEMORY_KIB".to_owned(),
            "256".to_owned(),
        ),
        (
            "LATCHKEY_PASSWORDS__ARGON2_ITERATIONS".to_owned(),
            "1".to_owned(),
        ),
    ];
    let (mut s, _) = Settings::load(None, &env).unwrap();
    s.server.data_dir = data_dir.to_owned();
    s.database.url = database_url;
    s
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub bootstrap: Value,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A fresh app whose settings `configure` adjusts first (SMTP URL, rate limits…).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = temp_dir();
    let database_url = if backend_is_postgres() {
        Some(fresh_postgres().await)
    } else {
        None
    };
    start_with(data_dir, database_url, None, configure).await
}

/// Starts on `listen` (a restart keeps its address, hence its issuer) or on a free port.
pub async fn start(
    data_dir: PathBuf,
    database_url: Option<String>,
    listen: Option<String>,
) -> TestApp {
    start_with(data_dir, database_url, listen, |_| {}).await
}

pub async fn start_with(
    data_dir: PathBuf,
    database_url: Option<String>,
    listen: Option<String>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = settings(&data_dir, database_url.clone());
    if let Some(l) = listen {
        settings.server.listen = l;
    }
    configure(&mut settings);
    let app = Application::build(&settings, &Default::default())
        .await
        .expect("build app");
    let base = format!("http://{}", app.address());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app.run_until_stopped(async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir.join("bootstrap.json")).unwrap())
            .unwrap();
    TestApp {
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        bootstrap,
        data_dir,
        database_url,
        stop: Some(tx),
        task: Some(task),
    }
}

impl TestApp {
    /// The URL of this app's store (its PostgreSQL database, or the SQLite file in its data
    /// directory), for a test that reads or writes the store beside the server.
    pub fn store_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| latchkey_store_sql::sqlite_url(&self.data_dir))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    pub fn issuer(&self) -> String {
        format!("{}/", self.base)
    }
    pub fn mgmt_client(&self) -> (String, String) {
        let m = &self.bootstrap["management_api"];
        (
            m["client_id"].as_str().unwrap().into(),
            m["client_secret"].as_str().unwrap().into(),
        )
    }
    pub fn app_client(&self) -> (String, String) {
        let m = &self.bootstrap["default_client"];
        (
            m["client_id"].as_str().unwrap().into(),
            m["client_secret"].as_str().unwrap().into(),
        )
    }

    /// Stops the server and waits until the port is released.
    pub async fn stop(mut self) -> (PathBuf, Option<String>, Value) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        (
            self.data_dir.clone(),
            self.database_url.clone(),
            self.bootstrap.clone(),
        )
    }

    /// `GET path` (no credentials), parsed as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn token(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn mgmt_token(&self) -> String {
        let (id, secret) = self.mgmt_client();
        let res = self
            .token(
                json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret,
                          "audience": format!("{}api/v2/", self.issuer())}),
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let token = self.mgmt_token().await;
        self.api_with(&token, method, path, body).await
    }

    pub async fn api_with(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(&format!("/api/v2{path}")))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn create_user(&self, email: &str, password: &str) -> Value {
        let (status, body) = self
            .api(reqwest::Method::POST, "/users",
                 Some(json!({"connection": "Username-Password-Authentication", "email": email, "password": password,
                             // A plain user: no verification mail (Auth0 sends one by default).
                             "verify_email": false})))
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    pub async fn login(&self, username: &str, password: &str, scope: &str) -> reqwest::Response {
        let (id, secret) = self.app_client();
        self.token(json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm", "client_id": id,
                          "client_secret": secret, "username": username, "password": password,
                          "realm": "Username-Password-Authentication", "scope": scope}))
            .await
    }
}

/// The decoded JSON of a compact JWT's header (0) or payload (1).
pub fn jwt_part(jwt: &str, index: usize) -> Value {
    use base64::Engine as _;
    let part = jwt.split('.').nth(index).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

/// Percent-encodes a user id for a path, as the SDKs do.
pub fn encode_id(id: &str) -> String {
    id.replace('|', "%7C")
}

/// The real `latchkey` binary, as an operator runs it. Its stderr (the log) is kept in
/// `data_dir/stderr.log`.
pub struct Server {
    child: tokio::process::Child,
    pub data_dir: PathBuf,
    pub port: u16,
    pub database_url: Option<String>,
}

impl Server {
    pub fn bootstrap(&self) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.data_dir.join("bootstrap.json")).unwrap(),
        )
        .unwrap()
    }
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// `kill -9`: no shutdown code runs.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
    /// Stops the process as an init system does (SIGTERM), waits for it to exit (at most
    /// 30 s) and returns everything it logged.
    pub async fn terminate_and_read_log(mut self) -> String {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let exited = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        assert!(
            exited.is_ok(),
            "latchkey did not exit within 30 s of SIGTERM"
        );
        std::fs::read_to_string(self.data_dir.join("stderr.log")).unwrap()
    }
    /// Stops the process (SIGKILL) and returns everything it logged.
    pub async fn stop_and_read_log(mut self) -> String {
        let _ = self.child.kill().await;
        std::fs::read_to_string(self.data_dir.join("stderr.log")).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn start_binary(tls: bool, env: &[(&str, &str)]) -> Server {
    let database_url = if backend_is_postgres() {
        Some(fresh_postgres().await)
    } else {
        None
    };
    launch_binary(temp_dir(), free_port(), database_url, tls, env).await
}

/// Runs the binary on `data_dir` (and `database_url`, if PostgreSQL): a restart passes the
/// same values again.
pub async fn launch_binary(
    data_dir: PathBuf,
    port: u16,
    database_url: Option<String>,
    tls: bool,
    env: &[(&str, &str)],
) -> Server {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
    cmd.arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(&data_dir);
    if tls {
        cmd.arg("--tls-self-signed");
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("stderr.log"))
        .unwrap();
    cmd.env("LATCHKEY_PASSWORDS__ARGON2_MEMORY_KIB", "1024")
        .env("LATCHKEY_PASSWORDS__ARGON2_ITERATIONS", "1")
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    if let Some(url) = &database_url {
        cmd.env("DATABASE_URL", url);
    }
    let child = cmd.spawn().expect("start latchkey");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(data_dir.join("bootstrap.json").exists()
        && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "latchkey did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server {
        child,
        data_dir,
        port,
        database_url,
    }
}

/// Runs `cmd` to completion on a blocking thread and returns its output. A test's runtime has
/// one thread, and the server `spawn_app` started runs on it: waiting for a CLI process on
/// that thread stalls the server, possibly between BEGIN and COMMIT, so it holds SQLite's
/// write lock while the CLI waits for that lock (seen as "database is locked" after
/// `busy_timeout`).
pub async fn output_of(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Every text value of every row of `tables`, straight from the store: for at-rest checks.
pub async fn dump_tables(app: &TestApp, tables: &[&str]) -> String {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let url = app.store_url();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let mut out = String::new();
    for table in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
            .fetch_all(&pool)
            .await
            .unwrap();
        for row in rows {
            for i in 0..row.len() {
                if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
                    out.push_str(&v);
                    out.push('\n');
                }
            }
        }
    }
    pool.close().await;
    out
}

/// The TOTP code of a base32 key `steps_ahead` 30-second steps from now (0 = the current one;
/// the server accepts ±1 step, each step once).
pub fn totp_code(base32: &str, steps_ahead: i64) -> String {
    let key = latchkey_core::totp::decode_base32(base32).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    format!(
        "{:06}",
        latchkey_core::totp::code_at(&key, now / 30 + steps_ahead)
    )
}

/// The current TOTP code of a base32 key.
pub fn totp_now(base32: &str) -> String {
    totp_code(base32, 0)
}
