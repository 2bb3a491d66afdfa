//! A short-lived in-memory copy of the read-mostly configuration that every token request
//! consults (clients, client grants, resource servers, connections, tenant settings). Without
//! it each token costs two or three store round trips, which on SQLite are thread hops that
//! cost more CPU than the RSA signature itself.
//!
//! Consistency: a write made through this node's services forgets the entry at once; other
//! nodes sharing the database see it within the TTL (`server.config_cache_secs`, 0 disables).

use crate::domain::{
    Client, ClientGrant, ClientId, Connection, EmailProvider, EmailTemplate, EmailTemplateName,
    ResourceServer, TenantSettings,
};
use crate::error::ServiceResult;
use crate::services::TenantConfig;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries beyond this are not kept: the cache is for configuration, not an attack surface.
const MAX_ENTRIES: usize = 10_000;

pub(in crate::services) struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
    /// Entries older than this are dead: dropped first when the map is full.
    ttl: Duration,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    fn new(ttl: Duration) -> Self {
        Self::with_capacity(ttl, MAX_ENTRIES)
    }
    fn with_capacity(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity: capacity.max(1),
        }
    }
    #[cfg(test)]
    pub(in crate::services) fn len(&self) -> usize {
        self.entries.lock().map_or(0, |m| m.len())
    }
    pub(in crate::services) fn get(&self, key: &K, ttl: Duration) -> Option<V> {
        let map = self.entries.lock().ok()?;
        map.get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }
    /// Keeps `value`; never more than `capacity` entries: expired ones go first, and if the
    /// live ones fill it (an attack on the cache, not configuration) it starts over.
    pub(in crate::services) fn put(&self, key: K, value: V) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= self.capacity && !map.contains_key(&key) {
                let ttl = self.ttl;
                map.retain(|_, (at, _)| at.elapsed() < ttl);
                if map.len() >= self.capacity {
                    map.clear();
                }
            }
            map.insert(key, (Instant::now(), value));
        }
    }
    pub(in crate::services) fn forget_where(&self, pred: impl Fn(&K) -> bool) {
        if let Ok(mut map) = self.entries.lock() {
            map.retain(|k, _| !pred(k));
        }
    }
}

pub(crate) struct ConfigCache {
    ttl: Duration,
    clients: TtlMap<String, Arc<Client>>,
    grants: TtlMap<(String, String), Arc<ClientGrant>>,
    /// By identifier (the `audience` a token names), the Management API included.
    resource_servers: TtlMap<String, Arc<ResourceServer>>,
    connections: TtlMap<String, Connection>,
    tenant: TtlMap<(), TenantSettings>,
    origins: TtlMap<(), Vec<String>>,
    /// Stored templates (`None`: not customised) and the provider, read for every mail.
    templates: TtlMap<EmailTemplateName, Option<EmailTemplate>>,
    provider: TtlMap<(), Option<EmailProvider>>,
    /// What each trigger runs (every login and password change asks, most often to hear
    /// "nothing").
    pub(in crate::services) triggers:
        TtlMap<&'static str, Arc<Vec<crate::services::actions::runs::BoundAction>>>,
    /// The scope a client-credentials token carries when it asks for none, by client and
    /// audience, like the grants (see `GrantedScope`).
    granted_scopes: TtlMap<(String, String), GrantedScope>,
}

/// A grant's scope as a token carries it: its entries the API still defines, split into
/// words and de-duplicated. A Management API grant holds some 140 scopes, and building this
/// string cost more per token than the rest of the handler besides the signature. It is
/// served only for the very grant and API objects it was built from (it holds them, so their
/// addresses cannot be reused meanwhile): an edit to either, or the cache reading them again
/// after its TTL, puts new objects in the cache, and the next token builds the string again
/// in the same entry.
#[derive(Clone)]
struct GrantedScope {
    grant: Arc<ClientGrant>,
    api: Option<Arc<ResourceServer>>,
    scope: Arc<str>,
}

impl ConfigCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            clients: TtlMap::new(ttl),
            grants: TtlMap::new(ttl),
            resource_servers: TtlMap::new(ttl),
            connections: TtlMap::new(ttl),
            tenant: TtlMap::new(ttl),
            origins: TtlMap::new(ttl),
            templates: TtlMap::new(ttl),
            provider: TtlMap::new(ttl),
            triggers: TtlMap::new(ttl),
            granted_scopes: TtlMap::new(ttl),
        }
    }
    pub(in crate::services) fn ttl(&self) -> Duration {
        self.ttl
    }
    pub(in crate::services) fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    pub(crate) fn client(&self, id: &str) -> Option<Arc<Client>> {
        self.clients.get(&id.to_owned(), self.ttl)
    }
    pub(crate) fn keep_client(&self, c: &Arc<Client>) {
        if self.enabled() {
            self.clients.put(c.client_id.to_string(), c.clone());
        }
    }
    /// Forgets a client, every grant it holds, and the origins every client allows.
    pub(crate) fn forget_client(&self, id: &str) {
        self.clients.forget_where(|k| k == id);
        self.grants.forget_where(|(c, _)| c == id);
        self.granted_scopes.forget_where(|(c, _)| c == id);
        self.origins.forget_where(|_| true);
    }

    pub(crate) fn origins(&self) -> Option<Vec<String>> {
        self.origins.get(&(), self.ttl)
    }
    pub(crate) fn keep_origins(&self, o: &[String]) {
        if self.enabled() {
            self.origins.put((), o.to_vec());
        }
    }

    pub(crate) fn grant(&self, client: &str, audience: &str) -> Option<Arc<ClientGrant>> {
        self.grants
            .get(&(client.to_owned(), audience.to_owned()), self.ttl)
    }
    pub(crate) fn keep_grant(&self, g: &Arc<ClientGrant>) {
        if self.enabled() {
            self.grants
                .put((g.client_id.to_string(), g.audience.clone()), g.clone());
        }
    }
    pub(crate) fn forget_grants(&self) {
        self.grants.forget_where(|_| true);
        self.granted_scopes.forget_where(|_| true);
    }

    /// The scope built for tokens from exactly this `grant` and `api`, if one was kept.
    pub(crate) fn granted_scope(
        &self,
        grant: &Arc<ClientGrant>,
        api: Option<&Arc<ResourceServer>>,
    ) -> Option<Arc<str>> {
        let kept = self.granted_scopes.get(
            &(grant.client_id.to_string(), grant.audience.clone()),
            self.ttl,
        )?;
        let same_api = match (&kept.api, api) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        (Arc::ptr_eq(&kept.grant, grant) && same_api).then_some(kept.scope)
    }
    pub(crate) fn keep_granted_scope(
        &self,
        grant: &Arc<ClientGrant>,
        api: Option<&Arc<ResourceServer>>,
        scope: &str,
    ) {
        if self.enabled() {
            self.granted_scopes.put(
                (grant.client_id.to_string(), grant.audience.clone()),
                GrantedScope {
                    grant: grant.clone(),
                    api: api.cloned(),
                    scope: Arc::from(scope),
                },
            );
        }
    }

    pub(crate) fn resource_server(&self, audience: &str) -> Option<Arc<ResourceServer>> {
        self.resource_servers.get(&audience.to_owned(), self.ttl)
    }
    pub(crate) fn keep_resource_server(&self, rs: &Arc<ResourceServer>) {
        if self.enabled() {
            self.resource_servers.put(rs.identifier.clone(), rs.clone());
        }
    }
    pub(crate) fn forget_resource_servers(&self) {
        self.resource_servers.forget_where(|_| true);
        self.granted_scopes.forget_where(|_| true);
    }

    pub(crate) fn connection(&self, name: &str) -> Option<Connection> {
        self.connections.get(&name.to_owned(), self.ttl)
    }
    pub(crate) fn keep_connection(&self, c: &Connection) {
        if self.enabled() {
            self.connections.put(c.name.clone(), c.clone());
        }
    }
    pub(crate) fn forget_connection(&self, name: &str) {
        self.connections.forget_where(|k| k == name);
    }

    pub(crate) fn tenant(&self) -> Option<TenantSettings> {
        self.tenant.get(&(), self.ttl)
    }
    pub(crate) fn keep_tenant(&self, t: &TenantSettings) {
        if self.enabled() {
            self.tenant.put((), t.clone());
        }
    }
    pub(crate) fn forget_tenant(&self) {
        self.tenant.forget_where(|_| true);
    }

    pub(crate) fn forget_template(&self, name: EmailTemplateName) {
        self.templates.forget_where(|k| *k == name);
    }
    pub(crate) fn forget_provider(&self) {
        self.provider.forget_where(|_| true);
    }
}

/// Cached reads for the hot paths (token endpoint, password changes). Management reads go to
/// the store so administrators always see what is stored.
impl TenantConfig {
    pub(crate) async fn active_client(&self, id: &ClientId) -> ServiceResult<Option<Arc<Client>>> {
        if let Some(c) = self.cache.client(id.as_str()) {
            return Ok(Some(c));
        }
        let found = self.store.get_client(id).await?.map(Arc::new);
        if let Some(c) = &found {
            self.cache.keep_client(c);
        }
        Ok(found)
    }

    pub(crate) async fn active_grant(
        &self,
        client: &ClientId,
        audience: &str,
    ) -> ServiceResult<Option<Arc<ClientGrant>>> {
        if let Some(g) = self.cache.grant(client.as_str(), audience) {
            return Ok(Some(g));
        }
        let found = self
            .store
            .find_client_grant(client, audience)
            .await?
            .map(Arc::new);
        if let Some(g) = &found {
            self.cache.keep_grant(g);
        }
        Ok(found)
    }

    /// The resource server a token's `audience` names: every token asks, so it is cached
    /// like the grants (the Management API's is built once). An unknown audience is not
    /// cached: it is refused before a token is made.
    pub(crate) async fn active_resource_server(
        &self,
        audience: &str,
    ) -> ServiceResult<Option<Arc<ResourceServer>>> {
        if let Some(rs) = self.cache.resource_server(audience) {
            return Ok(Some(rs));
        }
        let found = self
            .resource_server_for_audience(audience)
            .await?
            .map(Arc::new);
        if let Some(rs) = &found {
            self.cache.keep_resource_server(rs);
        }
        Ok(found)
    }

    /// The stored template called `name`, if an administrator saved one.
    pub(crate) async fn stored_template(
        &self,
        name: EmailTemplateName,
    ) -> ServiceResult<Option<EmailTemplate>> {
        if let Some(t) = self.cache.templates.get(&name, self.cache.ttl) {
            return Ok(t);
        }
        let found = self.store.get_email_template(name).await?;
        if self.cache.enabled() {
            self.cache.templates.put(name, found.clone());
        }
        Ok(found)
    }

    pub(crate) async fn active_email_provider(&self) -> ServiceResult<Option<EmailProvider>> {
        if let Some(p) = self.cache.provider.get(&(), self.cache.ttl) {
            return Ok(p);
        }
        let found = self.store.get_email_provider().await?;
        if self.cache.enabled() {
            self.cache.provider.put((), found.clone());
        }
        Ok(found)
    }

    pub(crate) async fn find_connection(&self, name: &str) -> ServiceResult<Option<Connection>> {
        if let Some(c) = self.cache.connection(name) {
            return Ok(Some(c));
        }
        let found = self.store.find_connection_by_name(name).await?;
        if let Some(c) = &found {
            self.cache.keep_connection(c);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn entries_expire_and_a_zero_ttl_disables_the_cache() {
        let map: TtlMap<u8, u8> = TtlMap::new(Duration::from_secs(60));
        map.put(1, 10);
        assert_eq!(map.get(&1, Duration::from_secs(60)), Some(10));
        assert_eq!(map.get(&1, Duration::ZERO), None);
        map.forget_where(|k| *k == 1);
        assert_eq!(map.get(&1, Duration::from_secs(60)), None);
        let off = ConfigCache::new(Duration::ZERO);
        off.keep_tenant(&TenantSettings::default());
        assert!(off.tenant().is_none());
    }

    #[test]
    fn the_map_never_holds_more_than_its_capacity() {
        // Expired entries make room first.
        let map: TtlMap<u32, u32> = TtlMap::with_capacity(Duration::ZERO, 100);
        for i in 0..1_000 {
            map.put(i, i);
            assert!(map.len() <= 100);
        }
        // Live ones: it starts over rather than grow.
        let map: TtlMap<u32, u32> = TtlMap::with_capacity(Duration::from_secs(60), 100);
        for i in 0..1_000 {
            map.put(i, i);
            assert!(map.len() <= 100);
        }
        assert_eq!(map.get(&999, Duration::from_secs(60)), Some(999));
    }

    #[test]
    fn a_grant_keeps_one_token_scope_however_often_it_is_read_again() {
        let cache = ConfigCache::new(Duration::from_secs(60));
        let grant = |scope: &str| {
            Arc::new(ClientGrant {
                id: "cgr_1".into(),
                client_id: ClientId::parse("client1abc").unwrap(),
                audience: "https://orders.example/".into(),
                scope: vec![scope.into()],
            })
        };
        // Each TTL expiry reads the grant again: a new object, the same grant.
        for round in 0..50 {
            let read = grant(&format!("read:{round}"));
            assert_eq!(cache.granted_scope(&read, None), None);
            cache.keep_granted_scope(&read, None, &format!("read:{round}"));
            assert_eq!(
                cache.granted_scope(&read, None).as_deref(),
                Some(format!("read:{round}").as_str())
            );
        }
        assert_eq!(cache.granted_scopes.len(), 1);
    }
}
