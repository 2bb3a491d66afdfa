//! The README's tour, run literally on a fresh data dir: every `sh` block of "A five-minute
//! tour" in order, then its Python SDK block, against the real binary on the port the README
//! names (8080). Only `cargo run --release --` is swapped for the binary this test built, so
//! that nothing is compiled twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::temp_dir;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The text of `heading`'s section (up to the next `## `).
fn section<'a>(readme: &'a str, heading: &str) -> &'a str {
    let start = readme.find(heading).expect("the README has the section");
    let rest = &readme[start + heading.len()..];
    rest.find("\n## ").map_or(rest, |end| &rest[..end])
}

/// The fenced code blocks of `lang` in `text`, in order.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("```").expect("a closed code block");
        out.push(body[..end].to_owned());
        rest = &body[end + 3..];
    }
    out
}

#[tokio::test]
async fn the_readme_tour_runs_as_written_on_a_fresh_data_dir() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let tour = section(&readme, "## A five-minute tour");
    let shell = blocks(tour, "sh");
    assert!(shell.len() >= 2, "the tour's sh blocks: {}", shell.len());
    let sdk = blocks(tour, "python");

    let mut script = format!(
        "set -euo pipefail\n\
         cargo() {{ if [ \"$1 $2 $3 $4\" = 'run --release -- serve' ]; then shift 3; exec '{bin}' \"$@\" >>server.log 2>&1; fi; \
         if [ \"$1 $2 $3\" = 'run --release --' ]; then shift 3; exec '{bin}' \"$@\"; fi; command cargo \"$@\"; }}\n",
        bin = env!("CARGO_BIN_EXE_latchkey")
    );
    for block in &shell {
        script.push_str(block);
        script.push('\n');
    }
    // The SDK block, with the Python that has auth0-python (scripts/test provides it).
    let python = std::env::var("LATCHKEY_PYTHON").ok();
    if let Some(python) = &python {
        for block in &sdk {
            script.push_str(&format!("'{python}' - <<'PY'\n{block}PY\necho sdk-ok\n"));
        }
    }

    // Not the README's: while the server still runs, the mailed link opens the reset form.
    script.push_str(
        "curl -s --fail-with-body \"$LINK\" | grep -q 'Change your password' && echo link-opens-the-form\n",
    );

    let dir = temp_dir();
    let child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = child.id();
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    // The server the tour left running, and anything else the script started.
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{group}")])
        .status();
    let output = output
        .expect("the tour finished within two minutes")
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the tour failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    // What the tour shows: the user found, the login's tokens, the ticket, the mailed link.
    assert!(stdout.contains("\"total\":1"), "{stdout}");
    assert!(stdout.contains("\"access_token\""), "{stdout}");
    assert!(stdout.contains("\"refresh_token\""), "{stdout}");
    assert!(stdout.contains("\"ticket\""), "{stdout}");
    assert!(
        stdout.contains("We've just sent you an email to reset your password."),
        "{stdout}"
    );
    let link = stdout
        .lines()
        .rev()
        .find_map(|l| l.find("http://").map(|at| l[at..].trim().to_owned()))
        .expect("the tour prints the mailed link");
    assert!(
        link.starts_with("http://127.0.0.1:8080/lo/reset?ticket="),
        "{link}"
    );
    if python.is_some() {
        assert!(stdout.contains("sdk-ok"), "{stdout}\n{stderr}");
    }
    assert!(stdout.contains("link-opens-the-form"), "{stdout}\n{stderr}");
}
