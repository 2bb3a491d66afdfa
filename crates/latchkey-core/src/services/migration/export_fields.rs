//! Auth0's export field names (`user_id`, `user_metadata.plan`, `identities[0].connection`),
//! read once into a path and applied to a user's Management API JSON, and the two file
//! formats' rows: newline-delimited JSON objects, and CSV escaped as Auth0 does against CSV
//! injection (every string quoted and prefixed with `'`, inner quotes doubled).

use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::store::{ExportField, ExportFormat};
use serde_json::{Map, Value};

/// Auth0's limit on the fields of one export.
pub(super) const MAX_FIELDS: usize = 30;

/// The user attributes a field may start with (Auth0's normalized user profile). Password
/// hashes and second-factor secrets are not among them: the API never exports those.
const ROOTS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "username",
    "phone_number",
    "phone_verified",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "created_at",
    "updated_at",
    "last_login",
    "last_ip",
    "last_password_reset",
    "logins_count",
    "blocked",
    "identities",
    "user_metadata",
    "app_metadata",
    "multifactor",
];

/// What an export writes when the request names no fields (Auth0 documents only "a
/// predefined set"): the profile's scalar attributes, and in JSON the metadata objects too.
pub(super) fn default_fields(format: ExportFormat) -> Vec<ExportField> {
    let mut names = vec![
        "user_id",
        "email",
        "email_verified",
        "username",
        "name",
        "given_name",
        "family_name",
        "nickname",
        "picture",
        "created_at",
        "updated_at",
        "last_login",
        "logins_count",
        "blocked",
    ];
    if format == ExportFormat::Json {
        names.extend(["user_metadata", "app_metadata"]);
    }
    names
        .into_iter()
        .map(|n| ExportField {
            name: n.to_owned(),
            export_as: None,
        })
        .collect()
}

fn bad(message: String) -> ServiceError {
    ServiceError::bad_request(ErrorCode::InvalidBody, message)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A field read once: where its value sits in the user's JSON, and its column.
#[derive(Debug, Clone)]
pub(super) struct FieldPath {
    steps: Vec<Step>,
    column: String,
}

fn parse_steps(name: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    for segment in name.split('.') {
        let (key, mut rest) = match segment.find('[') {
            Some(i) => segment.split_at(i),
            None => (segment, ""),
        };
        let key_ok = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'));
        if !key_ok {
            return None;
        }
        steps.push(Step::Key(key.to_owned()));
        while !rest.is_empty() {
            let inner = rest.strip_prefix('[')?;
            let (index, after) = inner.split_once(']')?;
            if index.is_empty() || !index.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            steps.push(Step::Index(index.parse().ok()?));
            rest = after;
        }
    }
    Some(steps)
}

/// Reads the request's fields: known roots, well-formed paths, distinct columns, at most 30;
/// a CSV cannot hold a whole metadata object (Auth0 asks for its properties one by one).
pub(super) fn read_fields(
    fields: &[ExportField],
    format: ExportFormat,
) -> ServiceResult<Vec<FieldPath>> {
    if fields.is_empty() {
        return Err(bad("fields must name at least one field.".into()));
    }
    if fields.len() > MAX_FIELDS {
        return Err(bad(format!(
            "fields may name at most {MAX_FIELDS} fields; use the json format for more."
        )));
    }
    let mut out: Vec<FieldPath> = Vec::with_capacity(fields.len());
    for (i, f) in fields.iter().enumerate() {
        let steps = parse_steps(&f.name)
            .filter(|_| f.name.len() <= 256)
            .ok_or_else(|| bad(format!("fields[{i}].name is not a field name: {}", f.name)))?;
        let root = match steps.first() {
            Some(Step::Key(k)) => k.as_str(),
            _ => "",
        };
        if !ROOTS.contains(&root) {
            return Err(bad(format!(
                "fields[{i}].name: {root} is not an exportable user attribute."
            )));
        }
        if format == ExportFormat::Csv
            && steps.len() == 1
            && matches!(root, "user_metadata" | "app_metadata")
        {
            return Err(bad(format!(
                "fields[{i}]: a CSV export cannot hold the whole {root}; name its properties \
                 ({root}.<property>) or use the json format."
            )));
        }
        let column = match &f.export_as {
            Some(a) if a.trim().is_empty() || a.len() > 256 => {
                return Err(bad(format!(
                    "fields[{i}].export_as must be a non-empty name."
                )));
            }
            Some(a) => a.clone(),
            None => f.name.clone(),
        };
        if out.iter().any(|p| p.column == column) {
            return Err(bad(format!(
                "fields[{i}]: the column {column} is named twice."
            )));
        }
        out.push(FieldPath { steps, column });
    }
    Ok(out)
}

impl FieldPath {
    fn value<'a>(&self, user: &'a Value) -> Option<&'a Value> {
        let mut v = user;
        for step in &self.steps {
            v = match step {
                Step::Key(k) => v.get(k)?,
                Step::Index(i) => v.get(*i)?,
            };
        }
        (!v.is_null()).then_some(v)
    }
}

/// CSV's header line: the columns, quoted where RFC 4180 needs it.
pub(super) fn csv_header(paths: &[FieldPath]) -> String {
    let cells: Vec<String> = paths
        .iter()
        .map(|p| {
            if p.column.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", p.column.replace('"', "\"\""))
            } else {
                p.column.clone()
            }
        })
        .collect();
    format!("{}\n", cells.join(","))
}

fn csv_cell(v: Option<&Value>) -> String {
    let quoted = |s: &str| format!("\"'{}\"", s.replace('"', "\"\""));
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => quoted(s),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => quoted(&other.to_string()),
    }
}

/// One user's line in the export's format (with its newline).
pub(super) fn line(user: &Value, paths: &[FieldPath], format: ExportFormat) -> String {
    match format {
        ExportFormat::Csv => {
            let cells: Vec<String> = paths.iter().map(|p| csv_cell(p.value(user))).collect();
            format!("{}\n", cells.join(","))
        }
        ExportFormat::Json => {
            let mut object = Map::new();
            for p in paths {
                if let Some(v) = p.value(user) {
                    object.insert(p.column.clone(), v.clone());
                }
            }
            format!("{}\n", Value::Object(object))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn field(name: &str, export_as: Option<&str>) -> ExportField {
        ExportField {
            name: name.into(),
            export_as: export_as.map(Into::into),
        }
    }

    #[test]
    fn paths_reach_nested_values_and_csv_escapes_as_auth0() {
        let user = json!({"user_id": "auth0|1", "email": "a\"b@x.io", "logins_count": 3,
            "user_metadata": {"plan": "pro"}, "identities": [{"connection": "db"}]});
        let paths = read_fields(
            &[
                field("user_id", None),
                field("email", None),
                field("logins_count", None),
                field("user_metadata.plan", Some("plan")),
                field("identities[0].connection", Some("provider")),
                field("given_name", None),
            ],
            ExportFormat::Csv,
        )
        .unwrap();
        assert_eq!(
            csv_header(&paths),
            "user_id,email,logins_count,plan,provider,given_name\n"
        );
        assert_eq!(
            line(&user, &paths, ExportFormat::Csv),
            "\"'auth0|1\",\"'a\"\"b@x.io\",3,\"'pro\",\"'db\",\n"
        );
        let json_line = line(&user, &paths, ExportFormat::Json);
        let v: Value = serde_json::from_str(&json_line).unwrap();
        assert_eq!(v["plan"], "pro");
        assert_eq!(v["provider"], "db");
        assert!(v.get("given_name").is_none());
    }

    #[test]
    fn bad_fields_are_refused() {
        for (fields, format) in [
            (vec![field("password_hash", None)], ExportFormat::Json),
            (vec![field("user_metadata", None)], ExportFormat::Csv),
            (vec![field("identities[x]", None)], ExportFormat::Json),
            (vec![field("email..x", None)], ExportFormat::Json),
            (
                vec![field("email", None), field("email", None)],
                ExportFormat::Json,
            ),
            (vec![field("email", Some(""))], ExportFormat::Json),
            (vec![], ExportFormat::Json),
        ] {
            assert!(read_fields(&fields, format).is_err(), "{fields:?}");
        }
        assert!(read_fields(&[field("user_metadata", None)], ExportFormat::Json).is_ok());
    }
}
