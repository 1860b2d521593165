//! Bulk import: `POST /site-media/v1/bulk/files/import-v2` `{importFileRequests,
//! returnEntity}`, at most [`MAX_ITEMS`] a request; results matched by `originalIndex`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::wix::action::{Action, RestRequest, json};
use crate::wix::{FileDescriptor, ImportFileRequest};
use wix_media_tus::Method;

/// Most imports one request carries (Wix's integration notes).
pub(crate) const MAX_ITEMS: usize = 100;

/// Why one file of [`WixClient::import_many`](crate::wix::WixClient::import_many) was not
/// imported.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ItemError {
    /// Wix refused this item (`itemMetadata.error`); the others went on.
    #[error("Wix refused it: {}", refusal(.code, .description))]
    Refused {
        /// Wix's error code, e.g. `INVALID_ARGUMENT`.
        code: Option<String>,
        /// Wix's description.
        description: Option<String>,
    },
    /// Wix's answer has no result for this item (counted in its `undetailedFailures`).
    #[error("Wix's answer has no result for it")]
    Unanswered,
    /// The request that carried this item (with up to 99 others) failed as a whole; see the
    /// error for whether it reached Wix.
    #[error("its request failed: {0}")]
    Request(Arc<Error>),
}

fn refusal(code: &Option<String>, description: &Option<String>) -> String {
    match (code, description) {
        (Some(c), Some(d)) => format!("{c}: {d}"),
        (Some(s), None) | (None, Some(s)) => s.clone(),
        (None, None) => "no reason given".into(),
    }
}

/// One bulk import request, of at most [`MAX_ITEMS`] items.
pub(crate) struct BulkImport<'a>(pub(crate) &'a [ImportFileRequest]);

impl Action for BulkImport<'_> {
    type Output = Vec<Result<FileDescriptor, ItemError>>;

    fn request(&self) -> RestRequest {
        let body = json!({ "importFileRequests": self.0, "returnEntity": true });
        RestRequest::json(Method::Post, "/site-media/v1/bulk/files/import-v2", body)
    }

    fn parse_response(&self, body: &[u8]) -> Result<Self::Output, String> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            results: Option<Vec<Value>>,
        }
        let answer: Answer = json(body)?;
        let mut out: Vec<Option<Result<FileDescriptor, ItemError>>> = vec![None; self.0.len()];
        for result in answer.results.unwrap_or_default() {
            let Ok(result) = serde_json::from_value::<ItemResult>(result) else {
                continue;
            };
            let slot = result.index().and_then(|i| out.get_mut(i));
            if let Some(slot @ None) = slot {
                *slot = Some(result.outcome());
            }
        }
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or(Err(ItemError::Unanswered)))
            .collect())
    }
}

/// `{itemMetadata: {id, originalIndex, success, error: {code, description}}, item}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemResult {
    #[serde(default)]
    item_metadata: ItemMetadata,
    #[serde(default)]
    item: Option<FileDescriptor>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ItemMetadata {
    id: Option<String>,
    original_index: Option<Value>,
    success: Option<bool>,
    error: Option<WixItemError>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct WixItemError {
    code: Option<String>,
    description: Option<String>,
}

impl ItemResult {
    /// `originalIndex`: a number, or a string of digits.
    fn index(&self) -> Option<usize> {
        let index = match self.item_metadata.original_index.as_ref()? {
            Value::Number(n) => n.as_u64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        usize::try_from(index).ok()
    }

    fn outcome(self) -> Result<FileDescriptor, ItemError> {
        let meta = self.item_metadata;
        // No `success` but an item: a success, as an item is only sent for one.
        match (meta.success, self.item) {
            (Some(true) | None, Some(mut file)) => {
                file.id = file.id.or(meta.id);
                Ok(file)
            }
            (Some(true), None) => Ok(FileDescriptor {
                id: meta.id,
                ..FileDescriptor::default()
            }),
            _ => {
                let error = meta.error.unwrap_or_default();
                Err(ItemError::Refused {
                    code: error.code,
                    description: error.description,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<ImportFileRequest> {
        (0..n)
            .map(|i| ImportFileRequest::new(format!("http://127.0.0.1/{i}.png")))
            .collect()
    }

    #[test]
    fn the_request_carries_every_item_and_asks_for_the_files() {
        let items = vec![
            ImportFileRequest::new("http://a/1.png").display_name("one"),
            ImportFileRequest::new("http://a/2.png").url_header("X-Key", "secret"),
        ];
        let r = BulkImport(&items).request();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/site-media/v1/bulk/files/import-v2");
        assert_eq!(
            r.body,
            Some(json!({
                "importFileRequests": [
                    {"url": "http://a/1.png", "displayName": "one"},
                    {"url": "http://a/2.png", "urlHeaders": {"X-Key": "secret"}},
                ],
                "returnEntity": true,
            }))
        );
    }

    #[test]
    fn results_are_matched_by_original_index() {
        let body = json!({"results": [
            {"itemMetadata": {"id": "f2", "originalIndex": 2, "success": true},
             "item": {"id": "f2", "displayName": "two"}},
            {"itemMetadata": {"originalIndex": "0", "success": false,
             "error": {"code": "INVALID_ARGUMENT", "description": "bad url"}}},
            {"itemMetadata": {"id": "f3", "originalIndex": 3, "success": true}},
            {"itemMetadata": {"originalIndex": 3, "success": false}},
            {"itemMetadata": {"originalIndex": 9, "success": true}},
            {"itemMetadata": {"success": true}},
            "junk",
        ], "bulkActionMetadata": {"totalSuccesses": 2, "totalFailures": 1, "undetailedFailures": 1}});
        let out = BulkImport(&items(5))
            .parse_response(body.to_string().as_bytes())
            .unwrap();
        assert_eq!(out.len(), 5);
        assert!(matches!(
            &out[0],
            Err(ItemError::Refused { code: Some(c), description: Some(d) })
                if c == "INVALID_ARGUMENT" && d == "bad url"
        ));
        assert!(matches!(out[1], Err(ItemError::Unanswered)));
        let two = out[2].as_ref().unwrap();
        assert_eq!(
            (two.id.as_deref(), two.display_name.as_deref()),
            (Some("f2"), Some("two"))
        );
        // A success without the file: its id; the first result of an index counts.
        assert_eq!(out[3].as_ref().unwrap().id.as_deref(), Some("f3"));
        assert!(matches!(out[4], Err(ItemError::Unanswered)));
        let none = BulkImport(&items(2)).parse_response(b"{}").unwrap();
        assert!(none.iter().all(|o| matches!(o, Err(ItemError::Unanswered))));
        assert!(BulkImport(&items(1)).parse_response(b"[]").is_err());
    }

    #[test]
    fn item_errors_say_why() {
        let refused = ItemError::Refused {
            code: Some("INVALID_ARGUMENT".into()),
            description: Some("bad url".into()),
        };
        assert_eq!(
            refused.to_string(),
            "Wix refused it: INVALID_ARGUMENT: bad url"
        );
        let bare = ItemError::Refused {
            code: None,
            description: None,
        };
        assert_eq!(bare.to_string(), "Wix refused it: no reason given");
        let failed = ItemError::Request(Arc::new(Error::Aborted));
        assert_eq!(failed.to_string(), "its request failed: upload aborted");
    }
}
