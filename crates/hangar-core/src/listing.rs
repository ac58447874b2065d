//! List requests: validate `limit`, `order` and `page`, build the store query, and turn the
//! rows into a page whose cursors continue the same walk.

use hangar_protocol::error::ApiError;
use hangar_protocol::page::{BidirectionalPage, Cursor, Direction, Order, Page};

use crate::limits::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use crate::store::{ListQuery, Rows, TimeRange};

/// The list parameters common to every list endpoint, as the client sent them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListRequest {
    pub limit: Option<i64>,
    pub page: Option<String>,
    pub order: Option<Order>,
    pub include_archived: bool,
    pub created_at: TimeRange,
}

impl ListRequest {
    /// Validates the request for the list named `list`.
    pub(crate) fn query(&self, list: &str, default_order: Order) -> Result<ListQuery, ApiError> {
        self.query_with_limits(list, default_order, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT)
    }

    /// Like [`ListRequest::query`] with a list's own default and maximum `limit`.
    pub(crate) fn query_with_limits(
        &self,
        list: &str,
        default_order: Order,
        default_limit: usize,
        max_limit: usize,
    ) -> Result<ListQuery, ApiError> {
        let limit = match self.limit {
            None => default_limit,
            Some(n) if (1..=max_limit as i64).contains(&n) => n as usize,
            Some(n) => {
                return Err(ApiError::invalid(format!(
                    "limit: must be between 1 and {max_limit} (got {n})"
                )));
            }
        };
        let order = self.order.unwrap_or(default_order);
        let cursor = self
            .page
            .as_deref()
            .map(|p| Cursor::decode(p, list, order))
            .transpose()?;
        Ok(ListQuery {
            order,
            cursor,
            limit,
            include_archived: self.include_archived,
            created_at: self.created_at,
        })
    }
}

fn cursors<T>(
    list: &str,
    query: &ListQuery,
    rows: &Rows<T>,
    key: impl Fn(&T) -> String,
) -> (Option<String>, Option<String>) {
    let make = |direction, item: &T| {
        Cursor {
            order: query.order,
            direction,
            key: key(item),
        }
        .encode(list)
    };
    let (first, last) = (rows.items.first(), rows.items.last());
    if query.walks_backward() {
        let prev = first
            .filter(|_| rows.more)
            .map(|f| make(Direction::Backward, f));
        (last.map(|l| make(Direction::Forward, l)), prev)
    } else {
        let next = last
            .filter(|_| rows.more)
            .map(|l| make(Direction::Forward, l));
        let prev = first
            .filter(|_| query.cursor.is_some())
            .map(|f| make(Direction::Backward, f));
        (next, prev)
    }
}

/// A forward-only page.
pub(crate) fn page<T>(
    list: &str,
    query: &ListQuery,
    rows: Rows<T>,
    key: impl Fn(&T) -> String,
) -> Page<T> {
    let (next_page, _) = cursors(list, query, &rows, key);
    Page {
        data: rows.items,
        next_page,
    }
}

/// A page with both `next_page` and `prev_page`.
pub(crate) fn bidirectional_page<T>(
    list: &str,
    query: &ListQuery,
    rows: Rows<T>,
    key: impl Fn(&T) -> String,
) -> BidirectionalPage<T> {
    let (next_page, prev_page) = cursors(list, query, &rows, key);
    BidirectionalPage {
        data: rows.items,
        next_page,
        prev_page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_bounded_and_defaults_to_twenty() {
        let q = ListRequest::default().query("agents", Order::Desc).unwrap();
        assert_eq!(q.limit, 20);
        for bad in [0, -1, 101] {
            let req = ListRequest {
                limit: Some(bad),
                ..Default::default()
            };
            assert!(
                req.query("agents", Order::Desc)
                    .unwrap_err()
                    .message
                    .starts_with("limit:")
            );
        }
    }

    #[test]
    fn first_page_has_no_prev_and_next_only_when_more() {
        let q = ListRequest::default().query("x", Order::Desc).unwrap();
        let rows = Rows {
            items: vec!["a".to_owned(), "b".to_owned()],
            more: true,
        };
        let p = bidirectional_page("x", &q, rows, |s| s.clone());
        assert!(p.prev_page.is_none());
        let next = Cursor::decode(&p.next_page.unwrap(), "x", Order::Desc).unwrap();
        assert_eq!(
            (next.direction, next.key.as_str()),
            (Direction::Forward, "b")
        );
        let last = page(
            "x",
            &q,
            Rows {
                items: vec!["c".to_owned()],
                more: false,
            },
            |s| s.clone(),
        );
        assert!(last.next_page.is_none());
    }
}
