//! Reading the user directory: one user, a page of users, users by email. Every flow that
//! acts on a user reads it here; writes are in `lifecycle.rs`.

use crate::domain::{User, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::services::UserDirectory;
use crate::store::UserQuery;

impl UserDirectory {
    pub async fn get_user(&self, id: &UserId) -> ServiceResult<User> {
        self.store
            .get_user(id)
            .await?
            .ok_or_else(ServiceError::user_not_found)
    }

    pub async fn list_users(&self, query: &UserQuery) -> ServiceResult<(Vec<User>, u64)> {
        Ok(self.store.list_users(query).await?)
    }

    /// `GET /api/v2/users-by-email`: exact, case-sensitive match on the stored (lower-cased) email.
    pub async fn users_by_email(&self, email: &str) -> ServiceResult<Vec<User>> {
        Ok(self.store.users_by_email(email).await?)
    }
}
