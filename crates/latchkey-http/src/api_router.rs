//! `ApiRouter`: the JSON APIs' routers, remembering every path they register, so the OpenAPI
//! document (`openapi.rs`) can be checked against the routes really served: a route added
//! without its document fails `tests/api/openapi.rs`. The methods of each path are read back
//! from the live server's `405 Allow` answers.

use crate::AppState;
use axum::Router;
use axum::routing::MethodRouter;

pub struct ApiRouter {
    router: Router<AppState>,
    paths: Vec<String>,
}

impl ApiRouter {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            paths: Vec::new(),
        }
    }

    pub fn route(mut self, path: &str, methods: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, methods);
        self.paths.push(path.to_owned());
        self
    }

    pub fn merge(mut self, other: Self) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    /// `other` under `prefix` (its paths recorded with the prefix).
    pub fn nest(mut self, prefix: &str, other: Self) -> Self {
        self.router = self.router.nest(prefix, other.router);
        self.paths
            .extend(other.paths.into_iter().map(|p| format!("{prefix}{p}")));
        self
    }

    /// Layers and fallbacks: whatever changes the router but adds no path.
    pub fn map(mut self, f: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = f(self.router);
        self
    }

    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

impl Default for ApiRouter {
    fn default() -> Self {
        Self::new()
    }
}
