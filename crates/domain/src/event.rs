//! Domain events: what a change tells the rest of the world.
//!
//! Every state change returns its events; the store commits them in the same transaction as
//! the change (the outbox). Topics and payload members are a public contract:
//!
//! | topic | payload |
//! |---|---|
//! | `user.created` | `{user_id, email}` |
//! | `post.created`, `post.updated`, `post.deleted` | `{post_id, owner_id}` |
//! | `vote.created`, `vote.deleted` | `{post_id, user_id}` |
//! <!-- @new-resource: event-doc -->
//!
//! Mail events (`mail.verify_email`, `mail.password_reset`: `{user_id, email, token,
//! expires_at}`) carry a raw one-time token. They are not part of the public contract: their
//! [`Audience`] is [`Audience::Mail`], so only the mail sender ever receives them.

use crate::email_token::EmailToken;
use crate::post::PostId;
use crate::user::{Email, UserId};

/// The prefix of every [`Audience::Mail`] topic.
pub const MAIL_TOPIC_PREFIX: &str = "mail.";

/// The payload member of a mail event that holds its secret, the raw one-time token. Once the
/// mail is sent nothing needs it: the store removes it when it marks the event delivered.
pub const MAIL_SECRET_MEMBER: &str = "token";

/// Who may receive an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every configured sink (`OUTBOX_SINKS`): the public events.
    Public,
    /// The mail sender only: the event carries a secret (a one-time token).
    Mail,
}

impl Audience {
    /// The audience of events published under `topic`: `mail.*` topics
    /// ([`MAIL_TOPIC_PREFIX`]) are for the mail sender, every other topic is public.
    #[must_use]
    pub fn of_topic(topic: &str) -> Audience {
        if topic.starts_with(MAIL_TOPIC_PREFIX) {
            Audience::Mail
        } else {
            Audience::Public
        }
    }
}

/// Something that happened, recorded with the change that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(untagged))]
pub enum DomainEvent {
    /// A user registered.
    UserCreated {
        /// The new user.
        user_id: UserId,
        /// Their normalised address.
        email: Email,
    },
    /// A post was created.
    PostCreated {
        /// The post.
        post_id: PostId,
        /// Its author.
        owner_id: UserId,
    },
    /// A post was replaced.
    PostUpdated {
        /// The post.
        post_id: PostId,
        /// Its author.
        owner_id: UserId,
    },
    /// A post was deleted.
    PostDeleted {
        /// The post.
        post_id: PostId,
        /// Its author.
        owner_id: UserId,
    },
    /// A vote was added.
    VoteCreated {
        /// The post.
        post_id: PostId,
        /// The voter.
        user_id: UserId,
    },
    /// A vote was removed.
    VoteDeleted {
        /// The post.
        post_id: PostId,
        /// The voter.
        user_id: UserId,
    },
    /// A registration (or a resend) asks the owner of `email` to prove it.
    EmailVerificationRequested {
        /// The account.
        user_id: UserId,
        /// Where the mail goes.
        email: Email,
        /// The raw one-time token (secret).
        token: EmailToken,
        /// Its expiry, RFC 3339.
        expires_at: String,
    },
    /// Someone asked for a password reset of the account with `email`.
    PasswordResetRequested {
        /// The account.
        user_id: UserId,
        /// Where the mail goes.
        email: Email,
        /// The raw one-time token (secret).
        token: EmailToken,
        /// Its expiry, RFC 3339.
        expires_at: String,
    },
    // @new-resource: event-variants
}

impl DomainEvent {
    /// The topic the event is published under.
    #[must_use]
    pub fn topic(&self) -> &'static str {
        match self {
            Self::UserCreated { .. } => "user.created",
            Self::PostCreated { .. } => "post.created",
            Self::PostUpdated { .. } => "post.updated",
            Self::PostDeleted { .. } => "post.deleted",
            Self::VoteCreated { .. } => "vote.created",
            Self::VoteDeleted { .. } => "vote.deleted",
            Self::EmailVerificationRequested { .. } => "mail.verify_email",
            Self::PasswordResetRequested { .. } => "mail.password_reset",
            // @new-resource: event-topics
        }
    }

    /// Who may receive the event ([`Audience::of_topic`] of its topic).
    #[must_use]
    pub fn audience(&self) -> Audience {
        Audience::of_topic(self.topic())
    }
}

#[cfg(test)]
mod topic_tests {
    use super::*;

    #[test]
    fn topics_are_the_contract() {
        let (u, p) = (UserId::new(1), PostId::new(2));
        let email = Email::parse("a@example.com").expect("valid");
        let cases = [
            (
                DomainEvent::UserCreated { user_id: u, email },
                "user.created",
            ),
            (
                DomainEvent::PostCreated {
                    post_id: p,
                    owner_id: u,
                },
                "post.created",
            ),
            (
                DomainEvent::PostUpdated {
                    post_id: p,
                    owner_id: u,
                },
                "post.updated",
            ),
            (
                DomainEvent::PostDeleted {
                    post_id: p,
                    owner_id: u,
                },
                "post.deleted",
            ),
            (
                DomainEvent::VoteCreated {
                    post_id: p,
                    user_id: u,
                },
                "vote.created",
            ),
            (
                DomainEvent::VoteDeleted {
                    post_id: p,
                    user_id: u,
                },
                "vote.deleted",
            ),
        ];
        for (event, topic) in cases {
            assert_eq!(event.topic(), topic);
            assert_eq!(event.audience(), Audience::Public);
        }
        assert_eq!(Audience::of_topic("mail.verify_email"), Audience::Mail);
        assert_eq!(Audience::of_topic("mailbox.created"), Audience::Public);
    }

    /// The store removes [`MAIL_SECRET_MEMBER`] from delivered mail events by name: it must be
    /// where each mail event's token is, and in no public event.
    #[cfg(feature = "serde")]
    #[test]
    fn the_secret_member_is_the_token_of_every_mail_event_and_only_of_those() {
        let (user_id, email) = (
            UserId::new(1),
            Email::parse("a@example.com").expect("valid"),
        );
        let token = EmailToken::generate([7; crate::email_token::TOKEN_BYTES]);
        let mail = [
            DomainEvent::EmailVerificationRequested {
                user_id,
                email: email.clone(),
                token: token.clone(),
                expires_at: "2026-12-07T00:00:00Z".to_owned(),
            },
            DomainEvent::PasswordResetRequested {
                user_id,
                email: email.clone(),
                token: token.clone(),
                expires_at: "2026-12-07T00:00:00Z".to_owned(),
            },
        ];
        for event in mail {
            assert!(event.topic().starts_with(MAIL_TOPIC_PREFIX));
            assert_eq!(event.audience(), Audience::Mail);
            let payload = serde_json::to_value(&event).expect("serializes");
            assert_eq!(
                payload[MAIL_SECRET_MEMBER].as_str(),
                Some(token.as_str()),
                "{payload}"
            );
        }
        let public = DomainEvent::UserCreated { user_id, email };
        let payload = serde_json::to_value(&public).expect("serializes");
        assert!(payload.get(MAIL_SECRET_MEMBER).is_none(), "{payload}");
    }
}
