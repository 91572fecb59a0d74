//! Response shapes of the HTTP contract (docs/contract.md), exactly: no extra members, ids as integers,
//! timestamps as RFC 3339 UTC with microseconds.
//!
//! Each shape is also its OpenAPI component: `#[derive(ApiComponent, JsonSchema)]` derives the
//! schema from the fields (the container's serde name is the component's name), so a field
//! added here is in the document. What the field types cannot say (a timestamp's format, a
//! constant's only value) is the `schema_with` of a function in [`schema`].

use apistos::ApiComponent;
use keel_application::auth::TokenPair;
use keel_application::sessions::SessionSummary;
use keel_domain::user::User;
use keel_ports::{Author, PostView};
use schemars::JsonSchema;
use serde::Serialize;

/// Field schemas a field's Rust type does not carry, for `#[schemars(schema_with = …)]`.
pub mod schema {
    use schemars::r#gen::SchemaGenerator;
    use schemars::schema::{InstanceType, Metadata, Schema, SchemaObject};
    use serde_json::Value;

    /// An RFC 3339 UTC timestamp with microseconds (a `String` on the wire).
    pub fn timestamp(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            format: Some("date-time".to_owned()),
            metadata: Some(Box::new(Metadata {
                examples: vec![Value::from("2026-11-28T12:00:00.000000Z")],
                ..Metadata::default()
            })),
            ..SchemaObject::default()
        }
        .into()
    }

    /// A string that is always present, `null` when unknown.
    pub fn nullable_string(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            extensions: [("nullable".to_owned(), Value::Bool(true))]
                .into_iter()
                .collect(),
            ..SchemaObject::default()
        }
        .into()
    }

    /// An integer (without a format: a status code).
    pub fn integer(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::Integer.into()),
            ..SchemaObject::default()
        }
        .into()
    }

    /// A value of `kind` with one possible value.
    pub(crate) fn constant(kind: InstanceType, value: Value) -> Schema {
        SchemaObject {
            instance_type: Some(kind.into()),
            enum_values: Some(vec![value]),
            ..SchemaObject::default()
        }
        .into()
    }

    /// `"bearer"`, the only token type.
    pub fn bearer(_: &mut SchemaGenerator) -> Schema {
        constant(InstanceType::String, Value::from("bearer"))
    }

    /// `"ok"`, the only status of a health or readiness answer.
    pub fn ok(_: &mut SchemaGenerator) -> Schema {
        constant(InstanceType::String, Value::from("ok"))
    }
}

/// `UserOut`: an account (without its secrets).
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UserOut {
    id: i64,
    #[schemars(email)]
    email: String,
    /// Whether the address was proven (a verification mail, a password reset, or a provider
    /// that verified it).
    email_verified: bool,
    #[schemars(schema_with = "schema::timestamp")]
    created_at: String,
}

impl From<&User> for UserOut {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.get(),
            email: user.email.as_str().to_owned(),
            email_verified: user.email_verified,
            created_at: user.created_at.to_rfc3339(),
        }
    }
}

impl From<&Author> for UserOut {
    fn from(author: &Author) -> Self {
        Self {
            id: author.id.get(),
            email: author.email.as_str().to_owned(),
            email_verified: author.email_verified,
            created_at: author.created_at.to_rfc3339(),
        }
    }
}

/// `Post`: a post with its owner.
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
#[serde(rename = "Post")]
#[schemars(deny_unknown_fields)]
pub struct PostBody {
    id: i64,
    title: String,
    content: String,
    published: bool,
    #[schemars(schema_with = "schema::timestamp")]
    created_at: String,
    owner_id: i64,
    owner: UserOut,
}

impl From<&PostView> for PostBody {
    fn from(view: &PostView) -> Self {
        let post = &view.post;
        Self {
            id: post.id.get(),
            title: post.title.as_str().to_owned(),
            content: post.content.as_str().to_owned(),
            published: post.published,
            created_at: post.created_at.to_rfc3339(),
            owner_id: post.owner_id.get(),
            owner: UserOut::from(&view.owner),
        }
    }
}

/// `PostOut`: a post and its vote count (the capital `Post` key is the original contract).
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PostOut {
    #[serde(rename = "Post")]
    post: PostBody,
    votes: i64,
}

impl From<&PostView> for PostOut {
    fn from(view: &PostView) -> Self {
        Self {
            post: PostBody::from(view),
            votes: view.votes,
        }
    }
}

/// `PostOutList`: a page of the feed.
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
pub struct PostOutList(pub Vec<PostOut>);

/// `Token`: an access token and the refresh token of its session.
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
#[serde(rename = "Token")]
#[schemars(deny_unknown_fields)]
pub struct TokenOut {
    access_token: String,
    #[schemars(schema_with = "schema::bearer")]
    token_type: &'static str,
    refresh_token: String,
}

impl From<TokenPair> for TokenOut {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            token_type: "bearer",
            refresh_token: pair.refresh_token,
        }
    }
}

/// `Message`: a human-readable outcome.
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Message {
    message: &'static str,
}

impl Message {
    /// A message body.
    pub fn new(message: &'static str) -> Self {
        Self { message }
    }
}

/// `Session`: one live session.
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
#[serde(rename = "Session")]
#[schemars(deny_unknown_fields)]
pub struct SessionOut {
    #[schemars(with = "uuid::Uuid")]
    id: String,
    #[schemars(schema_with = "schema::timestamp")]
    created_at: String,
    #[schemars(schema_with = "schema::timestamp")]
    last_used_at: String,
    #[schemars(schema_with = "schema::nullable_string")]
    user_agent: Option<String>,
    current: bool,
}

impl From<&SessionSummary> for SessionOut {
    fn from(s: &SessionSummary) -> Self {
        Self {
            id: s.id.to_string(),
            created_at: s.created_at.to_rfc3339(),
            last_used_at: s.last_used_at.to_rfc3339(),
            user_agent: s.user_agent.clone(),
            current: s.current,
        }
    }
}

/// `SessionList`: the caller's live sessions.
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
pub struct SessionList(pub Vec<SessionOut>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::documented::assert_documented;

    fn user() -> UserOut {
        UserOut {
            id: 1,
            email: "a@example.com".to_owned(),
            email_verified: true,
            created_at: "2026-11-28T12:00:00.000000Z".to_owned(),
        }
    }

    fn post() -> PostBody {
        PostBody {
            id: 2,
            title: "t".to_owned(),
            content: "c".to_owned(),
            published: true,
            created_at: "2026-11-28T12:00:00.000000Z".to_owned(),
            owner_id: 1,
            owner: user(),
        }
    }

    #[test]
    fn every_member_of_every_dto_is_in_the_document() {
        assert_documented(&user());
        assert_documented(&post());
        assert_documented(&PostOutList(vec![PostOut {
            post: post(),
            votes: 3,
        }]));
        assert_documented(&TokenOut {
            access_token: "a".to_owned(),
            token_type: "bearer",
            refresh_token: "r".to_owned(),
        });
        assert_documented(&Message::new("m"));
        assert_documented(&SessionList(vec![SessionOut {
            id: "0190c5d2-7b5e-7000-8000-000000000000".to_owned(),
            created_at: "2026-11-28T12:00:00.000000Z".to_owned(),
            last_used_at: "2026-11-28T12:00:00.000000Z".to_owned(),
            user_agent: Some("curl".to_owned()),
            current: true,
        }]));
    }
}
