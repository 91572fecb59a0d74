//! `/posts`: the feed and one's own posts.

use super::no_content;
use super::table::{JSON, MEDIA_TYPE, Param, ParamKind, RouteDecl, VALIDATION, schema};
use crate::dto::{PostBody, PostOut, PostOutList};
use crate::error_code::ErrorCode;
use crate::extract::{AuthUser, path_int};
use crate::input::shape::PostCreate;
use crate::input::{self, Feed};
use crate::problem::{Problem, post_problem};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use keel_application::posts::{CreatePost, DeletePost, GetPost, ListPosts, UpdatePost};
use keel_domain::post::{PostDraft, PostId};
use keel_domain::rate_limit::Policy;

/// The routes of this module (see [`super::table`]).
pub(crate) fn routes() -> Vec<RouteDecl> {
    const ID: &[Param] = &[("id", "path", ParamKind::Integer, true)];
    const NOT_FOUND: (u16, &[ErrorCode]) = (404, &[ErrorCode::PostNotFound]);
    const NOT_OWNER: (u16, &[ErrorCode]) = (403, &[ErrorCode::NotPostOwner]);
    vec![
        RouteDecl::api(Method::GET, "/posts", |r| r.to(list))
            .doc("The feed, newest first", "posts")
            .limited(Policy::ApiRead)
            .bearer()
            .success(200, "OK", Some(schema::<PostOutList>()))
            .errors(&[VALIDATION])
            .params(&[
                ("limit", "query", ParamKind::Limit, false),
                ("skip", "query", ParamKind::Skip, false),
                ("search", "query", ParamKind::Search, false),
            ]),
        RouteDecl::api(Method::POST, "/posts", |r| r.to(create))
            .doc("Write a post", "posts")
            .limited(Policy::ApiWrite)
            .bearer()
            .body(JSON, schema::<PostCreate>())
            .success(201, "Created", Some(schema::<PostBody>()))
            .errors(&[VALIDATION, MEDIA_TYPE]),
        RouteDecl::api(Method::GET, "/posts/{id}", |r| r.to(get))
            .doc("One post with its votes", "posts")
            .limited(Policy::ApiRead)
            .bearer()
            .success(200, "OK", Some(schema::<PostOut>()))
            .errors(&[NOT_FOUND, VALIDATION])
            .params(ID),
        RouteDecl::api(Method::PUT, "/posts/{id}", |r| r.to(update))
            .doc("Replace one's own post", "posts")
            .limited(Policy::ApiWrite)
            .bearer()
            .body(JSON, schema::<PostCreate>())
            .success(200, "OK", Some(schema::<PostBody>()))
            .errors(&[NOT_OWNER, NOT_FOUND, VALIDATION, MEDIA_TYPE])
            .params(ID),
        RouteDecl::api(Method::DELETE, "/posts/{id}", |r| r.to(delete))
            .doc("Delete one's own post", "posts")
            .limited(Policy::ApiWrite)
            .bearer()
            .success(204, "No Content", None)
            .errors(&[NOT_OWNER, NOT_FOUND, VALIDATION])
            .params(ID),
    ]
}

/// `GET /posts?limit&skip&search` → `[PostOut]`.
pub(crate) async fn list(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    list: web::Data<ListPosts>,
) -> Result<HttpResponse, Problem> {
    let Feed { search, page } = input::query(&req)?;
    let posts = list.execute(principal.user.id, search, page).await?;
    let body = PostOutList(posts.iter().map(PostOut::from).collect());
    Ok(HttpResponse::Ok().json(body))
}

fn draft(req: &HttpRequest, body: &[u8]) -> Result<PostDraft, Problem> {
    input::body(req, body)
}

/// `POST /posts` → 201 `Post`.
pub(crate) async fn create(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    create: web::Data<CreatePost>,
) -> Result<HttpResponse, Problem> {
    let draft = draft(&req, &body)?;
    let view = create
        .execute(&principal.user, draft)
        .await
        .map_err(|e| post_problem(e, false))?;
    Ok(HttpResponse::Created().json(PostBody::from(&view)))
}

/// `GET /posts/{id}` → `PostOut`.
pub(crate) async fn get(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    get: web::Data<GetPost>,
) -> Result<HttpResponse, Problem> {
    let id = PostId::new(path_int(&req, "id")?);
    let view = get
        .execute(principal.user.id, id)
        .await
        .map_err(|e| post_problem(e, true))?;
    Ok(HttpResponse::Ok().json(PostOut::from(&view)))
}

/// `PUT /posts/{id}`: full replacement (an omitted `published` becomes true) → `Post`.
pub(crate) async fn update(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    update: web::Data<UpdatePost>,
) -> Result<HttpResponse, Problem> {
    let id = path_int(&req, "id");
    let draft = draft(&req, &body);
    let (id, draft) = merge_validation(id, draft)?;
    let view = update
        .execute(&principal.user, PostId::new(id), draft)
        .await
        .map_err(|e| post_problem(e, false))?;
    Ok(HttpResponse::Ok().json(PostBody::from(&view)))
}

/// `DELETE /posts/{id}` → 204.
pub(crate) async fn delete(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    delete: web::Data<DeletePost>,
) -> Result<HttpResponse, Problem> {
    let id = PostId::new(path_int(&req, "id")?);
    delete
        .execute(principal.user.id, id)
        .await
        .map_err(|e| post_problem(e, false))?;
    Ok(no_content())
}

/// Path and body validation reported together, path first.
fn merge_validation<A, B>(a: Result<A, Problem>, b: Result<B, Problem>) -> Result<(A, B), Problem> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(a), Err(b)) => Err(a.merge(b)),
    }
}
