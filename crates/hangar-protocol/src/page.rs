//! List pages and their opaque cursors.
//!
//! A cursor names the list it belongs to, the sort order it was made for, the direction it
//! walks and the key of the last row seen. It is base64url text, so clients treat it as opaque;
//! the server validates every part and refuses a cursor made for another list or order.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// `{data, next_page}`: every list endpoint except the sessions list.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_page: Option<String>,
}

/// `{data, next_page, prev_page}`: the sessions list.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BidirectionalPage<T> {
    pub data: Vec<T>,
    pub next_page: Option<String>,
    pub prev_page: Option<String>,
}

/// Sort order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    pub fn parse(text: &str) -> Option<Order> {
        match text {
            "asc" => Some(Order::Asc),
            "desc" => Some(Order::Desc),
            _ => None,
        }
    }

    const fn tag(self) -> &'static str {
        match self {
            Order::Asc => "a",
            Order::Desc => "d",
        }
    }
}

/// Which way a cursor walks from its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Rows after the key in list order (`next_page`).
    Forward,
    /// Rows before the key in list order (`prev_page`).
    Backward,
}

/// A decoded page cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub order: Order,
    pub direction: Direction,
    /// Sort key of the boundary row (an id, or a version number as text).
    pub key: String,
}

const CURSOR_VERSION: &str = "c1";
/// Longest cursor text accepted; ours are well under this.
pub const MAX_CURSOR_LEN: usize = 512;

impl Cursor {
    /// Encodes this cursor for the list named `list` (e.g. `"agents"`).
    pub fn encode(&self, list: &str) -> String {
        let dir = match self.direction {
            Direction::Forward => "f",
            Direction::Backward => "b",
        };
        let raw = format!(
            "{CURSOR_VERSION}|{list}|{}|{dir}|{}",
            self.order.tag(),
            self.key
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Decodes and validates a cursor sent back for the list `list` in order `order`.
    pub fn decode(text: &str, list: &str, order: Order) -> Result<Cursor, ApiError> {
        let invalid = || ApiError::invalid("invalid page cursor");
        if text.len() > MAX_CURSOR_LEN {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| invalid())?;
        let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = raw.splitn(5, '|');
        let (Some(version), Some(cursor_list), Some(order_tag), Some(dir), Some(key)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        if version != CURSOR_VERSION || cursor_list != list || key.is_empty() {
            return Err(invalid());
        }
        let cursor_order = match order_tag {
            "a" => Order::Asc,
            "d" => Order::Desc,
            _ => return Err(invalid()),
        };
        let direction = match dir {
            "f" => Direction::Forward,
            "b" => Direction::Backward,
            _ => return Err(invalid()),
        };
        if cursor_order != order {
            return Err(ApiError::invalid("page token order does not match request"));
        }
        Ok(Cursor {
            order,
            direction,
            key: key.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_list_and_order() {
        let cursor = Cursor {
            order: Order::Desc,
            direction: Direction::Backward,
            key: "agent_X".into(),
        };
        let text = cursor.encode("agents");
        assert_eq!(Cursor::decode(&text, "agents", Order::Desc), Ok(cursor));
        assert_eq!(
            Cursor::decode(&text, "sessions", Order::Desc).map_err(|e| e.message),
            Err("invalid page cursor".to_owned())
        );
        assert_eq!(
            Cursor::decode(&text, "agents", Order::Asc).map_err(|e| e.message),
            Err("page token order does not match request".to_owned())
        );
    }

    #[test]
    fn garbage_is_an_invalid_cursor() {
        for text in [
            "garbage",
            "",
            "%%%",
            &"A".repeat(600),
            &URL_SAFE_NO_PAD.encode("c1|agents"),
        ] {
            assert!(
                Cursor::decode(text, "agents", Order::Desc).is_err(),
                "{text}"
            );
        }
    }
}
