//! The hosted login: `GET /authorize` (answers at once when a session is live, else the login
//! page), `POST /u/login` (the form), and `GET /v2/logout`.

use super::{Ctx, e, error_page, read_cookie};
use crate::AppState;
use crate::extract::Meta;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use latchkey_core::ErrorCode;
use latchkey_core::ServiceError;
use latchkey_core::domain::Password;
use latchkey_core::services::{
    AuthorizationResponse, AuthorizeOutcome, AuthorizeRequest, Caller, LoginForm, LoginStep,
    ResponseMode,
};
use secrecy::ExposeSecret;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/u/login", post(login))
        .route("/u/mfa", post(second_factor))
        .route("/u/signup", get(signup_page_route).post(signup))
        .route("/u/login/again", get(login_again))
        .route("/v2/logout", get(logout))
        .route("/continue", get(continue_login))
}

const SESSION_COOKIE: &str = "lk_session";
/// Binds a login suspended by a post-login action's redirect to the browser it left from.
const CONTINUE_COOKIE: &str = "lk_continue";
const LOGIN_PURPOSE: &str = "login";

/// The callback answer: a 302 with the parameters in the query, or (form_post) a page whose
/// form carries them to the callback.
fn respond(ctx: &Ctx, answer: &AuthorizationResponse, session_cookie: Option<String>) -> Response {
    let mut res = match answer.mode {
        ResponseMode::Query => Redirect::to(&answer.location()).into_response(),
        ResponseMode::FormPost => {
            let fields: String = answer
                .params
                .iter()
                .map(|(k, v)| format!(r#"<input type="hidden" name="{}" value="{}">"#, e(k), e(v)))
                .collect();
            let body = format!(
                r#"<h1>Signing you in…</h1><form method="post" action="{}">{fields}<button type="submit">Continue to the application</button></form>"#,
                e(&answer.redirect_uri)
            );
            let target = super::origin_of(&answer.redirect_uri)
                .into_iter()
                .collect::<Vec<_>>();
            ctx.page(StatusCode::OK, "Signing you in", &body, &target)
        }
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = session_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

fn login_page(ctx: &Ctx, form: &LoginForm, error: Option<&str>, status: StatusCode) -> Response {
    let csrf = ctx.state.services.csrf_token(&ctx.nonce, LOGIN_PURPOSE);
    let banner = error.map_or(String::new(), |m| {
        format!(
            r#"<div id="form-error" class="alert error" role="alert">{}</div>"#,
            e(m)
        )
    });
    let described = if error.is_some() {
        r#" aria-describedby="form-error""#
    } else {
        ""
    };
    let body = format!(
        r#"<h1>Log in</h1>
<p class="lead">to continue to <strong>{client}</strong></p>
{banner}<form method="post" action="/u/login" novalidate>
<input type="hidden" name="_csrf" value="{csrf}"><input type="hidden" name="state" value="{tx}">
<label for="username">Email address</label>
<input id="username" name="username" type="email" autocomplete="username" required value="{hint}"{described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Continue</button>
</form>
<p class="muted"><a href="/lo/forgot?connection={connection}">Forgot password?</a>{signup}</p>"#,
        client = e(&form.client_name),
        csrf = e(&csrf),
        tx = e(&form.transaction),
        hint = e(form.login_hint.as_deref().unwrap_or_default()),
        connection = e(&form.connection),
        signup = if form.signup_allowed {
            format!(
                r#" · <a href="/u/signup?state={}">Sign up</a>"#,
                e(&url_component(&form.transaction))
            )
        } else {
            String::new()
        },
    );
    let targets: Vec<String> = super::origin_of(&form.redirect_uri).into_iter().collect();
    ctx.page(status, "Log in", &body, &targets)
}

fn url_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

const SIGNUP_PURPOSE: &str = "signup";

fn signup_page(
    ctx: &Ctx,
    form: &LoginForm,
    email: &str,
    error: Option<&str>,
    rules: Option<&[latchkey_core::password::RuleReport]>,
    status: StatusCode,
) -> Response {
    let csrf = ctx.state.services.csrf_token(&ctx.nonce, SIGNUP_PURPOSE);
    let banner = error.map_or(String::new(), |m| {
        format!(
            r#"<div id="form-error" class="alert error" role="alert">{}</div>"#,
            e(m)
        )
    });
    let described = if error.is_some() {
        r#" aria-describedby="form-error rules""#
    } else {
        r#" aria-describedby="rules""#
    };
    let checked = rules.is_some();
    let rule_items: String = rules
        .unwrap_or(&form.rules)
        .iter()
        .map(|r| {
            let class = match (checked, r.verified) {
                (false, _) => "",
                (true, true) => "ok",
                (true, false) => "bad",
            };
            format!(r#"<li class="{class}">{}</li>"#, e(&r.text()))
        })
        .collect();
    let body = format!(
        r#"<h1>Sign up</h1>
<p class="lead">to continue to <strong>{client}</strong></p>
{banner}<form method="post" action="/u/signup" novalidate>
<input type="hidden" name="_csrf" value="{csrf}"><input type="hidden" name="state" value="{tx}">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="email" required value="{email}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required{described}>
<ul id="rules" class="rules">{rule_items}</ul>
<button type="submit">Sign up</button>
</form>
<p class="muted">Already have an account? <a href="/u/login/again?state={back}">Log in</a></p>"#,
        client = e(&form.client_name),
        csrf = e(&csrf),
        tx = e(&form.transaction),
        email = e(email),
        back = e(&url_component(&form.transaction)),
    );
    let targets: Vec<String> = super::origin_of(&form.redirect_uri).into_iter().collect();
    ctx.page(status, "Sign up", &body, &targets)
}

#[derive(Deserialize)]
struct StateQuery {
    #[serde(default)]
    state: String,
}

async fn signup_page_or_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StateQuery>,
    signup: bool,
) -> Response {
    let ctx = match Ctx::new(state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match login_form(&ctx, &q.state).await {
        Ok(form) if signup && form.signup_allowed => {
            signup_page(&ctx, &form, "", None, None, StatusCode::OK)
        }
        Ok(form) => login_page(&ctx, &form, None, StatusCode::OK),
        Err(page) => page,
    }
}

async fn signup_page_route(
    state: State<AppState>,
    headers: HeaderMap,
    q: Query<StateQuery>,
) -> Response {
    signup_page_or_login(state, headers, q, true).await
}

async fn login_again(state: State<AppState>, headers: HeaderMap, q: Query<StateQuery>) -> Response {
    signup_page_or_login(state, headers, q, false).await
}

#[derive(Deserialize)]
struct SignupFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(fields): Form<SignupFields>,
) -> Response {
    let (ctx, form) = match sealed_form_post(
        state,
        &headers,
        SIGNUP_PURPOSE,
        &fields.csrf,
        &fields.state,
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let services = ctx.state.services.clone();
    let again = |message: &str, rules: Option<&[latchkey_core::password::RuleReport]>| {
        signup_page(
            &ctx,
            &form,
            &fields.email,
            Some(message),
            rules,
            StatusCode::BAD_REQUEST,
        )
    };
    let Ok(email) = latchkey_core::domain::Email::parse(fields.email.trim()) else {
        return again("Enter a valid email address.", None);
    };
    let Ok(password) = Password::parse(fields.password.clone()) else {
        return again("Choose a password.", None);
    };
    match services
        .signup_with_password(&fields.state, email, password, &Caller::end_user(meta))
        .await
    {
        Ok(step) => after_login(&ctx, step, None, StatusCode::OK),
        Err(ServiceError::PasswordPolicy(v)) => again(v.name.message(), Some(&v.rules)),
        // Auth0 does not tell strangers which addresses are registered.
        Err(ServiceError::BadRequest { message, .. }) => again(&message, None),
        Err(err) => {
            tracing::error!(error = ?err, "sign-up");
            error_page()
        }
    }
}

async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Query(req): Query<AuthorizeRequest>,
) -> Response {
    let mut ctx = match Ctx::new(state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    // `ui_locales` picks the pages' language, remembered for the rest of the visit.
    let chosen = req
        .ui_locales
        .as_deref()
        .and_then(super::i18n::Lang::from_list);
    if let Some(lang) = chosen {
        ctx.lang = lang;
    }
    let session = read_cookie(&headers, SESSION_COOKIE);
    let caller = Caller::end_user(meta);
    let mut res = authorize_answer(&ctx, req, session.as_deref(), &caller).await;
    if let Some(lang) = chosen
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{}={}; Path=/; SameSite=Lax; Max-Age=31536000",
            super::i18n::LANG_COOKIE,
            lang.code()
        ))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

async fn authorize_answer(
    ctx: &Ctx,
    req: AuthorizeRequest,
    session: Option<&str>,
    caller: &Caller,
) -> Response {
    match ctx.state.services.authorize(req, session, caller).await {
        Ok(AuthorizeOutcome::Respond(answer)) => respond(ctx, &answer, None),
        Ok(AuthorizeOutcome::Step(step)) => after_login(ctx, step, None, StatusCode::OK),
        Err(ServiceError::AccessDenied(message)) => denied_page(ctx, &message),
        Ok(AuthorizeOutcome::Login(form)) if form.show_signup => {
            signup_page(ctx, &form, "", None, None, StatusCode::OK)
        }
        Ok(AuthorizeOutcome::Login(form)) => login_page(ctx, &form, None, StatusCode::OK),
        Ok(AuthorizeOutcome::Refuse(message)) => ctx.page(
            StatusCode::BAD_REQUEST,
            "Something is wrong with this link",
            &format!(
                r#"<h1>Something is wrong with this link</h1><div class="alert error" role="alert">{}</div><p class="muted">Go back to the application and try again.</p>"#,
                e(&message)
            ),
            &[],
        ),
        Err(err) => {
            tracing::error!(error = ?err, "authorize");
            error_page()
        }
    }
}

#[derive(Deserialize)]
struct LoginFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(fields): Form<LoginFields>,
) -> Response {
    let (ctx, form) =
        match sealed_form_post(state, &headers, LOGIN_PURPOSE, &fields.csrf, &fields.state).await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let services = ctx.state.services.clone();
    let again = |message: &str, status| {
        let form = LoginForm {
            login_hint: Some(fields.username.clone()),
            ..form.clone()
        };
        login_page(&ctx, &form, Some(message), status)
    };
    let Ok(password) = Password::parse(fields.password.clone()) else {
        return again(
            "Enter your email address and password.",
            StatusCode::BAD_REQUEST,
        );
    };
    match services
        .login_with_password(
            &fields.state,
            &fields.username,
            &password,
            &Caller::end_user(meta),
        )
        .await
    {
        Ok(step) => after_login(&ctx, step, None, StatusCode::OK),
        Err(ServiceError::WrongCredentials) => {
            again("Wrong email or password.", StatusCode::BAD_REQUEST)
        }
        Err(ServiceError::TooManyAttempts) => again(
            "Your account has been blocked after multiple consecutive login attempts. We've sent you an email with instructions on how to unblock it.",
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(ServiceError::UserBlocked) => again(
            "Your account is blocked. Contact the application's support.",
            StatusCode::FORBIDDEN,
        ),
        Err(ServiceError::BadRequest { message, .. }) => again(&message, StatusCode::BAD_REQUEST),
        Err(ServiceError::AccessDenied(message)) => denied_page(&ctx, &message),
        Err(err) => {
            tracing::error!(error = ?err, "login");

            error_page()
        }
    }
}

const MFA_PURPOSE: &str = "login-mfa";

/// The login form's context from its sealed state, or the page that says it expired.
async fn login_form(ctx: &Ctx, transaction: &str) -> Result<LoginForm, Response> {
    match ctx.state.services.login_form(transaction).await {
        Ok(f) => Ok(f),
        Err(ServiceError::BadRequest { message, .. }) => Err(expired_page(ctx, &message)),
        Err(err) => {
            tracing::error!(error = ?err, "login form");
            Err(error_page())
        }
    }
}

/// A post of a sealed login form (log in, sign up): the CSRF gate, then the authorization
/// request the form carries.
async fn sealed_form_post(
    state: AppState,
    headers: &HeaderMap,
    purpose: &str,
    csrf: &str,
    transaction: &str,
) -> Result<(Ctx, LoginForm), Response> {
    let ctx = Ctx::for_post(state, headers, purpose, csrf).await?;
    let form = login_form(&ctx, transaction).await?;
    Ok((ctx, form))
}

/// A login form (or its second step) that outlived its sealed state.
fn expired_page(ctx: &Ctx, message: &str) -> Response {
    ctx.page(
        StatusCode::BAD_REQUEST,
        "This page expired",
        &format!(
            r#"<h1>This page expired</h1><div class="alert error" role="alert">{}</div>"#,
            e(message)
        ),
        &[],
    )
}

/// A login an action refused or could not finish: said plainly, with no way around it.
fn denied_page(ctx: &Ctx, message: &str) -> Response {
    ctx.page(
        StatusCode::FORBIDDEN,
        "You can't log in right now",
        &format!(
            r#"<h1>You can't log in right now</h1><div class="alert error" role="alert">{}</div><p class="muted">Go back to the application and try again.</p>"#,
            e(message)
        ),
        &[],
    )
}

/// Sends the browser to a post-login action's target with the continuation cookie. A target
/// on another origin gets a page that links there: a form's CSP (`form-action`) would block a
/// redirect it did not know about when the form was shown.
fn action_redirect(ctx: &Ctx, url: &str, binding: &str) -> Response {
    let secure = ctx.state.services.config().issuer.starts_with("https://");
    let cookie = format!(
        "{CONTINUE_COOKIE}={binding}; Path=/continue; HttpOnly; SameSite=Lax; Max-Age=3600{}",
        if secure { "; Secure" } else { "" }
    );
    let same_origin =
        super::origin_of(url) == super::origin_of(&ctx.state.services.config().issuer);
    let mut res = if same_origin {
        Redirect::to(url).into_response()
    } else {
        let body = format!(
            r#"<h1>One more step</h1><p class="lead">The application needs you to continue on another page.</p><p><a class="button" href="{}">Continue</a></p>"#,
            e(url)
        );
        let mut page = ctx.page(StatusCode::OK, "One more step", &body, &[]);
        if let Ok(v) = HeaderValue::from_str(&format!("0;url={url}")) {
            page.headers_mut()
                .insert(HeaderName::from_static("refresh"), v);
        }
        page
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(c) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// `GET /continue?state=…`: back from a post-login action's redirect.
async fn continue_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Query(query): Query<std::collections::BTreeMap<String, String>>,
) -> Response {
    let ctx = match Ctx::new(state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(sealed) = query.get("state").cloned() else {
        return expired_page(&ctx, "Missing required parameter: state");
    };
    let binding = read_cookie(&headers, CONTINUE_COOKIE);
    let query_json = serde_json::Value::Object(
        query
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect(),
    );
    let outcome = ctx
        .state
        .services
        .continue_login(
            &sealed,
            binding.as_deref(),
            query_json,
            &Caller::end_user(meta),
        )
        .await;
    let mut res = match outcome {
        Ok(step) => after_login(&ctx, step, None, StatusCode::OK),
        Err(ServiceError::BadRequest { message, .. }) => expired_page(&ctx, &message),
        Err(ServiceError::AccessDenied(message)) => denied_page(&ctx, &message),
        Err(err) => {
            tracing::error!(error = ?err, "continue a login");
            error_page()
        }
    };
    // The continuation is spent either way.
    if let Ok(c) = HeaderValue::from_str(&format!(
        "{CONTINUE_COOKIE}=; Path=/continue; HttpOnly; SameSite=Lax; Max-Age=0"
    )) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Where a login goes next: the callback (with the session cookie), or the second factor.
fn after_login(ctx: &Ctx, step: LoginStep, error: Option<&str>, status: StatusCode) -> Response {
    match step {
        LoginStep::Redirect {
            url,
            browser_binding,
        } => action_redirect(ctx, &url, browser_binding.expose_secret()),
        LoginStep::Respond { response } => respond(ctx, &response, None),
        LoginStep::Done {
            session,
            response,
            recovery_code,
        } => {
            let secure = ctx.state.services.config().issuer.starts_with("https://");
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
                session.token.expose_secret(),
                session.max_age_secs,
                if secure { "; Secure" } else { "" }
            );
            match recovery_code {
                None => respond(ctx, &response, Some(cookie)),
                Some(code) => recovery_page(ctx, &response, code.expose_secret(), cookie),
            }
        }
        LoginStep::SecondFactor { pending, callback } => {
            let body = format!(
                r#"<h1>Verify it's you</h1>
<p class="lead">Enter the 6-digit code from your authenticator app, or a recovery code.</p>
{}"#,
                code_form(ctx, &pending, error)
            );
            // The code's answer redirects to the callback: the form must be allowed to.
            let targets: Vec<String> = super::origin_of(&callback).into_iter().collect();
            ctx.page(status, "Verify it's you", &body, &targets)
        }
        LoginStep::Enroll {
            pending,
            secret,
            otpauth_uri,
            callback,
        } => {
            let data = super::qr_svg_base64(otpauth_uri.expose_secret());
            let grouped = super::grouped_key(secret.expose_secret());
            let body = format!(
                r#"<h1>Secure your account</h1>
<p class="lead">Scan this code with an authenticator app (Google Authenticator, 1Password, Authy…), then enter the 6-digit code it shows.</p>
<p class="qr"><img src="data:image/svg+xml;base64,{data}" width="200" height="200" alt="QR code for your authenticator app"></p>
<p class="muted">Can't scan it? Enter this key instead:</p>
<p class="key"><code>{key}</code></p>
{form}"#,
                key = e(&grouped),
                form = code_form(ctx, &pending, error)
            );
            let targets: Vec<String> = super::origin_of(&callback).into_iter().collect();
            ctx.page(status, "Secure your account", &body, &targets)
        }
    }
}

fn code_form(ctx: &Ctx, pending: &str, error: Option<&str>) -> String {
    let csrf = ctx.state.services.csrf_token(&ctx.nonce, MFA_PURPOSE);
    let banner = error.map_or(String::new(), |m| {
        format!(
            r#"<div id="form-error" class="alert error" role="alert">{}</div>"#,
            e(m)
        )
    });
    let described = if error.is_some() {
        r#" aria-invalid="true" aria-describedby="form-error""#
    } else {
        ""
    };
    format!(
        r#"{banner}<form method="post" action="/u/mfa" novalidate>
<input type="hidden" name="_csrf" value="{}"><input type="hidden" name="pending" value="{}">
<label for="code">Code</label>
<input id="code" name="code" type="text" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required{described}>
<button type="submit">Continue</button></form>"#,
        e(&csrf),
        e(pending)
    )
}

/// After a new enrolment: the recovery code, shown once, then on to the application.
fn recovery_page(
    ctx: &Ctx,
    answer: &AuthorizationResponse,
    code: &str,
    cookie: String,
) -> Response {
    let onward = match answer.mode {
        ResponseMode::Query => format!(
            r#"<a class="button" href="{}">I saved it, continue</a>"#,
            e(&answer.location())
        ),
        ResponseMode::FormPost => {
            let fields: String = answer
                .params
                .iter()
                .map(|(k, v)| format!(r#"<input type="hidden" name="{}" value="{}">"#, e(k), e(v)))
                .collect();
            format!(
                r#"<form method="post" action="{}">{fields}<button type="submit">I saved it, continue</button></form>"#,
                e(&answer.redirect_uri)
            )
        }
    };
    let body = format!(
        r#"<h1>Save your recovery code</h1>
<p class="lead">If you lose your phone, this code lets you sign in once. It is shown only now.</p>
<p class="recovery"><code id="recovery-code">{}</code></p>
{onward}"#,
        e(&super::grouped_key(code))
    );
    let targets: Vec<String> = super::origin_of(&answer.redirect_uri).into_iter().collect();
    let mut res = ctx.page(StatusCode::OK, "Save your recovery code", &body, &targets);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
struct SecondFactorFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    pending: String,
    #[serde(default)]
    code: String,
}

async fn second_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(fields): Form<SecondFactorFields>,
) -> Response {
    let ctx = match Ctx::for_post(state, &headers, MFA_PURPOSE, &fields.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let services = ctx.state.services.clone();
    let outcome = services
        .login_second_factor(&fields.pending, &fields.code, &Caller::end_user(meta))
        .await;
    let (message, status) = match outcome {
        Ok(step) => return after_login(&ctx, step, None, StatusCode::OK),
        Err(ServiceError::TooManyRequests(m)) => (m, StatusCode::TOO_MANY_REQUESTS),
        Err(ServiceError::BadRequest {
            code: ErrorCode::InvalidOtp,
            message,
        }) => (message, StatusCode::BAD_REQUEST),
        Err(ServiceError::BadRequest { message, .. }) => return expired_page(&ctx, &message),
        Err(ServiceError::AccessDenied(message)) => return denied_page(&ctx, &message),
        Err(err) => {
            tracing::error!(error = ?err, "second factor at login");
            return error_page();
        }
    };
    match services.login_challenge(&fields.pending) {
        Ok(step) => after_login(&ctx, step, Some(&message), status),
        Err(err) => {
            tracing::error!(error = ?err, "second factor at login");
            error_page()
        }
    }
}

#[derive(Deserialize)]
struct LogoutQuery {
    client_id: Option<String>,
    #[serde(rename = "returnTo")]
    return_to: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Query(q): Query<LogoutQuery>,
) -> Response {
    let ctx = match Ctx::new(state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let session = read_cookie(&headers, SESSION_COOKIE);
    let target = ctx
        .state
        .services
        .logout(
            session.as_deref(),
            q.client_id.as_deref(),
            q.return_to.as_deref(),
            &Caller::end_user(meta),
        )
        .await;
    let mut res = match target {
        Ok(Some(url)) => Redirect::to(&url).into_response(),
        Ok(None) => ctx.page(
            StatusCode::OK,
            "Logged out",
            r#"<h1>You are logged out</h1><p class="lead">You can close this window.</p>"#,
            &[],
        ),
        Err(err) => {
            tracing::error!(error = ?err, "logout");
            return error_page();
        }
    };
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&clear) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}
