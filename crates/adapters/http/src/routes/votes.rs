//! `/vote`.

use super::table::{JSON, MEDIA_TYPE, RouteDecl, VALIDATION};
use crate::error_code::ErrorCode;
use crate::extract::{AuthUser, Fields, json_body};
use crate::problem::{FieldError, Problem};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use keel_application::votes::CastVote;
use keel_domain::post::PostId;
use keel_domain::rate_limit::Policy;
use keel_domain::vote::{Direction, VoteChange, VoteCommand};

/// The routes of this module (see [`super::table`]).
pub(crate) fn routes() -> Vec<RouteDecl> {
    vec![
        RouteDecl::api(Method::POST, "/vote", |r| r.to(vote))
            .doc("Add (dir 1) or remove (dir 0) one's vote", "votes")
            .limited(Policy::ApiWrite)
            .bearer()
            .body(JSON, "Vote")
            .success(201, "Created", Some("Message"))
            .errors(&[
                (404, &[ErrorCode::PostNotFound, ErrorCode::VoteNotFound]),
                (409, &[ErrorCode::AlreadyVoted]),
                VALIDATION,
                MEDIA_TYPE,
            ]),
    ]
}

/// `POST /vote` `{post_id, dir}` → 201 with a message.
pub(crate) async fn vote(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    cast: web::Data<CastVote>,
) -> Result<HttpResponse, Problem> {
    let map = json_body(&req, &body)?;
    let mut fields = Fields::new("body", &map);
    let post_id = fields.int("post_id");
    let post_id = post_id.and_then(|id| {
        fields.check(
            "post_id",
            if id > 0 {
                Ok(id)
            } else {
                Err("Input should be greater than 0")
            },
            |_| "greater_than",
        )
    });
    let dir = fields.int("dir");
    let direction =
        dir.and_then(|d| fields.check("dir", Direction::from_dir(d), |_| "literal_error"));
    fields.finish()?;
    let (Some(post_id), Some(direction)) = (post_id, direction) else {
        return Err(Problem::validation(vec![FieldError::new(
            &["body"],
            "Invalid vote",
            "value_error",
        )]));
    };
    let command = VoteCommand {
        user: principal.user.id,
        post: PostId::new(post_id),
        direction,
    };
    let message = match cast.execute(command).await? {
        VoteChange::Add => "successfully added vote",
        VoteChange::Remove => "successfully deleted vote",
    };
    Ok(HttpResponse::Created().json(serde_json::json!({ "message": message })))
}
