//! `wix-media upload PATH...`: up to `--jobs` files at once over one client, each result
//! printed as it finishes, a manifest so a rerun skips what is done.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use wix_media_upload::wix::{FileDescriptor, FileUpload, OperationStatus, Route, WixClient};
use wix_media_upload::{Source, UploadOptions};

use super::wait::{WaitError, wait_file};
use super::{Exit, describe};
use crate::args::{RouteArg, UploadArgs};
use crate::interrupt::{Reason, Stop};
use crate::manifest::{FileState, Manifest};
use crate::output::{self, Stdout};
use crate::progress::{Board, Mode};
use crate::target::{self, Settings, TrackingStore, Tus, Wix};
use crate::walk::{Item, Walk};

/// The longest `--wait` for one file.
const WAIT: Duration = Duration::from_secs(3600);

/// A Wix result line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WixLine<'a> {
    path: &'a str,
    file: &'a FileDescriptor,
    resumed_from: Option<u64>,
    skipped: bool,
}

/// A tus result line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TusLine<'a> {
    path: &'a str,
    upload_url: &'a str,
    size: u64,
    resumed_from: Option<u64>,
    skipped: bool,
}

/// A failure line (with the file when Wix has one, as after a failed processing).
#[derive(Serialize)]
struct ErrorLine<'a> {
    path: &'a str,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a FileDescriptor>,
}

enum Target {
    Tus(Tus),
    Wix(Wix),
}

/// What every job shares.
struct Ctx<'a> {
    target: &'a Target,
    target_id: Value,
    options: Value,
    args: &'a UploadArgs,
    manifest: &'a Manifest,
    board: &'a Board,
    out: &'a Stdout,
    stop: &'a Stop,
}

pub fn run(args: UploadArgs, stop: &Stop, out: &Stdout) -> Exit {
    for p in &args.paths {
        if let Err(e) = std::fs::metadata(p) {
            return super::usage(&format!("{}: {}", p.display(), io_text(&e)));
        }
    }
    let state_dir = args
        .state
        .state_dir
        .clone()
        .unwrap_or_else(target::default_state_dir);
    let (target, manifest) = match open_target(&args, &state_dir) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    let (target_id, options) = match &target {
        Target::Tus(t) => (t.identity(), json!({ "mime": args.mime })),
        Target::Wix(w) => (
            w.identity(),
            json!({
                "folder": args.file.folder,
                "private": args.file.private,
                "labels": args.file.labels,
                "mime": args.mime,
            }),
        ),
    };
    let board = Board::new(Mode::pick(args.no_progress));
    let ctx = Ctx {
        target: &target,
        target_id,
        options,
        args: &args,
        manifest: &manifest,
        board: &board,
        out,
        stop,
    };
    let walked_all = run_batch(&ctx);
    board.finish();
    finish(&board, stop, walked_all)
}

/// Where the files go, and the manifest of what is uploaded; the exit when either is not
/// usable (said).
fn open_target(args: &UploadArgs, state_dir: &Path) -> Result<(Target, Manifest), Exit> {
    let settings = Settings {
        chunk_size: args.chunk_size,
        parallel: args.parallel,
        stall_timeout: args.timeout,
        retry_delays: args.retry_delays.as_ref().map(|d| d.0.clone()),
    };
    let target = match &args.endpoint {
        Some(url) => Tus::new(url.clone(), state_dir, &settings).map(Target::Tus),
        None => match target::env_credentials() {
            Ok(creds) => Wix::new(creds, state_dir, settings).map(Target::Wix),
            Err(text) => return Err(super::usage(&text)),
        },
    };
    let failed = |text: String| {
        output::note(&text);
        Exit::Failed
    };
    let target = target.map_err(failed)?;
    let manifest = Manifest::open(state_dir).map_err(failed)?;
    Ok((target, manifest))
}

/// The summary, and the exit for how the batch went.
fn finish(board: &Board, stop: &Stop, walked_all: bool) -> Exit {
    if stop.reason() != Some(Reason::StdoutClosed) {
        output::note(&board.summary());
    }
    let failed = if board.failures() > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    };
    // A stop that came when every file was done anyway changed nothing.
    if walked_all && board.undone() == 0 {
        return failed;
    }
    if stop.reason() == Some(Reason::Interrupted) {
        output::note("interrupted: run the same command again to resume");
    }
    Exit::after(stop, failed)
}

/// Walks the paths once to count (for the totals, when progress is shown) and once to feed
/// `--jobs` workers through a small queue: neither holds the list of files. Says whether the
/// walk went to its end.
fn run_batch(ctx: &Ctx<'_>) -> bool {
    let jobs = ctx.args.jobs.max(1);
    let (tx, rx) = mpsc::sync_channel::<(PathBuf, Metadata)>(jobs);
    let rx = Mutex::new(rx);
    thread::scope(|s| {
        if ctx.board.mode() != Mode::Off {
            s.spawn(|| {
                for item in Walk::new(ctx.args.paths.clone()) {
                    if ctx.stop.stopped() {
                        return;
                    }
                    if let Item::File(_, meta) = item {
                        ctx.board.add_total(meta.len());
                    }
                }
                ctx.board.total_known();
            });
            s.spawn(|| ctx.board.run_ticker());
        }
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    loop {
                        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((path, meta)) = next else { return };
                        if ctx.stop.stopped() {
                            ctx.board.left_undone();
                        } else {
                            ctx.process(&path, &meta);
                        }
                    }
                })
            })
            .collect();
        let walked_all = ctx.feed(tx);
        for w in workers {
            let _ = w.join();
        }
        ctx.board.finish();
        walked_all
    })
}

fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl Ctx<'_> {
    /// Walks the paths into the workers' queue (a walk error fails its path at once); says
    /// whether the walk went to its end.
    fn feed(&self, tx: mpsc::SyncSender<(PathBuf, Metadata)>) -> bool {
        for item in Walk::new(self.args.paths.clone()) {
            if self.stop.stopped() {
                return false;
            }
            match item {
                Item::File(path, meta) => {
                    if tx.send((path, meta)).is_err() {
                        return false;
                    }
                }
                Item::Error(path, text) => {
                    self.board.failed_early(0);
                    self.fail(&path, &text, None);
                }
            }
        }
        true
    }

    /// Prints a result line; a closed stdout stops the batch.
    fn emit(&self, line: &impl Serialize) {
        let text = match serde_json::to_string(line) {
            Ok(t) => t,
            Err(e) => {
                self.board.note(&format!("cannot write a result: {e}"));
                return;
            }
        };
        if self.out.line(&text).is_err() {
            self.stop.stop(Reason::StdoutClosed);
        }
    }

    fn fail(&self, path: &Path, text: &str, file: Option<&FileDescriptor>) {
        let p = path_text(path);
        self.board.note(&format!("{p}: {text}"));
        self.emit(&ErrorLine {
            path: &p,
            error: text,
            file,
        });
    }

    fn fail_early(&self, path: &Path, size: u64, text: &str) {
        self.board.failed_early(size);
        self.fail(path, &output::one_line(text), None);
    }

    fn process(&self, path: &Path, meta: &Metadata) {
        let state = match FileState::of(path, meta) {
            Ok(s) => s,
            Err(e) => return self.fail_early(path, meta.len(), &io_text(&e)),
        };
        let identity = Manifest::identity(&self.target_id, &self.options, &state);
        if !self.args.force {
            let stored = self.manifest.lookup(&identity, &state);
            if stored.is_some_and(|v| self.skip(path, &state, &identity, &v)) {
                return;
            }
        }
        match self.target {
            Target::Tus(t) => self.upload_tus(t, path, &state, &identity),
            Target::Wix(w) => self.upload_wix(w, path, &state, &identity),
        }
    }

    fn remember(&self, identity: &str, state: &FileState, result: Value) {
        if let Err(text) = self.manifest.store(identity, state, result) {
            self.board.note(&format!(
                "{text} (the upload is done, but a rerun will upload it again)"
            ));
        }
    }

    /// The manifest has it: print what it holds (with `--wait`, wait for a file that was
    /// not processed yet). `false` when the entry is not usable (then the file is uploaded).
    fn skip(&self, path: &Path, state: &FileState, identity: &str, stored: &Value) -> bool {
        let p = path_text(path);
        match self.target {
            Target::Tus(_) => {
                let (Some(url), Some(size)) =
                    (stored["uploadUrl"].as_str(), stored["size"].as_u64())
                else {
                    return false;
                };
                self.board.skipped(state.size);
                self.emit(&TusLine {
                    path: &p,
                    upload_url: url,
                    size,
                    resumed_from: None,
                    skipped: true,
                });
            }
            Target::Wix(w) => {
                let Ok(mut file) = serde_json::from_value::<FileDescriptor>(stored["file"].clone())
                else {
                    return false;
                };
                if self.args.wait && file.operation_status != Some(OperationStatus::Ready) {
                    let Some(done) = self.wait_stored(w, path, state, identity, file) else {
                        return true;
                    };
                    file = done;
                }
                self.board.skipped(state.size);
                self.emit(&WixLine {
                    path: &p,
                    file: &file,
                    resumed_from: None,
                    skipped: true,
                });
            }
        }
        true
    }

    /// `--wait` for a file the manifest holds as not yet processed; `None` when it failed
    /// (said) or was interrupted.
    fn wait_stored(
        &self,
        w: &Wix,
        path: &Path,
        state: &FileState,
        identity: &str,
        descriptor: FileDescriptor,
    ) -> Option<FileDescriptor> {
        let client = match w.client(&|t| self.board.note(t)) {
            Ok(c) => c,
            Err(text) => {
                self.fail_early(path, state.size, &text);
                return None;
            }
        };
        let bar = self.board.start_file(path, state.size);
        bar.message("waiting for Wix to process it");
        match self.wait_for(client, &descriptor) {
            Ok(done) => {
                self.remember(identity, state, json!({ "file": done }));
                bar.discard();
                Some(done)
            }
            Err(WaitError::Stopped) => {
                bar.interrupted();
                None
            }
            Err(e) => {
                bar.discard();
                let text = e.message(descriptor.id.as_deref().unwrap_or("?"));
                self.board.failed_early(state.size);
                let failed = match e {
                    WaitError::Failed(f) => *f,
                    _ => descriptor,
                };
                self.fail(path, &text, Some(&failed));
                None
            }
        }
    }

    fn wait_for(
        &self,
        client: &WixClient,
        file: &FileDescriptor,
    ) -> Result<FileDescriptor, WaitError> {
        wait_file(client, file, Instant::now() + WAIT, self.stop)
    }

    fn mime_for(&self, path: &Path) -> String {
        self.args.mime.clone().unwrap_or_else(|| {
            mime_guess::from_path(path)
                .first_raw()
                .unwrap_or("application/octet-stream")
                .to_owned()
        })
    }

    /// Whether the library kept a resume record of the file (part of it is on the server).
    fn kept(store: &TrackingStore, path: &Path) -> bool {
        Source::file(path).is_ok_and(|s| store.has_record_for(&s))
    }

    fn untrack(store: &TrackingStore, path: &Path) {
        if let Ok(source) = Source::file(path) {
            store.untrack(&source);
        }
    }

    fn upload_tus(&self, t: &Tus, path: &Path, state: &FileState, identity: &str) {
        let source = match Source::file(path) {
            Ok(s) => s,
            Err(e) => return self.fail_early(path, state.size, &e.to_string()),
        };
        // The name of the file itself (through links), as the source opened it.
        let name = std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "file".into());
        let mut bar = self.board.start_file(path, state.size);
        let result = t.uploader.upload(
            &t.endpoint,
            source,
            UploadOptions::new()
                .metadata("filename", name)
                .metadata("contentType", self.mime_for(path))
                .progress(|p| bar.update(p))
                .abort(self.stop.abort_handle().clone()),
        );
        match result {
            Ok(done) => {
                self.remember(
                    identity,
                    state,
                    json!({"uploadUrl": done.url, "size": done.size}),
                );
                bar.done(true);
                self.emit(&TusLine {
                    path: &path_text(path),
                    upload_url: &done.url,
                    size: done.size,
                    resumed_from: done.resumed_from,
                    skipped: false,
                });
            }
            Err(_) if self.stop.stopped() => bar.interrupted(),
            Err(e) => {
                let text = describe(&e, Self::kept(&t.store, path));
                bar.done(false);
                self.fail(path, &text, None);
            }
        }
        Self::untrack(&t.store, path);
    }

    /// How the command line asks files to go to Wix.
    fn file_upload<'a>(&self) -> FileUpload<'a> {
        let route = match self.args.route {
            RouteArg::Auto => Route::Auto,
            RouteArg::Resumable => Route::Resumable,
            RouteArg::Simple => Route::Simple,
        };
        let upload = FileUpload::new()
            .route(route)
            .options(self.args.file.options())
            .reupload(self.args.force)
            .abort(self.stop.abort_handle().clone());
        match &self.args.mime {
            Some(m) => upload.mime_type(m.as_str()),
            None => upload,
        }
    }

    fn upload_wix(&self, w: &Wix, path: &Path, state: &FileState, identity: &str) {
        let client = match w.client(&|t| self.board.note(t)) {
            Ok(c) => c,
            Err(text) => return self.fail_early(path, state.size, &text),
        };
        let mut bar = self.board.start_file(path, state.size);
        let upload = self.file_upload().progress(|p| bar.update(p));
        let result = client.upload_with(path, upload);
        match result {
            Ok(done) => {
                let mut file = done.file;
                self.remember(identity, state, json!({ "file": file }));
                if self.args.wait {
                    bar.message("waiting for Wix to process it");
                    match self.wait_for(client, &file) {
                        Ok(ready) => {
                            if ready != file {
                                self.remember(identity, state, json!({ "file": ready }));
                            }
                            file = ready;
                        }
                        Err(WaitError::Stopped) => return bar.interrupted(),
                        Err(e) => {
                            bar.done(false);
                            let text = e.message(file.id.as_deref().unwrap_or("?"));
                            let failed = match e {
                                WaitError::Failed(f) => *f,
                                _ => file,
                            };
                            return self.fail(path, &text, Some(&failed));
                        }
                    }
                }
                bar.done(true);
                self.emit(&WixLine {
                    path: &path_text(path),
                    file: &file,
                    resumed_from: done.resumed_from,
                    skipped: false,
                });
            }
            Err(_) if self.stop.stopped() => bar.interrupted(),
            Err(e) => {
                let text = describe(&e, Self::kept(w.store(), path));
                bar.done(false);
                self.fail(path, &text, None);
            }
        }
        Self::untrack(w.store(), path);
    }
}
