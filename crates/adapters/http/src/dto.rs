//! Response shapes of the HTTP contract (docs/contract.md), exactly: no extra members, ids as integers,
//! timestamps as RFC 3339 UTC with microseconds.

use keel_application::auth::TokenPair;
use keel_application::sessions::SessionSummary;
use keel_domain::user::User;
use keel_ports::{Author, PostView};
use serde::Serialize;

/// `UserOut`.
#[derive(Debug, Serialize)]
pub struct UserOut {
    id: i64,
    email: String,
    email_verified: bool,
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
#[derive(Debug, Serialize)]
pub struct PostBody {
    id: i64,
    title: String,
    content: String,
    published: bool,
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

/// `PostOut`: `{"Post": Post, "votes": n}` (the capital key is the original contract).
#[derive(Debug, Serialize)]
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

/// `Token`.
#[derive(Debug, Serialize)]
pub struct TokenOut {
    access_token: String,
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

/// `{"message": …}`.
#[derive(Debug, Serialize)]
pub struct Message {
    message: &'static str,
}

impl Message {
    /// A message body.
    pub fn new(message: &'static str) -> Self {
        Self { message }
    }
}

/// One live session.
#[derive(Debug, Serialize)]
pub struct SessionOut {
    id: String,
    created_at: String,
    last_used_at: String,
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
