//! Sessions: the session behind a cookie, logout and `/userinfo` (`lifecycle.rs`),
//! OpenID Back-Channel Logout (`backchannel_logout.rs`) and RP-initiated logout
//! (`rp_logout.rs`).

pub(super) mod backchannel_logout;
pub(super) mod lifecycle;
pub(super) mod rp_logout;

use crate::config::CoreConfig;
use crate::store::Store;
use std::sync::Arc;

/// Sessions and their ends.
pub struct Sessions {
    pub(in crate::services) audit: crate::audit::AuditLog,
    pub(in crate::services) config: Arc<CoreConfig>,
    pub(in crate::services) form_poster: Arc<dyn crate::backchannel::FormPoster>,
    pub(in crate::services) job_intake: crate::services::jobs::JobIntake,
    pub(in crate::services) keys: Arc<crate::keys::Keys>,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) directory: Arc<crate::services::UserDirectory>,
    pub(in crate::services) tenant: Arc<crate::services::TenantConfig>,
}
