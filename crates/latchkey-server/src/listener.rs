//! The accept loop: HTTP/1.1 and HTTP/2 (hyper-util's `auto` builder), optionally over rustls,
//! with the limits a single box needs against slow and idle clients:
//!
//! - a new connection (TLS handshake included), or a kept-alive one that has begun its next
//!   request, must deliver complete headers within `header_read`, else it is closed;
//! - a request body must arrive within `body_read` (408, connection closed);
//! - a kept-alive connection idle for `idle` is closed;
//! - at most `max_connections` connections are served. At the cap, the longest-idle
//!   connections without a request in progress are closed to make room for the new one; when
//!   every connection is busy, the new one is closed at once (never left hanging in the
//!   backlog).
//!
//! Each connection's watchdog decides from three facts: requests in progress, the phase (new,
//! idle, or bytes read since it went idle) and when the phase began.

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// Descriptors kept free for the database pools, mail, files and connections waiting for room.
const FD_RESERVE: u64 = 256;
/// Connections that may wait (up to a second) for an evicted connection's room.
const MAX_WAITING: usize = 64;
/// How long shutdown waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read: Duration,
    pub body_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_settings(s: &crate::config::ServerSettings) -> Self {
        Self {
            header_read: Duration::from_secs(s.header_read_timeout_secs),
            body_read: Duration::from_secs(s.body_read_timeout_secs),
            idle: Duration::from_secs(s.idle_timeout_secs),
            max_connections: s.max_connections,
        }
    }

    /// `max_connections`, lowered to what the open-file limit allows (raised to its hard limit
    /// first). Logs when it lowers it.
    fn effective_max_connections(&self) -> usize {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            let raised = rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                limit = getrlimit(Resource::Nofile);
            }
        }
        let Some(fds) = limit.current else {
            return self.max_connections;
        };
        let allowed = usize::try_from(fds.saturating_sub(FD_RESERVE).max(16)).unwrap_or(usize::MAX);
        if allowed < self.max_connections {
            tracing::warn!(
                configured = self.max_connections,
                allowed,
                open_file_limit = fds,
                "server.max_connections lowered to fit the open-file limit"
            );
            allowed
        } else {
            self.max_connections
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in progress
/// finish (at most 10 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = router.layer(axum::middleware::from_fn_with_state(
        limits.body_read,
        body_deadline,
    ));
    let max = limits.effective_max_connections();
    let shared = Arc::new(Shared {
        router,
        tls,
        limits,
        builder: auto::Builder::new(TokioExecutor::new()),
        registry: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
        epoch: Instant::now(),
    });
    let room = Arc::new(Semaphore::new(max));
    let waiting = Arc::new(Semaphore::new(MAX_WAITING));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let stop = stop_rx.clone();
        match room.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    shared.connection(stream, remote, stop).await;
                    drop(permit);
                });
            }
            Err(_) => {
                // Full: close idle connections to make room, or turn this one away now.
                let batch = (max / 64).max(1);
                shared.evict_idle(batch);
                let Ok(wait) = waiting.clone().try_acquire_owned() else {
                    drop(stream);
                    continue;
                };
                let room = room.clone();
                tokio::spawn(async move {
                    let permit =
                        tokio::time::timeout(Duration::from_secs(1), room.acquire_owned()).await;
                    drop(wait);
                    if let Ok(Ok(permit)) = permit {
                        shared.connection(stream, remote, stop).await;
                        drop(permit);
                    }
                });
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit until it ends.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(
        SHUTDOWN_GRACE + Duration::from_secs(1),
        room.acquire_many(all),
    )
    .await;
    Ok(())
}

struct Shared {
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    builder: auto::Builder<TokioExecutor>,
    registry: Mutex<HashMap<u64, Arc<ConnState>>>,
    next_id: AtomicU64,
    epoch: Instant,
}

const FRESH: u8 = 0;
const IDLE: u8 = 1;
const STARTED: u8 = 2;

/// What the watchdog knows about one connection.
struct ConnState {
    in_flight: AtomicUsize,
    /// `FRESH` (no request yet), `IDLE` (between requests), `STARTED` (bytes read while idle).
    phase: AtomicU8,
    /// When the phase began, in milliseconds since `Shared::epoch`.
    since: AtomicU64,
    /// Asked to close to make room (so the next eviction picks another connection).
    evicting: AtomicBool,
    evict: Notify,
    /// A request ended: the watchdog recomputes its deadline.
    changed: Notify,
}

impl ConnState {
    fn deadline(&self, limits: &Limits, epoch: Instant) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = epoch + Duration::from_millis(self.since.load(Ordering::Acquire));
        Some(match self.phase.load(Ordering::Acquire) {
            IDLE => since + limits.idle,
            _ => since + limits.header_read,
        })
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Shared {
    async fn connection(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        remote: SocketAddr,
        stop: watch::Receiver<bool>,
    ) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState {
            in_flight: AtomicUsize::new(0),
            phase: AtomicU8::new(FRESH),
            since: AtomicU64::new(millis_since(self.epoch)),
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
            changed: Notify::new(),
        });
        if let Ok(mut r) = self.registry.lock() {
            r.insert(id, state.clone());
        }
        let io = Watched {
            inner: stream,
            state: state.clone(),
            epoch: self.epoch,
        };
        match &self.tls {
            None => self.drive(io, remote, state, stop).await,
            Some(acceptor) => {
                // The handshake counts against the header-read time.
                let deadline = state
                    .deadline(&self.limits, self.epoch)
                    .unwrap_or_else(|| Instant::now() + self.limits.header_read);
                if let Ok(Ok(tls)) =
                    tokio::time::timeout_at(deadline, acceptor.clone().accept(io)).await
                {
                    self.drive(tls, remote, state, stop).await;
                }
            }
        }
        if let Ok(mut r) = self.registry.lock() {
            r.remove(&id);
        }
    }

    async fn drive<I>(
        &self,
        io: I,
        remote: SocketAddr,
        state: Arc<ConnState>,
        mut stop: watch::Receiver<bool>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let router = self.router.clone();
        let counted = state.clone();
        let epoch = self.epoch;
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            counted.in_flight.fetch_add(1, Ordering::AcqRel);
            let done = InFlight {
                state: counted.clone(),
                epoch,
            };
            let router = router.clone();
            async move {
                let response = router.oneshot(req.map(Body::new)).await;
                drop(done);
                response
            }
        });
        let conn = self.builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        if *stop.borrow() {
            conn.as_mut().graceful_shutdown();
        }
        loop {
            let wake = state
                .deadline(&self.limits, self.epoch)
                .unwrap_or_else(|| Instant::now() + self.limits.header_read);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = tokio::time::sleep_until(wake) => {
                    if state.deadline(&self.limits, self.epoch).is_some_and(|d| d <= Instant::now()) {
                        return;
                    }
                }
                () = state.changed.notified() => {}
                () = state.evict.notified() => {
                    if state.in_flight.load(Ordering::Acquire) == 0 {
                        return;
                    }
                    state.evicting.store(false, Ordering::Release);
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await;
                    return;
                }
            }
        }
    }

    /// Asks up to `n` connections without a request in progress to close: the longest idle
    /// first, then those still sending their first headers.
    fn evict_idle(&self, n: usize) {
        let Ok(registry) = self.registry.lock() else {
            return;
        };
        let mut candidates: Vec<(u8, u64, &Arc<ConnState>)> = registry
            .values()
            .filter(|c| {
                c.in_flight.load(Ordering::Acquire) == 0 && !c.evicting.load(Ordering::Acquire)
            })
            .map(|c| {
                let phase = c.phase.load(Ordering::Acquire);
                let rank = if phase == IDLE { 0 } else { 1 };
                (rank, c.since.load(Ordering::Acquire), c)
            })
            .collect();
        candidates.sort_by_key(|(rank, since, _)| (*rank, *since));
        for (_, _, c) in candidates.into_iter().take(n) {
            c.evicting.store(true, Ordering::Release);
            c.evict.notify_one();
        }
    }
}

/// Ends a request's count when its response is ready (or the request is dropped).
struct InFlight {
    state: Arc<ConnState>,
    epoch: Instant,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.state.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.state
                .since
                .store(millis_since(self.epoch), Ordering::Release);
            self.state.phase.store(IDLE, Ordering::Release);
            self.state.changed.notify_one();
        }
    }
}

/// The socket, noting when bytes arrive on an idle connection (a request has begun).
struct Watched {
    inner: tokio::net::TcpStream,
    state: Arc<ConnState>,
    epoch: Instant,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before
            && self.state.in_flight.load(Ordering::Acquire) == 0
            && self
                .state
                .phase
                .compare_exchange(IDLE, STARTED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.state
                .since
                .store(millis_since(self.epoch), Ordering::Release);
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Gives the request's body `limit` to arrive in full; past it the request is answered 408 and
/// the connection closed, whatever the handler made of the cut-off body.
async fn body_deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let flag = expired.clone();
    let req = req.map(|inner| {
        Body::new(DeadlineBody {
            inner,
            sleep: Box::pin(tokio::time::sleep(limit)),
            expired: flag,
        })
    });
    let response = next.run(req).await;
    if expired.load(Ordering::Acquire) {
        let mut timed_out = (StatusCode::REQUEST_TIMEOUT, "Request Timeout").into_response();
        timed_out
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return timed_out;
    }
    response
}

struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
