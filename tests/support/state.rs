//! Records to put in state directories (`DirStore`), and the keys they are saved under; what
//! is in a state directory is read by `wix_media_testkit::state`.

use std::path::Path;

pub use wix_media_testkit::state::*;
use wix_media_upload::{Metadata, Record, Source};

/// The key an uploader saves the record of an upload of `source` to `endpoint` under.
pub fn state_key(endpoint: &str, source: &Source) -> String {
    format!(
        "{endpoint}\n{}",
        source.key().expect("the source has a key")
    )
}

/// [`state_key`] of a file.
pub fn file_state_key(endpoint: &str, file: &Path) -> String {
    state_key(endpoint, &Source::file(file).expect("open the file"))
}

/// A record of an unfinished upload of `length` bytes at `upload_url` (made at `endpoint`),
/// `offset` of them acknowledged, with `metadata`; a `token` entry is marked secret, as the
/// Wix upload's is. Other fields (`with_created_at`, `with_expires_at`...) are for the caller
/// to set.
pub fn record(
    key: &str,
    endpoint: &str,
    upload_url: &str,
    length: u64,
    offset: u64,
    metadata: &[(&str, &str)],
) -> Record {
    let mut meta = Metadata::new();
    for (k, v) in metadata {
        meta = if *k == "token" {
            meta.with_secret(k, *v)
        } else {
            meta.with(k, *v)
        }
        .expect("valid metadata");
    }
    Record::new(key, endpoint, upload_url, Some(length))
        .with_offset(offset)
        .with_metadata(&meta)
}
