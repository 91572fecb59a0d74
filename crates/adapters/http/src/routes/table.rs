//! The route table: every endpoint declared once.
//!
//! A [`RouteDecl`] names the method, the path, the handler, the rate-limit policy the route
//! spends, whether it needs a bearer token, whether its responses are `no-store`, and its
//! OpenAPI operation (summary, body, success, parameters and the exact `error_code`s it can
//! answer). Everything else is produced from it:
//!
//! - the router ([`register`]): each declaration becomes one actix route, wrapped in the
//!   per-route layer ([`super::layer`]) that spends the declared policy, checks the declared
//!   authentication and marks the responses `no-store` — so the decision is made by the route
//!   that matched, whatever spelling of the path reached it; a `GET` route also answers `HEAD`;
//! - the OpenAPI operations ([`crate::openapi`]), whose body and response schemas are named by
//!   Rust type ([`schema`]) and derived from it by apistos;
//! - the operational paths exempt from the host check and the HTTPS redirect
//!   ([`operational_paths`], used by [`crate::hardening`]).
//!
//! Each route module declares its own routes (`routes()` next to its handlers); [`table`]
//! gathers them.

use crate::error_code::ErrorCode;
use actix_web::http::Method;
use actix_web::web;
use apistos::ApiComponent;
use apistos::reference_or::ReferenceOr;
use keel_domain::rate_limit::Policy;
use std::sync::LazyLock;

/// Where a route is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mount {
    /// Under `/api/{version}` (and its `/api` alias).
    Api,
    /// At the root (operational routes, the GUI, the documentation).
    Root,
}

/// How a parameter is typed in the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// A 64-bit integer id.
    Integer,
    /// A UUID.
    Uuid,
    /// `limit` of a page (1–100, default 10).
    Limit,
    /// `skip` of a page (≥ 0, default 0).
    Skip,
    /// A boolean flag defaulting to true.
    Flag,
    /// Free text.
    Text,
    /// A search string (≤ 200 characters, default empty).
    Search,
}

/// One parameter of an operation: name, location (`path` or `query`), kind, required.
pub(crate) type Param = (&'static str, &'static str, ParamKind, bool);

/// One problem status of an operation and the codes it can carry.
pub(crate) type Errors = (u16, &'static [ErrorCode]);

/// A 422 with field errors.
pub(crate) const VALIDATION: Errors = (422, &[ErrorCode::ValidationError]);
/// A 415 for a body of another media type.
pub(crate) const MEDIA_TYPE: Errors = (415, &[ErrorCode::UnsupportedMediaType]);

/// A schema of the document, named by the Rust type it is derived from ([`schema`]): the
/// type's component and every component it refers to, as apistos derives them.
#[derive(Clone, Copy)]
pub(crate) struct Schema(fn() -> Component);

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.component().name)
    }
}

/// A named component schema and the components it refers to.
pub(crate) struct Component {
    /// The component's name (`#/components/schemas/{name}`).
    pub(crate) name: String,
    /// The component's own schema.
    pub(crate) schema: ReferenceOr<apistos::Schema>,
    /// The components it refers to (`$ref`s), themselves included transitively.
    pub(crate) children: Vec<(String, ReferenceOr<apistos::Schema>)>,
}

impl Schema {
    /// The component and its children.
    pub(crate) fn component(self) -> Component {
        (self.0)()
    }
}

/// The schema derived from `T` (`#[derive(ApiComponent, JsonSchema)]`): a declaration names a
/// type, never a string, so a misspelt schema does not compile.
pub(crate) const fn schema<T: ApiComponent>() -> Schema {
    Schema(component_of::<T>)
}

fn component_of<T: ApiComponent>() -> Component {
    // Every type `schema` is called with derives `ApiComponent`, whose `schema()` is `Some`.
    let (name, schema) = T::schema().unwrap_or_else(|| {
        (
            std::any::type_name::<T>().to_owned(),
            ReferenceOr::Object(apistos::Schema::Bool(true)),
        )
    });
    Component {
        name,
        schema,
        children: T::child_schemas(),
    }
}

/// The JSON media type of request bodies.
pub(crate) const JSON: &str = "application/json";
/// The form media type of request bodies.
pub(crate) const FORM: &str = "application/x-www-form-urlencoded";

/// The OpenAPI operation of a route.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// One line.
    pub(crate) summary: &'static str,
    /// The tag grouping it.
    pub(crate) tag: &'static str,
    /// Media type and schema of the request body.
    pub(crate) body: Option<(&'static str, Schema)>,
    /// Status, description and schema of the success response.
    pub(crate) success: (u16, &'static str, Option<Schema>),
    /// The problem responses besides those every route has (401 of a bearer route, 413 of a
    /// route with a body, 429/503 of a limited route, 500).
    pub(crate) errors: Vec<Errors>,
    /// Path and query parameters.
    pub(crate) params: &'static [Param],
}

/// One endpoint (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct RouteDecl {
    /// Method.
    pub(crate) method: Method,
    /// Path template, relative to the mount (`/posts/{id}`).
    pub(crate) path: &'static str,
    /// Where it is mounted.
    pub(crate) mount: Mount,
    /// Attaches the handler to an actix route (`|r| r.to(posts::get)`).
    handler: fn(actix_web::Route) -> actix_web::Route,
    /// What the per-route layer does before and after the handler.
    pub(crate) meta: RouteMeta,
    /// Exempt from the host check and the HTTPS redirect (probes and scrapers address pods
    /// by IP, over plain HTTP).
    pub(crate) operational: bool,
    /// The OpenAPI operation, `None` for routes the document does not describe (the GUI, the
    /// documentation viewers, `/metrics`).
    pub(crate) operation: Option<Operation>,
}

/// The part of a declaration the per-route layer acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RouteMeta {
    /// The rate-limit policy the route spends.
    pub(crate) policy: Option<Policy>,
    /// Login: also charge the account the body names (`username` / `email`).
    pub(crate) charge_account: bool,
    /// A valid bearer access token is required (401 otherwise, before the body is read).
    pub(crate) bearer: bool,
    /// Responses carry `Cache-Control: no-store` and `Pragma: no-cache`.
    pub(crate) no_store: bool,
}

impl RouteDecl {
    fn new(
        mount: Mount,
        method: Method,
        path: &'static str,
        handler: fn(actix_web::Route) -> actix_web::Route,
    ) -> Self {
        Self {
            method,
            path,
            mount,
            handler,
            meta: RouteMeta {
                no_store: mount == Mount::Api,
                ..RouteMeta::default()
            },
            operational: false,
            operation: None,
        }
    }

    /// A route under `/api/{version}`; its responses are `no-store`.
    pub(crate) fn api(
        method: Method,
        path: &'static str,
        handler: fn(actix_web::Route) -> actix_web::Route,
    ) -> Self {
        Self::new(Mount::Api, method, path, handler)
    }

    /// A route at the root.
    pub(crate) fn root(
        method: Method,
        path: &'static str,
        handler: fn(actix_web::Route) -> actix_web::Route,
    ) -> Self {
        Self::new(Mount::Root, method, path, handler)
    }

    /// Documents the route: summary and tag, 200 OK without a schema until [`Self::success`].
    #[must_use]
    pub(crate) fn doc(mut self, summary: &'static str, tag: &'static str) -> Self {
        self.operation = Some(Operation {
            summary,
            tag,
            body: None,
            success: (200, "OK", None),
            errors: Vec::new(),
            params: &[],
        });
        self
    }

    fn operation_mut(&mut self) -> &mut Operation {
        self.operation.get_or_insert_with(|| Operation {
            summary: "",
            tag: "",
            body: None,
            success: (200, "OK", None),
            errors: Vec::new(),
            params: &[],
        })
    }

    /// Spends `policy`.
    #[must_use]
    pub(crate) fn limited(mut self, policy: Policy) -> Self {
        self.meta.policy = Some(policy);
        self
    }

    /// Spends `policy` per client address and per the account the body names.
    #[must_use]
    pub(crate) fn limited_per_account(mut self, policy: Policy) -> Self {
        self.meta.policy = Some(policy);
        self.meta.charge_account = true;
        self
    }

    /// Requires a bearer access token (documented as a 401 `invalid_credentials`).
    #[must_use]
    pub(crate) fn bearer(mut self) -> Self {
        self.meta.bearer = true;
        self
    }

    /// Exempt from the host check and the HTTPS redirect; its operation lists no 500/503 (it
    /// answers neither).
    #[must_use]
    pub(crate) fn operational(mut self) -> Self {
        self.operational = true;
        self
    }

    /// The request body's media type and schema.
    #[must_use]
    pub(crate) fn body(mut self, media: &'static str, schema: Schema) -> Self {
        self.operation_mut().body = Some((media, schema));
        self
    }

    /// The success status, its description and schema.
    #[must_use]
    pub(crate) fn success(
        mut self,
        status: u16,
        description: &'static str,
        schema: Option<Schema>,
    ) -> Self {
        self.operation_mut().success = (status, description, schema);
        self
    }

    /// The route's own problem responses (see [`Operation::errors`]).
    #[must_use]
    pub(crate) fn errors(mut self, errors: &[Errors]) -> Self {
        self.operation_mut().errors.extend_from_slice(errors);
        self
    }

    /// Path and query parameters.
    #[must_use]
    pub(crate) fn params(mut self, params: &'static [Param]) -> Self {
        self.operation_mut().params = params;
        self
    }

    /// The full path for `version` (`/api/v1/posts/{id}`, or `/health` at the root).
    pub(crate) fn full_path(&self, version: &str) -> String {
        match self.mount {
            Mount::Api => format!("/api/{version}{}", self.path),
            Mount::Root => self.path.to_owned(),
        }
    }
}

/// Every route of the application, in the order they are matched and documented.
pub(crate) fn table() -> &'static [RouteDecl] {
    static TABLE: LazyLock<Vec<RouteDecl>> = LazyLock::new(|| {
        let mut routes = Vec::new();
        routes.extend(super::users::routes());
        routes.extend(super::auth::routes());
        routes.extend(super::account::routes());
        routes.extend(super::oauth::routes());
        routes.extend(super::posts::routes());
        routes.extend(super::votes::routes());
        // @new-resource: route-table
        routes.extend(super::system::routes());
        routes
    });
    &TABLE
}

/// The paths of the operational routes.
pub(crate) fn operational_paths() -> &'static [&'static str] {
    static PATHS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        table()
            .iter()
            .filter(|decl| decl.operational)
            .map(|decl| decl.path)
            .collect()
    });
    &PATHS
}

/// Registers every route of `mount`: one resource per path (its other methods answer 405),
/// each route wrapped in the per-route layer; `GET` routes answer `HEAD` too.
pub(crate) fn register(cfg: &mut web::ServiceConfig, mount: Mount) {
    let routes: Vec<&RouteDecl> = table().iter().filter(|d| d.mount == mount).collect();
    let mut paths: Vec<&'static str> = Vec::new();
    for decl in &routes {
        if !paths.contains(&decl.path) {
            paths.push(decl.path);
        }
    }
    for path in paths {
        let mut resource = super::resource(path);
        for decl in routes.iter().filter(|d| d.path == path) {
            let mut methods = vec![decl.method.clone()];
            if decl.method == Method::GET {
                methods.push(Method::HEAD);
            }
            for method in methods {
                let meta = decl.meta;
                let route = (decl.handler)(web::method(method)).wrap(
                    actix_web::middleware::from_fn(move |req, next| super::layer(meta, req, next)),
                );
                resource = resource.route(route);
            }
        }
        cfg.service(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_declared_once() {
        let mut seen = std::collections::BTreeSet::new();
        for decl in table() {
            assert!(
                seen.insert((decl.full_path("v1"), decl.method.to_string())),
                "{} {} is declared twice",
                decl.method,
                decl.path
            );
        }
    }

    #[test]
    fn api_routes_are_no_store_and_documented() {
        for decl in table().iter().filter(|d| d.mount == Mount::Api) {
            assert!(decl.meta.no_store, "{} {}", decl.method, decl.path);
            let op = decl.operation.as_ref().expect("documented");
            assert!(!op.summary.is_empty(), "{} {}", decl.method, decl.path);
        }
    }

    #[test]
    fn the_policies_are_those_of_the_contract() {
        let policy = |method: Method, path: &str| {
            table()
                .iter()
                .find(|d| d.method == method && d.path == path)
                .unwrap_or_else(|| panic!("{method} {path} is not declared"))
                .meta
        };
        let login = policy(Method::POST, "/login");
        assert_eq!(login.policy, Some(Policy::AuthLogin));
        assert!(login.charge_account);
        for (method, path, expected) in [
            (Method::POST, "/auth/refresh", Some(Policy::AuthLogin)),
            (Method::POST, "/auth/logout", Some(Policy::AuthLogin)),
            (
                Method::GET,
                "/auth/oauth/{provider}/start",
                Some(Policy::AuthLogin),
            ),
            (
                Method::POST,
                "/auth/oauth/{provider}/link/start",
                Some(Policy::AuthLogin),
            ),
            (
                Method::GET,
                "/auth/oauth/{provider}/callback",
                Some(Policy::AuthLogin),
            ),
            (
                Method::POST,
                "/auth/oauth/{provider}/callback",
                Some(Policy::AuthLogin),
            ),
            (Method::POST, "/users", Some(Policy::AuthRegister)),
            (Method::GET, "/posts", Some(Policy::ApiRead)),
            (Method::GET, "/posts/{id}", Some(Policy::ApiRead)),
            (Method::POST, "/posts", Some(Policy::ApiWrite)),
            (Method::PUT, "/posts/{id}", Some(Policy::ApiWrite)),
            (Method::DELETE, "/posts/{id}", Some(Policy::ApiWrite)),
            (Method::POST, "/vote", Some(Policy::ApiWrite)),
            (Method::GET, "/users/me", None),
            (Method::GET, "/auth/oauth/providers", None),
            (Method::POST, "/auth/logout-all", None),
            (Method::GET, "/auth/sessions", None),
            (Method::GET, "/health", None),
        ] {
            let meta = policy(method.clone(), path);
            assert_eq!(meta.policy, expected, "{method} {path}");
            assert!(!meta.charge_account, "{method} {path} charges an account");
        }
    }

    #[test]
    fn the_operational_routes_are_the_probes_and_the_scrape() {
        let mut paths = operational_paths().to_vec();
        paths.sort_unstable();
        assert_eq!(paths, ["/health", "/metrics", "/ready"]);
    }
}
