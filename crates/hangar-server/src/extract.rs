//! Request extractors whose failures are [`HttpError`]s: a JSON body that names the offending
//! field, and a query-string reader for the contract's encodings (`key[]=`, `created_at[gte]`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use hangar_core::listing::ListRequest;
use hangar_core::store::TimeRange;
use hangar_protocol::error::{ApiError, ErrorKind};
use hangar_protocol::page::Order;
use hangar_protocol::time::Timestamp;
use serde::de::DeserializeOwned;

use crate::error::HttpError;

/// A JSON body. An empty body reads as `{}` (the SDK sends body-less POSTs with a JSON
/// content type). Errors name the field by its path: `tools[0].configs[1].name: …`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        ErrorKind::RequestTooLarge,
                        format!(
                            "request body exceeds the limit of {} bytes",
                            hangar_core::limits::MAX_BODY_BYTES
                        ),
                    )
                } else {
                    ApiError::invalid(format!("could not read the request body: {rejection}"))
                }
            })?;
        parse_json(if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        })
        .map(ApiJson)
        .map_err(HttpError)
    }
}

/// Parses `bytes` as `T`, reporting the JSON path of the first problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let detail = strip_position(&inner.to_string());
        if inner.is_syntax() || inner.is_eof() {
            ApiError::invalid(format!("request body is not valid JSON: {detail}"))
        } else if path == "." {
            ApiError::invalid(format!("request body: {detail}"))
        } else {
            ApiError::invalid(format!("{path}: {detail}"))
        }
    })?;
    deserializer
        .end()
        .map_err(|_| ApiError::invalid("request body is not valid JSON: trailing characters"))?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// The decoded query string. Unknown keys are ignored (some SDKs add `?beta=true`).
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or_default();
        Ok(QueryParams(
            form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

impl QueryParams {
    /// The last value of `key`.
    pub fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of an array parameter, sent as `key[]=a&key[]=b` or `key=a&key=b`.
    pub fn list(&self, key: &str) -> Vec<&str> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == key || *k == bracketed)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.one(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::invalid(format!("{key}: `{v}` is not an integer")))
            })
            .transpose()
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.one(key)
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::invalid(format!(
                    "{key}: `{v}` is not a boolean (true or false)"
                ))),
            })
            .transpose()
    }

    pub fn timestamp(&self, key: &str) -> Result<Option<Timestamp>, ApiError> {
        self.one(key)
            .map(|v| {
                Timestamp::parse(v).ok_or_else(|| {
                    ApiError::invalid(format!("{key}: `{v}` is not an RFC 3339 timestamp"))
                })
            })
            .transpose()
    }

    /// `limit`, `page`, `order`, `include_archived` and the `created_at[…]` bounds.
    pub fn list_request(&self) -> Result<ListRequest, ApiError> {
        let order = self
            .one("order")
            .map(|v| {
                Order::parse(v).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "order: `{v}` is not a valid value; expected asc or desc"
                    ))
                })
            })
            .transpose()?;
        Ok(ListRequest {
            limit: self.int("limit")?,
            page: self.one("page").map(str::to_owned),
            order,
            include_archived: self.boolean("include_archived")?.unwrap_or(false),
            created_at: TimeRange {
                gt: self.timestamp("created_at[gt]")?,
                gte: self.timestamp("created_at[gte]")?,
                lt: self.timestamp("created_at[lt]")?,
                lte: self.timestamp("created_at[lte]")?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hangar_protocol::agent::AgentCreateParams;

    #[test]
    fn json_errors_name_the_field_path() {
        let err = parse_json::<AgentCreateParams>(br#"{"name":"a","model":"m","tools":[{"type":"custom","name":"t","description":"d","input_schema":{"type":"object"},"x":1}]}"#)
            .unwrap_err();
        assert!(err.message.starts_with("tools[0]"), "{}", err.message);
        assert!(err.message.contains("unknown field `x`"), "{}", err.message);
        let err = parse_json::<AgentCreateParams>(br#"{"name": 5, "model": "m"}"#).unwrap_err();
        assert!(
            err.message.starts_with("name: invalid type"),
            "{}",
            err.message
        );
        let err = parse_json::<AgentCreateParams>(br#"{"model": "m"}"#).unwrap_err();
        assert!(
            err.message.contains("missing field `name`"),
            "{}",
            err.message
        );
        let err = parse_json::<AgentCreateParams>(b"{not json").unwrap_err();
        assert!(
            err.message.starts_with("request body is not valid JSON"),
            "{}",
            err.message
        );
    }

    #[test]
    fn query_lists_accept_brackets_and_repeats() {
        let q = QueryParams(vec![
            ("statuses[]".into(), "idle".into()),
            ("statuses".into(), "running".into()),
            ("created_at[gte]".into(), "2026-01-02T03:04:05+00:00".into()),
        ]);
        assert_eq!(q.list("statuses"), vec!["idle", "running"]);
        assert!(q.list_request().unwrap().created_at.gte.is_some());
    }
}
