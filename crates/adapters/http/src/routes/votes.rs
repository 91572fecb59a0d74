//! `/vote`.

use super::table::{JSON, MEDIA_TYPE, RouteDecl, VALIDATION, schema};
use crate::dto::Message;
use crate::error_code::ErrorCode;
use crate::extract::AuthUser;
use crate::input::shape::Vote;
use crate::input::{self, Ballot};
use crate::problem::Problem;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use keel_application::votes::CastVote;
use keel_domain::rate_limit::Policy;
use keel_domain::vote::{VoteChange, VoteCommand};

/// The routes of this module (see [`super::table`]).
pub(crate) fn routes() -> Vec<RouteDecl> {
    vec![
        RouteDecl::api(Method::POST, "/vote", |r| r.to(vote))
            .doc("Add (dir 1) or remove (dir 0) one's vote", "votes")
            .limited(Policy::ApiWrite)
            .bearer()
            .body(JSON, schema::<Vote>())
            .success(201, "Created", Some(schema::<Message>()))
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
    let Ballot { post, direction } = input::body(&req, &body)?;
    let command = VoteCommand {
        user: principal.user.id,
        post,
        direction,
    };
    let message = match cast.execute(command).await? {
        VoteChange::Add => "successfully added vote",
        VoteChange::Remove => "successfully deleted vote",
    };
    Ok(HttpResponse::Created().json(Message::new(message)))
}
