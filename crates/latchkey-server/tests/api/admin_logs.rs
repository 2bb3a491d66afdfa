//! The console's log: filters by type, user and date, an entry in full, and console actions
//! attributed to the administrator who did them. Also `GET /api/v2/logs/{id}`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::login::hidden;
use reqwest::Method;
use std::time::Duration;

#[tokio::test]
async fn the_log_filters_by_type_user_and_date_and_shows_each_entry() {
    let app = crate::helpers::spawn_app().await;
    let user = app
        .create_user("logged@example.com", "Old-Password-1")
        .await;
    app.create_user("other@example.com", "Old-Password-1").await;
    let user_id = user["user_id"].as_str().unwrap().to_owned();
    app.login("logged@example.com", "Wrong-Password-9", "openid")
        .await;
    app.login("other@example.com", "Old-Password-1", "openid")
        .await;

    let (email, _) = crate::admin::admin_credentials(&app);
    let mut b = crate::admin::signed_in_admin(&app).await;
    // A console action: its entry names the administrator.
    let user_path = format!(
        "/admin/users/{}",
        url::form_urlencoded::byte_serialize(user_id.as_bytes()).collect::<String>()
    );
    let (_, detail, _) = b.get(&app.url(&user_path)).await;
    let (status, _, _) = b
        .post(
            &app.url(&format!("{user_path}/revoke-sessions")),
            &[("_csrf", &hidden(&detail, "_csrf"))],
        )
        .await;
    assert_eq!(status, 303);
    tokio::time::sleep(Duration::from_millis(700)).await;

    let (status, all, _) = b.get(&app.url("/admin/logs")).await;
    assert_eq!(status, 200);
    assert!(
        all.contains("<code>fp</code>") && all.contains("<code>s</code>"),
        "{all}"
    );
    assert!(all.contains(&format!("{email} (console)")), "{all}");

    // By type.
    let (_, failures, _) = b.get(&app.url("/admin/logs?type=fp")).await;
    assert!(failures.contains("<code>fp</code>") && !failures.contains("<code>s</code>"));
    // By user.
    let (_, mine, _) = b
        .get(&app.url(&format!(
            "/admin/logs?user={}",
            url::form_urlencoded::byte_serialize(user_id.as_bytes()).collect::<String>()
        )))
        .await;
    assert!(mine.contains("logged@example.com") && !mine.contains("other@example.com"));
    // By date: today has everything, a day in the past nothing; a bad date is a 400.
    let today = latchkey_core::time::Timestamp::now().to_iso()[..10].to_owned();
    let (_, today_page, _) = b
        .get(&app.url(&format!("/admin/logs?from={today}&to={today}")))
        .await;
    assert!(today_page.contains("<code>fp</code>"));
    let (_, past, _) = b
        .get(&app.url("/admin/logs?from=2001-01-01&to=2001-01-31"))
        .await;
    assert!(past.contains("No entry matches."));
    let (status, bad, _) = b.get(&app.url("/admin/logs?from=yesterday")).await;
    assert_eq!(status, 400);
    assert!(bad.contains("From must be a date"));

    // One entry in full, in the console and through the Management API.
    let (_, logs) = app
        .api(Method::GET, "/logs?q=type:fp&per_page=5", None)
        .await;
    let log_id = logs[0]["log_id"].as_str().unwrap().to_owned();
    let (status, entry, _) = b.get(&app.url(&format!("/admin/logs/{log_id}"))).await;
    assert_eq!(status, 200);
    assert!(entry.contains("logged@example.com") && entry.contains(&log_id));
    let (status, one) = app.api(Method::GET, &format!("/logs/{log_id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(one["type"], "fp");
    let (status, _) = app.api(Method::GET, "/logs/no-such-entry", None).await;
    assert_eq!(status, 404);
    let (status, _, _) = b.get(&app.url("/admin/logs/no-such-entry")).await;
    assert_eq!(status, 404);

    // Logged out: to the sign-in page.
    let res = app.http.get(app.url("/admin/logs")).send().await.unwrap();
    assert_eq!(res.status(), 303);
}
