use crate::domain::UserId;
use crate::error::ServiceResult;
use crate::error_code::ErrorCode;
use crate::services::UserDirectory;
use crate::store::LogQuery;
use serde_json::Value;

impl UserDirectory {
    /// The tenant log, newest first, in the Management API representation.
    pub async fn list_logs(&self, query: &LogQuery) -> ServiceResult<(Vec<Value>, u64)> {
        Ok(self.store.list_logs(query).await?)
    }

    /// One entry (`GET /api/v2/logs/{id}`); 404 when there is none.
    pub async fn get_log(&self, log_id: &str) -> ServiceResult<Value> {
        self.store
            .get_log(log_id)
            .await?
            .ok_or_else(|| crate::error::ServiceError::NotFound {
                code: ErrorCode::InexistentLog,
                message: "The log entry does not exist.".into(),
            })
    }

    /// One user's log entries; 404 when the user does not exist.
    pub async fn user_logs(
        &self,
        user: &UserId,
        page: u32,
        per_page: u32,
    ) -> ServiceResult<(Vec<Value>, u64)> {
        self.get_user(user).await?;
        self.list_logs(&LogQuery {
            user_id: Some(user.to_string()),
            page,
            per_page,
            ..LogQuery::default()
        })
        .await
    }
}
