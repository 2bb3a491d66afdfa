//! `GET /exports/{job_id}?sig=…`: a finished user export's file, behind the short-lived link
//! `GET /api/v2/jobs/{id}` hands out as `location`. Not a Management API route: no bearer
//! token, the tenant-key signature in the link is the authority. The file is read from the
//! database piece by piece (each a gzip member) and streamed, so any node serves it and none
//! holds it whole.

use crate::AppState;
use crate::errors::ApiError;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::pin::Pin;
use std::task::{Context, Poll};

pub fn router() -> Router<AppState> {
    Router::new().route("/exports/{job_id}", get(download))
}

#[derive(serde::Deserialize)]
struct Signed {
    #[serde(default)]
    sig: String,
}

/// The pieces as they are read, handed to hyper one by one.
struct Pieces(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|r| r.map(http_body::Frame::data)))
    }
}

async fn download(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    Query(signed): Query<Signed>,
) -> Result<Response, ApiError> {
    let file = state
        .services
        .migration
        .open_export_download(&job_id, &signed.sig)
        .await?;
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let services = state.services.clone();
    tokio::spawn(async move {
        for seq in 0..file.pieces {
            let piece = match services.migration.export_piece(&file.job_id, seq).await {
                Ok(Some(bytes)) => Ok(Bytes::from(bytes)),
                // Deleted meanwhile, or the store failed: the download ends short (and the
                // gzip stream with it), which the client sees as an error.
                Ok(None) => Err(std::io::Error::other("the export's file is gone")),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            let failed = piece.is_err();
            if tx.send(piece).await.is_err() || failed {
                break;
            }
        }
    });
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.filename))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/gzip"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::new(Pieces(rx)),
    )
        .into_response())
}
