//! The hosted login: `GET /authorize` (answers at once when a session is live, else the login
//! page), `POST /u/login` (the form), and `GET /v2/logout`.

use super::Ctx;
use super::views::{self, CodeForm, Message, Onward};
use crate::AppState;
use crate::extract::Meta;
use crate::web::i18n::Lang;
use crate::web::views::RuleLine;
use crate::web::{Csp, PageError, PageResult, internal, origin_of, read_cookie, url_component};
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
/// The session again without `SameSite`, for browsers that refuse `SameSite=None` (and would
/// drop `lk_session`), as Auth0 pairs `auth0` with `auth0_compat`. Read only when
/// `lk_session` is absent.
const SESSION_COMPAT_COOKIE: &str = "lk_session_compat";
/// Binds a login suspended by a post-login action's redirect to the browser it left from.
const CONTINUE_COOKIE: &str = "lk_continue";
const LOGIN_PURPOSE: &str = "login";

/// The session cookie a request carries.
pub(super) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    read_cookie(headers, SESSION_COOKIE).or_else(|| read_cookie(headers, SESSION_COMPAT_COOKIE))
}

/// `Set-Cookie` values for the session (`token`) or, with `None`, for ending it. Under TLS the
/// session must reach `/authorize` in a cross-site iframe (silent authentication), so it is
/// `SameSite=None; Secure`, with its compatibility twin; every form that acts on it carries a
/// CSRF token, so `Lax` is not what protects them. Over plain HTTP (development) browsers
/// refuse `SameSite=None` without `Secure`: one `Lax` cookie, and silent authentication works
/// from the server's own site only.
fn session_cookies(ctx: &Ctx, token: Option<(&str, i64)>) -> Vec<String> {
    let (value, max_age) = token.unwrap_or(("", 0));
    if ctx.state.services.config().issuer.starts_with("https://") {
        vec![
            format!(
                "{SESSION_COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=None; Max-Age={max_age}"
            ),
            format!("{SESSION_COMPAT_COOKIE}={value}; Path=/; HttpOnly; Secure; Max-Age={max_age}"),
        ]
    } else {
        vec![format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}"
        )]
    }
}

/// The callback answer: a 302 with the parameters in the query or the fragment, a page whose
/// form carries them to the callback (form_post), or a page that posts them to the window
/// that opened or framed it (web_message).
fn respond(ctx: &Ctx, answer: &AuthorizationResponse, session_cookies: Vec<String>) -> Response {
    let target: Vec<String> = origin_of(&answer.redirect_uri).into_iter().collect();
    let mut res = match answer.mode {
        ResponseMode::Query | ResponseMode::Fragment => {
            Redirect::to(&answer.location()).into_response()
        }
        ResponseMode::FormPost => {
            let view = views::FormPost {
                action: &answer.redirect_uri,
                fields: &answer.params,
                script: views::FORM_POST_SCRIPT.text,
            };
            let csp = Csp {
                form_targets: &target,
                scripts: &[&views::FORM_POST_SCRIPT],
                ..Csp::default()
            };
            ctx.render_with(StatusCode::OK, "Signing you in", &view, &csp)
        }
        // The service answers web_message only for a callback whose origin is one of the
        // client's web origins: that origin alone receives the answer and may frame the page.
        ResponseMode::WebMessage => {
            let view = views::WebMessage {
                origin: target.first().map(String::as_str).unwrap_or_default(),
                fields: &answer.params,
                script: views::WEB_MESSAGE_SCRIPT.text,
            };
            let csp = Csp {
                scripts: &[&views::WEB_MESSAGE_SCRIPT],
                frame_ancestors: &target,
                ..Csp::default()
            };
            ctx.render_with(StatusCode::OK, "Signing you in", &view, &csp)
        }
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in session_cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

fn login_page(ctx: &Ctx, form: &LoginForm, error: Option<&str>, status: StatusCode) -> Response {
    let view = views::Login {
        client: &form.client_name,
        error,
        csrf: ctx.csrf(LOGIN_PURPOSE),
        transaction: &form.transaction,
        hint: form.login_hint.as_deref().unwrap_or_default(),
        connection_query: url_component(&form.connection),
        signup_query: form
            .signup_allowed
            .then(|| url_component(&form.transaction)),
    };
    let targets: Vec<String> = origin_of(&form.redirect_uri).into_iter().collect();
    ctx.render(status, "Log in", &view, &targets)
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
    let view = views::Signup {
        client: &form.client_name,
        error,
        csrf: ctx.csrf(SIGNUP_PURPOSE),
        transaction: &form.transaction,
        email,
        rules: RuleLine::list(rules.unwrap_or(&form.rules), rules.is_some()),
        back_query: url_component(&form.transaction),
    };
    let targets: Vec<String> = origin_of(&form.redirect_uri).into_iter().collect();
    ctx.render(status, "Sign up", &view, &targets)
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
) -> PageResult {
    let ctx = Ctx::new(state, &headers).await?;
    let form = login_form(&ctx, &q.state).await?;
    Ok(if signup && form.signup_allowed {
        signup_page(&ctx, &form, "", None, None, StatusCode::OK)
    } else {
        login_page(&ctx, &form, None, StatusCode::OK)
    })
}

async fn signup_page_route(
    state: State<AppState>,
    headers: HeaderMap,
    q: Query<StateQuery>,
) -> PageResult {
    signup_page_or_login(state, headers, q, true).await
}

async fn login_again(
    state: State<AppState>,
    headers: HeaderMap,
    q: Query<StateQuery>,
) -> PageResult {
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
) -> PageResult {
    let (ctx, form) =
        sealed_form_post(state, &headers, SIGNUP_PURPOSE, &fields.csrf, &fields.state).await?;
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
        return Ok(again("Enter a valid email address.", None));
    };
    let Ok(password) = Password::parse(fields.password.clone()) else {
        return Ok(again("Choose a password.", None));
    };
    match services
        .login
        .signup_with_password(&fields.state, email, password, &Caller::end_user(meta))
        .await
    {
        Ok(step) => Ok(after_login(&ctx, step, None, StatusCode::OK)),
        Err(ServiceError::PasswordPolicy(v)) => Ok(again(v.name.message(), Some(&v.rules))),
        Err(e @ ServiceError::SuspiciousIp) => Ok(again(&e.to_string(), None)),
        // Auth0 does not tell strangers which addresses are registered.
        Err(ServiceError::BadRequest { message, .. }) => Ok(again(&message, None)),
        Err(err) => Err(internal("sign-up")(err)),
    }
}

async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Query(req): Query<AuthorizeRequest>,
) -> PageResult {
    let mut ctx = Ctx::new(state, &headers).await?;
    // `ui_locales` picks the pages' language, remembered for the rest of the visit.
    let chosen = req.ui_locales.as_deref().and_then(Lang::from_list);
    if let Some(lang) = chosen {
        ctx.lang = lang;
    }
    let session = session_cookie(&headers);
    let caller = Caller::end_user(meta);
    let mut req = req;
    // Cross-origin authentication: the ticket's verifier, set by `/co/authenticate`.
    req.co_verifier = read_cookie(&headers, crate::cross_origin::CO_VERIFIER_COOKIE)
        .map(secrecy::SecretString::from);
    let mut res = authorize_answer(&ctx, req, session.as_deref(), &caller).await?;
    if let Some(lang) = chosen
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{}={}; Path=/; SameSite=Lax; Max-Age=31536000",
            crate::web::i18n::LANG_COOKIE,
            lang.code()
        ))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

async fn authorize_answer(
    ctx: &Ctx,
    req: AuthorizeRequest,
    session: Option<&str>,
    caller: &Caller,
) -> PageResult {
    Ok(
        match ctx
            .state
            .services
            .login
            .authorize(req, session, caller)
            .await
        {
            Ok(AuthorizeOutcome::Respond(answer)) => respond(ctx, &answer, Vec::new()),
            Ok(AuthorizeOutcome::Step(step)) => after_login(ctx, step, None, StatusCode::OK),
            Err(ServiceError::AccessDenied(message)) => denied_page(ctx, &message),
            Ok(AuthorizeOutcome::Login(form)) if form.show_signup => {
                signup_page(ctx, &form, "", None, None, StatusCode::OK)
            }
            Ok(AuthorizeOutcome::Login(form)) => login_page(ctx, &form, None, StatusCode::OK),
            Ok(AuthorizeOutcome::Refuse(message)) => ctx.message(
                StatusCode::BAD_REQUEST,
                &Message {
                    error: Some(&message),
                    note: Some("Go back to the application and try again."),
                    ..Message::new("Something is wrong with this link")
                },
            ),
            Err(err) => return Err(internal("authorize")(err)),
        },
    )
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
) -> PageResult {
    let (ctx, form) =
        sealed_form_post(state, &headers, LOGIN_PURPOSE, &fields.csrf, &fields.state).await?;
    let services = ctx.state.services.clone();
    let again = |message: &str, status| {
        let form = LoginForm {
            login_hint: Some(fields.username.clone()),
            ..form.clone()
        };
        Ok(login_page(&ctx, &form, Some(message), status))
    };
    let Ok(password) = Password::parse(fields.password.clone()) else {
        return again(
            "Enter your email address and password.",
            StatusCode::BAD_REQUEST,
        );
    };
    match services
        .login
        .login_with_password(
            &fields.state,
            &fields.username,
            &password,
            &Caller::end_user(meta),
        )
        .await
    {
        Ok(step) => Ok(after_login(&ctx, step, None, StatusCode::OK)),
        Err(ServiceError::WrongCredentials) => {
            again("Wrong email or password.", StatusCode::BAD_REQUEST)
        }
        Err(ServiceError::TooManyAttempts) => again(
            "Your account has been blocked after multiple consecutive login attempts. We've sent you an email with instructions on how to unblock it.",
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e @ ServiceError::PasswordLeaked { .. }) => {
            again(&e.to_string(), StatusCode::FORBIDDEN)
        }
        Err(e @ ServiceError::SuspiciousIp) => again(&e.to_string(), StatusCode::TOO_MANY_REQUESTS),
        Err(ServiceError::UserBlocked) => again(
            "Your account is blocked. Contact the application's support.",
            StatusCode::FORBIDDEN,
        ),
        Err(ServiceError::BadRequest { message, .. }) => again(&message, StatusCode::BAD_REQUEST),
        Err(ServiceError::AccessDenied(message)) => Ok(denied_page(&ctx, &message)),
        Err(e @ ServiceError::Overloaded { retry_after_secs }) => {
            again(&e.to_string(), StatusCode::SERVICE_UNAVAILABLE).map(|mut res| {
                crate::errors::retry_after(res.headers_mut(), Some(retry_after_secs));
                res
            })
        }
        Err(err) => Err(internal("login")(err)),
    }
}

const MFA_PURPOSE: &str = "login-mfa";

/// The login form's context from its sealed state, or the page that says it expired.
async fn login_form(ctx: &Ctx, transaction: &str) -> Result<LoginForm, PageError> {
    match ctx.state.services.login.login_form(transaction).await {
        Ok(f) => Ok(f),
        Err(ServiceError::BadRequest { message, .. }) => Err(expired_page(ctx, &message).into()),
        Err(err) => Err(internal("login form")(err)),
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
) -> Result<(Ctx, LoginForm), PageError> {
    let ctx = Ctx::for_post(state, headers, purpose, csrf).await?;
    let form = login_form(&ctx, transaction).await?;
    Ok((ctx, form))
}

/// A login form (or its second step) that outlived its sealed state.
fn expired_page(ctx: &Ctx, message: &str) -> Response {
    ctx.message(
        StatusCode::BAD_REQUEST,
        &Message {
            error: Some(message),
            ..Message::new("This page expired")
        },
    )
}

/// A login an action refused or could not finish: said plainly, with no way around it.
fn denied_page(ctx: &Ctx, message: &str) -> Response {
    ctx.message(
        StatusCode::FORBIDDEN,
        &Message {
            error: Some(message),
            note: Some("Go back to the application and try again."),
            ..Message::new("You can't log in right now")
        },
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
    let same_origin = origin_of(url) == origin_of(&ctx.state.services.config().issuer);
    let mut res = if same_origin {
        Redirect::to(url).into_response()
    } else {
        let view = Message {
            lead: vec!["The application needs you to continue on another page."],
            button: Some((url, "Continue")),
            ..Message::new("One more step")
        };
        let mut page = ctx.message(StatusCode::OK, &view);
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
) -> PageResult {
    let ctx = Ctx::new(state, &headers).await?;
    let Some(sealed) = query.get("state").cloned() else {
        return Ok(expired_page(&ctx, "Missing required parameter: state"));
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
        .login
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
        Err(err) => return Err(internal("continue a login")(err)),
    };
    // The continuation is spent either way.
    if let Ok(c) = HeaderValue::from_str(&format!(
        "{CONTINUE_COOKIE}=; Path=/continue; HttpOnly; SameSite=Lax; Max-Age=0"
    )) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// Where a login goes next: the callback (with the session cookie), or the second factor.
fn after_login(ctx: &Ctx, step: LoginStep, error: Option<&str>, status: StatusCode) -> Response {
    match step {
        LoginStep::Redirect {
            url,
            browser_binding,
        } => action_redirect(ctx, &url, browser_binding.expose_secret()),
        LoginStep::Respond { response } => respond(ctx, &response, Vec::new()),
        LoginStep::Done {
            session,
            response,
            recovery_code,
        } => {
            let cookies = session_cookies(
                ctx,
                Some((session.token.expose_secret(), session.max_age_secs)),
            );
            match recovery_code {
                None => respond(ctx, &response, cookies),
                Some(code) => recovery_page(ctx, &response, code.expose_secret(), cookies),
            }
        }
        LoginStep::SecondFactor { pending, callback } => {
            let view = views::SecondFactor {
                code: code_form(ctx, &pending, error),
            };
            // The code's answer redirects to the callback: the form must be allowed to.
            let targets: Vec<String> = origin_of(&callback).into_iter().collect();
            ctx.render(status, "Verify it's you", &view, &targets)
        }
        LoginStep::Enroll {
            pending,
            secret,
            otpauth_uri,
            callback,
        } => {
            let view = views::Enroll {
                qr_base64: crate::web::qr_svg_base64(otpauth_uri.expose_secret()),
                key: crate::web::grouped_key(secret.expose_secret()),
                code: code_form(ctx, &pending, error),
            };
            let targets: Vec<String> = origin_of(&callback).into_iter().collect();
            ctx.render(status, "Secure your account", &view, &targets)
        }
    }
}

fn code_form<'a>(ctx: &Ctx, pending: &'a str, error: Option<&'a str>) -> CodeForm<'a> {
    CodeForm {
        action: "/u/mfa",
        csrf: ctx.csrf(MFA_PURPOSE),
        hidden_name: "pending",
        hidden_value: pending,
        label: "Code",
        error,
    }
}

/// After a new enrolment: the recovery code, shown once, then on to the application.
fn recovery_page(
    ctx: &Ctx,
    answer: &AuthorizationResponse,
    code: &str,
    cookies: Vec<String>,
) -> Response {
    let location = answer.location();
    let targets: Vec<String> = origin_of(&answer.redirect_uri).into_iter().collect();
    let view = views::Recovery {
        heading: "Save your recovery code",
        lead: "If you lose your phone, this code lets you sign in once. It is shown only now.",
        code: crate::web::grouped_key(code),
        onward: match answer.mode {
            ResponseMode::Query | ResponseMode::Fragment => Onward::Link(&location),
            ResponseMode::FormPost => Onward::Post {
                action: &answer.redirect_uri,
                fields: &answer.params,
            },
            // A popup (silent authentication never gets here: it needs no new code): the
            // button posts the answer to the opener, at the callback's origin only.
            ResponseMode::WebMessage => Onward::Message {
                origin: targets.first().map(String::as_str).unwrap_or_default(),
                fields: &answer.params,
                script: views::WEB_MESSAGE_SCRIPT.text,
            },
        },
    };
    let csp = Csp {
        form_targets: &targets,
        scripts: &[&views::WEB_MESSAGE_SCRIPT],
        ..Csp::default()
    };
    let mut res = ctx.render_with(StatusCode::OK, "Save your recovery code", &view, &csp);
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
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
) -> PageResult {
    let ctx = Ctx::for_post(state, &headers, MFA_PURPOSE, &fields.csrf).await?;
    let services = ctx.state.services.clone();
    let outcome = services
        .login
        .login_second_factor(&fields.pending, &fields.code, &Caller::end_user(meta))
        .await;
    let (message, status) = match outcome {
        Ok(step) => return Ok(after_login(&ctx, step, None, StatusCode::OK)),
        Err(ServiceError::TooManyRequests(m)) => (m, StatusCode::TOO_MANY_REQUESTS),
        Err(ServiceError::BadRequest {
            code: ErrorCode::InvalidOtp,
            message,
        }) => (message, StatusCode::BAD_REQUEST),
        Err(ServiceError::BadRequest { message, .. }) => return Ok(expired_page(&ctx, &message)),
        Err(ServiceError::AccessDenied(message)) => return Ok(denied_page(&ctx, &message)),
        Err(err) => return Err(internal("second factor at login")(err)),
    };
    let step = services
        .login
        .login_challenge(&fields.pending)
        .map_err(internal("second factor at login"))?;
    Ok(after_login(&ctx, step, Some(&message), status))
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
) -> PageResult {
    let ctx = Ctx::new(state, &headers).await?;
    let session = session_cookie(&headers);
    let target = ctx
        .state
        .services
        .sessions
        .logout(
            session.as_deref(),
            q.client_id.as_deref(),
            q.return_to.as_deref(),
            &Caller::end_user(meta),
        )
        .await
        .map_err(internal("logout"))?;
    let mut res = match target {
        Some(url) => Redirect::to(&url).into_response(),
        None => ctx.message(
            StatusCode::OK,
            &Message {
                lead: vec!["You can close this window."],
                ..Message::new("You are logged out")
            },
        ),
    };
    clear_session_cookie(&ctx, &mut res);
    Ok(res)
}

/// Removes the session cookies (`/v2/logout`, `/oidc/logout`).
pub(super) fn clear_session_cookie(ctx: &Ctx, res: &mut Response) {
    for clear in session_cookies(ctx, None) {
        if let Ok(v) = HeaderValue::from_str(&clear) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}
