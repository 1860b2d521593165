//! Cursor paging for the list and search routes.
//!
//! Items are ordered by a sort key and then by id, so the order is total. A cursor carries
//! the query it pages through and the (key, id) of the last item it answered; the next page
//! is the items strictly after that position. So a file added while a client pages appears
//! once or not at all, and none that was there is skipped or repeated (unless its own sort
//! key changes meanwhile, e.g. a rename under `displayName` order).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Violation;

/// A value items are ordered by. All items of one query have the same kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum SortKey {
    Number(u64),
    Text(String),
}

/// `sort.fieldName`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SortField {
    DisplayName,
    UpdatedDate,
    SizeInBytes,
}

impl SortField {
    fn named(name: &str) -> Option<SortField> {
        match name {
            "displayName" => Some(SortField::DisplayName),
            "updatedDate" => Some(SortField::UpdatedDate),
            "sizeInBytes" => Some(SortField::SizeInBytes),
            _ => None,
        }
    }
}

/// A sort order: a field, ascending or descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Sort {
    /// From `sort.fieldName` and `sort.order`, `field` being one of `allowed`. No field:
    /// Wix's default, `updatedDate` descending. A field without an order: ascending (the
    /// default of Wix's `SortOrder`).
    pub fn parse(
        field: Option<&str>,
        order: Option<&str>,
        allowed: &[SortField],
    ) -> Result<Sort, Violation> {
        let descending = match order.filter(|o| !o.is_empty()) {
            None => None,
            Some("ASC") => Some(false),
            Some("DESC") => Some(true),
            Some(other) => {
                return Err(Violation::new(
                    "sort.order",
                    "FORMAT",
                    format!("sort.order is ASC or DESC, not {other}"),
                ));
            }
        };
        let Some(name) = field.filter(|f| !f.is_empty()) else {
            return Ok(Sort {
                field: SortField::UpdatedDate,
                descending: descending.unwrap_or(true),
            });
        };
        let field = SortField::named(name)
            .filter(|f| allowed.contains(f))
            .ok_or_else(|| {
                Violation::new("sort.fieldName", "FORMAT", format!("can't sort by {name}"))
            })?;
        Ok(Sort {
            field,
            descending: descending.unwrap_or(false),
        })
    }
}

/// Where the last page ended: the sort key and id of its last item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Position {
    key: SortKey,
    id: String,
}

/// What a cursor holds: the query and the position.
#[derive(Serialize, Deserialize)]
struct Cursor<Q> {
    query: Q,
    after: Position,
}

/// The paging a request asks for, from query parameters or a JSON body.
#[derive(Default)]
pub(crate) struct PageAsk {
    pub limit: Option<Value>,
    pub cursor: Option<String>,
}

impl PageAsk {
    /// `paging.limit` and `paging.cursor` of a GET.
    pub fn of_query(req: &crate::http::Request<'_>) -> PageAsk {
        PageAsk {
            limit: req.query_param("paging.limit").map(Value::String),
            cursor: req.query_param("paging.cursor"),
        }
    }

    /// `{paging: {limit, cursor}}` of a JSON body.
    pub fn of_body(v: &Value) -> PageAsk {
        PageAsk {
            limit: v["paging"].get("limit").cloned(),
            cursor: v["paging"]["cursor"].as_str().map(str::to_string),
        }
    }
}

/// A query to answer: fresh, or resumed from a cursor.
pub(crate) struct Paged<Q> {
    pub query: Q,
    pub after: Option<Position>,
    pub limit: usize,
}

/// Resolves `ask`: with a cursor, its query (the request's other fields are ignored); else
/// the query `fresh` reads from the request. The limit is `default` when absent or 0, at
/// most `max` (more is refused).
pub(crate) fn resolve<Q: DeserializeOwned>(
    ask: PageAsk,
    fresh: impl FnOnce() -> Result<Q, Vec<Violation>>,
    default: usize,
    max: usize,
) -> Result<Paged<Q>, Vec<Violation>> {
    let limit = limit(ask.limit.as_ref(), default, max).map_err(|v| vec![v])?;
    match ask.cursor.filter(|c| !c.is_empty()) {
        None => Ok(Paged {
            query: fresh()?,
            after: None,
            limit,
        }),
        Some(c) => {
            let cursor: Cursor<Q> = decode(&c).ok_or_else(|| {
                vec![Violation::new(
                    "paging.cursor",
                    "FORMAT",
                    "paging.cursor is not a cursor this route gave",
                )]
            })?;
            Ok(Paged {
                query: cursor.query,
                after: Some(cursor.after),
                limit,
            })
        }
    }
}

fn limit(v: Option<&Value>, default: usize, max: usize) -> Result<usize, Violation> {
    let n = match v {
        None | Some(Value::Null) => Some(0),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    let n = n.ok_or_else(|| {
        Violation::new(
            "paging.limit",
            "FORMAT",
            "paging.limit must be a non-negative integer",
        )
    })?;
    match usize::try_from(n) {
        Ok(0) => Ok(default),
        Ok(n) if n <= max => Ok(n),
        _ => Err(Violation::new(
            "paging.limit",
            "MAX",
            format!("paging.limit is at most {max}"),
        )),
    }
}

fn decode<Q: DeserializeOwned>(cursor: &str) -> Option<Cursor<Q>> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// One page: the items strictly after `after` in `descending` (or ascending) order of
/// (key, id), at most `limit` of them; and the cursor to the next page when more follow.
pub(crate) fn page<Q: Serialize, T>(
    paged: &Paged<Q>,
    descending: bool,
    mut items: Vec<(SortKey, String, T)>,
) -> (Vec<T>, Option<String>) {
    items.sort_by(|a, b| {
        let order = (&a.0, &a.1).cmp(&(&b.0, &b.1));
        if descending { order.reverse() } else { order }
    });
    let start = paged.after.as_ref().map_or(0, |after| {
        // The items up to and including the last one answered.
        items.partition_point(|(key, id, _)| {
            let order = (key, id).cmp(&(&after.key, &after.id));
            if descending {
                order.is_ge()
            } else {
                order.is_le()
            }
        })
    });
    let rest = items.len().saturating_sub(start);
    let out: Vec<(SortKey, String, T)> = items.into_iter().skip(start).take(paged.limit).collect();
    let next = match out.last() {
        Some((key, id, _)) if rest > out.len() => {
            let after = Position {
                key: key.clone(),
                id: id.clone(),
            };
            Some(encode(&paged.query, after))
        }
        _ => None,
    };
    (out.into_iter().map(|(_, _, t)| t).collect(), next)
}

fn encode<Q: Serialize>(query: &Q, after: Position) -> String {
    let cursor = Cursor { query, after };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

/// The `nextCursor` of an answer: `{cursors: {next}}`, `next` null on the last page.
pub(crate) fn next_cursor(next: Option<String>) -> Value {
    json!({ "cursors": { "next": next } })
}
