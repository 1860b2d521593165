//! Records to put in state directories (`DirStore`), and the keys they are saved under; what
//! is in a state directory is read by `wix_media_testkit::state`.

use std::path::Path;

pub use wix_media_testkit::state::*;
use wix_media_upload::{Record, Secret, Source};

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
/// Wix upload's is. Other fields (`created_at`, `expires_at`...) are for the caller to set.
pub fn record(
    key: &str,
    endpoint: &str,
    upload_url: &str,
    length: u64,
    offset: u64,
    metadata: &[(&str, &str)],
) -> Record {
    let mut rec = Record::new(key, endpoint, upload_url, Some(length));
    rec.offset = offset;
    rec.metadata = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
        .collect();
    rec.secret_keys = metadata
        .iter()
        .filter(|(k, _)| *k == "token")
        .map(|(k, _)| (*k).to_owned())
        .collect();
    rec
}
