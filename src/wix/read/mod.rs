//! The Media Manager beyond uploads: listing and searching files, folders and folder paths,
//! reading many files, renaming, moving, relabelling, the trash, download URLs, bulk import
//! and waiting for many files.
//!
//! Each REST call is an [`Action`](super::action::Action) (one per file here: files, folders,
//! edit, download, get_files, bulk_import); the methods of [`WixClient`] below run them,
//! paced and retried like every call of the client.

pub(crate) mod bulk_import;
mod download;
mod edit;
mod files;
mod folders;
mod get_files;
mod page;
pub(crate) mod path;
mod wait;

pub use bulk_import::ItemError;
pub use edit::FileUpdate;
pub use files::{ListFiles, RootFolder, SearchFiles, SortField, SortOrder};
pub use folders::{Folder, ListFolders, MEDIA_ROOT};
pub use page::{Items, Listing};

use std::sync::Arc;
use std::time::Duration;

use super::{FileDescriptor, FileRef, ImportFileRequest, WixClient};
use crate::control::AbortHandle;
use crate::error::Result;
use edit::{Bulk, BulkFiles};

/// Reading and organizing the Media Manager.
impl WixClient {
    /// Every item of a listing ([`ListFiles`], [`SearchFiles`] or [`ListFolders`]), pages
    /// (as large as Wix allows) fetched as the iterator needs them: `.take(n)` reads only the
    /// pages the first `n` items need. An error (a 404 for an unknown folder, a transport
    /// error once retries are used up) is the iterator's last item.
    ///
    /// ```no_run
    /// use wix_media_upload::wix::{ListFiles, WixClient};
    ///
    /// let client = WixClient::from_env()?;
    /// let folder = client.find_folder("/albums/2026")?.expect("the folder exists");
    /// let files = client
    ///     .list(ListFiles::new().parent_folder_id(folder.id))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// println!("{} files", files.len());
    /// # Ok::<(), wix_media_upload::Error>(())
    /// ```
    pub fn list<Q: Listing>(&self, query: Q) -> Items<Q> {
        Items::new(self.clone(), query)
    }

    /// Reads several files' descriptors (*Get File Descriptors*), 100 ids a request, in the
    /// order Wix answers them (the order asked, as far as known).
    ///
    /// # Errors
    ///
    /// [`Error::Status`](crate::Error::Status) (Wix answers 404 when one of them is unknown);
    /// transport errors once retries are used up.
    pub fn get_files(&self, ids: &[&str]) -> Result<Vec<FileDescriptor>> {
        get_files::get_all(&self.rest(None), ids)
    }

    /// Renames, moves or relabels a file; its new descriptor.
    ///
    /// # Errors
    ///
    /// [`Error::Status`](crate::Error::Status) (404 for an unknown file or folder); transport
    /// errors once retries are used up.
    pub fn update_file(&self, update: &FileUpdate) -> Result<FileDescriptor> {
        self.rest(None).run(update)
    }

    /// Moves files to the trash, from where [`restore_files`](WixClient::restore_files)
    /// brings them back (Wix: they still serve on the site meanwhile). 100 ids a request;
    /// trashing a trashed file is no error.
    ///
    /// # Errors
    ///
    /// [`Error::Status`](crate::Error::Status) (404 when an id is unknown); transport errors
    /// once retries are used up. Requests before the failing one took effect.
    pub fn trash_files(&self, ids: &[&str]) -> Result<()> {
        self.bulk(Bulk::Trash, ids)
    }

    /// Deletes files for good, trashed or not: they can't be restored.
    ///
    /// # Errors
    ///
    /// As for [`trash_files`](WixClient::trash_files).
    pub fn delete_files_permanently(&self, ids: &[&str]) -> Result<()> {
        self.bulk(Bulk::DeletePermanently, ids)
    }

    /// Brings trashed files back where they were. 100 ids a request.
    ///
    /// # Errors
    ///
    /// As for [`trash_files`](WixClient::trash_files).
    pub fn restore_files(&self, ids: &[&str]) -> Result<()> {
        self.bulk(Bulk::Restore, ids)
    }

    fn bulk(&self, what: Bulk, ids: &[&str]) -> Result<()> {
        let rest = self.rest(None);
        for chunk in ids.chunks(edit::MAX_IDS) {
            rest.run(&BulkFiles { what, ids: chunk })?;
        }
        Ok(())
    }

    /// A URL that downloads the file's bytes, without credentials, for Wix's default time
    /// (600 minutes). Whoever holds it can download the file, even a private one.
    ///
    /// # Errors
    ///
    /// [`Error::Status`](crate::Error::Status) (404 for an unknown file); transport errors
    /// once retries are used up.
    pub fn download_url(&self, file_id: &str) -> Result<String> {
        self.rest(None).run(&download::DownloadUrl(file_id))
    }

    /// Makes a folder named `display_name` in `parent_folder_id` ([`MEDIA_ROOT`] at the top).
    /// Wix allows two folders of one name in a parent: see
    /// [`ensure_folder`](WixClient::ensure_folder) to make one only when missing.
    ///
    /// # Errors
    ///
    /// [`Error::Status`](crate::Error::Status) (404 for an unknown parent); transport errors
    /// once retries are used up.
    pub fn create_folder(&self, parent_folder_id: &str, display_name: &str) -> Result<Folder> {
        let create = folders::CreateFolder {
            parent_folder_id,
            display_name,
        };
        self.rest(None).run(&create)
    }

    /// Reads a folder.
    ///
    /// # Errors
    ///
    /// [`Error::Status`](crate::Error::Status) (404 for an unknown folder); transport errors
    /// once retries are used up.
    pub fn get_folder(&self, id: &str) -> Result<Folder> {
        self.rest(None).run(&folders::GetFolder(id))
    }

    /// The folder at a path of display names from the root, such as `/albums/2026` (`/` and
    /// `` are the root, [`MEDIA_ROOT`], answered without a request); `None` when one of its
    /// folders is missing. Where a parent holds two folders of one name, the oldest counts,
    /// as for the `filePath` of an upload. One listing per level.
    ///
    /// # Errors
    ///
    /// Those of [`list`](WixClient::list).
    pub fn find_folder(&self, path: &str) -> Result<Option<Folder>> {
        path::resolve(self, MEDIA_ROOT, path)
    }

    /// The folder at `path` (as for [`find_folder`](WixClient::find_folder)), made with its
    /// missing parents when it doesn't exist. Two callers making the same path at once end up
    /// in the same folder (after making one, the parent is read again and the oldest of the
    /// name taken).
    ///
    /// # Errors
    ///
    /// Those of [`list`](WixClient::list) and [`create_folder`](WixClient::create_folder).
    pub fn ensure_folder(&self, path: &str) -> Result<Folder> {
        path::ensure(self, path)
    }

    /// Imports many files Wix fetches from URLs (*Bulk Import File*), 100 a request: each
    /// file's descriptor (usually `PENDING`) or why it was not imported, in the order of
    /// `requests`. A refused item doesn't stop the others.
    ///
    /// A request whose answer was lost is not sent again blindly: each of its imports is
    /// looked for first (its URL, name and folder), and only those that did not land go
    /// again (see [`WixClientBuilder::list_lag`](super::WixClientBuilder::list_lag)).
    ///
    /// # Errors
    ///
    /// The error of the first request, when it fails as a whole (nothing was imported then).
    /// A later request that fails is reported at each of its items
    /// ([`ItemError::Request`]), so the files imported before it are not lost.
    pub fn import_many(
        &self,
        requests: &[ImportFileRequest],
    ) -> Result<Vec<std::result::Result<FileDescriptor, ItemError>>> {
        let rest = self.rest(None);
        let mut out = Vec::with_capacity(requests.len());
        for (n, chunk) in requests.chunks(bulk_import::MAX_ITEMS).enumerate() {
            match self.import_chunk(&rest, chunk) {
                Ok(items) => out.extend(items),
                Err(e) if n == 0 => return Err(e),
                Err(e) => {
                    let e = Arc::new(e);
                    out.extend(chunk.iter().map(|_| Err(ItemError::Request(e.clone()))));
                }
            }
        }
        Ok(out)
    }

    /// Reads the files until Wix has processed each (`READY` or `FAILED`), for at most
    /// `timeout`: their last descriptors, in order; those still `PENDING` then come back as
    /// they are (check each one's `operation_status`). They are read together, 100 a
    /// request, and only those still pending are read again; descriptors already processed
    /// need no request. A 404 right after creation is tolerated a few times.
    ///
    /// # Errors
    ///
    /// [`Error::NotReady`](crate::Error::NotReady) for a file never read before the timeout,
    /// [`Error::Aborted`](crate::Error::Aborted), those of
    /// [`get_files`](WixClient::get_files), and
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a pending descriptor without
    /// id.
    pub fn wait_processed_all<'f, I>(
        &self,
        files: I,
        timeout: Duration,
        abort: Option<&AbortHandle>,
    ) -> Result<Vec<FileDescriptor>>
    where
        I: IntoIterator,
        I::Item: Into<FileRef<'f>>,
    {
        let files: Vec<FileRef<'f>> = files.into_iter().map(Into::into).collect();
        wait::wait_processed_all(&self.rest(abort), &files, timeout)
    }
}
