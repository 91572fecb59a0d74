//! Typed request inputs: every body and query a route reads, parsed into domain types (or a
//! 422 listing every failed field) before the handler sees it.
//!
//! A handler calls [`body`] or [`query`] for its input type and works with the result; nothing
//! else walks a JSON map. Handlers parse after the `AuthUser` extractor ran (and the route's
//! layer checked the bearer token), so the order of checks stays authentication → validation →
//! existence → ownership. The field errors' texts are [`crate::wire`]'s.

use crate::extract::{BodyFields, Fields, json_body, json_or_form_body, query_map};
use crate::problem::Problem;
use crate::wire;
use actix_web::HttpRequest;
use keel_domain::paging::{LIMIT_DEFAULT, Page, Search};
use keel_domain::post::{Content, PostDraft, PostId, Title};
use keel_domain::user::{Email, Password};
use keel_domain::vote::Direction;

/// An input read field by field, collecting every error.
pub(crate) trait FromFields: Sized {
    /// Reads the input; `None` when a field failed (the error is in `fields`).
    fn read(fields: &mut Fields<'_>) -> Option<Self>;
}

/// Parses a JSON object body into `T`.
///
/// # Errors
/// 415 for another media type, 422 listing every failed field.
pub(crate) fn body<T: FromFields>(req: &HttpRequest, body: &[u8]) -> Result<T, Problem> {
    let map = json_body(req, body)?;
    read(Fields::new("body", &map))
}

/// Parses the query string into `T`.
///
/// # Errors
/// 422 listing every failed parameter.
pub(crate) fn query<T: FromFields>(req: &HttpRequest) -> Result<T, Problem> {
    let map = query_map(req)?;
    read(Fields::new("query", &map))
}

fn read<T: FromFields>(mut fields: Fields<'_>) -> Result<T, Problem> {
    let value = T::read(&mut fields);
    fields.finish()?;
    // Every `read` records an error whenever it returns `None`.
    value.ok_or_else(|| Problem::validation(Vec::new()))
}

/// `POST /users`: a new account's email and password.
pub(crate) struct Registration {
    /// The address, normalised.
    pub(crate) email: Email,
    /// The password, within the policy.
    pub(crate) password: Password,
}

impl FromFields for Registration {
    fn read(fields: &mut Fields<'_>) -> Option<Self> {
        let email = fields.string("email").map(Email::parse);
        let email = email.and_then(|r| fields.check("email", r, wire::email));
        let password = fields.string("password").map(Password::parse);
        let password = password.and_then(|r| fields.check("password", r, wire::password));
        Some(Self {
            email: email?,
            password: password?,
        })
    }
}

/// `POST /login`: the account named (as typed: login compares it normalised) and the password.
pub(crate) struct Credentials {
    /// The form's `username` or the JSON body's `email`.
    pub(crate) identity: String,
    /// The password as sent.
    pub(crate) password: String,
}

impl Credentials {
    /// Reads an OAuth2 password-flow form (`username`, `password`) or a JSON body (`email`,
    /// `password`).
    ///
    /// # Errors
    /// 415 for another media type, 422 listing every missing field.
    pub(crate) fn parse(req: &HttpRequest, body: &[u8]) -> Result<Self, Problem> {
        let parsed = json_or_form_body(req, body)?;
        let identity_field = match parsed {
            BodyFields::Form(_) => "username",
            BodyFields::Json(_) => "email",
        };
        let map = parsed.into_map();
        let mut fields = Fields::new("body", &map);
        let identity = fields.string(identity_field);
        let password = fields.string("password");
        fields.finish()?;
        match (identity, password) {
            (Some(identity), Some(password)) => Ok(Self {
                identity: identity.to_owned(),
                password: password.to_owned(),
            }),
            _ => Err(Problem::validation(Vec::new())),
        }
    }
}

/// `POST /auth/refresh` and `/auth/logout`: `{refresh_token}`.
pub(crate) struct RefreshToken(pub(crate) String);

impl FromFields for RefreshToken {
    fn read(fields: &mut Fields<'_>) -> Option<Self> {
        fields.string("refresh_token").map(|t| Self(t.to_owned()))
    }
}

/// `POST /posts`, `PUT /posts/{id}`: title, content, published (default true).
impl FromFields for PostDraft {
    fn read(fields: &mut Fields<'_>) -> Option<Self> {
        let title = fields.string("title").map(Title::parse);
        let title = title.and_then(|r| fields.check("title", r, wire::text));
        let content = fields.string("content").map(Content::parse);
        let content = content.and_then(|r| fields.check("content", r, wire::text));
        let published = fields.bool_or("published", true);
        Some(Self {
            title: title?,
            content: content?,
            published: published?,
        })
    }
}

/// `GET /posts?limit&skip&search`.
pub(crate) struct Feed {
    /// The search term (empty: everything).
    pub(crate) search: Search,
    /// The page.
    pub(crate) page: Page,
}

impl FromFields for Feed {
    fn read(fields: &mut Fields<'_>) -> Option<Self> {
        let page = read_page(fields);
        let search = match fields.optional_string("search") {
            Some(term) => fields.check("search", Search::parse(term), wire::paging),
            None => Some(Search::default()),
        };
        Some(Self {
            search: search?,
            page: page?,
        })
    }
}

/// A page from `limit` (default 10) and `skip` (default 0), each checked on its own so both
/// errors are reported.
pub(crate) fn read_page(fields: &mut Fields<'_>) -> Option<Page> {
    let limit = if fields.has("limit") {
        fields.int("limit")
    } else {
        Some(LIMIT_DEFAULT)
    };
    let skip = if fields.has("skip") {
        fields.int("skip")
    } else {
        Some(0)
    };
    let limit = limit
        .and_then(|l| fields.check("limit", Page::new(l, 0), wire::paging))
        .map(Page::limit);
    let skip = skip
        .and_then(|s| fields.check("skip", Page::new(1, s), wire::paging))
        .map(Page::skip);
    Page::new(limit?, skip?).ok()
}

/// `POST /vote`: `{post_id, dir}`.
pub(crate) struct Ballot {
    /// The post voted on.
    pub(crate) post: PostId,
    /// Add (1) or remove (0).
    pub(crate) direction: Direction,
}

impl FromFields for Ballot {
    fn read(fields: &mut Fields<'_>) -> Option<Self> {
        let post_id = fields.int("post_id");
        let post = post_id.and_then(|id| {
            fields.check(
                "post_id",
                if id > 0 { Ok(PostId::new(id)) } else { Err(()) },
                |()| wire::positive_id(),
            )
        });
        let dir = fields.int("dir");
        let direction =
            dir.and_then(|d| fields.check("dir", Direction::from_dir(d), wire::direction));
        Some(Self {
            post: post?,
            direction: direction?,
        })
    }
}

/// `POST /auth/verify-email`: `{token}` (its shape is checked by the use case, which answers
/// every bad token the same way).
pub(crate) struct MailedToken(pub(crate) String);

impl FromFields for MailedToken {
    fn read(fields: &mut Fields<'_>) -> Option<Self> {
        fields.string("token").map(|t| Self(t.to_owned()))
    }
}

/// `POST /auth/password-reset`: `{email}`.
pub(crate) struct ResetRequest {
    /// The normalised address.
    pub(crate) email: Email,
}

impl FromFields for ResetRequest {
    fn read(fields: &mut Fields<'_>) -> Option<Self> {
        let email = fields.string("email").map(Email::parse);
        let email = email.and_then(|r| fields.check("email", r, wire::email));
        Some(Self { email: email? })
    }
}

/// `POST /auth/password-reset/confirm`: `{token, new_password}`.
pub(crate) struct ResetConfirmation {
    /// The mailed token, as sent.
    pub(crate) token: String,
    /// The new password (8 to 128 characters).
    pub(crate) new_password: Password,
}

impl FromFields for ResetConfirmation {
    fn read(fields: &mut Fields<'_>) -> Option<Self> {
        let token = fields.string("token").map(str::to_owned);
        let password = fields.string("new_password").map(Password::parse);
        let password = password.and_then(|r| fields.check("new_password", r, wire::password));
        Some(Self {
            token: token?,
            new_password: password?,
        })
    }
}

/// The wire shapes of the request bodies, for the OpenAPI document only.
///
/// The typed inputs above are read field by field (every failed field is reported, in the
/// contract's words), so they are not serde types; these structs spell each body as it is
/// sent, and apistos derives the components from them. The bounds are the domain's (checked
/// at compile time below).
#[allow(
    dead_code,
    reason = "never built: their derived schemas document the bodies the typed inputs read"
)]
pub(crate) mod shape {
    use apistos::ApiComponent;
    use keel_domain::post::{CONTENT_MAX_CHARS, TITLE_MAX_CHARS};
    use keel_domain::user::{EMAIL_MAX_LEN, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};
    use schemars::JsonSchema;

    const _: () = assert!(TITLE_MAX_CHARS == 200 && CONTENT_MAX_CHARS == 10_000);
    const _: () = assert!(EMAIL_MAX_LEN == 254);
    const _: () = assert!(PASSWORD_MIN_CHARS == 8 && PASSWORD_MAX_CHARS == 128);

    const fn published_default() -> bool {
        true
    }

    /// `UserCreate`: a new account.
    // `Registration` as sent.
    #[derive(ApiComponent, JsonSchema)]
    pub(crate) struct UserCreate {
        #[schemars(email, length(max = 254))]
        email: String,
        #[schemars(length(min = 8, max = 128))]
        password: String,
    }

    /// `LoginForm`: a login as an OAuth2 password-flow form.
    // `Credentials` as a form.
    #[derive(ApiComponent, JsonSchema)]
    pub(crate) struct LoginForm {
        username: String,
        password: String,
    }

    /// `LoginJson`: a login as JSON.
    // `Credentials` as JSON.
    #[derive(ApiComponent, JsonSchema)]
    pub(crate) struct LoginJson {
        email: String,
        password: String,
    }

    /// `RefreshRequest`: a refresh token.
    // `RefreshToken` as sent.
    #[derive(ApiComponent, JsonSchema)]
    pub(crate) struct RefreshRequest {
        refresh_token: String,
    }

    /// `PostCreate`: a post as written (`published` defaults to true).
    // `PostDraft` as sent.
    #[derive(ApiComponent, JsonSchema)]
    pub(crate) struct PostCreate {
        #[schemars(length(min = 1, max = 200))]
        title: String,
        #[schemars(length(min = 1, max = 10000))]
        content: String,
        #[serde(default = "published_default")]
        published: bool,
    }

    /// `Vote`: `dir` 1 adds the caller's vote on the post, 0 removes it.
    // `Ballot` as sent.
    #[derive(ApiComponent, JsonSchema)]
    pub(crate) struct Vote {
        #[schemars(range(min = 1))]
        post_id: i64,
        #[schemars(schema_with = "direction")]
        dir: i64,
    }

    fn direction(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::Integer.into()),
            enum_values: Some(vec![0.into(), 1.into()]),
            ..Default::default()
        }
        .into()
    }

    /// `OAuthCallbackForm`: a provider's `form_post` to the callback (every field optional:
    /// which ones come depends on the outcome).
    #[derive(ApiComponent, JsonSchema)]
    pub(crate) struct OAuthCallbackForm {
        #[serde(default)]
        state: String,
        #[serde(default)]
        code: String,
        #[serde(default)]
        error: String,
        #[serde(default)]
        error_description: String,
        #[serde(default)]
        user: String,
    }

    /// `VerifyEmailRequest`: the token of a verification mail.
    // `MailedToken` as sent.
    #[derive(ApiComponent, JsonSchema)]
    pub(crate) struct VerifyEmailRequest {
        token: String,
    }

    /// `PasswordResetRequest`: the address to send a reset mail to.
    // `ResetRequest` as sent.
    #[derive(ApiComponent, JsonSchema)]
    pub(crate) struct PasswordResetRequest {
        #[schemars(email, length(max = 254))]
        email: String,
    }

    /// `PasswordResetConfirm`: the token of a reset mail and the new password.
    // `ResetConfirmation` as sent.
    #[derive(ApiComponent, JsonSchema)]
    pub(crate) struct PasswordResetConfirm {
        token: String,
        #[schemars(length(min = 8, max = 128))]
        new_password: String,
    }
}
