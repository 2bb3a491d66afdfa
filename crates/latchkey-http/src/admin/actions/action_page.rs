//! One action's page: its draft code, secrets, deploy, test run, versions and delete.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/actions/{id}", get(edit).post(save))
        .route("/admin/actions/{id}/secrets", post(set_secret))
        .route("/admin/actions/{id}/secrets/remove", post(remove_secret))
        .route("/admin/actions/{id}/test", post(test))
        .route("/admin/actions/{id}/delete", post(delete))
}

/// What a "Test" run reported (`test_action`'s `payload`).
fn test_report(result: &Value) -> TestReport {
    let p = &result["payload"];
    let commands = p["commands"].as_array().filter(|c| !c.is_empty());
    TestReport {
        status: p["status"].as_str().unwrap_or("unknown").to_owned(),
        error: p["error"].as_str().map(str::to_owned),
        logs: p["logs"].as_str().unwrap_or_default().to_owned(),
        commands: commands.map(|c| serde_json::to_string_pretty(c).unwrap_or_default()),
        duration: p["stats"]["total_ms"].as_f64().map(|ms| format!("{ms:.1}")),
    }
}

/// What the action's page shows besides the action.
#[derive(Default)]
struct EditForms<'a> {
    /// The code as typed (after a refused save); otherwise the draft's.
    code: Option<&'a str>,
    /// The test event as typed; otherwise the trigger's sample.
    event: Option<&'a str>,
    secret_name: Option<&'a str>,
    confirm: Option<&'a str>,
    test: Option<TestReport>,
    errors: Vec<FieldError>,
}

fn no_such_action(console: &Console) -> Response {
    console.render(
        StatusCode::NOT_FOUND,
        SECTION,
        "Action not found",
        None,
        &views::Missing { what: "action" },
    )
}

async fn find(console: &Console, id: &str) -> Result<Action, Response> {
    match console.state.services.actions.get_action(id).await {
        Ok(a) => Ok(a),
        Err(ServiceError::NotFound { .. }) => Err(no_such_action(console)),
        Err(err) => Err(failed("loading an action in the console", err)),
    }
}

/// The triggers `action` is bound to.
async fn bound_to(console: &Console, action: &Action) -> Result<Vec<Trigger>, ServiceError> {
    let mut out = Vec::new();
    for t in Trigger::ALL {
        let bound = console.state.services.actions.trigger_bindings(t).await?;
        if bound.iter().any(|(b, _)| b.action_id == action.id) {
            out.push(t);
        }
    }
    Ok(out)
}

async fn edit_page(
    console: &Console,
    action: &Action,
    forms: EditForms<'_>,
    notice: Option<Notice<'_>>,
    status: StatusCode,
) -> Response {
    let gathered = async {
        let versions = console
            .state
            .services
            .actions
            .action_versions(&action.id)
            .await?;
        let bound = bound_to(console, action).await?;
        Ok::<_, ServiceError>((versions, bound))
    };
    let (versions, bound): (Vec<ActionVersion>, Vec<Trigger>) = match gathered.await {
        Ok(v) => v,
        Err(err) => {
            return failed("loading an action's page in the console", err);
        }
    };
    let trigger = action.supported_triggers.first().copied();
    let sample = trigger.map_or_else(
        || "{}".to_owned(),
        |t| sample_event(t, &console.state.services.config().issuer),
    );
    let errors = &forms.errors;
    let view = views::Edit {
        csrf: console.csrf(),
        path: action_path(&action.id),
        name: &action.name,
        triggers: triggers_text(action),
        deployed: deployed_text(action),
        changes: changes_not_deployed(action),
        bound: bound.iter().map(|t| t.id()).collect(),
        runtime: &action.runtime,
        created: action.created_at.to_iso(),
        updated: action.updated_at.to_iso(),
        handler: trigger.map_or("onExecute…", Trigger::handler),
        code: forms.code.unwrap_or(&action.code),
        code_error: error_for(errors, "code"),
        event: forms.event.unwrap_or(&sample),
        event_error: error_for(errors, "event"),
        test: forms.test.as_ref(),
        secrets: action
            .secrets
            .iter()
            .map(|s| SecretRow {
                name: &s.name,
                updated: s.updated_at.to_iso(),
            })
            .collect(),
        secret_name: forms.secret_name.unwrap_or_default(),
        secret_name_error: error_for(errors, "secret-name"),
        secret_value_error: error_for(errors, "secret-value"),
        versions: versions
            .iter()
            .map(|v| VersionRow {
                number: v.number,
                created: v.created_at.to_iso(),
                current: action
                    .deployed
                    .as_ref()
                    .is_some_and(|d| d.version_id == v.id),
            })
            .collect(),
        confirm: forms.confirm.unwrap_or_default(),
        confirm_error: error_for(errors, "confirm"),
    };
    console.render(status, SECTION, &action.name, notice, &view)
}

async fn edit(console: Console, Path(id): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    edit_page(
        &console,
        &action,
        EditForms::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

/// The action's page again with `message`, a 400 and, when `field` is set, the message beside
/// that field.
async fn refused_edit(
    console: &Console,
    action: &Action,
    mut forms: EditForms<'_>,
    field: Option<&'static str>,
    message: String,
) -> Response {
    let notice = match field {
        Some(_) => "Nothing changed: see below.".to_owned(),
        None => message.clone(),
    };
    if let Some(field) = field {
        forms.errors.push(FieldError { field, message });
    }
    edit_page(
        console,
        action,
        forms,
        Some(Notice::Error(&notice)),
        StatusCode::BAD_REQUEST,
    )
    .await
}

#[derive(Deserialize)]
struct CodeFields {
    #[serde(default)]
    code: String,
    #[serde(default)]
    intent: String,
}

async fn save(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<CodeFields>,
) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    // Browsers send a textarea's lines with CRLF; the code keeps the usual LF.
    let code = f.code.replace("\r\n", "\n");
    let deploy = f.intent == "deploy";
    let caller = console.admin.caller(meta);
    let services = console.state.services.clone();
    let patch = ActionPatch {
        code: Some(code.clone()),
        ..ActionPatch::default()
    };
    let result = async {
        let saved = services
            .actions
            .update_action(&action.id, patch, &caller)
            .await?;
        if deploy {
            services.actions.deploy_action(&saved.id, &caller).await?;
        }
        Ok::<_, ServiceError>(saved)
    }
    .await;
    match result {
        Ok(saved) => done(
            &action_path(&saved.id),
            if deploy { "deployed" } else { "saved" },
        ),
        Err(ServiceError::NotFound { .. }) => no_such_action(&console),
        Err(err) => match refusal(&err) {
            Some((field, message)) => {
                // The draft may have been saved before a refused deploy: show it as it is now.
                let action = match find(&console, &id).await {
                    Ok(a) => a,
                    Err(r) => return r,
                };
                let forms = EditForms {
                    code: Some(&code),
                    ..EditForms::default()
                };
                // The code is the form's only field: a refused value is about it.
                let field = field.map(|_| "code");
                refused_edit(&console, &action, forms, field, message).await
            }
            None => failed("saving an action in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct SecretFields {
    #[serde(default)]
    secret_name: String,
    #[serde(default)]
    secret_value: String,
}

/// The draft's secrets as `SecretInput`s that keep every stored value.
fn kept_secrets(action: &Action) -> Vec<SecretInput> {
    action
        .secrets
        .iter()
        .map(|s| SecretInput {
            name: s.name.clone(),
            value: None,
        })
        .collect()
}

async fn set_secret(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<SecretFields>,
) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let name = f.secret_name.trim().to_owned();
    let forms = || EditForms {
        secret_name: Some(&f.secret_name),
        ..EditForms::default()
    };
    if name.is_empty() {
        return refused_edit(
            &console,
            &action,
            forms(),
            Some("secret-name"),
            "Enter the secret's name.".to_owned(),
        )
        .await;
    }
    if f.secret_value.is_empty() {
        return refused_edit(
            &console,
            &action,
            forms(),
            Some("secret-value"),
            "Enter the secret's value.".to_owned(),
        )
        .await;
    }
    let mut secrets = kept_secrets(&action);
    let value = Some(SecretString::from(f.secret_value.clone()));
    match secrets.iter_mut().find(|s| s.name == name) {
        Some(s) => s.value = value,
        None => secrets.push(SecretInput {
            name: name.clone(),
            value,
        }),
    }
    // The value is never shown back: only the name stays in the form.
    save_secrets(
        &console,
        meta,
        &action,
        secrets,
        "secret-saved",
        forms(),
        Some("secret-name"),
    )
    .await
}

/// Saves an action's new set of secrets (`flash` on success); a refusal shows `forms` again.
async fn save_secrets(
    console: &Console,
    meta: latchkey_core::audit::RequestMeta,
    action: &Action,
    secrets: Vec<SecretInput>,
    flash: &str,
    forms: EditForms<'_>,
    field: Option<&'static str>,
) -> Response {
    let patch = ActionPatch {
        secrets: Some(secrets),
        ..ActionPatch::default()
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .actions
        .update_action(&action.id, patch, &caller)
        .await
    {
        Ok(saved) => done(&action_path(&saved.id), flash),
        Err(ServiceError::NotFound { .. }) => no_such_action(console),
        Err(err) => match refusal(&err) {
            Some((_, message)) => refused_edit(console, action, forms, field, message).await,
            None => failed("saving an action's secrets in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct RemoveSecretFields {
    #[serde(default)]
    name: String,
}

async fn remove_secret(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<RemoveSecretFields>,
) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut secrets = kept_secrets(&action);
    let before = secrets.len();
    secrets.retain(|s| s.name != f.name);
    if secrets.len() == before {
        return refused_edit(
            &console,
            &action,
            EditForms::default(),
            None,
            "Nothing changed: the action has no such secret.".to_owned(),
        )
        .await;
    }
    save_secrets(
        &console,
        meta,
        &action,
        secrets,
        "secret-removed",
        EditForms::default(),
        None,
    )
    .await
}

#[derive(Deserialize)]
struct TestFields {
    #[serde(default)]
    event: String,
}

async fn test(
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<TestFields>,
) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let event = match serde_json::from_str::<Value>(&f.event) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return refused_edit(
                &console,
                &action,
                EditForms {
                    event: Some(&f.event),
                    ..EditForms::default()
                },
                Some("event"),
                "The event must be a JSON object ({ … }).".to_owned(),
            )
            .await;
        }
        Err(err) => {
            return refused_edit(
                &console,
                &action,
                EditForms {
                    event: Some(&f.event),
                    ..EditForms::default()
                },
                Some("event"),
                format!("The event is not valid JSON: {err}."),
            )
            .await;
        }
    };
    match console
        .state
        .services
        .actions
        .test_action(&action.id, event)
        .await
    {
        Ok(result) => {
            let forms = EditForms {
                event: Some(&f.event),
                test: Some(test_report(&result)),
                ..EditForms::default()
            };
            edit_page(
                &console,
                &action,
                forms,
                Some(Notice::Ok("Test run: the result is under Test.")),
                StatusCode::OK,
            )
            .await
        }
        Err(ServiceError::NotFound { .. }) => no_such_action(&console),
        Err(err) => match refusal(&err) {
            Some((_, message)) => {
                let forms = EditForms {
                    event: Some(&f.event),
                    ..EditForms::default()
                };
                refused_edit(&console, &action, forms, Some("event"), message).await
            }
            None => failed("testing an action in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct DeleteFields {
    #[serde(default)]
    confirm: String,
}

async fn delete(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<DeleteFields>,
) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if f.confirm.trim() != action.name {
        let forms = EditForms {
            confirm: Some(&f.confirm),
            ..EditForms::default()
        };
        return refused_edit(
            &console,
            &action,
            forms,
            Some("confirm"),
            format!(
                "Type the action's name, {}, to confirm the deletion.",
                action.name
            ),
        )
        .await;
    }
    let bound = match bound_to(&console, &action).await {
        Ok(b) => !b.is_empty(),
        Err(err) => {
            return failed("reading an action's bindings in the console", err);
        }
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .actions
        .delete_action(&action.id, bound, &caller)
        .await
    {
        Ok(()) => done(SECTION, "deleted"),
        Err(ServiceError::NotFound { .. }) => no_such_action(&console),
        Err(err) => match refusal(&err) {
            Some((_, message)) => {
                refused_edit(&console, &action, EditForms::default(), None, message).await
            }
            None => failed("deleting an action in the console", err),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn templates_export_their_triggers_handler() {
        for t in Trigger::ALL {
            let code = template(t);
            assert!(
                code.contains(&format!(
                    "exports.{} = async (event, api) => {{\n}};\n",
                    t.handler()
                )),
                "{code}"
            );
            assert!(code.contains("behavior of the"), "{code}");
            assert!(!code.contains(".}"), "{code}");
            let event: Value =
                serde_json::from_str(&sample_event(t, "https://id.example.com/")).unwrap();
            assert_eq!(event["tenant"]["id"], "id.example.com");
            assert!(event["user"]["user_id"].is_string());
        }
        assert!(template(Trigger::PostLogin).contains("@param {PostLoginAPI} api - Interface"));
    }
}
