//! What reconciling reads of the Media Manager (see `reconcile::ReadBack`), through the read
//! side: a folder by its path below another, and a folder's newest files.

use std::time::SystemTime;

use super::FileDescriptor;
use super::WixClient;
use super::read::{ListFiles, MEDIA_ROOT, SortField, SortOrder, path};
use super::reconcile::{Place, ReadBack};
use super::time::parse_rfc3339;
use crate::error::Result;

impl ReadBack for WixClient {
    fn folder(&self, place: &Place<'_>) -> Result<Option<String>> {
        let from = place.parent_folder_id.unwrap_or(MEDIA_ROOT);
        let found = path::resolve(self, from, place.file_path.unwrap_or(""))?;
        Ok(found.map(|f| f.id))
    }

    fn newest_files(&self, id: &str, since: SystemTime) -> Result<Vec<FileDescriptor>> {
        let query = ListFiles::new()
            .parent_folder_id(id)
            .sort(SortField::UpdatedDate, SortOrder::Desc);
        let mut found = Vec::new();
        for file in self.list(query) {
            let file = file?;
            // Newest first: past the first file older than `since`, none matters.
            let older = file
                .updated_date
                .as_deref()
                .and_then(parse_rfc3339)
                .is_some_and(|t| t < since);
            found.push(file);
            if older {
                break;
            }
        }
        Ok(found)
    }
}
