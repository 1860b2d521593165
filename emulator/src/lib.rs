//! A local, offline stand-in for the Wix Media Manager: its REST routes (uploads, imports,
//! listing, search, folders, the trash, download URLs) and its upload endpoints (tus, simple
//! upload), written from Wix's documentation.
//!
//! Like LocalStack or Azurite, it lets you run your upload code without a Wix account or a
//! network. [`Emulator::start`] serves on `127.0.0.1` and a free port; point your program's
//! Wix base URL (`https://www.wixapis.com`, and the upload host it is sent to) at
//! [`Emulator::base_url`], let it work, then look at what the Media Manager holds.
//!
//! # Testing your own program offline
//! Make it a dev-dependency:
//!
//! ```toml
//! [dev-dependencies]
//! wix-media-emulator = "0.1"
//! ```
//!
//! Then, in a test (this one runs with `cargo test`; it speaks HTTP with `ureq`, as your
//! program might):
//!
//! ```
//! use serde_json::{Value, json};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("wix-emulator-doc-{}", std::process::id()));
//! let emu = wix_media_emulator::Emulator::start(&dir)?;
//! let base = emu.base_url(); // stands for https://www.wixapis.com
//! let agent = ureq::Agent::new_with_defaults();
//!
//! // What the program under test does: a REST call for an upload URL...
//! let generate = json!({"mimeType": "text/plain", "fileName": "hello.txt", "filePath": "/docs"});
//! let answer: Value = serde_json::from_str(
//!     &agent
//!         .post(format!("{base}/site-media/v1/files/generate-upload-url"))
//!         .header("Authorization", "any-api-key")
//!         .header("wix-site-id", "my-site")
//!         .header("Content-Type", "application/json")
//!         .send(generate.to_string())?
//!         .body_mut()
//!         .read_to_string()?,
//! )?;
//! let upload_url = answer["uploadUrl"].as_str().ok_or("no uploadUrl")?;
//! // ...then the upload of the bytes, which answers the new file's descriptor.
//! let uploaded: Value = serde_json::from_str(
//!     &agent
//!         .put(upload_url)
//!         .header("Content-Type", "text/plain")
//!         .send(&b"hello, Wix"[..])?
//!         .body_mut()
//!         .read_to_string()?,
//! )?;
//! let id = uploaded["file"]["id"].as_str().ok_or("no file id")?;
//!
//! // What the test checks: the file, where it landed, and the calls it took.
//! assert_eq!(uploaded["file"]["operationStatus"], "READY");
//! assert_eq!(emu.path_of(id).as_deref(), Some("/docs/hello.txt"));
//! assert_eq!(emu.file_bytes(id).as_deref(), Some(&b"hello, Wix"[..]));
//! assert_eq!(emu.route_counts().get("POST generate-upload-url"), Some(&1));
//! emu.stop();
//! std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! [`EmulatorConfig`] sets what a test needs: a rate limit ([`EmulatorConfig::rate_limit`],
//! fixed or sliding), a lag before new files are listed ([`EmulatorConfig::list_lag`]),
//! processing time, body limits, token lifetimes, a site id to insist on. To test a program
//! that runs as its own process, run the `wix-media-emulator` binary
//! (`wix-media-emulator --port 8080 --dir /tmp/wix-emulator`), which prints its base URL.
//!
//! # Routes
//! `{base}` is [`Emulator::base_url`]; it stands for `https://www.wixapis.com` and for Wix's
//! upload host alike. REST routes are under `{base}/site-media/v1`.
//!
//! | route | answer |
//! |---|---|
//! | `POST /files/generate-resumable-upload-url` | `{uploadProtocol: "TUS", uploadUrl: "{base}/upload/tus", uploadToken}` |
//! | tus 1.0 at `{base}/upload/tus` (`OPTIONS`, `POST`, then `HEAD`/`PATCH`/`DELETE` on `{base}/upload/tus/<id>`) | tus answers |
//! | `PUT {base}/upload/tus/<uploadToken>?filename=NAME` (finalize) | `{file}` |
//! | `POST /files/generate-upload-url` | `{uploadUrl: "{base}/upload/<token>"}` |
//! | `PUT {base}/upload/<token>?filename=NAME` with the raw file as body | `{file}` |
//! | `POST /files/import` | `{file}` (`PENDING`, no `media`) |
//! | `POST /bulk/files/import-v2` `{importFileRequests (≤ 100), returnEntity}` | `{results: [{itemMetadata: {id, originalIndex, success, error}, item}], bulkActionMetadata}` |
//! | `GET /files/get-file-by-id?fileId=ID` (also `GET /files/ID`) | `{file}` |
//! | `POST /files/get-files` `{fileIds}` | `{files}` |
//! | `GET /files?parentFolderId&mediaTypes&private&sort.fieldName&sort.order&paging.limit&paging.cursor` | `{files, nextCursor: {cursors: {next}}}` |
//! | `POST /files/search` `{search, rootFolder, mediaTypes, private, sort, paging}` | `{files, nextCursor}` |
//! | `PATCH /files/update-file-descriptor` `{file: {id, displayName, parentFolderId, labels}}` | `{file}` |
//! | `POST /bulk/files/delete` `{fileIds, permanent}` | `{}` |
//! | `POST /bulk/trash-bin/files/restore` `{fileIds}` | `{}` |
//! | `POST /files/generate-file-download-url` `{fileId, downloadFileName, expirationInMinutes, contentDisposition}` | `{downloadUrls: [{url, assetKey}]}` |
//! | `GET {base}/download/<token>` (a download URL; no credentials) | the file's bytes |
//! | `POST /folders` `{displayName, parentFolderId}` | `{folder}` |
//! | `GET /folders?parentFolderId&sort.fieldName&sort.order&paging.limit&paging.cursor` | `{folders, nextCursor}` |
//! | `GET /folders/ID` | `{folder}` |
//!
//! `{file}` is a `FileDescriptor`; a folder is `{id, displayName, parentFolderId,
//! createdDate, updatedDate, state}`.
//!
//! # What tests can look at and do
//! State lives under the directory given to `start` and survives a restart on the same
//! directory (files, folders, the trash, tokens, uploads, even the bytes of a body cut short
//! by the process's death). Tests can inspect it ([`Emulator::files`], [`Emulator::file`],
//! [`Emulator::file_bytes`], [`Emulator::path_of`], [`Emulator::folders`],
//! [`Emulator::folder_path`], [`Emulator::uploads`], [`Emulator::stored_bytes`]), count
//! requests ([`Emulator::request_counts`], [`Emulator::route_counts`],
//! [`Emulator::refused_counts`]) and inject failures ([`Emulator::fail_next`],
//! [`Emulator::drop_next`], [`Emulator::cut_next_body_after`]).
//!
//! # Behaviour worth knowing
//! Uploads:
//! - Both generate routes check Wix's rules (`ZERO_FILE_SIZE`, `UNSUPPORTED_FILE_FORMAT`,
//!   `MISMATCH_MIME_TYPE`, `FILE_SIZE_OVER_LIMIT`) and issue single-use, JWT-shaped tokens.
//!   MIME types Wix doesn't host (executables, `text/html`, ...) get
//!   `UNSUPPORTED_FILE_FORMAT`; `MISMATCH_MIME_TYPE` compares media families (a `.png` named
//!   `image/jpeg` passes, a `.png` named `video/mp4` does not).
//! - The tus server speaks core, creation, creation-with-upload, creation-defer-length,
//!   termination, expiration, checksum and concatenation (each can be switched off with
//!   [`EmulatorConfig`]). Creating an upload needs `token` (an issued, not yet finalized
//!   upload token) in `Upload-Metadata`: missing → 401, unknown or used → 403, expired → 401.
//!   A final concatenation inherits the partials' token. Finalize uses the newest final
//!   upload for the token, else the newest plain one. Every tus answer has
//!   `Tus-Resumable: 1.0.0`; only incomplete uploads expire.
//! - The `filename` query of finalize and of the simple upload may be left out when
//!   `fileName` was given at generate time; it is decoded as a form component (`%XX`, `+` as
//!   space).
//! - A simple upload URL is single-use: a second `PUT` gets 409 `ALREADY_EXISTS`. A `PUT`
//!   whose body is cut short stores nothing and leaves the URL unused, so it can be retried.
//! - A tus body cut short (client gone) keeps the bytes that arrived, like `@tus/server`,
//!   unless it carried `Upload-Checksum`. A checksum mismatch (460) keeps nothing.
//! - Upload bodies over [`EmulatorConfig::max_body_size`] get an early 413 and a closed
//!   connection, as front proxies answer.
//! - Videos and imports are `PENDING` for [`EmulatorConfig::processing_delay`] (2 s by
//!   default), then `READY`; other files are `READY` at once. A descriptor's `hash` is the
//!   MD5 of the stored bytes.
//! - Imports only fetch from `http://127.0.0.1` or `http://localhost`; another source is
//!   accepted and then `FAILED`. A `url` that isn't an absolute `http(s)://` URL is refused
//!   at once (400; in a bulk import, that item's error).
//! - A bulk import answers each item on its own (a refused item doesn't stop the others);
//!   its results come successes first, then failures, each group in reverse request order,
//!   so a client must match them by `originalIndex`.
//!
//! REST calls:
//! - They need `Authorization` (else 401) and `wix-site-id` (none, or only `wix-account-id`:
//!   403; both: 400). With [`EmulatorConfig::site_id`] another site id gets 403 with an HTML
//!   body. A site sees only its own files and folders.
//! - [`EmulatorConfig::rate_limit`] counts every REST call, the read side included (not the
//!   upload traffic, not download URLs), over a sliding or a fixed window
//!   ([`EmulatorConfig::rate_window`]); past it, 429 `RESOURCE_EXHAUSTED`, with
//!   `Retry-After` only when [`EmulatorConfig::rate_limit_retry_after`] asks for it (Wix
//!   documents none).
//! - Errors carry Wix-shaped JSON bodies (`applicationError` or `validationError`).
//! - Idle kept-alive connections are closed after 5 s, as `@tus/server` does, so clients
//!   must retry a request that fails on a reused connection
//!   ([`EmulatorConfig::idle_timeout`] changes it).
//!
//! The read side, with the emulator's choices where Wix's documentation is silent:
//! - Paging: at most 100 files or folders a page for listings, 200 for search; 50 when
//!   `paging.limit` is absent or 0; a larger limit is refused (400), not cut down. A cursor
//!   holds the whole query and the sort key and id of the last item answered, so paging
//!   over a folder that is being added to never skips nor repeats a file; with a cursor, the
//!   request's other query fields are ignored. The last page's `nextCursor.cursors.next` is
//!   `null`.
//! - Sort: by `displayName` (code-point order), `updatedDate` or `sizeInBytes` (0 while
//!   unknown), ties broken by id; no `sort.fieldName`: `updatedDate` newest first; a field
//!   without `sort.order`: ascending. Folders sort by `displayName` or `updatedDate`.
//! - Search: `rootFolder` `MEDIA_ROOT` (the default) covers every folder's files not in the
//!   trash, `TRASH_ROOT` the trashed files, `VISITOR_UPLOADS_ROOT` nothing; `search` matches
//!   any part of the display name, the MIME type or a label, ignoring case.
//! - List lag: for [`EmulatorConfig::list_lag`] after its creation a file is left out of list
//!   and search, while the routes by id see it at once (their own delay is
//!   [`EmulatorConfig::lookup_delay`]).
//! - Folders: `media-root` is every site's root; `filePath` (on both generate routes and on
//!   imports) is a path below `parentFolderId` whose missing folders are made, the oldest
//!   being taken where a parent holds two folders of one name. A `parentFolderId` that names
//!   no folder of the site gets 404 everywhere (generate, import, move, create, list).
//!   `trash-root` and `visitor-uploads-root` are not folders here.
//! - Trash: a deleted file keeps its folder and gets `state: DELETED`; it is still read by
//!   id and still downloads, is listed only by a `TRASH_ROOT` search, and a restore brings
//!   it back. Trashing a trashed file, or restoring a file that isn't trashed, is no error.
//!   `permanent: true` removes the record and the bytes. A bulk call naming an unknown id
//!   changes nothing and answers 404.
//! - Update: only the fields given change (`displayName`, `parentFolderId`, `labels`);
//!   `private` can't change (400 when it differs); `updatedDate` moves.
//! - Download URLs are served by the emulator itself (`Content-Disposition` from
//!   `downloadFileName` and `contentDisposition`), until `expirationInMinutes` (600 by
//!   default) pass; they are kept in memory only. A file whose bytes aren't there yet gets
//!   428.
//! - Descriptors also carry `filePath` when the upload asked for one (not a documented
//!   field).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod config;
mod emulator;
mod http;
mod random;
mod route;
mod state;
mod store;
mod time;
mod tus;
mod wix;

pub use config::{EmulatorConfig, RateWindow, TusExtension};
pub use emulator::{Emulator, UploadInfo};

use random::random_hex;
use route::tus_method;
use state::State;
use time::{millis, now_ms, rfc3339};

/// Path of the tus creation endpoint.
pub(crate) const TUS_PATH: &str = "/upload/tus";
/// Simple upload URLs are `{base}/upload/<token>`.
pub(crate) const UPLOAD_PREFIX: &str = "/upload/";
/// Prefix of the Media Manager REST routes.
pub(crate) const FILES_PATH: &str = "/site-media/v1/files";
/// Path of the resumable generate endpoint.
pub(crate) const GENERATE_PATH: &str = "/site-media/v1/files/generate-resumable-upload-url";
/// Path of the simple generate endpoint.
pub(crate) const GENERATE_SIMPLE_PATH: &str = "/site-media/v1/files/generate-upload-url";
/// Prefix under which every path counts as a (rate-limited, authenticated) REST call.
pub(crate) const REST_PREFIX: &str = "/site-media/";
