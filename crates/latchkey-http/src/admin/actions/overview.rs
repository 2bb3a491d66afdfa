//! The actions overview: the triggers with their bound actions in order, the list of
//! actions and the "New action" form.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/actions", get(overview).post(create))
        .route("/admin/actions/bindings/{trigger}", post(bind))
}

/// What the overview's forms show after a refusal.
#[derive(Default)]
struct OverviewForms<'a> {
    new_name: &'a str,
    new_trigger: Option<Trigger>,
    errors: Vec<FieldError>,
}

fn trigger_panel<'a>(
    trigger: Trigger,
    bound: &'a [(ActionBinding, Action)],
    actions: &'a [Action],
    errors: &'a [FieldError],
) -> TriggerPanel<'a> {
    let select_id = bind_field(trigger);
    TriggerPanel {
        id: trigger.id(),
        label: trigger_label(trigger),
        hint: trigger_hint(trigger),
        bound: bound
            .iter()
            .map(|(b, a)| BoundItem {
                path: action_path(&a.id),
                name: &b.display_name,
                action_id: &a.id,
                version: deployed_text(a),
                changes: changes_not_deployed(a),
            })
            .collect(),
        candidates: actions
            .iter()
            .filter(|a| a.supported_triggers.contains(&trigger) && a.deployed.is_some())
            .filter(|a| !bound.iter().any(|(b, _)| b.action_id == a.id))
            .map(|a| (a.id.as_str(), a.name.as_str()))
            .collect(),
        select_id,
        error_id: format!("{select_id}-error"),
        error: error_for(errors, select_id),
    }
}

/// The id of a trigger's "add" select (a `FieldError`'s field).
fn bind_field(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::PostLogin => "bind-post-login",
        Trigger::PostChangePassword => "bind-post-change-password",
        Trigger::PasswordResetPostChallenge => "bind-password-reset-post-challenge",
    }
}

async fn overview_page(
    console: &Console,
    forms: OverviewForms<'_>,
    notice: Option<Notice<'_>>,
    status: StatusCode,
) -> Response {
    let services = &console.state.services;
    let gathered = async {
        let actions = services.actions.list_actions(None, None, None).await?;
        let mut bindings = Vec::with_capacity(Trigger::ALL.len());
        for t in Trigger::ALL {
            bindings.push((t, services.actions.trigger_bindings(t).await?));
        }
        Ok::<_, ServiceError>((actions, bindings))
    };
    let (mut actions, bindings) = match gathered.await {
        Ok(v) => v,
        Err(err) => {
            return failed("loading the actions page in the console", err);
        }
    };
    actions.sort_by_cached_key(|a| a.name.to_lowercase());
    let view = views::Overview {
        csrf: console.csrf(),
        triggers: bindings
            .iter()
            .map(|(t, bound)| trigger_panel(*t, bound, &actions, &forms.errors))
            .collect(),
        actions: actions
            .iter()
            .map(|a| ActionRow {
                path: action_path(&a.id),
                name: &a.name,
                triggers: triggers_text(a),
                deployed: deployed_text(a),
                changes: changes_not_deployed(a),
                updated: a.updated_at.to_iso(),
            })
            .collect(),
        new_name: forms.new_name,
        name_error: error_for(&forms.errors, "new-name"),
        options: Trigger::ALL
            .iter()
            .map(|t| TriggerOption {
                id: t.id(),
                label: trigger_label(*t),
                selected: forms.new_trigger == Some(*t),
            })
            .collect(),
        trigger_error: error_for(&forms.errors, "new-trigger"),
    };
    console.render(status, SECTION, "Actions", notice, &view)
}

async fn overview(console: Console, Query(q): Query<DoneQuery>) -> Response {
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    overview_page(&console, OverviewForms::default(), notice, StatusCode::OK).await
}

#[derive(Deserialize)]
struct NewFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    trigger: String,
}

async fn create(Meta(meta): Meta, ConsoleForm(console, f): ConsoleForm<NewFields>) -> Response {
    let trigger = Trigger::parse(&f.trigger);
    let refused = |field: &'static str, message: String| {
        let forms = OverviewForms {
            new_name: &f.name,
            new_trigger: trigger,
            errors: vec![FieldError { field, message }],
        };
        let console = &console;
        async move {
            overview_page(
                console,
                forms,
                Some(Notice::Error("The action was not created: see below.")),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let Some(trigger) = trigger else {
        return refused("new-trigger", "Choose a trigger.".to_owned()).await;
    };
    let new = NewAction {
        name: f.name.clone(),
        supported_triggers: vec![trigger],
        code: template(trigger),
        dependencies: Vec::new(),
        runtime: None,
        secrets: Vec::new(),
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .actions
        .create_action(new, &caller)
        .await
    {
        Ok(action) => done(&action_path(&action.id), "created"),
        Err(err) => match refusal(&err) {
            Some((Some("supported_triggers"), message)) => refused("new-trigger", message).await,
            // A bad name, or one already taken (a conflict).
            Some((_, message)) => refused("new-name", message).await,
            None => failed("creating an action in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct BindFields {
    #[serde(default)]
    action: String,
    #[serde(default)]
    op: String,
}

async fn bind(
    Meta(meta): Meta,
    Path(trigger): Path<String>,
    ConsoleForm(console, f): ConsoleForm<BindFields>,
) -> Response {
    let Some(trigger) = Trigger::parse(&trigger) else {
        return console.render(
            StatusCode::NOT_FOUND,
            SECTION,
            "Trigger not found",
            None,
            &views::Missing { what: "trigger" },
        );
    };
    let refused = |field: Option<&'static str>, message: String| {
        let console = &console;
        async move {
            let notice = match field {
                Some(_) => "Nothing changed: see below.".to_owned(),
                None => message.clone(),
            };
            let forms = OverviewForms {
                errors: field
                    .map(|field| vec![FieldError { field, message }])
                    .unwrap_or_default(),
                ..OverviewForms::default()
            };
            overview_page(
                console,
                forms,
                Some(Notice::Error(&notice)),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let current = match console
        .state
        .services
        .actions
        .trigger_bindings(trigger)
        .await
    {
        Ok(b) => b,
        Err(err) => {
            return failed("reading trigger bindings in the console", err);
        }
    };
    // (action id, display name), in the trigger's order.
    let mut order: Vec<(String, Option<String>)> = current
        .iter()
        .map(|(b, _)| (b.action_id.clone(), Some(b.display_name.clone())))
        .collect();
    let at = order.iter().position(|(id, _)| *id == f.action);
    let code = match (f.op.as_str(), at) {
        ("add", _) if f.action.is_empty() => {
            return refused(
                Some(bind_field(trigger)),
                "Choose the action to add.".to_owned(),
            )
            .await;
        }
        ("add", Some(_)) => {
            return refused(
                Some(bind_field(trigger)),
                "This action is already bound to this trigger.".to_owned(),
            )
            .await;
        }
        ("add", None) => {
            order.push((f.action.clone(), None));
            "bound"
        }
        ("up", Some(i)) => {
            if i > 0 {
                order.swap(i, i - 1);
            }
            "moved"
        }
        ("down", Some(i)) => {
            if i + 1 < order.len() {
                order.swap(i, i + 1);
            }
            "moved"
        }
        ("remove", Some(i)) => {
            order.remove(i);
            "unbound"
        }
        ("up" | "down" | "remove", None) => {
            return refused(
                None,
                "Nothing changed: that action is no longer bound to this trigger. The current order is below.".to_owned(),
            )
            .await;
        }
        _ => {
            return refused(
                None,
                "Nothing changed: this form could not be read.".to_owned(),
            )
            .await;
        }
    };
    let refs = order
        .into_iter()
        .map(|(value, display_name)| BindingRef {
            by_name: false,
            value,
            display_name,
        })
        .collect();
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .actions
        .set_trigger_bindings(trigger, refs, &caller)
        .await
    {
        Ok(_) => done(SECTION, code),
        Err(err) => match refusal(&err) {
            Some((_, message)) if f.op == "add" => {
                refused(Some(bind_field(trigger)), message).await
            }
            Some((_, message)) => refused(None, message).await,
            None => failed("saving trigger bindings in the console", err),
        },
    }
}
