//! `POST /site-media/v1/bulk/files/import-v2` `{importFileRequests, returnEntity}`: up to
//! 100 imports in one call, each checked and started like a single import; an item that is
//! refused fails alone.
//!
//! The results are not in request order (Wix says to match them by `originalIndex`): the
//! successes come first, then the failures, each group in reverse request order.

use std::sync::Arc;

use serde_json::{Value, json};

use super::import::{begin, prepare};
use super::{Answer, Refusal, Violation, ok, read_json_object};
use crate::State;
use crate::http::Request;

/// Most items one call may carry.
const MAX_ITEMS: usize = 100;

/// The outcome of one item: the new file's descriptor, or why it was refused.
type Item = Result<Value, Refusal>;

pub(crate) fn bulk(state: &Arc<State>, req: &mut Request<'_>, site: &str) -> Answer {
    let v = read_json_object(req)?;
    let items = requests(&v)?;
    let return_entity = v
        .get("returnEntity")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let outcomes: Vec<Item> = items
        .iter()
        .map(|item| import_one(state, item, site))
        .collect();
    ok(&answer(outcomes, return_entity))
}

/// `importFileRequests`: 1 to [`MAX_ITEMS`] items.
fn requests(v: &Value) -> Result<&Vec<Value>, Refusal> {
    let refuse = |rule: &'static str, why: &str| {
        Refusal::Invalid(vec![Violation::new("importFileRequests", rule, why)])
    };
    match v.get("importFileRequests").and_then(Value::as_array) {
        None => Err(refuse(
            "REQUIRED_FIELD",
            "importFileRequests must be an array",
        )),
        Some(items) if items.is_empty() => Err(refuse(
            "MIN_SIZE",
            "importFileRequests needs at least one item",
        )),
        Some(items) if items.len() > MAX_ITEMS => Err(refuse(
            "MAX_SIZE",
            &format!("importFileRequests has at most {MAX_ITEMS} items"),
        )),
        Some(items) => Ok(items),
    }
}

fn import_one(state: &Arc<State>, item: &Value, site: &str) -> Item {
    if !item.is_object() {
        return Err(Refusal::Invalid(vec![Violation::new(
            "importFileRequests",
            "FORMAT",
            "an import request is an object",
        )]));
    }
    let rec = prepare(state, item, site.to_string())?;
    begin(state, rec)
}

/// `{results, bulkActionMetadata}`, successes first, each group in reverse request order.
fn answer(outcomes: Vec<Item>, return_entity: bool) -> Value {
    let total = outcomes.len();
    let successes = outcomes.iter().filter(|o| o.is_ok()).count();
    let mut indexed: Vec<(usize, Item)> = outcomes.into_iter().enumerate().collect();
    indexed.sort_by_key(|(i, o)| (o.is_err(), std::cmp::Reverse(*i)));
    let results: Vec<Value> = indexed
        .into_iter()
        .map(|(index, outcome)| result(index, outcome, return_entity))
        .collect();
    json!({
        "results": results,
        "bulkActionMetadata": {
            "totalSuccesses": successes,
            "totalFailures": total - successes,
            "undetailedFailures": 0,
        }
    })
}

fn result(index: usize, outcome: Item, return_entity: bool) -> Value {
    match outcome {
        Ok(file) => {
            let mut r = json!({"itemMetadata": {
                "id": file["id"], "originalIndex": index, "success": true
            }});
            if return_entity {
                r["item"] = file;
            }
            r
        }
        Err(refusal) => json!({"itemMetadata": {
            "originalIndex": index,
            "success": false,
            "error": {"code": refusal.code(), "description": refusal.description()},
        }}),
    }
}
