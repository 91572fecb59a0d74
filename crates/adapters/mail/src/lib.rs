//! # keel-mail
//!
//! The mail sink: renders the outbox's mail events (`mail.verify_email`,
//! `mail.password_reset`, `keel_domain::event`) as plain-text + HTML messages and sends them
//! over SMTP with `lettre` (tokio, rustls with the ring provider; no OpenSSL).
//!
//! `SMTP_URL` chooses the transport:
//! - `smtp://host:1025`: plain SMTP (a local mail catcher);
//! - `smtp://user:pass@host:587`: STARTTLS, required (credentials never travel in clear; an
//!   `smtp://` URL with credentials or port 587 gets `tls=required` unless it names `tls=`);
//! - `smtps://user:pass@host:465`: implicit TLS.
//!
//! The link in a mail points at the GUI, `<base>/#/verify-email?token=…` or
//! `<base>/#/reset-password?token=…`: in the fragment, so the token reaches neither a server's
//! access log nor a `Referer`. Delivery failures are failed attempts of the event (retried and
//! dead-lettered by the relay like every delivery); a permanent SMTP refusal is
//! [`DeliveryError::Rejected`], anything else [`DeliveryError::Unavailable`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use async_trait::async_trait;
use keel_domain::outbox::OutboxEvent;
use keel_ports::{DeliveryError, EventSink};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Why the mail sink cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    /// `SMTP_URL` is not a usable SMTP URL.
    #[error("SMTP_URL is not a usable smtp:// or smtps:// URL: {0}")]
    Url(String),
    /// `EMAIL_FROM` is not a mailbox (`name <address>` or `address`).
    #[error("EMAIL_FROM is not a mailbox such as `keel <no-reply@example.com>`: {0}")]
    From(String),
}

/// What the mail sink needs.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `SMTP_URL`.
    pub smtp_url: String,
    /// `EMAIL_FROM`.
    pub from: String,
    /// The GUI's public origin, without a trailing `/` (links in the mails).
    pub link_base: String,
    /// Bound of one SMTP conversation.
    pub timeout: Duration,
}

/// The SMTP sink of the mail events.
#[derive(Clone)]
pub struct SmtpMailSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    link_base: String,
}

impl std::fmt::Debug for SmtpMailSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailSink")
            .field("from", &self.from.to_string())
            .field("link_base", &self.link_base)
            .finish_non_exhaustive()
    }
}

/// `url` with `tls=required` added when it is a plain `smtp://` URL carrying credentials or
/// aimed at the submission port (587) and names no `tls` mode itself.
#[must_use]
pub fn with_required_starttls(url: &str) -> String {
    let Some(rest) = url.strip_prefix("smtp://") else {
        return url.to_owned();
    };
    if url.contains("tls=") {
        return url.to_owned();
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let has_credentials = authority.contains('@');
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let submission = host_port.rsplit_once(':').is_some_and(|(_, p)| p == "587");
    if !(has_credentials || submission) {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}tls=required")
}

impl SmtpMailSink {
    /// A sink sending through `settings.smtp_url` from `settings.from`.
    ///
    /// # Errors
    /// [`MailConfigError`] for an unusable URL or sender.
    pub fn new(settings: &MailSettings) -> Result<Self, MailConfigError> {
        let url = with_required_starttls(&settings.smtp_url);
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| MailConfigError::Url(e.to_string()))?
            .timeout(Some(settings.timeout))
            .build();
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| MailConfigError::From(e.to_string()))?;
        Ok(Self {
            transport,
            from,
            link_base: settings.link_base.trim_end_matches('/').to_owned(),
        })
    }
}

/// A mail ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders a mail event (`mail.verify_email`, `mail.password_reset`); links start with
/// `link_base`.
///
/// # Errors
/// [`DeliveryError::Unencodable`] for another topic or a payload without `email` / `token`.
pub fn render(event: &OutboxEvent, link_base: &str) -> Result<Rendered, DeliveryError> {
    let payload: serde_json::Value = serde_json::from_str(&event.payload)
        .map_err(|e| DeliveryError::Unencodable(format!("payload is not JSON: {e}")))?;
    let field = |name: &str| {
        payload[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| DeliveryError::Unencodable(format!("payload has no {name}")))
    };
    let (to, token, expires_at) = (field("email")?, field("token")?, field("expires_at")?);
    // The token is base64url (checked by the domain); encoded anyway.
    let token: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let (subject, screen, action, why) = match event.topic.as_str() {
        "mail.verify_email" => (
            "Verify your email address",
            "verify-email",
            "verify your email address",
            "You (or someone using your address) registered an account.",
        ),
        "mail.password_reset" => (
            "Reset your password",
            "reset-password",
            "choose a new password",
            "Someone asked to reset the password of your account. If it was not you, ignore this mail: your password is unchanged.",
        ),
        other => {
            return Err(DeliveryError::Unencodable(format!(
                "{other} is not a mail event"
            )));
        }
    };
    let link = format!("{link_base}/#/{screen}?token={token}");
    let text = format!(
        "{why}\n\nOpen this link to {action}:\n\n{link}\n\nor enter this token: token={token}\n\nThe link works once and expires at {expires_at}.\n"
    );
    let html = format!(
        "<!doctype html><html><body><p>{why}</p><p><a href=\"{href}\">Open this link to {action}</a></p><p>or enter this token: <code>token={token}</code></p><p>The link works once and expires at {expires_at}.</p></body></html>",
        why = escape_html(why),
        href = escape_html(&link),
        expires_at = escape_html(&expires_at),
    );
    Ok(Rendered {
        to,
        subject: subject.to_owned(),
        text,
        html,
    })
}

#[async_trait]
impl EventSink for SmtpMailSink {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn deliver(&self, event: &OutboxEvent) -> Result<(), DeliveryError> {
        let mail = render(event, &self.link_base)?;
        let to = mail
            .to
            .parse::<Mailbox>()
            .map_err(|e| DeliveryError::Unencodable(format!("recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|e| DeliveryError::Unencodable(format!("message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_permanent() => Err(DeliveryError::Rejected(error.to_string())),
            Err(error) => Err(DeliveryError::Unavailable(Box::new(error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_domain::Timestamp;
    use keel_domain::outbox::{EventId, EventKey};

    fn event(topic: &str, payload: &str) -> OutboxEvent {
        OutboxEvent {
            id: EventId::new(1),
            key: EventKey::new(uuid::Uuid::nil()),
            topic: topic.to_owned(),
            payload: payload.to_owned(),
            attempts: 0,
            created_at: Timestamp::from_unix_seconds(0).expect("epoch"),
        }
    }

    const PAYLOAD: &str = r#"{"user_id":1,"email":"a@example.com","token":"abc_DEF-123","expires_at":"2026-12-09T00:00:00.000000Z"}"#;

    #[test]
    fn both_mails_carry_the_gui_link_and_the_token_visibly() {
        let verify = render(&event("mail.verify_email", PAYLOAD), "http://gui").expect("mail");
        assert_eq!(verify.to, "a@example.com");
        assert_eq!(verify.subject, "Verify your email address");
        assert!(
            verify
                .text
                .contains("http://gui/#/verify-email?token=abc_DEF-123")
        );
        assert!(verify.html.contains("token=abc_DEF-123"));
        let reset = render(&event("mail.password_reset", PAYLOAD), "http://gui").expect("mail");
        assert!(
            reset
                .text
                .contains("http://gui/#/reset-password?token=abc_DEF-123")
        );
        assert!(reset.html.contains("2026-12-09T00:00:00.000000Z"));
    }

    #[test]
    fn other_topics_and_broken_payloads_are_unencodable() {
        for (topic, payload) in [
            ("post.created", PAYLOAD),
            ("mail.verify_email", "not json"),
            ("mail.verify_email", r#"{"email":"a@example.com"}"#),
        ] {
            assert!(matches!(
                render(&event(topic, payload), "http://gui"),
                Err(DeliveryError::Unencodable(_))
            ));
        }
    }

    #[test]
    fn credentials_and_the_submission_port_require_starttls() {
        assert_eq!(
            with_required_starttls("smtp://127.0.0.1:1025"),
            "smtp://127.0.0.1:1025"
        );
        assert_eq!(
            with_required_starttls("smtp://user:pass@mail.example.com:587"),
            "smtp://user:pass@mail.example.com:587?tls=required"
        );
        assert_eq!(
            with_required_starttls("smtp://mail.example.com:587"),
            "smtp://mail.example.com:587?tls=required"
        );
        assert_eq!(
            with_required_starttls("smtp://u:p@h:25?tls=opportunistic"),
            "smtp://u:p@h:25?tls=opportunistic"
        );
        assert_eq!(
            with_required_starttls("smtps://u:p@h:465"),
            "smtps://u:p@h:465"
        );
    }

    #[tokio::test]
    async fn urls_and_senders_are_checked_when_the_sink_is_built() {
        let settings = |url: &str, from: &str| MailSettings {
            smtp_url: url.to_owned(),
            from: from.to_owned(),
            link_base: "http://gui/".to_owned(),
            timeout: Duration::from_secs(5),
        };
        for url in [
            "smtp://127.0.0.1:1025",
            "smtp://u:p@mail.example.com:587",
            "smtps://u:p@mail.example.com:465",
        ] {
            let sink = SmtpMailSink::new(&settings(url, "keel <no-reply@localhost>"));
            assert!(sink.is_ok(), "{url}: {sink:?}");
        }
        assert!(matches!(
            SmtpMailSink::new(&settings("http://x", "keel <no-reply@localhost>")),
            Err(MailConfigError::Url(_))
        ));
        assert!(matches!(
            SmtpMailSink::new(&settings("smtp://127.0.0.1:1025", "not a mailbox")),
            Err(MailConfigError::From(_))
        ));
    }
}
