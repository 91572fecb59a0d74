//! # keel-http
//!
//! keel's HTTP adapter (actix-web): routes and DTOs of the contract, bearer authentication,
//! RFC 9457 problem responses for every error, API version routing, `/health`, `/ready`, the
//! Prometheus `/metrics` (rendered by the [`observe::HttpObserver`] the composition root passes
//! in), the OpenAPI document (apistos's model, its schemas derived from the DTO types:
//! [`openapi`]) with its embedded viewers, and the embedded browser GUI (`frontend`).
//! At the edge: the client address behind trusted proxies ([`client_addr`]), the host check,
//! HTTPS redirect and security headers ([`hardening`]), CORS ([`cors`]) and rate limiting
//! ([`rate_limit`]).
//!
//! [`build_app`] assembles the application from the use cases ([`UseCases`]) and
//! [`HttpSettings`]; `keel-bootstrap` decides what goes in.
#![forbid(unsafe_code)]

pub mod body_deadline;
pub mod client_addr;
pub mod cors;
pub mod dto;
pub mod error_code;
mod extract;
mod frontend;
pub mod hardening;
mod input;
pub mod middleware;
pub mod observe;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
mod routes;
mod wire;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, Error, web};
use keel_application::account::{
    RequestPasswordReset, ResendVerification, ResetPassword, VerifyEmail,
};
use keel_application::auth::{Authenticate, Login, Logout, LogoutAll, RefreshSession};
use keel_application::oauth::{CompleteOAuth, StartOAuth};
use keel_application::posts::{CreatePost, DeletePost, GetPost, ListPosts, UpdatePost};
use keel_application::rate_limit::CheckRateLimit;
use keel_application::sessions::{ListSessions, RevokeSession};
use keel_application::users::{GetUser, RegisterUser};
use keel_application::votes::CastVote;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::time::Duration;
use tokio_util::task::TaskTracker;

pub use error_code::ErrorCode;
pub use middleware::ApiVersions;
pub use problem::Problem;

/// Every use case the routes call.
#[derive(Clone)]
#[expect(missing_docs, reason = "each field is the use case of the same name")]
pub struct UseCases {
    pub authenticate: Authenticate,
    pub register: RegisterUser,
    pub get_user: GetUser,
    pub login: Login,
    pub refresh: RefreshSession,
    pub logout: Logout,
    pub logout_all: LogoutAll,
    pub list_sessions: ListSessions,
    pub revoke_session: RevokeSession,
    pub verify_email: VerifyEmail,
    pub resend_verification: ResendVerification,
    pub request_password_reset: RequestPasswordReset,
    pub reset_password: ResetPassword,
    pub list_posts: ListPosts,
    pub get_post: GetPost,
    pub create_post: CreatePost,
    pub update_post: UpdatePost,
    pub delete_post: DeletePost,
    pub cast_vote: CastVote,
    pub start_oauth: StartOAuth,
    pub complete_oauth: CompleteOAuth,
    /// `None` when rate limiting is off.
    pub rate_limit: Option<CheckRateLimit>,
    /// The use cases of the resources added to keel (`scripts/new-resource` lists each here
    /// with [`app_data`]), registered for their handlers' `web::Data<…>` extractors.
    pub resources: Vec<AppData>,
}

/// Registers one value as application data (see [`UseCases::resources`]).
pub type AppData = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// The [`AppData`] of `value`: its handlers extract it as `web::Data<T>`.
pub fn app_data<T: Clone + Send + Sync + 'static>(value: T) -> AppData {
    Arc::new(move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(value.clone()));
    })
}

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Versions served and the latest.
    pub versions: ApiVersions,
    /// Largest accepted request body; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Time a client has to send a request's body once its head arrived; later, 408 (see
    /// [`body_deadline`]).
    pub request_body_timeout: std::time::Duration,
    /// Whether the browser GUI pack is enabled.
    pub frontend_enabled: bool,
    /// Client address, host check, security headers, CORS.
    pub edge: EdgeSettings,
    /// Receives metrics, trace and error-report data, and renders `/metrics`
    /// (see [`observe`]).
    pub observer: observe::Observer,
    /// Callback URLs, the binding cookie and frontend redirects of the OAuth routes.
    pub oauth: OAuthSettings,
}

/// What the OAuth routes need beyond the use cases.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// `OAUTH_PUBLIC_BASE_URL`: the public origin of callback URLs (else the request's own).
    pub public_base_url: Option<String>,
    /// `OAUTH_FRONTEND_CALLBACK_URL`: the only place frontend redirects go (validated at
    /// start-up: an absolute path or http(s) URL without a fragment).
    pub frontend_callback_url: String,
    /// `OAUTH_STATE_EXPIRE_SECONDS`: also the binding cookie's `Max-Age`.
    pub state_ttl_seconds: u64,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        Self {
            public_base_url: None,
            frontend_callback_url: "/".to_owned(),
            state_ttl_seconds: 300,
        }
    }
}

/// What the edge middleware trusts and sends.
#[derive(Debug, Clone, Default)]
pub struct EdgeSettings {
    /// Whose forwarding headers count.
    pub proxies: client_addr::ProxyTrust,
    /// Host check, HTTPS redirect, security headers.
    pub hardening: hardening::HardeningSettings,
    /// Allowed CORS origins.
    pub cors: cors::CorsSettings,
}

/// What `/ready` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadinessReport {
    /// The database answered.
    pub database: bool,
    /// Redis answered (true when not configured).
    pub redis: bool,
    /// Every *required* dependency answered.
    pub ready: bool,
}

/// Checks the dependencies for `/ready`.
pub trait Readiness: Send + Sync + 'static {
    /// Pings the dependencies.
    fn check(&self) -> Pin<Box<dyn Future<Output = ReadinessReport> + Send + '_>>;
}

/// Shutdown as the app sees it: set when shutdown begins, so `/ready` turns 503 and load
/// balancers drain first; and the work that requests leave running after their answer (a
/// password-reset request), which shutdown waits for before it stops the server's workers
/// ([`ShutdownFlag::finish_detached`]): stopping a worker drops the tasks it runs.
#[derive(Debug, Clone, Default)]
pub struct ShutdownFlag {
    begun: Arc<AtomicBool>,
    detached: TaskTracker,
}

impl ShutdownFlag {
    /// Marks the start of shutdown.
    pub fn set(&self) {
        self.begun.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_set(&self) -> bool {
        self.begun.load(Ordering::SeqCst)
    }

    /// Runs `work` on this worker without the request waiting for it, unless shutdown has
    /// begun: then the request waits for it, and so does the server's drain.
    ///
    /// No work is lost between the two: `work` is tracked before the flag is read, and a fence
    /// on each side orders that read against [`finish_detached`](Self::finish_detached)'s
    /// count. Either the read saw the flag unset, and `finish_detached` sees the work, or it saw
    /// it set, and the request in flight holds the drain until the work is done.
    pub(crate) async fn detach(&self, work: impl Future<Output = ()> + 'static) {
        let task = actix_web::rt::spawn(self.detached.track_future(work));
        fence(Ordering::SeqCst);
        if self.is_set() {
            let _ = task.await;
        }
    }

    /// Waits, up to `limit`, for the work requests detached before shutdown began (a
    /// password-reset request's).
    /// Call it after [`set`](Self::set) and before the server stops, since the server's workers
    /// run that work. Returns whether all of it finished.
    pub async fn finish_detached(&self, limit: Duration) -> bool {
        fence(Ordering::SeqCst);
        self.detached.close();
        actix_web::rt::time::timeout(limit, self.detached.wait())
            .await
            .is_ok()
    }
}

/// Assembles the actix application: middleware, the versioned API, operational routes.
pub fn build_app(
    use_cases: UseCases,
    settings: HttpSettings,
    readiness: Arc<dyn Readiness>,
    shutdown: ShutdownFlag,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let document = openapi::Document::shared(&settings.versions.latest);
    let api_scope = format!("/api/{}", settings.versions.latest);
    let u = use_cases;
    App::new()
        .app_data(web::PayloadConfig::new(settings.max_body_bytes))
        .app_data(web::Data::new(settings.versions.clone()))
        .app_data(web::Data::new(settings.edge.proxies.clone()))
        .app_data(web::Data::new(hardening::Hardening::new(
            settings.edge.hardening.clone(),
        )))
        .app_data(web::Data::new(settings.edge.cors.clone()))
        .app_data(web::Data::new(settings.observer.clone()))
        .app_data(web::Data::new(settings.oauth.clone()))
        .app_data(web::Data::new(settings))
        .app_data(web::Data::from(readiness))
        .app_data(web::Data::new(shutdown))
        .app_data(web::Data::from(document))
        .app_data(web::Data::new(u.authenticate))
        .app_data(web::Data::new(u.register))
        .app_data(web::Data::new(u.get_user))
        .app_data(web::Data::new(u.login))
        .app_data(web::Data::new(u.refresh))
        .app_data(web::Data::new(u.logout))
        .app_data(web::Data::new(u.logout_all))
        .app_data(web::Data::new(u.list_sessions))
        .app_data(web::Data::new(u.revoke_session))
        .app_data(web::Data::new(u.verify_email))
        .app_data(web::Data::new(u.resend_verification))
        .app_data(web::Data::new(u.request_password_reset))
        .app_data(web::Data::new(u.reset_password))
        .app_data(web::Data::new(u.list_posts))
        .app_data(web::Data::new(u.get_post))
        .app_data(web::Data::new(u.create_post))
        .app_data(web::Data::new(u.update_post))
        .app_data(web::Data::new(u.delete_post))
        .app_data(web::Data::new(u.cast_vote))
        .app_data(web::Data::new(u.start_oauth))
        .app_data(web::Data::new(u.complete_oauth))
        .app_data(web::Data::new(u.rate_limit))
        .configure(|cfg| {
            for register in &u.resources {
                register(cfg);
            }
        })
        // The edge stages, then the routes, each wrapped in its declared layer (rate limit,
        // bearer token, no-store; see `routes::table`).
        .wrap(from_fn(edge))
        .service(web::scope(&api_scope).configure(routes::configure_v1))
        .configure(routes::configure_root)
        .default_service(web::to(not_found))
}

/// The edge, outermost first: canonical_path → request_id → client_info → harden → cors →
/// versioning → body_deadline → render_problems → routes (see [`middleware`]).
///
/// One middleware whose stages are nested calls, each handed the rest as a closure, rather than
/// one `from_fn` layer per stage: a layer costs a boxed future and a boxed service call per
/// request, which on `/health` was a measurable share of the request (docs/performance.md). The
/// stages behave as layers would: each sees the request before the stages inside it and their
/// response after them, short answers (a refused host, a preflight, an unknown version)
/// included.
async fn edge(req: ServiceRequest, next: Next<impl MessageBody + 'static>) -> middleware::Served {
    use middleware as m;
    m::canonical_path(req, |req| {
        m::request_id(req, |req| {
            client_addr::client_info(req, |req| {
                hardening::harden(req, |req| {
                    cors::cors(req, |req| {
                        m::versioning(req, |req| {
                            body_deadline::body_deadline(req, |req| {
                                m::render_problems(req, |req| async move {
                                    Ok(next.call(req).await?.map_into_boxed_body())
                                })
                            })
                        })
                    })
                })
            })
        })
    })
    .await
}

async fn not_found() -> Result<actix_web::HttpResponse, Problem> {
    Err(Problem::for_status(actix_web::http::StatusCode::NOT_FOUND))
}

/// What the route table declares about one route, for tests and tools outside this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredRoute {
    /// `GET`, `POST`, …
    pub method: String,
    /// The full path template (`/api/v1/posts/{id}`).
    pub path: String,
    /// The name of the rate-limit policy it spends (`api_read`), if any.
    pub policy: Option<&'static str>,
    /// Whether it requires a bearer access token.
    pub bearer: bool,
    /// Whether its responses are `Cache-Control: no-store`.
    pub no_store: bool,
}

/// Every route of the route table, with `version` in the API paths.
#[must_use]
pub fn declared_routes(version: &str) -> Vec<DeclaredRoute> {
    routes::table::table()
        .iter()
        .map(|decl| DeclaredRoute {
            method: decl.method.to_string(),
            path: decl.full_path(version),
            policy: decl.meta.policy.map(|p| p.name()),
            bearer: decl.meta.bearer,
            no_store: decl.meta.no_store,
        })
        .collect()
}

#[cfg(test)]
mod shutdown_tests {
    use super::ShutdownFlag;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    /// A piece of work that finishes when `release` is set, recording that it did.
    async fn work(release: Rc<Cell<bool>>, done: Rc<Cell<bool>>) {
        while !release.get() {
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        done.set(true);
    }

    #[actix_web::test]
    async fn before_shutdown_the_request_does_not_wait_and_shutdown_waits_for_the_work() {
        let flag = ShutdownFlag::default();
        let (release, done) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
        flag.detach(work(release.clone(), done.clone())).await;
        assert!(!done.get(), "the request did not wait for its work");

        flag.set();
        assert!(
            !flag.finish_detached(Duration::from_millis(50)).await,
            "the work is still waiting: not finished within the limit"
        );
        release.set(true);
        assert!(flag.finish_detached(Duration::from_secs(5)).await);
        assert!(done.get());
    }

    #[actix_web::test]
    async fn once_shutdown_has_begun_the_request_waits_for_its_work() {
        let flag = ShutdownFlag::default();
        flag.set();
        let (release, done) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
        let releaser = release.clone();
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            releaser.set(true);
        });
        flag.detach(work(release, done.clone())).await;
        assert!(done.get(), "the request waited for its work");
    }
}
