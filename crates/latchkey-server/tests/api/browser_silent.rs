//! auth0-spa-js's silent authentication (the hidden iframe and refresh tokens) from another
//! site, and express-openid-connect's default configuration (id_token by form_post), each
//! unchanged in headless Chromium against the real binary over TLS
//! (`tests-sdk/spa/silent_journey.mjs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::browser::Journey;
use crate::sdk::repo_root;

#[tokio::test]
async fn spa_js_renews_silently_and_express_openid_connect_defaults_log_in() {
    let spa = repo_root().join("tests-sdk/spa/node_modules");
    assert!(
        ["@auth0/auth0-spa-js", "express-openid-connect", "express"]
            .iter()
            .all(|m| spa.join(m).exists()),
        "npm auth0-spa-js/express-openid-connect are not installed: run scripts/test (it runs \
         npm ci in tests-sdk/spa)"
    );
    // The script lives beside its own packages and borrows ../browser's helpers and Chromium.
    let journey = Journey::run("../spa/silent_journey.mjs", "silent", &[]).await;
    journey.assert_screenshots(&["web-message"]);
}
