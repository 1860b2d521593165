//! Issued upload tokens: `tokens/<jti>.json`. A resumable token authorizes tus uploads and
//! one finalize; a simple one is the last segment of a single-use simple upload URL.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Placement, Store, write_json};
use crate::http::lock;

/// What a token is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TokenKind {
    /// From generate-resumable-upload-url: tus uploads, then one finalize.
    #[default]
    Resumable,
    /// From generate-upload-url: one `PUT {base}/upload/<token>`.
    Simple,
}

/// A token issued by a generate endpoint, with what the call asked for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    pub token: String,
    pub jti: String,
    #[serde(default)]
    pub kind: TokenKind,
    pub site_id: String,
    pub mime_type: String,
    pub file_name: Option<String>,
    pub size_in_bytes: Option<u64>,
    #[serde(flatten)]
    pub placement: Placement,
    pub issued_ms: u64,
    /// When the token stops being accepted (`None` in records of older runs: 7 days).
    pub expires_ms: Option<u64>,
    /// The file descriptor returned by the one successful finalize or simple upload.
    pub finalized: Option<Value>,
}

/// Lifetime assumed for tokens whose record has no expiry.
const DEFAULT_LIFETIME_MS: u64 = 7 * 24 * 60 * 60 * 1000;

impl TokenRecord {
    /// Past its expiry at `now_ms`?
    pub fn expired(&self, now_ms: u64) -> bool {
        let expires = self
            .expires_ms
            .unwrap_or(self.issued_ms.saturating_add(DEFAULT_LIFETIME_MS));
        now_ms >= expires
    }
}

/// Why [`Store::claim_simple`] refused.
pub(crate) enum Claim {
    /// Another `PUT` to the same URL is in progress.
    InUse,
    /// Already used.
    Used,
}

impl Store {
    fn token_path(&self, rec: &TokenRecord) -> std::path::PathBuf {
        self.tokens_dir.join(format!("{}.json", rec.jti))
    }

    pub fn add_token(&self, rec: TokenRecord) -> std::io::Result<()> {
        write_json(&self.token_path(&rec), &rec)?;
        lock(&self.tokens).insert(rec.token.clone(), rec);
        Ok(())
    }

    pub fn token(&self, token: &str) -> Option<TokenRecord> {
        lock(&self.tokens).get(token).cloned()
    }

    /// Marks a token used with the file it produced; false when another call won the race.
    pub fn finalize_token(&self, token: &str, file: Value) -> std::io::Result<bool> {
        let mut tokens = lock(&self.tokens);
        let Some(rec) = tokens.get_mut(token) else {
            return Ok(false);
        };
        if rec.finalized.is_some() {
            return Ok(false);
        }
        let mut done = rec.clone();
        done.finalized = Some(file);
        write_json(&self.token_path(&done), &done)?;
        *rec = done;
        Ok(true)
    }

    /// Claims a simple upload URL for one `PUT`; release it with [`Store::release_simple`].
    pub fn claim_simple(&self, token: &str) -> Result<(), Claim> {
        if self.token(token).is_some_and(|t| t.finalized.is_some()) {
            return Err(Claim::Used);
        }
        if !lock(&self.tokens_in_use).insert(token.to_string()) {
            return Err(Claim::InUse);
        }
        Ok(())
    }

    pub fn release_simple(&self, token: &str) {
        lock(&self.tokens_in_use).remove(token);
    }

    /// Tokens of one kind, oldest first.
    pub fn tokens(&self, kind: TokenKind) -> Vec<TokenRecord> {
        let mut v: Vec<_> = lock(&self.tokens)
            .values()
            .filter(|t| t.kind == kind)
            .cloned()
            .collect();
        v.sort_by_key(|t| t.issued_ms);
        v
    }
}
