//! `/{{plural}}`: every user reads {{humans}}; owners replace and delete their own.

use super::no_content;
use super::table::{Errors, JSON, MEDIA_TYPE, Param, ParamKind, RouteDecl, VALIDATION};
use crate::error_code::ErrorCode;
use actix_web::http::Method;
use keel_domain::rate_limit::Policy;
use crate::dto::{{Name}}Out;
use crate::extract::{AuthUser, Fields, json_body, path_int, query_map};
use crate::problem::Problem;
use actix_web::{HttpRequest, HttpResponse, web};
use keel_application::{{plural}}::{
    Create{{Name}}, Delete{{Name}}, Get{{Name}}, List{{Plural}}, Update{{Name}},
};
use keel_domain::paging::{LIMIT_DEFAULT, Page, PagingError};
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
            .success(200, "OK", Some("{{Name}}List"))
            .errors(&[VALIDATION])
            .params(&[
                ("limit", "query", ParamKind::Limit, false),
                ("skip", "query", ParamKind::Skip, false),
            ]),
        RouteDecl::api(Method::POST, "/{{plural}}", |r| r.to(create))
            .doc("Create {{a_human}}", "{{plural}}")
            .limited(Policy::ApiWrite)
            .bearer()
            .body(JSON, "{{Name}}Create")
            .success(201, "Created", Some("{{Name}}"))
            .errors(&[VALIDATION, MEDIA_TYPE]),
        RouteDecl::api(Method::GET, "/{{plural}}/{id}", |r| r.to(get))
            .doc("One {{human}}", "{{plural}}")
            .limited(Policy::ApiRead)
            .bearer()
            .success(200, "OK", Some("{{Name}}"))
            .errors(&[NOT_FOUND, VALIDATION])
            .params(ID),
        RouteDecl::api(Method::PUT, "/{{plural}}/{id}", |r| r.to(update))
            .doc("Replace one's own {{human}}", "{{plural}}")
            .limited(Policy::ApiWrite)
            .bearer()
            .body(JSON, "{{Name}}Create")
            .success(200, "OK", Some("{{Name}}"))
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

fn paging_kind(e: &PagingError) -> &'static str {
    match e {
        PagingError::LimitTooLarge => "less_than_equal",
        _ => "greater_than_equal",
    }
}

fn text_kind(e: &TextError) -> &'static str {
    match e {
        TextError::Empty => "string_too_short",
        _ => "string_too_long",
    }
}

/// `GET /{{plural}}?limit&skip` → `[{{Name}}]`, newest first.
pub(crate) async fn list(
    AuthUser(_): AuthUser,
    req: HttpRequest,
    list: web::Data<List{{Plural}}>,
) -> Result<HttpResponse, Problem> {
    let query = query_map(&req)?;
    let mut fields = Fields::new("query", &query);
    let limit = if query.contains_key("limit") {
        fields.int("limit")
    } else {
        Some(LIMIT_DEFAULT)
    };
    let skip = if query.contains_key("skip") {
        fields.int("skip")
    } else {
        Some(0)
    };
    let limit = limit
        .and_then(|l| fields.check("limit", Page::new(l, 0), paging_kind))
        .map(Page::limit);
    let skip = skip
        .and_then(|s| fields.check("skip", Page::new(1, s), paging_kind))
        .map(Page::skip);
    fields.finish()?;
    let (Some(limit), Some(skip)) = (limit, skip) else {
        return Err(Problem::validation(Vec::new()));
    };
    let page = Page::new(limit, skip).map_err(|_| Problem::validation(Vec::new()))?;
    let {{plural}} = list.execute(page).await?;
    let body: Vec<{{Name}}Out> = {{plural}}.iter().map({{Name}}Out::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

fn draft(req: &HttpRequest, body: &[u8]) -> Result<{{Name}}Draft, Problem> {
    let map = json_body(req, body)?;
    let mut fields = Fields::new("body", &map);
    let name = fields.string("name").map({{Name}}Name::parse);
    let name = name.and_then(|r| fields.check("name", r, text_kind));
    let description = fields.string("description").map({{Name}}Description::parse);
    let description = description.and_then(|r| fields.check("description", r, text_kind));
    fields.finish()?;
    match (name, description) {
        (Some(name), Some(description)) => Ok({{Name}}Draft { name, description }),
        _ => Err(Problem::validation(Vec::new())),
    }
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
