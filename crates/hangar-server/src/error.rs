//! HTTP rendering of [`ApiError`]: every failure leaves as the documented envelope with a
//! `request-id` header and body field, whatever produced it (handler, extractor, fallback,
//! panic).
//!
//! Handlers return [`HttpError`], which carries the error to [`render_errors`] in the response
//! extensions; that middleware knows the request id and writes the body.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hangar_protocol::error::{ApiError, ErrorKind};
use hangar_protocol::ids::IdKind;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const SHOULD_RETRY: HeaderName = HeaderName::from_static("x-should-retry");

/// An [`ApiError`] on its way out of a handler.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(err: ApiError) -> Self {
        HttpError(err)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        response.extensions_mut().insert(self.0);
        response
    }
}

/// Result type of handlers.
pub type ApiResult<T> = Result<axum::Json<T>, HttpError>;

/// Outermost middleware: assigns the request id and renders error envelopes.
pub async fn render_errors(request: Request, next: Next) -> Response {
    let request_id = IdKind::Request.mint();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if let Some(err) = response.extensions_mut().remove::<ApiError>() {
        if err.kind == ErrorKind::Internal {
            tracing::error!(%request_id, %method, %path, message = %err.message, "request failed");
        }
        response = error_response(&err, &request_id);
    } else if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        // Only a caught panic produces a bare 500.
        tracing::error!(%request_id, %method, %path, "handler panicked");
        response = error_response(&ApiError::internal("internal server error"), &request_id);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

fn error_response(err: &ApiError, request_id: &str) -> Response {
    let body = serde_json::to_vec(&err.envelope(Some(request_id.to_owned()))).unwrap_or_default();
    let status =
        StatusCode::from_u16(err.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let retry = if err.kind.should_retry() {
        "true"
    } else {
        "false"
    };
    headers.insert(SHOULD_RETRY, HeaderValue::from_static(retry));
    response
}

/// Fallback for paths that match no route.
pub async fn route_not_found(request: Request) -> HttpError {
    HttpError(ApiError::not_found(format!(
        "Not found: no route for `{}`",
        request.uri().path()
    )))
}

/// Fallback for a known path with a method it does not define.
pub async fn method_not_allowed(request: Request) -> HttpError {
    HttpError(ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!(
            "Method {} is not allowed on `{}`",
            request.method(),
            request.uri().path()
        ),
    ))
}
