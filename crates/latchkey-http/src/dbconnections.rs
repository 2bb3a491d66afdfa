//! `/dbconnections/*`: the database-connection endpoints of the Authentication API.

use crate::AppState;
use crate::errors::DbConnError;
use crate::extract::{DbParams, Meta};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use latchkey_core::ServiceError;
use latchkey_core::domain::{Email, Password, Profile};
use latchkey_core::services::{Caller, NewUser};
use serde_json::{Map, Value, json};

pub fn router() -> Router<AppState> {
    Router::new().route("/dbconnections/signup", post(signup))
}

/// Sign-up: `client_id`, `email`, `password`, `connection` (required), `username`, profile
/// fields and `user_metadata`. Other keys (auth0-js forwards `captcha`, `state`…) are ignored.
async fn signup(
    State(state): State<AppState>,
    Meta(meta): Meta,
    params: DbParams,
) -> Result<Json<Value>, DbConnError> {
    let client_id = params.require("client_id")?;
    let email = Email::parse(&params.require("email")?).map_err(ServiceError::from)?;
    let password = Password::parse(params.require("password")?).map_err(ServiceError::from)?;
    let new = NewUser {
        connection: params.require("connection")?,
        email: Some(email),
        email_verified: false,
        username: params.get("username")?,
        password: Some(password),
        user_id: None,
        profile: Profile {
            name: params.get("name")?,
            nickname: params.get("nickname")?,
            given_name: params.get("given_name")?,
            family_name: params.get("family_name")?,
            picture: params.get("picture")?,
            phone_number: None,
            phone_verified: false,
        },
        user_metadata: params.object("user_metadata")?,
        app_metadata: Map::new(),
        blocked: false,
    };
    let user = state
        .services
        .signup(&client_id, new, &Caller::end_user(meta))
        .await?;
    let mut body = json!({"_id": user.user_id.bare(), "email_verified": user.email_verified, "email": user.email});
    if let Some(m) = body.as_object_mut() {
        for (k, v) in [
            ("username", &user.username),
            ("given_name", &user.profile.given_name),
            ("family_name", &user.profile.family_name),
            ("name", &user.profile.name),
            ("nickname", &user.profile.nickname),
            ("picture", &user.profile.picture),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if !user.user_metadata.is_empty() {
            m.insert(
                "user_metadata".into(),
                Value::Object(user.user_metadata.clone()),
            );
        }
    }
    Ok(Json(body))
}
