//! Lingering close: the rest of a refused request body is read and thrown away before the
//! answer goes out.
//!
//! The API often answers before it has read the whole body: 413 as soon as a body passes the
//! limit, 401 without a key, 415 on the first bytes of a text file. hyper then closes the
//! connection with the unread rest still arriving, the kernel answers that data with a reset,
//! and the client sees "broken pipe" or "connection reset" instead of the error that says
//! what to do. Servers such as nginx linger: they read and discard for a while first. This
//! layer does the same, bounded in bytes and time so that a client cannot hold a connection
//! with it (a body that declares more than the bound is not read at all); past the bounds, the
//! answer says `Connection: close` and the client may still see a reset. A client that sent
//! `Expect: 100-continue` sends nothing until the handler first reads the body; when it never
//! did, hyper answers without `100 Continue` and there is nothing to discard.

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};
use bytes::Bytes;
use futures::StreamExt;
use http_body::{Frame, SizeHint};

/// The most that is read and discarded after an answer.
const LINGER_BYTES: u64 = 64 * 1024 * 1024;
/// The longest that reading and discarding may take.
const LINGER_TIME: Duration = Duration::from_secs(10);

/// Runs the request, then reads what its handler left of the body (see the module docs).
pub(crate) async fn linger(request: Request, next: Next) -> Response {
    let waits_for_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (parts, body) = request.into_parts();
    let held = Arc::new(Held {
        body: Mutex::new(body),
        polled: AtomicBool::new(false),
    });
    let mut response = next
        .run(Request::from_parts(parts, Body::new(Shared(held.clone()))))
        .await;
    let rest = std::mem::take(&mut *held.lock());
    let client_is_sending = !waits_for_continue || held.polled.load(Ordering::Relaxed);
    if client_is_sending && !http_body::Body::is_end_stream(&rest) && !discard(rest).await {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads `body` to its end within the bounds; false when it did not end within them.
async fn discard(body: Body) -> bool {
    if http_body::Body::size_hint(&body).lower() > LINGER_BYTES {
        return false;
    }
    let mut data = body.into_data_stream();
    let mut left = LINGER_BYTES;
    let read_to_end = async {
        while let Some(chunk) = data.next().await {
            match chunk {
                Ok(chunk) if (chunk.len() as u64) <= left => left -= chunk.len() as u64,
                _ => return false,
            }
        }
        true
    };
    tokio::time::timeout(LINGER_TIME, read_to_end)
        .await
        .unwrap_or(false)
}

/// The body, and whether the handler ever asked for it (which is when hyper sends a waiting
/// client its `100 Continue`).
struct Held {
    body: Mutex<Body>,
    polled: AtomicBool,
}

impl Held {
    fn lock(&self) -> MutexGuard<'_, Body> {
        self.body.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The request body as the handler sees it, while this layer keeps a hold on what is left.
struct Shared(Arc<Held>);

impl http_body::Body for Shared {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.0.polled.store(true, Ordering::Relaxed);
        Pin::new(&mut *self.0.lock()).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.lock().size_hint()
    }
}
