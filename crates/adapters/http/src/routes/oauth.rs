//! `/auth/oauth/*`: the provider list, starting a sign-in or linking flow, and the callback.
//!
//! What HTTP adds to the use cases: the callback URL (`OAUTH_PUBLIC_BASE_URL` or the request's
//! own origin), the browser-binding cookie ([`BINDING_COOKIE`]: host-only, `Path=/api`,
//! `HttpOnly`, `SameSite=Lax`, `Secure` when the request came over HTTPS), and the frontend
//! redirects (docs/contract.md) (only ever to `OAUTH_FRONTEND_CALLBACK_URL`, values URL-encoded in the
//! fragment).
//!
//! Apple answers with a cross-site `form_post`, on which browsers do not send `SameSite=Lax`
//! cookies: a POST callback without the cookie is answered `303 See Other` to the same callback
//! as a GET (a top-level navigation, which carries the cookie), so the browser check still
//! applies.

use super::table::{Errors, FORM, Param, ParamKind, RouteDecl, VALIDATION, schema};
use crate::dto::TokenOut;
use crate::error_code::ErrorCode;
use crate::extract::{AuthUser, Fields, query_map};
use crate::input::shape::OAuthCallbackForm;
use crate::problem::Problem;
use crate::{ApiVersions, OAuthSettings};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use apistos::ApiComponent;
use keel_application::oauth::{
    CallbackError, CallbackOutcome, CallbackRequest, CompleteOAuth, StartOAuth, StartRequest,
    Started,
};
use keel_domain::oauth::Provider;
use keel_domain::rate_limit::Policy;
use schemars::JsonSchema;
use schemars::r#gen::SchemaGenerator;
use schemars::schema::{InstanceType, SchemaObject, SubschemaValidation};
use serde::Serialize;
use serde_json::{Map, Value};

const PROVIDER_ERRORS: Errors = (
    404,
    &[
        ErrorCode::OauthProviderUnsupported,
        ErrorCode::OauthProviderNotConfigured,
    ],
);
const UNREACHABLE: Errors = (502, &[ErrorCode::OauthProviderUnreachable]);
const CALLBACK_ERRORS: &[Errors] = &[
    (
        400,
        &[
            ErrorCode::InvalidOauthState,
            ErrorCode::OauthProviderError,
            ErrorCode::OauthCodeMissing,
            ErrorCode::OauthExchangeFailed,
        ],
    ),
    PROVIDER_ERRORS,
    (
        409,
        &[
            ErrorCode::OauthIdentityAlreadyLinked,
            ErrorCode::OauthProviderAlreadyLinked,
            ErrorCode::OauthEmailUnverified,
        ],
    ),
    (422, &[ErrorCode::OauthEmailRequired]),
    (
        502,
        &[
            ErrorCode::OauthProviderUnreachable,
            ErrorCode::OauthInvalidTokenResponse,
            ErrorCode::OauthProfileFetchFailed,
        ],
    ),
];
const START_PARAMS: &[Param] = &[
    ("provider", "path", ParamKind::Text, true),
    ("redirect_to_frontend", "query", ParamKind::Flag, false),
];

/// The routes of this module (see [`super::table`]).
pub(crate) fn routes() -> Vec<RouteDecl> {
    vec![
        RouteDecl::api(Method::GET, "/auth/oauth/providers", |r| r.to(providers))
            .doc(
                "The enabled OAuth / OpenID Connect providers, in listing order",
                "oauth",
            )
            .success(200, "OK", Some(schema::<ProvidersOut>())),
        RouteDecl::api(Method::GET, "/auth/oauth/{provider}/start", |r| r.to(start))
            .doc(
                "Start an OAuth sign-in: redirect to the provider (sets the browser-binding cookie)",
                "oauth",
            )
            .limited(Policy::AuthLogin)
            .success(
                307,
                "Temporary Redirect to the provider's authorize URL",
                None,
            )
            .errors(&[PROVIDER_ERRORS, UNREACHABLE, VALIDATION])
            .params(START_PARAMS),
        RouteDecl::api(Method::POST, "/auth/oauth/{provider}/link/start", |r| {
            r.to(link_start)
        })
        .doc(
            "Start linking a provider to the caller's account (sets the browser-binding cookie)",
            "oauth",
        )
        .limited(Policy::AuthLogin)
        .bearer()
        .success(200, "OK", Some(schema::<AuthorizationOut>()))
        .errors(&[PROVIDER_ERRORS, UNREACHABLE, VALIDATION])
        .params(START_PARAMS),
        RouteDecl::api(Method::GET, "/auth/oauth/{provider}/callback", |r| {
            r.to(callback)
        })
        .doc(
            "Finish an OAuth flow: tokens, a link, or a redirect to the frontend",
            "oauth",
        )
        .limited(Policy::AuthLogin)
        .success(200, "OK", Some(schema::<CallbackResult>()))
        .errors(CALLBACK_ERRORS)
        .params(&[
            ("provider", "path", ParamKind::Text, true),
            ("state", "query", ParamKind::Text, false),
            ("code", "query", ParamKind::Text, false),
            ("error", "query", ParamKind::Text, false),
            ("error_description", "query", ParamKind::Text, false),
        ]),
        RouteDecl::api(Method::POST, "/auth/oauth/{provider}/callback", |r| {
            r.to(callback)
        })
        .doc("Finish an OAuth flow answered with form_post (Apple)", "oauth")
        .limited(Policy::AuthLogin)
        .body(FORM, schema::<OAuthCallbackForm>())
        .success(200, "OK", Some(schema::<CallbackResult>()))
        .errors(CALLBACK_ERRORS)
        .params(&[("provider", "path", ParamKind::Text, true)]),
    ]
}

/// The browser-binding cookie's name.
pub const BINDING_COOKIE: &str = "keel_oauth_binding";

/// `OAuthProvider`: an enabled provider and where its flows start.
#[derive(Serialize, ApiComponent, JsonSchema)]
#[serde(rename = "OAuthProvider")]
#[schemars(deny_unknown_fields)]
struct ProviderOut {
    #[schemars(schema_with = "provider_name_schema")]
    provider: &'static str,
    display_name: String,
    start_url: String,
    link_start_url: String,
}

/// Every provider keel knows, as a string enum.
fn provider_name_schema(_: &mut SchemaGenerator) -> schemars::schema::Schema {
    SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        enum_values: Some(Provider::ALL.iter().map(|p| p.as_str().into()).collect()),
        ..SchemaObject::default()
    }
    .into()
}

/// `OAuthProviders`: the enabled providers, in listing order.
#[derive(Serialize, ApiComponent, JsonSchema)]
#[serde(rename = "OAuthProviders")]
#[schemars(deny_unknown_fields)]
struct ProvidersOut {
    providers: Vec<ProviderOut>,
}

/// `OAuthAuthorization`: the provider's authorize URL of a linking flow.
#[derive(Serialize, ApiComponent, JsonSchema)]
#[serde(rename = "OAuthAuthorization")]
#[schemars(deny_unknown_fields)]
struct AuthorizationOut {
    authorization_url: String,
}

/// `OAuthLinked`: the provider is now linked to the caller's account.
#[derive(Serialize, ApiComponent, JsonSchema)]
#[serde(rename = "OAuthLinked")]
#[schemars(deny_unknown_fields)]
struct LinkedOut {
    provider: &'static str,
    #[schemars(schema_with = "linked_schema")]
    linked: bool,
}

fn linked_schema(_: &mut SchemaGenerator) -> schemars::schema::Schema {
    crate::dto::schema::constant(InstanceType::Boolean, true.into())
}

/// `OAuthCallbackResult`: a callback answered without the frontend redirect is a sign-in's
/// [`TokenOut`] or a link's [`LinkedOut`]. Only a schema: the callback writes either body.
#[derive(ApiComponent)]
struct CallbackResult;

impl JsonSchema for CallbackResult {
    fn schema_name() -> String {
        "OAuthCallbackResult".to_owned()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> schemars::schema::Schema {
        SchemaObject {
            subschemas: Some(Box::new(SubschemaValidation {
                one_of: Some(vec![
                    generator.subschema_for::<TokenOut>(),
                    generator.subschema_for::<LinkedOut>(),
                ]),
                ..SubschemaValidation::default()
            })),
            ..SchemaObject::default()
        }
        .into()
    }
}

/// `GET /auth/oauth/providers`.
pub(crate) async fn providers(
    start: web::Data<StartOAuth>,
    versions: web::Data<ApiVersions>,
) -> HttpResponse {
    let base = format!("/api/{}/auth/oauth", versions.latest);
    let providers = start
        .providers()
        .enabled()
        .iter()
        .map(|p| {
            let name = p.provider().as_str();
            ProviderOut {
                provider: name,
                display_name: p.display_name(),
                start_url: format!("{base}/{name}/start"),
                link_start_url: format!("{base}/{name}/link/start"),
            }
        })
        .collect();
    HttpResponse::Ok().json(ProvidersOut { providers })
}

fn provider_name(req: &HttpRequest) -> String {
    req.match_info()
        .get("provider")
        .unwrap_or_default()
        .to_owned()
}

/// `{OAUTH_PUBLIC_BASE_URL or request origin}/api/{latest}/auth/oauth/{provider}/callback`.
fn redirect_uri(req: &HttpRequest, settings: &OAuthSettings, versions: &ApiVersions) -> String {
    let origin = settings.public_base_url.clone().unwrap_or_else(|| {
        let scheme = if crate::client_addr::of(req).secure {
            "https"
        } else {
            "http"
        };
        // The host check has refused malformed values; parsed again, only a host and port
        // can reach the URL.
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(crate::hardening::Host::parse)
            .map_or_else(|| req.app_config().host().to_owned(), |h| h.authority());
        format!("{scheme}://{host}")
    });
    format!(
        "{}/api/{}/auth/oauth/{}/callback",
        origin.trim_end_matches('/'),
        versions.latest,
        provider_name(req)
    )
}

fn binding_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BINDING_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

fn set_binding(
    builder: &mut HttpResponseBuilder,
    req: &HttpRequest,
    started: &Started,
    settings: &OAuthSettings,
) {
    let secure = if crate::client_addr::of(req).secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{BINDING_COOKIE}={}; Path=/api; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        started.binding.as_str(),
        settings.state_ttl_seconds
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        builder.append_header((header::SET_COOKIE, value));
    }
}

/// Reads `redirect_to_frontend` (default `true`) from the query.
fn redirect_to_frontend(req: &HttpRequest) -> Result<bool, Problem> {
    let query = query_map(req)?;
    let mut fields = Fields::new("query", &query);
    let flag = fields.bool_or("redirect_to_frontend", true);
    fields.finish()?;
    Ok(flag.unwrap_or(true))
}

async fn begin(
    req: &HttpRequest,
    start: &StartOAuth,
    settings: &OAuthSettings,
    versions: &ApiVersions,
    link_user: Option<keel_domain::user::UserId>,
) -> Result<Started, Problem> {
    let redirect_to_frontend = redirect_to_frontend(req)?;
    Ok(start
        .execute(StartRequest {
            provider: provider_name(req),
            link_user,
            redirect_to_frontend,
            redirect_uri: redirect_uri(req, settings, versions),
            binding: binding_cookie(req),
        })
        .await?)
}

/// `GET /auth/oauth/{provider}/start` → 307 to the provider.
pub(crate) async fn start(
    req: HttpRequest,
    start: web::Data<StartOAuth>,
    settings: web::Data<OAuthSettings>,
    versions: web::Data<ApiVersions>,
) -> Result<HttpResponse, Problem> {
    let started = begin(&req, &start, &settings, &versions, None).await?;
    let mut response = HttpResponse::TemporaryRedirect();
    set_binding(&mut response, &req, &started, &settings);
    Ok(response
        .insert_header((header::LOCATION, started.authorization_url))
        .finish())
}

/// `POST /auth/oauth/{provider}/link/start` → `{authorization_url}`.
pub(crate) async fn link_start(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    start: web::Data<StartOAuth>,
    settings: web::Data<OAuthSettings>,
    versions: web::Data<ApiVersions>,
) -> Result<HttpResponse, Problem> {
    let started = begin(&req, &start, &settings, &versions, Some(principal.user.id)).await?;
    let mut response = HttpResponse::Ok();
    set_binding(&mut response, &req, &started, &settings);
    Ok(response.json(AuthorizationOut {
        authorization_url: started.authorization_url,
    }))
}

/// The callback's parameters: the query of a GET, the form (and query) of a POST. An unusable
/// body counts as no parameters, so the missing-state check still comes first.
fn callback_params(req: &HttpRequest, body: &[u8]) -> Map<String, Value> {
    let mut params: Map<String, Value> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
    if req.method() == Method::POST {
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        for (key, value) in form {
            params.insert(key, Value::String(value));
        }
    }
    params
}

fn param(params: &Map<String, Value>, name: &str) -> Option<String> {
    params.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// `{OAUTH_FRONTEND_CALLBACK_URL}#k=v&…`, values URL-encoded.
fn frontend_redirect(settings: &OAuthSettings, fragment: &[(&str, &str)]) -> HttpResponse {
    let encoded = serde_urlencoded::to_string(fragment).unwrap_or_default();
    HttpResponse::Found()
        .insert_header((
            header::LOCATION,
            format!("{}#{encoded}", settings.frontend_callback_url),
        ))
        .finish()
}

/// `GET` or `POST` (form) `/auth/oauth/{provider}/callback`.
pub(crate) async fn callback(
    req: HttpRequest,
    body: web::Bytes,
    complete: web::Data<CompleteOAuth>,
    settings: web::Data<OAuthSettings>,
    versions: web::Data<ApiVersions>,
) -> Result<HttpResponse, Problem> {
    let params = callback_params(&req, &body);
    let binding = binding_cookie(&req);
    if req.method() == Method::POST && binding.is_none() && params.contains_key("state") {
        // A cross-site form_post carries no SameSite=Lax cookie: come back as a GET.
        let query = serde_urlencoded::to_string(
            params
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        return Ok(HttpResponse::build(StatusCode::SEE_OTHER)
            .insert_header((header::LOCATION, format!("{}?{query}", req.path())))
            .finish());
    }
    let result = complete
        .execute(CallbackRequest {
            provider: provider_name(&req),
            state: param(&params, "state"),
            code: param(&params, "code"),
            error: param(&params, "error"),
            error_description: param(&params, "error_description"),
            binding,
            redirect_uri: redirect_uri(&req, &settings, &versions),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
        .await;
    let completed = match result {
        Ok(completed) => completed,
        Err(CallbackError::ProviderDenied {
            provider,
            message,
            redirect_to_frontend: true,
        }) => {
            return Ok(frontend_redirect(
                &settings,
                &[("provider", provider.as_str()), ("error", &message)],
            ));
        }
        Err(error) => return Err(error.into()),
    };
    let provider = completed.provider.as_str();
    Ok(match (completed.outcome, completed.redirect_to_frontend) {
        (CallbackOutcome::SignedIn(pair), true) => frontend_redirect(
            &settings,
            &[
                ("provider", provider),
                ("access_token", &pair.access_token),
                ("token_type", "bearer"),
                ("refresh_token", &pair.refresh_token),
            ],
        ),
        (CallbackOutcome::SignedIn(pair), false) => HttpResponse::Ok().json(TokenOut::from(pair)),
        (CallbackOutcome::Linked, true) => {
            frontend_redirect(&settings, &[("provider", provider), ("linked", "true")])
        }
        (CallbackOutcome::Linked, false) => HttpResponse::Ok().json(LinkedOut {
            provider,
            linked: true,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::documented::assert_documented;

    #[test]
    fn the_oauth_bodies_are_in_the_document() {
        assert_documented(&ProvidersOut {
            providers: vec![ProviderOut {
                provider: "github",
                display_name: "GitHub".to_owned(),
                start_url: "/api/v1/auth/oauth/github/start".to_owned(),
                link_start_url: "/api/v1/auth/oauth/github/link/start".to_owned(),
            }],
        });
        assert_documented(&AuthorizationOut {
            authorization_url: "https://github.com/login/oauth/authorize".to_owned(),
        });
        assert_documented(&LinkedOut {
            provider: "github",
            linked: true,
        });
    }
}
