//! Keyset pagination in SQL: the `WHERE` bounds, `ORDER BY` and `LIMIT` of one page walk.

use hangar_core::store::{ListQuery, Rows, TimeRange};
use sqlx::{QueryBuilder, Sqlite};

/// Appends ` AND <column> <op> ?` for each bound of `range`.
pub(crate) fn push_time_range(qb: &mut QueryBuilder<Sqlite>, column: &str, range: &TimeRange) {
    let bounds = [
        (">", range.gt),
        (">=", range.gte),
        ("<", range.lt),
        ("<=", range.lte),
    ];
    for (op, bound) in bounds {
        if let Some(ts) = bound {
            qb.push(format!(" AND {column} {op} "))
                .push_bind(ts.as_micros());
        }
    }
}

/// The boundary key of a cursor: an id, or an agent version number.
pub(crate) enum SortKey {
    Text(String),
    Int(i64),
}

/// Appends the cursor bound, the order and the limit (one extra row, to learn about more).
pub(crate) fn push_walk(
    qb: &mut QueryBuilder<Sqlite>,
    key_column: &str,
    key: Option<SortKey>,
    query: &ListQuery,
) {
    let ascending = query.scans_ascending();
    if let Some(key) = key {
        qb.push(format!(
            " AND {key_column} {} ",
            if ascending { ">" } else { "<" }
        ));
        match key {
            SortKey::Text(text) => qb.push_bind(text),
            SortKey::Int(n) => qb.push_bind(n),
        };
    }
    qb.push(format!(
        " ORDER BY {key_column} {}",
        if ascending { "ASC" } else { "DESC" }
    ));
    qb.push(" LIMIT ").push_bind(query.limit as i64 + 1);
}

/// Trims the extra row and restores list order.
pub(crate) fn into_rows<T>(mut items: Vec<T>, query: &ListQuery) -> Rows<T> {
    let more = items.len() > query.limit;
    items.truncate(query.limit);
    if query.walks_backward() {
        items.reverse();
    }
    Rows { items, more }
}
