//! `/{{plural}}`: every user reads {{humans}}; owners replace and delete their own.

use super::no_content;
use super::table::{Errors, JSON, MEDIA_TYPE, Param, ParamKind, RouteDecl, VALIDATION, schema};
use crate::error_code::ErrorCode;
use actix_web::http::Method;
use keel_domain::rate_limit::Policy;
use crate::extract::{AuthUser, Fields, path_int};
use crate::input::{self, FromFields};
use crate::wire::Violation;
use crate::problem::Problem;
use actix_web::http::StatusCode;
use keel_application::{{plural}}::{{Name}}Error;
use keel_domain::{{name}}::{{Name}};
use apistos::ApiComponent;
use schemars::JsonSchema;
use serde::Serialize;
use actix_web::{HttpRequest, HttpResponse, web};
use keel_application::{{plural}}::{
    Create{{Name}}, Delete{{Name}}, Get{{Name}}, List{{Plural}}, Update{{Name}},
};
use keel_domain::paging::Page;
use keel_domain::{{name}}::{
    TextError, {{Name}}Description, {{Name}}Draft, {{Name}}Id, {{Name}}Name,
};

/// The routes of this module (see [`super::table`]): every user reads {{humans}}; owners
/// replace and delete their own.
pub(crate) fn routes() -> Vec<RouteDecl> {
    const ID: &[Param] = &[("id", "path", ParamKind::Integer, true)];
    const NOT_FOUND: Errors = (404, &[ErrorCode::{{Name}}NotFound]);
    const NOT_OWNER: Errors = (403, &[ErrorCode::Not{{Name}}Owner]);
    vec![
        RouteDecl::api(Method::GET, "/{{plural}}", |r| r.to(list))
            .doc("{{Humans}}, newest first", "{{plural}}")
            .limited(Policy::ApiRead)
            .bearer()
            .success(200, "OK", Some(schema::<{{Name}}List>()))
            .errors(&[VALIDATION])
            .params(&[
                ("limit", "query", ParamKind::Limit, false),
                ("skip", "query", ParamKind::Skip, false),
            ]),
        RouteDecl::api(Method::POST, "/{{plural}}", |r| r.to(create))
            .doc("Create {{a_human}}", "{{plural}}")
            .limited(Policy::ApiWrite)
            .bearer()
            .body(JSON, schema::<{{Name}}Create>())
            .success(201, "Created", Some(schema::<{{Name}}Out>()))
            .errors(&[VALIDATION, MEDIA_TYPE]),
        RouteDecl::api(Method::GET, "/{{plural}}/{id}", |r| r.to(get))
            .doc("One {{human}}", "{{plural}}")
            .limited(Policy::ApiRead)
            .bearer()
            .success(200, "OK", Some(schema::<{{Name}}Out>()))
            .errors(&[NOT_FOUND, VALIDATION])
            .params(ID),
        RouteDecl::api(Method::PUT, "/{{plural}}/{id}", |r| r.to(update))
            .doc("Replace one's own {{human}}", "{{plural}}")
            .limited(Policy::ApiWrite)
            .bearer()
            .body(JSON, schema::<{{Name}}Create>())
            .success(200, "OK", Some(schema::<{{Name}}Out>()))
            .errors(&[NOT_OWNER, NOT_FOUND, VALIDATION, MEDIA_TYPE])
            .params(ID),
        RouteDecl::api(Method::DELETE, "/{{plural}}/{id}", |r| r.to(delete))
            .doc("Delete one's own {{human}}", "{{plural}}")
            .limited(Policy::ApiWrite)
            .bearer()
            .success(204, "No Content", None)
            .errors(&[NOT_OWNER, NOT_FOUND, VALIDATION])
            .params(ID),
    ]
}

/// `{{Name}}`: {{a_human}} as stored.
// Its OpenAPI component is derived from this type.
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
#[serde(rename = "{{Name}}")]
#[schemars(deny_unknown_fields)]
pub struct {{Name}}Out {
    id: i64,
    name: String,
    description: String,
    owner_id: i64,
    #[schemars(schema_with = "crate::dto::schema::timestamp")]
    created_at: String,
    #[schemars(schema_with = "crate::dto::schema::timestamp")]
    updated_at: String,
}

/// `{{Name}}List`: a page of {{humans}}.
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
pub struct {{Name}}List(Vec<{{Name}}Out>);

/// `{{Name}}Create`: {{a_human}} as written (a creation or a full replacement).
// Only a schema, for the OpenAPI document: the `{{Name}}Draft` reader below reads the body
// field by field.
#[allow(
    dead_code,
    reason = "never built: its derived schema documents the body the draft reader reads"
)]
#[derive(ApiComponent, JsonSchema)]
struct {{Name}}Create {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    #[schemars(length(max = 2000))]
    description: String,
}

impl From<&{{Name}}> for {{Name}}Out {
    fn from(x: &{{Name}}) -> Self {
        Self {
            id: x.id.get(),
            name: x.name.as_str().to_owned(),
            description: x.description.as_str().to_owned(),
            owner_id: x.owner_id.get(),
            created_at: x.created_at.to_rfc3339(),
            updated_at: x.updated_at.to_rfc3339(),
        }
    }
}

impl From<{{Name}}Error> for Problem {
    fn from(error: {{Name}}Error) -> Self {
        match error {
            {{Name}}Error::NotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::{{Name}}NotFound,
                format!("{{Human}} with id: {id} does not exist"),
            ),
            {{Name}}Error::NotOwner(_) => Self::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Not{{Name}}Owner,
                "Not authorized to perform requested action",
            ),
            {{Name}}Error::Store(e) => e.into(),
        }
    }
}

/// The wire texts of a refused {{human}} text field (see `crate::wire`).
fn text(e: &TextError) -> Violation {
    match e {
        TextError::Empty => Violation {
            kind: "string_too_short",
            msg: "String should have at least 1 character".to_owned(),
        },
        TextError::TooLong(max) => Violation {
            kind: "string_too_long",
            msg: format!("String should have at most {max} characters"),
        },
        TextError::Nul => Violation {
            kind: "string_pattern_mismatch",
            msg: "String should not contain the NUL character".to_owned(),
        },
    }
}

/// `GET /{{plural}}?limit&skip`.
struct Listing(Page);

impl FromFields for Listing {
    fn read(fields: &mut Fields<'_>) -> Option<Self> {
        input::read_page(fields).map(Self)
    }
}

/// `GET /{{plural}}?limit&skip` → `[{{Name}}]`, newest first.
pub(crate) async fn list(
    AuthUser(_): AuthUser,
    req: HttpRequest,
    list: web::Data<List{{Plural}}>,
) -> Result<HttpResponse, Problem> {
    let Listing(page) = input::query(&req)?;
    let {{plural}} = list.execute(page).await?;
    let body = {{Name}}List({{plural}}.iter().map({{Name}}Out::from).collect());
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /{{plural}}`, `PUT /{{plural}}/{id}`: name and description.
impl FromFields for {{Name}}Draft {
    fn read(fields: &mut Fields<'_>) -> Option<Self> {
        let name = fields.string("name").map({{Name}}Name::parse);
        let name = name.and_then(|r| fields.check("name", r, text));
        let description = fields.string("description").map({{Name}}Description::parse);
        let description = description.and_then(|r| fields.check("description", r, text));
        Some(Self {
            name: name?,
            description: description?,
        })
    }
}

fn draft(req: &HttpRequest, body: &[u8]) -> Result<{{Name}}Draft, Problem> {
    input::body(req, body)
}

/// `POST /{{plural}}` → 201 `{{Name}}`.
pub(crate) async fn create(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    create: web::Data<Create{{Name}}>,
) -> Result<HttpResponse, Problem> {
    let draft = draft(&req, &body)?;
    let created = create.execute(&principal.user, draft).await?;
    Ok(HttpResponse::Created().json({{Name}}Out::from(&created)))
}

/// `GET /{{plural}}/{id}` → `{{Name}}`.
pub(crate) async fn get(
    AuthUser(_): AuthUser,
    req: HttpRequest,
    get: web::Data<Get{{Name}}>,
) -> Result<HttpResponse, Problem> {
    let id = {{Name}}Id::new(path_int(&req, "id")?);
    let found = get.execute(id).await?;
    Ok(HttpResponse::Ok().json({{Name}}Out::from(&found)))
}

/// `PUT /{{plural}}/{id}`: full replacement → `{{Name}}`.
pub(crate) async fn update(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    update: web::Data<Update{{Name}}>,
) -> Result<HttpResponse, Problem> {
    // Path and body validation are reported together, path first.
    let (id, draft) = match (path_int(&req, "id"), draft(&req, &body)) {
        (Ok(id), Ok(draft)) => (id, draft),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
        (Err(a), Err(b)) => return Err(a.merge(b)),
    };
    let updated = update
        .execute(principal.user.id, {{Name}}Id::new(id), draft)
        .await?;
    Ok(HttpResponse::Ok().json({{Name}}Out::from(&updated)))
}

/// `DELETE /{{plural}}/{id}` → 204.
pub(crate) async fn delete(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    delete: web::Data<Delete{{Name}}>,
) -> Result<HttpResponse, Problem> {
    let id = {{Name}}Id::new(path_int(&req, "id")?);
    delete.execute(principal.user.id, id).await?;
    Ok(no_content())
}
