//! `GET /api/v2/openapi.json`: the document names every route the JSON API routers serve,
//! with the same methods, and nothing else; schemathesis (PyPI) then calls every operation on
//! a server of its own and finds no 5xx and no answer the document does not allow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use crate::sdk::repo_root;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The methods the document gives each path.
fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let ops = item
                .as_object()
                .expect("path item")
                .keys()
                .filter(|k| methods.contains(&k.as_str()))
                .map(|k| k.to_uppercase())
                .collect();
            (path.clone(), ops)
        })
        .collect()
}

/// Every `$ref` in `v` that does not point into the document.
fn dangling_refs(doc: &Value, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                let pointer = r.trim_start_matches('#');
                if doc.pointer(pointer).is_none() {
                    out.push(r.clone());
                }
            }
            m.values().for_each(|x| dangling_refs(doc, x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| dangling_refs(doc, x, out)),
        _ => {}
    }
}

/// A concrete URL path for a route template: every `{param}` filled.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_openapi_document_lists_every_json_api_route_and_only_those() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(app.url("/api/v2/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "served without a token");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["servers"][0]["url"],
        json!(app.base),
        "the issuer, where every path of the document is served"
    );
    let mut dangling = Vec::new();
    dangling_refs(&doc, &doc, &mut dangling);
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
    let documented = documented(&doc);

    // The router's side: every path `ApiRouter` recorded, and for each the methods its
    // `405 Allow` answer names (HEAD comes with GET and is not documented on its own).
    let mut routed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in latchkey_http::json_api_paths() {
        let res = app
            .http
            .request(
                reqwest::Method::from_bytes(b"PROBE").unwrap(),
                app.url(&concrete(&path)),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{path}: an unknown method");
        let allow = res
            .headers()
            .get("allow")
            .unwrap_or_else(|| panic!("{path}: no Allow header"))
            .to_str()
            .unwrap()
            .to_owned();
        let methods = allow
            .split(',')
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty() && m != "HEAD")
            .collect();
        assert!(
            routed.insert(path.clone(), methods).is_none(),
            "{path} routed twice"
        );
    }

    let operations =
        |m: &BTreeMap<String, BTreeSet<String>>| -> usize { m.values().map(BTreeSet::len).sum() };
    println!(
        "OpenAPI: {} operations on {} paths; routers: {} method routes on {} paths",
        operations(&documented),
        documented.len(),
        operations(&routed),
        routed.len()
    );
    let undocumented: Vec<_> = routed
        .iter()
        .flat_map(|(p, ms)| {
            ms.iter()
                .filter(|m| !documented.get(p).is_some_and(|d| d.contains(*m)))
                .map(move |m| format!("{m} {p}"))
        })
        .collect();
    let unrouted: Vec<_> = documented
        .iter()
        .flat_map(|(p, ms)| {
            ms.iter()
                .filter(|m| !routed.get(p).is_some_and(|r| r.contains(*m)))
                .map(move |m| format!("{m} {p}"))
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:#?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:#?}"
    );
    assert!(
        routed.len() > 100,
        "the routers were read: {}",
        routed.len()
    );
    app.stop().await;
}

/// Operations schemathesis leaves alone, because they would make the server unusable for the
/// rest of the run: rotating or revoking the signing keys (the run's own token would stop
/// verifying) and deleting a client (it might be the run's own Management client).
const EXCLUDED: &[(&str, &str)] = &[
    ("POST", "/api/v2/keys/signing/rotate"),
    ("PUT", "/api/v2/keys/signing/{kid}/revoke"),
    ("DELETE", "/api/v2/clients/{id}"),
];

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_the_document_forbids() {
    let python = std::env::var("LATCHKEY_PYTHON")
        .unwrap_or_else(|_| repo_root().join(".venv/bin/python").display().to_string());
    assert!(
        std::path::Path::new(&python).exists(),
        "schemathesis is not installed: run scripts/test (it creates .venv), or set LATCHKEY_PYTHON"
    );
    let server = start_binary(false, &[]).await;
    let bootstrap = server.bootstrap();
    let m = &bootstrap["management_api"];
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/oauth/token", server.base()))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": m["client_id"],
                      "client_secret": m["client_secret"],
                      "audience": format!("{}/api/v2/", server.base())}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().expect("a Management token");

    let mut cmd = tokio::process::Command::new(&python);
    cmd.args(["-m", "schemathesis.cli", "run"])
        .arg(format!("{}/api/v2/openapi.json", server.base()))
        .args(["--url", &server.base()])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            "5",
            "--seed",
            "1",
            "--workers",
            "2",
            "--request-timeout",
            "10",
            "--phases",
            "examples,coverage,fuzzing",
            "--generation-database",
            "none",
            "--no-color",
        ]);
    for (method, path) in EXCLUDED {
        cmd.args([
            "--exclude-operation-id",
            &format!(
                "{}{}",
                method.to_lowercase(),
                path.replace(['/', '{', '}', '.', '-'], "_")
            ),
        ]);
    }
    cmd.current_dir(temp_dir()).kill_on_drop(true);
    let started = std::time::Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("schemathesis ran past its time bound")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = server.stop_and_read_log().await;
    assert!(
        out.status.success(),
        "schemathesis found problems\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log (tail):\n{}",
        log.lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
    println!(
        "schemathesis passed in {:.0} s\n{stdout}",
        started.elapsed().as_secs_f64()
    );
}
