//! The request-body deadline: a client that sends its head and then trickles the body (a byte a
//! second: "slow POST") holds a connection and a buffer for as long as it likes. The server's
//! client request timeout bounds only the head; [`body_deadline`] bounds the body.
//!
//! The deadline ([`crate::HttpSettings::request_body_timeout`], `REQUEST_BODY_TIMEOUT_SECONDS`)
//! counts from the moment the complete head reached the app. Once it passes, the next read of
//! the body fails (whoever reads it: an extractor, or the rate limiter reading a login form),
//! and the request is answered 408 `request_timeout` (problem+json, as
//! [`crate::middleware::render_problems`] writes every problem) whatever the reader made of the
//! failure. The rest of the body is never read: the response's body holds the unread request
//! body until it has been sent, so that actix finds the request body unfinished and still
//! wanted, and closes the connection after the response — instead of keeping it open to drain
//! a chunked body the client may trickle forever.
//!
//! It wraps [`crate::middleware::render_problems`] (its 408 is final) and sits inside
//! [`crate::middleware::versioning`] and [`crate::middleware::request_id`] (it reads the
//! problem's `instance` and `trace_id` from them).
//!
//! A body that arrives in time costs one timer per request (none for an HTTP/1 request without
//! a body); a request whose body is never read never fails for being slow (the timer is only
//! looked at when the body is read).

use crate::HttpSettings;
use crate::middleware::{Served, problem_context};
use crate::problem::{PROBLEM_JSON, Problem};
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::http::{StatusCode, Version};
use actix_web::rt::time::{Sleep, sleep};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse, web};
use futures_core::Stream;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Fails reading the body once [`HttpSettings::request_body_timeout`] has passed, and answers
/// such a request 408 (see the module docs).
pub async fn body_deadline<Fut: Future<Output = Served>>(
    mut req: ServiceRequest,
    inner: impl FnOnce(ServiceRequest) -> Fut,
) -> Served {
    let timeout = req
        .app_data::<web::Data<HttpSettings>>()
        .map(|settings| settings.request_body_timeout);
    // An HTTP/1 request with neither `Content-Length` nor `Transfer-Encoding` has no body
    // (RFC 9112 §6.3): no timer for it (probes, reads).
    let bodiless = req.version() <= Version::HTTP_11
        && !req.headers().contains_key(header::CONTENT_LENGTH)
        && !req.headers().contains_key(header::TRANSFER_ENCODING);
    let Some(timeout) = timeout.filter(|_| !bodiless) else {
        return inner(req).await;
    };
    let unread = Rc::new(RefCell::new(None));
    let body = DeadlineBody::new(req.take_payload(), timeout, unread.clone());
    req.set_payload(Payload::Stream {
        payload: Box::pin(body),
    });
    let res = inner(req).await?;
    let Some(unread) = unread.borrow_mut().take() else {
        return Ok(res);
    };
    tracing::debug!(
        timeout_seconds = timeout.as_secs_f64(),
        "request body not received in time"
    );
    let (req, _) = res.into_parts();
    let (instance, trace_id) = problem_context(&req);
    let problem = Problem::for_status(StatusCode::REQUEST_TIMEOUT);
    let json = Bytes::from(problem.body(&instance, trace_id.as_deref()).to_string());
    let response = HttpResponse::build(problem.status())
        .content_type(PROBLEM_JSON)
        .body(ProblemHoldingUnread {
            len: json.len() as u64,
            json: Some(json),
            _unread: unread,
        });
    Ok(ServiceResponse::new(req, response).map_into_boxed_body())
}

/// The 408 problem's body, holding the rest of the request body that missed its deadline until
/// the response has been sent (see the module docs).
struct ProblemHoldingUnread {
    len: u64,
    json: Option<Bytes>,
    _unread: Payload,
}

impl MessageBody for ProblemHoldingUnread {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.len)
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(self.get_mut().json.take().map(Ok))
    }
}

/// The request body, failing with a timeout once its deadline has passed.
struct DeadlineBody {
    inner: Payload,
    deadline: Pin<Box<Sleep>>,
    /// Receives the rest of the body when a read failed for the deadline: the request is then
    /// answered 408.
    unread: Rc<RefCell<Option<Payload>>>,
    /// The body has ended (or failed): the deadline no longer applies.
    done: bool,
}

impl DeadlineBody {
    fn new(inner: Payload, timeout: Duration, unread: Rc<RefCell<Option<Payload>>>) -> Self {
        Self {
            inner,
            deadline: Box::pin(sleep(timeout)),
            unread,
            done: false,
        }
    }
}

impl Stream for DeadlineBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        // The deadline first: a client trickling steadily has a byte ready at most polls.
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.done = true;
            let rest = self.inner.take();
            self.unread.replace(Some(rest));
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request body not received in time",
            )))));
        }
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.done = true;
        }
        polled
    }
}
