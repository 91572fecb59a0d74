//! # keel-webhook
//!
//! The `webhook` outbox sink: [`WebhookSink`] POSTs each event as JSON to one URL and signs it,
//! implementing [`keel_ports::EventSink`].
//!
//! The request:
//!
//! ```text
//! POST <OUTBOX_WEBHOOK_URL>
//! Content-Type: application/json
//! X-Keel-Event: post.created                       (the topic)
//! X-Keel-Event-Id: 42                               (the outbox row id)
//! Idempotency-Key: 1b4e28ba-2fa1-11d2-883f-0016d3cca427   (the event key)
//! X-Keel-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with OUTBOX_WEBHOOK_SECRET>
//!
//! {"created_at":"2026-12-01T10:00:00.123456Z","event_key":"1b4e…","id":42,"payload":{"owner_id":3,"post_id":7},"topic":"post.created"}
//! ```
//!
//! Any 2xx answer is success; any other status, a connection failure or no answer within the
//! timeout is a failed attempt (retried by the relay). Delivery is at least once: receivers
//! de-duplicate on `Idempotency-Key`. How a receiver verifies the signature is in
//! `docs/outbox.md` (and [`Signer::verify`] does it in Rust).
//!
//! TLS uses rustls with the *ring* provider; [`install_crypto_provider`] makes it the process
//! default (the binaries call it at start; [`WebhookSink::new`] calls it too).
#![forbid(unsafe_code)]

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use keel_domain::outbox::OutboxEvent;
use keel_ports::{DeliveryError, EventSink};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Keel-Signature";
/// The topic header.
pub const EVENT_HEADER: &str = "X-Keel-Event";
/// The outbox row id header.
pub const EVENT_ID_HEADER: &str = "X-Keel-Event-Id";
/// The idempotency header (the event key).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// How much of a refusing receiver's body is kept in the error (characters).
const ERROR_BODY_CHARS: usize = 200;

/// Makes rustls's *ring* provider the process-wide default, once; later calls do nothing.
/// Every HTTPS client of the process (this sink's and any other reqwest client) needs a
/// default provider, because the workspace builds reqwest without a built-in one.
pub fn install_crypto_provider() {
    // An error means a provider is already installed: exactly what is wanted.
    let _already = rustls::crypto::ring::default_provider().install_default();
}

/// Why a [`WebhookSink`] cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not an absolute http(s) URL.
    #[error("OUTBOX_WEBHOOK_URL {0:?} is not an absolute http:// or https:// URL")]
    InvalidUrl(String),
    /// The signing secret is empty.
    #[error("OUTBOX_WEBHOOK_SECRET must not be empty")]
    EmptySecret,
    /// The HTTP client could not be built.
    #[error("building the webhook HTTP client failed")]
    Client(#[source] reqwest::Error),
}

/// Delivers events as signed JSON POSTs to one URL.
#[derive(Clone)]
pub struct WebhookSink {
    client: reqwest::Client,
    url: reqwest::Url,
    signer: Signer,
    trace_headers: Option<TraceHeaders>,
}

/// Supplies the trace-context headers (W3C `traceparent`, `tracestate`) that continue the
/// current trace in a delivery request; the composition root passes its tracer's.
pub type TraceHeaders = Arc<dyn Fn() -> Vec<(String, String)> + Send + Sync>;

impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &self.url.as_str())
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// A sink posting to `url`, signing with `secret`, giving up on a request after `timeout`
    /// (connecting included).
    ///
    /// # Errors
    /// [`WebhookError`] for a URL that is not absolute http(s), an empty secret, or a client
    /// that cannot be built.
    pub fn new(url: &str, secret: &[u8], timeout: Duration) -> Result<Self, WebhookError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|_| WebhookError::InvalidUrl(url.to_owned()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(WebhookError::InvalidUrl(url.to_owned()));
        }
        let signer = Signer::new(secret)?;
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect would re-send the signed body elsewhere: the URL must be exact.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("keel-worker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(WebhookError::Client)?;
        Ok(Self {
            client,
            url: parsed,
            signer,
            trace_headers: None,
        })
    }

    /// Adds the headers `trace_headers` returns (at delivery time) to every delivery, so the
    /// receiver continues the worker's trace.
    #[must_use]
    pub fn with_trace_headers(mut self, trace_headers: TraceHeaders) -> Self {
        self.trace_headers = Some(trace_headers);
        self
    }
}

/// The JSON body sent for `event` (see the crate docs).
///
/// # Errors
/// [`DeliveryError::Unencodable`] when the stored payload is not JSON.
pub fn body(event: &OutboxEvent) -> Result<Vec<u8>, DeliveryError> {
    let payload: serde_json::Value = serde_json::from_str(&event.payload).map_err(|err| {
        DeliveryError::Unencodable(format!("payload of event {}: {err}", event.id))
    })?;
    let envelope = serde_json::json!({
        "id": event.id.get(),
        "event_key": event.key.to_string(),
        "topic": event.topic,
        "payload": payload,
        "created_at": event.created_at.to_rfc3339(),
    });
    serde_json::to_vec(&envelope)
        .map_err(|err| DeliveryError::Unencodable(format!("event {}: {err}", event.id)))
}

/// Signs bodies with the webhook secret, and checks signatures (what a Rust receiver does).
#[derive(Clone)]
pub struct Signer {
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer keyed with `secret`.
    ///
    /// # Errors
    /// [`WebhookError::EmptySecret`] for an empty secret.
    pub fn new(secret: &[u8]) -> Result<Self, WebhookError> {
        if secret.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        // HMAC accepts keys of any length; the error cannot happen, but is not unwrapped.
        let keyed =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|_| WebhookError::EmptySecret)?;
        Ok(Self { keyed })
    }

    /// `sha256=<hex HMAC-SHA256 of body>`: the `X-Keel-Signature` value.
    #[must_use]
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Whether `header` is the valid `X-Keel-Signature` of `body`, compared in constant time.
    #[must_use]
    pub fn verify(&self, body: &[u8], header: &str) -> bool {
        let Some(hex_digest) = header.trim().strip_prefix("sha256=") else {
            return false;
        };
        let Ok(expected) = hex::decode(hex_digest) else {
            return false;
        };
        let mut mac = self.keyed.clone();
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    }
}

#[async_trait]
impl EventSink for WebhookSink {
    fn name(&self) -> &'static str {
        "webhook"
    }

    #[tracing::instrument(name = "webhook.deliver", skip_all, fields(otel.kind = "client", http.request.method = "POST"))]
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), DeliveryError> {
        let body = body(event)?;
        let signature = self.signer.sign(&body);
        let mut request = self.client.post(self.url.clone());
        for (name, value) in self.trace_headers.iter().flat_map(|headers| headers()) {
            request = request.header(name, value);
        }
        let response = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_HEADER, &event.topic)
            .header(EVENT_ID_HEADER, event.id.get())
            .header(IDEMPOTENCY_HEADER, event.key.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|err| DeliveryError::Unavailable(Box::new(err)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // The body only helps the operator; a receiver that will not send it in time does not
        // delay the verdict past the client's timeout.
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(ERROR_BODY_CHARS).collect();
        Err(DeliveryError::Rejected(format!(
            "HTTP {status}{}{excerpt}",
            if excerpt.is_empty() { "" } else { ": " }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_a_known_vector() {
        // RFC 4231, test case 2.
        let jefe = Signer::new(b"Jefe").expect("key");
        assert_eq!(
            jefe.sign(b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let signer = Signer::new(b"k").expect("key");
        let header = signer.sign(b"body");
        assert!(signer.verify(b"body", &header));
        assert!(!signer.verify(b"body!", &header));
        assert!(!Signer::new(b"other").expect("key").verify(b"body", &header));
        assert!(!signer.verify(b"body", "sha1=00"));
        assert!(!signer.verify(b"body", "sha256=zz"));
        assert!(Signer::new(b"").is_err());
    }

    #[test]
    fn only_absolute_http_urls_and_real_secrets_are_accepted() {
        let timeout = Duration::from_secs(1);
        assert!(matches!(
            WebhookSink::new("ftp://x", b"s", timeout),
            Err(WebhookError::InvalidUrl(_))
        ));
        assert!(matches!(
            WebhookSink::new("/hooks", b"s", timeout),
            Err(WebhookError::InvalidUrl(_))
        ));
        assert!(matches!(
            WebhookSink::new("https://example.com/hooks", b"", timeout),
            Err(WebhookError::EmptySecret)
        ));
        let sink = WebhookSink::new("https://example.com/hooks", b"s3cret", timeout).expect("ok");
        assert!(!format!("{sink:?}").contains("s3cret"));
    }
}
