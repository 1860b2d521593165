//! `wix-media upload PATH...`: up to `--jobs` files at once over one client, each result
//! printed as it finishes, a manifest so a rerun skips what is done.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wix_media_upload::wix::types::OperationStatus;
use wix_media_upload::wix::{FileDescriptor, FileUpload, Route, WixClient};
use wix_media_upload::{Metadata as TusMetadata, Source, UploadOptions};

use super::wait::{WaitError, wait_ready};
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
    let settings = Settings {
        chunk_size: args.chunk_size,
        parallel: args.parallel,
        stall_timeout: args.timeout,
        retry_delays: args.retry_delays.as_ref().map(|d| d.0.clone()),
    };
    let target = match &args.endpoint {
        Some(url) => Tus::new(url.clone(), &state_dir, &settings).map(Target::Tus),
        None => match target::env_credentials() {
            Ok(creds) => Wix::new(creds, &state_dir, settings).map(Target::Wix),
            Err(text) => return super::usage(&text),
        },
    };
    let target = match target {
        Ok(t) => t,
        Err(text) => {
            output::note(&text);
            return Exit::Failed;
        }
    };
    let manifest = match Manifest::open(&state_dir) {
        Ok(m) => m,
        Err(text) => {
            output::note(&text);
            return Exit::Failed;
        }
    };
    let (target_id, options) = match &target {
        Target::Tus(t) => (t.identity(), json!({ "mime": args.mime })),
        Target::Wix(w) => (
            w.identity(),
            json!({
                "folder": args.folder,
                "private": args.private,
                "labels": args.labels,
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
    run_batch(&ctx);
    board.finish();
    if stop.reason() != Some(Reason::StdoutClosed) {
        output::note(&board.summary());
    }
    if stop.reason() == Some(Reason::Interrupted) {
        output::note("interrupted: run the same command again to resume");
    }
    let failed = if board.failures() > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    };
    Exit::after(stop, failed)
}

/// Walks the paths once to count (for the totals, when progress is shown) and once to feed
/// `--jobs` workers through a small queue: neither holds the list of files.
fn run_batch(ctx: &Ctx<'_>) {
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
                        if !ctx.stop.stopped() {
                            ctx.process(&path, &meta);
                        }
                    }
                })
            })
            .collect();
        for item in Walk::new(ctx.args.paths.clone()) {
            if ctx.stop.stopped() {
                break;
            }
            match item {
                Item::File(path, meta) => {
                    if tx.send((path, meta)).is_err() {
                        break;
                    }
                }
                Item::Error(path, text) => {
                    ctx.board.failed_early(0);
                    ctx.fail(&path, &text, None);
                }
            }
        }
        drop(tx);
        for w in workers {
            let _ = w.join();
        }
        ctx.board.finish();
    });
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
    /// Prints a result line; a closed stdout stops the batch.
    fn emit(&self, line: &Value) {
        if self.out.json(line).is_err() {
            self.stop.stop(Reason::StdoutClosed);
        }
    }

    fn fail(&self, path: &Path, text: &str, file: Option<&FileDescriptor>) {
        let p = path_text(path);
        self.board.note(&format!("{p}: {text}"));
        let mut line = json!({ "path": p, "error": text });
        if let Some(f) = file {
            line["file"] = json!(f);
        }
        self.emit(&line);
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
            if let Some(stored) = self.manifest.lookup(&identity, &state) {
                return self.skip(path, &state, &identity, stored);
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
    /// not processed yet).
    fn skip(&self, path: &Path, state: &FileState, identity: &str, stored: Value) {
        let p = path_text(path);
        let line = match self.target {
            Target::Tus(_) => json!({
                "path": p,
                "uploadUrl": stored["uploadUrl"],
                "size": stored["size"],
                "resumedFrom": null,
                "skipped": true,
            }),
            Target::Wix(w) => {
                let mut file = stored["file"].clone();
                let status: Option<OperationStatus> =
                    serde_json::from_value(file["operationStatus"].clone()).ok();
                if self.args.wait && status != Some(OperationStatus::Ready) {
                    let Some(done) = self.wait_stored(w, path, state, identity, &file) else {
                        return;
                    };
                    file = done;
                }
                json!({"path": p, "file": file, "resumedFrom": null, "skipped": true})
            }
        };
        self.board.skipped(state.size);
        self.emit(&line);
    }

    /// `--wait` for a file the manifest holds as not yet processed; `None` when it failed
    /// (said) or was interrupted.
    fn wait_stored(
        &self,
        w: &Wix,
        path: &Path,
        state: &FileState,
        identity: &str,
        file: &Value,
    ) -> Option<Value> {
        let client = match w.client(&|t| self.board.note(t)) {
            Ok(c) => c,
            Err(text) => {
                self.fail_early(path, state.size, &text);
                return None;
            }
        };
        let descriptor: FileDescriptor = serde_json::from_value(file.clone()).unwrap_or_default();
        let bar = self.board.start_file(path, state.size);
        bar.message(&format!("{} (waiting for Wix)", path_text(path)));
        match self.wait_for(client, &descriptor) {
            Ok(done) => {
                self.remember(identity, state, json!({ "file": done }));
                bar.interrupted();
                Some(json!(done))
            }
            Err(WaitError::Stopped) => {
                bar.interrupted();
                None
            }
            Err(e) => {
                bar.interrupted();
                let text = e.message(descriptor.id.as_deref().unwrap_or("?"));
                self.board.failed_early(0);
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
        if file.operation_status == Some(OperationStatus::Ready) {
            return Ok(file.clone());
        }
        let id = file
            .id
            .as_deref()
            .ok_or_else(|| WaitError::Call("Wix answered a file without an id".into()))?;
        wait_ready(client, id, Instant::now() + WAIT, self.stop)
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
        Source::file(path)
            .ok()
            .and_then(|s| s.key().map(|k| store.has_record_for(k)))
            .unwrap_or(false)
    }

    fn untrack(store: &TrackingStore, path: &Path) {
        if let Some(key) = Source::file(path).ok().and_then(|s| s.key().map(str::to_owned)) {
            store.untrack(&key);
        }
    }

    fn upload_tus(&self, t: &Tus, path: &Path, state: &FileState, identity: &str) {
        let source = match Source::file(path) {
            Ok(s) => s,
            Err(e) => return self.fail_early(path, state.size, &e.to_string()),
        };
        let name = source.file_name().unwrap_or_else(|| "file".into());
        let metadata = TusMetadata::new()
            .with("filename", name.as_str())
            .and_then(|m| m.with("contentType", self.mime_for(path)));
        let metadata = match metadata {
            Ok(m) => m,
            Err(e) => return self.fail_early(path, state.size, &e.to_string()),
        };
        let mut bar = self.board.start_file(path, state.size);
        let result = t.uploader.upload(
            &t.endpoint,
            source,
            UploadOptions::new()
                .metadata(metadata)
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
                self.emit(&json!({
                    "path": path_text(path),
                    "uploadUrl": done.url,
                    "size": done.size,
                    "resumedFrom": done.resumed_from,
                    "skipped": false,
                }));
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

    fn upload_wix(&self, w: &Wix, path: &Path, state: &FileState, identity: &str) {
        let client = match w.client(&|t| self.board.note(t)) {
            Ok(c) => c,
            Err(text) => return self.fail_early(path, state.size, &text),
        };
        let mut bar = self.board.start_file(path, state.size);
        let route = match self.args.route {
            RouteArg::Auto => Route::Auto,
            RouteArg::Resumable => Route::Resumable,
            RouteArg::Simple => Route::Simple,
        };
        let mut upload = FileUpload::new()
            .route(route)
            .abort(self.stop.abort_handle().clone());
        if let Some(m) = &self.args.mime {
            upload = upload.mime_type(m.as_str());
        }
        if let Some(f) = &self.args.folder {
            upload = upload.file_path(f.as_str());
        }
        if self.args.private {
            upload = upload.private(true);
        }
        for l in &self.args.labels {
            upload = upload.label(l.as_str());
        }
        let result = client.upload_with(path, upload.progress(|p| bar.update(p)));
        match result {
            Ok(done) => {
                let mut file = done.file;
                self.remember(identity, state, json!({ "file": file }));
                if self.args.wait {
                    bar.message(&format!("{} (waiting for Wix)", path_text(path)));
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
                self.emit(&json!({
                    "path": path_text(path),
                    "file": file,
                    "resumedFrom": done.resumed_from,
                    "skipped": false,
                }));
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
