//! A local, offline stand-in for the Wix Media Manager: its REST routes and its upload
//! endpoints (tus, simple upload), written from Wix's documentation.
//!
//! Like LocalStack or Azurite, it lets you run your upload code without a Wix account or a
//! network: [`Emulator::start`] serves, on `127.0.0.1` and a free port (`{base}` below stands
//! for `https://www.wixapis.com` and `https://upload.wixmp.com` alike):
//!
//! | route | answer |
//! |---|---|
//! | `POST {base}/site-media/v1/files/generate-resumable-upload-url` | `{uploadProtocol: "TUS", uploadUrl: "{base}/upload/tus", uploadToken}` |
//! | tus 1.0 at `{base}/upload/tus` (`OPTIONS`, `POST`, then `HEAD`/`PATCH`/`DELETE` on `{base}/upload/tus/<id>`) | tus answers |
//! | `PUT {base}/upload/tus/<uploadToken>?filename=NAME` (finalize) | `{file: FileDescriptor}` |
//! | `POST {base}/site-media/v1/files/generate-upload-url` | `{uploadUrl: "{base}/upload/<token>"}` |
//! | `PUT {base}/upload/<token>?filename=NAME` with the raw file as body | `{file: FileDescriptor}` |
//! | `POST {base}/site-media/v1/files/import` | `{file: FileDescriptor}` (`PENDING`, no `media`) |
//! | `GET {base}/site-media/v1/files/get-file-by-id?fileId=ID` (also `GET .../files/ID`) | `{file: FileDescriptor}` |
//! | `POST {base}/site-media/v1/files/get-files` with `{fileIds: [...]}` | `{files: [...]}` |
//!
//! Both generate routes check Wix's rules (`ZERO_FILE_SIZE`, `UNSUPPORTED_FILE_FORMAT`,
//! `MISMATCH_MIME_TYPE`, `FILE_SIZE_OVER_LIMIT`) and issue single-use tokens. The tus server
//! speaks core, creation, creation-with-upload, creation-defer-length, termination,
//! expiration, checksum and concatenation (each can be switched off with
//! [`EmulatorConfig`]) and requires an issued `token` in `Upload-Metadata`. A descriptor's
//! `hash` is the MD5 of the stored bytes.
//!
//! State lives under the directory given to `start` and survives a restart on the same
//! directory, including the bytes of a body cut short by the process's death. Tests can
//! inspect it ([`Emulator::uploads`], [`Emulator::stored_bytes`], [`Emulator::files`]), count
//! requests ([`Emulator::request_counts`], [`Emulator::route_counts`]) and inject failures
//! ([`Emulator::fail_next`], [`Emulator::drop_next`], [`Emulator::cut_next_body_after`]).
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let emu = wix_media_emulator::Emulator::start("target/wix-emulator")?;
//! println!("generate at {}, tus at {}", emu.generate_url(), emu.tus_endpoint());
//! emu.stop();
//! # Ok(()) }
//! ```
//!
//! # Behaviour worth knowing
//! - Errors carry Wix-shaped JSON bodies (`applicationError` or `validationError`), tus ones
//!   included; every tus answer has `Tus-Resumable: 1.0.0`.
//! - REST routes (`/site-media/...`) need `Authorization` (else 401) and `wix-site-id` (none,
//!   or only `wix-account-id`: 403; both: 400). With [`EmulatorConfig::site_id`] another site
//!   id gets 403 with an HTML body. [`EmulatorConfig::rate_limit`] limits them (429).
//! - MIME types Wix doesn't host (executables, `text/html`, ...) get `UNSUPPORTED_FILE_FORMAT`;
//!   `MISMATCH_MIME_TYPE` compares media families (a `.png` named `image/jpeg` passes, a
//!   `.png` named `video/mp4` does not).
//! - Creating a tus upload needs `token` (an issued, not yet finalized upload token) in
//!   `Upload-Metadata`: missing → 401, unknown or used → 403, expired → 401. A final
//!   concatenation inherits the partials' token. Finalize uses the newest final upload for
//!   the token, else the newest plain one.
//! - The `filename` query of finalize and of the simple upload may be left out when
//!   `fileName` was given at generate time; it is decoded as a form component (`%XX`, `+` as
//!   space).
//! - A simple upload URL is single-use: a second `PUT` gets 409 `ALREADY_EXISTS`. A `PUT`
//!   whose body is cut short stores nothing and leaves the URL unused, so it can be retried.
//! - Videos and imports are `PENDING` for [`EmulatorConfig::processing_delay`] (2 s by
//!   default), then `READY`; other files are `READY` at once. Imports only fetch from
//!   `http://127.0.0.1` or `http://localhost`; any other source becomes `FAILED`.
//! - A tus body cut short (client gone) keeps the bytes that arrived, like `@tus/server`,
//!   unless it carried `Upload-Checksum`. A checksum mismatch (460) keeps nothing.
//! - Upload bodies over [`EmulatorConfig::max_body_size`] get an early 413 and a closed
//!   connection, as front proxies answer.
//! - Only incomplete uploads expire; `Upload-Expires` is sent while an upload is incomplete.
//! - Idle kept-alive connections are closed after 5 s, as `@tus/server` does, so clients
//!   must retry a request that fails on a reused connection
//!   ([`EmulatorConfig::idle_timeout`] changes it).

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
