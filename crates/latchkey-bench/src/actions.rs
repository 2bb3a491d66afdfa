//! The Actions scenario: one action's execution in the sandbox alone (cold: the first on a
//! fresh thread, which sets up QuickJS; warm: later ones), then the hosted login's latency
//! without and with that action bound to post-login, one request at a time, so the action's
//! share of a login is read from the same run.

use latchkey_core::actions::{ActionExecution, ActionLimits, ActionRuntime, Entry, Trigger};
use serde_json::{Value, json};

/// The action the scenario runs: what a typical post-login action does (read the event, set
/// a claim).
pub const CODE: &str = r#"
exports.onExecutePostLogin = async (event, api) => {
  const roles = (event.user.app_metadata && event.user.app_metadata.roles) || ["reader"];
  api.idToken.setCustomClaim("https://example.com/roles", roles);
  api.accessToken.setCustomClaim("https://example.com/email", event.user.email);
};
"#;

fn execution() -> ActionExecution {
    ActionExecution {
        action_id: "bench".into(),
        action_name: "bench".into(),
        trigger: Trigger::PostLogin,
        entry: Entry::Execute,
        code: CODE.into(),
        event: json!({
            "user": {"user_id": "auth0|bench", "email": "bench@example.com", "app_metadata": {}},
            "transaction": {"requested_scopes": ["openid"]},
            "request": {"query": {}, "ip": "127.0.0.1"},
            "client": {"client_id": "bench", "name": "Bench"},
        }),
        secrets: Vec::new(),
        limits: ActionLimits::default(),
        script: None,
    }
}

/// Durations of one execution each, in milliseconds: `cold` runs each on a fresh runtime and
/// thread; `warm` runs on one reused pool.
pub fn sandbox_samples(cold_runs: usize, warm_runs: usize) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut cold = Vec::with_capacity(cold_runs);
    for _ in 0..cold_runs {
        let ms = std::thread::spawn(|| -> anyhow::Result<f64> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Ok(rt.block_on(async {
                let runtime = latchkey_actions::QuickJsRuntime::new(1);
                let (host, _calls) = tokio::sync::mpsc::channel(1);
                let report = runtime.run(execution(), host).await;
                report.duration.as_secs_f64() * 1000.0
            }))
        })
        .join()
        .map_err(|_| anyhow::anyhow!("a cold-start thread panicked"))??;
        cold.push(ms);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .enable_all()
        .build()?;
    let warm = rt.block_on(async {
        let runtime = latchkey_actions::QuickJsRuntime::new(1);
        let mut warm = Vec::with_capacity(warm_runs);
        for _ in 0..warm_runs + 1 {
            let (host, _calls) = tokio::sync::mpsc::channel(1);
            let report = runtime.run(execution(), host).await;
            if !report.cold {
                warm.push(report.duration.as_secs_f64() * 1000.0);
            }
        }
        warm
    });
    Ok((cold, warm))
}

pub fn percentile(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n => sorted[(((n - 1) as f64) * q).round() as usize],
    }
}

/// Creates and deploys the scenario's action through the Management API; returns its id.
pub async fn deploy(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let created: Value = client
        .post(format!("{base}/api/v2/actions/actions"))
        .bearer_auth(token)
        .json(&json!({"name": "bench", "supported_triggers": [{"id": "post-login", "version": "v3"}], "code": CODE}))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("creating the action: {created}"))?
        .to_owned();
    let deployed = client
        .post(format!("{base}/api/v2/actions/actions/{id}/deploy"))
        .bearer_auth(token)
        .send()
        .await?;
    anyhow::ensure!(
        deployed.status().is_success(),
        "deploying: {}",
        deployed.status()
    );
    Ok(id)
}

/// Binds the action to post-login (`Some`), or leaves post-login empty (`None`).
pub async fn bind(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    action: Option<&str>,
) -> anyhow::Result<()> {
    let bindings: Vec<Value> = action
        .map(|id| json!({"ref": {"type": "action_id", "value": id}}))
        .into_iter()
        .collect();
    let bound = client
        .patch(format!(
            "{base}/api/v2/actions/triggers/post-login/bindings"
        ))
        .bearer_auth(token)
        .json(&json!({ "bindings": bindings }))
        .send()
        .await?;
    anyhow::ensure!(bound.status().is_success(), "binding: {}", bound.status());
    Ok(())
}
