//! `/vote`.

use crate::extract::{AuthUser, Fields, json_body};
use crate::problem::{FieldError, Problem};
use actix_web::{HttpRequest, HttpResponse, web};
use keel_application::votes::CastVote;
use keel_domain::post::PostId;
use keel_domain::vote::{Direction, VoteChange, VoteCommand};

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
