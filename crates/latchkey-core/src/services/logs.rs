use super::Services;
use crate::domain::UserId;
use crate::error::ServiceResult;
use crate::store::LogQuery;
use serde_json::Value;

impl Services {
    /// The tenant log, newest first, in the Management API representation.
    pub async fn list_logs(&self, query: &LogQuery) -> ServiceResult<(Vec<Value>, u64)> {
        Ok(self.store.list_logs(query).await?)
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
            type_code: None,
            page,
            per_page,
        })
        .await
    }
}
