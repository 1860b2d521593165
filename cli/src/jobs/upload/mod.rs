//! `wix-media upload PATH...`: up to `--jobs` files at once over one client, each result
//! printed as it finishes, a manifest so a rerun skips what is done.

pub mod sync;
mod tus;
mod wix;

use std::path::Path;
use std::sync::{Mutex, mpsc};
use std::thread;

use serde::Serialize;
use serde_json::{Value, json};
use wix_media_upload::wix::FileDescriptor;

use super::gate::Gate;
use super::{Exit, print};
use crate::args::UploadArgs;
use crate::digest;
use crate::interrupt::{Reason, Stop};
use crate::manifest::{FileState, Lookup, Manifest};
use crate::output::{self, Stdout};
use crate::progress::{Board, Mode};
use crate::target::{Settings, Tus, Wix};
use crate::walk::{self, Found, Item, Walk};

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
    args: &'a UploadArgs,
    manifest: &'a Manifest,
    board: &'a Board,
    out: &'a Stdout,
    stop: &'a Stop,
    gate: Gate,
    /// The files to upload, when a plan chose them (`sync`); else the paths are walked.
    planned: Option<Vec<Found>>,
    /// What `sync` replaces: the old file's id by path, and the new versions made.
    replaces: Option<Replaces>,
}

/// The old versions `sync` replaces, and the new ones it made.
#[derive(Debug, Default)]
struct Replaces {
    /// By local path: the old file's id, and the path in the folder.
    old: std::collections::HashMap<std::path::PathBuf, (String, String)>,
    /// The old file's id, the path in the folder, the new file.
    made: Mutex<Vec<(String, String, FileDescriptor)>>,
}

/// One file, and where and as what it goes.
struct Job {
    found: Found,
    /// The Wix folder (`None`: Wix's root, or tus mode).
    folder: Option<String>,
    /// The name it is uploaded under: its own, as named (a symlink's, not its target's).
    name: String,
    state: FileState,
    /// The manifest entry's identity.
    identity: String,
    /// The content's MD5, once computed.
    md5: Option<String>,
}

impl Job {
    fn path(&self) -> &Path {
        &self.found.path
    }

    fn size(&self) -> u64 {
        self.state.size
    }
}

pub fn run(args: UploadArgs, stop: &Stop, out: &Stdout) -> Exit {
    let state_dir = super::state_dir(&args.site);
    let (target, manifest) = match open_target(&args, &state_dir) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    let board = Board::new(Mode::pick(
        args.transfer.no_progress || output::quiet() || args.dry_run,
    ));
    let ctx = Ctx::new(&target, &args, &manifest, &board, out, stop);
    if args.dry_run {
        return ctx.dry_run();
    }
    let walked_all = run_batch(&ctx);
    board.finish();
    ctx.finish(walked_all)
}

/// Where the files go, and the manifest of what is uploaded; the exit when either is not
/// usable (said).
fn open_target(args: &UploadArgs, state_dir: &Path) -> Result<(Target, Manifest), Exit> {
    let settings = Settings {
        chunk_size: args.transfer.chunk_size,
        parallel: args.transfer.parallel,
        stall_timeout: args.transfer.timeout,
        retry_delays: args.transfer.retry_delays.as_ref().map(|d| d.0.clone()),
        rate: None,
    };
    let failed = |text: String| {
        output::note(&text);
        Exit::Failed
    };
    let target = match &args.endpoint {
        Some(url) => Tus::new(url.clone(), state_dir, &settings)
            .map(Target::Tus)
            .map_err(failed)?,
        None => Target::Wix(super::open_wix(&args.site, settings)?),
    };
    let manifest = Manifest::open(state_dir).map_err(failed)?;
    Ok((target, manifest))
}

/// Walks the paths once to count (for the totals, when progress is shown) and once to feed
/// `--jobs` workers through a small queue: neither holds the list of files. Says whether the
/// walk went to its end.
fn run_batch(ctx: &Ctx<'_>) -> bool {
    let jobs = ctx.args.transfer.jobs.max(1);
    let (tx, rx) = mpsc::sync_channel::<Found>(jobs);
    let rx = Mutex::new(rx);
    thread::scope(|s| {
        if ctx.board.mode() != Mode::Off {
            s.spawn(|| ctx.count());
            s.spawn(|| ctx.board.run_ticker());
        }
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    loop {
                        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(found) = next else { return };
                        if ctx.stop.stopped() {
                            ctx.board.left_undone();
                        } else {
                            ctx.process(found);
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

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl<'a> Ctx<'a> {
    fn new(
        target: &'a Target,
        args: &'a UploadArgs,
        manifest: &'a Manifest,
        board: &'a Board,
        out: &'a Stdout,
        stop: &'a Stop,
    ) -> Self {
        let target_id = match target {
            Target::Tus(t) => t.identity(),
            Target::Wix(w) => w.identity(),
        };
        Ctx {
            target,
            target_id,
            args,
            manifest,
            board,
            out,
            stop,
            gate: Gate::default(),
            planned: None,
            replaces: None,
        }
    }
}

impl Ctx<'_> {
    /// The files to upload: the plan's, else those under the paths.
    fn items(&self) -> Box<dyn Iterator<Item = Item> + '_> {
        match &self.planned {
            Some(files) => Box::new(files.iter().cloned().map(Item::File)),
            None => Box::new(Walk::new(self.args.paths.clone())),
        }
    }

    /// The counting walk, for the totals of the progress display.
    fn count(&self) {
        for item in self.items() {
            if self.stop.stopped() {
                return;
            }
            if let Item::File(found) = item {
                self.board.add_total(found.meta.len());
            }
        }
        self.board.total_known();
    }

    /// Walks the paths into the workers' queue (a path that can't be read fails alone);
    /// says whether the walk went to its end.
    fn feed(&self, tx: mpsc::SyncSender<Found>) -> bool {
        for item in self.items() {
            if self.stop.stopped() {
                return false;
            }
            match item {
                Item::File(found) => {
                    if tx.send(found).is_err() {
                        return false;
                    }
                }
                Item::Skipped(path, why) => {
                    log::debug!("left out ({why:?}): {}", path.display());
                    self.board.left_out(why);
                }
                Item::Error(path, text) => {
                    self.board.failed_early(0);
                    self.fail(&path, &text, None);
                }
            }
        }
        true
    }

    /// The summary, and the exit for how the batch went.
    fn finish(&self, walked_all: bool) -> Exit {
        let calls = match self.target {
            Target::Wix(w) => Some(w.rest_calls()),
            Target::Tus(_) => None,
        };
        if self.stop.reason() != Some(Reason::StdoutClosed) {
            output::info(&self.board.summary(calls));
        }
        let failed = if self.board.failures() > 0 {
            Exit::Failed
        } else {
            Exit::Ok
        };
        if matches!(
            self.stop.reason(),
            Some(Reason::StdoutFailed | Reason::Refused)
        ) {
            return Exit::Failed;
        }
        // A stop that came when every file was done anyway changed nothing.
        if walked_all && self.board.undone() == 0 {
            return failed;
        }
        if self.stop.interrupted() {
            output::note("interrupted: run the same command again to resume");
        }
        Exit::after(self.stop, failed)
    }

    /// Prints a result line (a stdout that can't be written to stops the batch).
    fn emit(&self, line: &impl Serialize) {
        print(self.out, self.stop, line);
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

    /// The job for a file found: its folder, its name and its manifest identity.
    fn job(&self, found: Found) -> Result<Job, String> {
        let state = FileState::of(&found.path, &found.meta).map_err(|e| walk::io_text(&e))?;
        let folder = match self.target {
            Target::Tus(_) => None,
            Target::Wix(_) if self.args.flatten => self.args.file.folder.clone(),
            Target::Wix(_) => walk::folder_for(self.args.file.folder.as_deref(), &found.subdir),
        };
        let name = found
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let options = self.options(folder.as_deref(), &name, &state);
        let identity = Manifest::identity(&self.target_id, &options, &state);
        Ok(Job {
            found,
            folder,
            name,
            state,
            identity,
            md5: None,
        })
    }

    /// What changes the result, for the manifest's identity: the same as before trees kept
    /// their shape for a file named on the command line (older entries still count), the
    /// name only when it is not the file's own (a symlink named on the command line).
    fn options(&self, folder: Option<&str>, name: &str, state: &FileState) -> Value {
        let mut options = match self.target {
            Target::Tus(_) => json!({ "mime": self.args.transfer.mime }),
            Target::Wix(_) => json!({
                "folder": folder,
                "private": self.args.file.private,
                "labels": self.args.file.labels,
                "mime": self.args.transfer.mime,
            }),
        };
        let own = state.canonical.file_name().map(|n| n.to_string_lossy());
        if own.as_deref() != Some(name) {
            options["name"] = json!(name);
        }
        options
    }

    /// The manifest's result when the file is uploaded already: it has the size and mtime it
    /// had, or only its mtime changed and its content is the same (then the entry is brought
    /// up to date, unless `dry`).
    fn stored(&self, job: &mut Job, dry: bool) -> Option<Value> {
        if self.args.force {
            return None;
        }
        let (result, want) = match self.manifest.lookup(&job.identity, &job.state) {
            Lookup::None => return None,
            Lookup::Same(result) => return Some(result),
            Lookup::Touched { result, md5 } => (result, md5?),
        };
        let md5 = digest::md5_file(job.path()).ok()?;
        let same = md5 == want;
        job.md5 = Some(md5);
        if same && !dry {
            log::info!("{}: touched, not changed", job.path().display());
            self.remember(job, result.clone());
        }
        same.then_some(result)
    }

    fn process(&self, found: Found) {
        let (path, size) = (found.path.clone(), found.meta.len());
        let mut job = match self.job(found) {
            Ok(job) => job,
            Err(text) => return self.fail_early(&path, size, &text),
        };
        if let Some(stored) = self.stored(&mut job, false)
            && self.skip(&job, &stored)
        {
            return;
        }
        match self.target {
            Target::Tus(t) => self.upload_tus(t, &job),
            Target::Wix(w) => self.upload_wix(w, &job),
        }
    }

    /// The manifest has it: print what it holds. `false` when the entry is not usable (then
    /// the file is uploaded).
    fn skip(&self, job: &Job, stored: &Value) -> bool {
        match self.target {
            Target::Tus(_) => self.skip_tus(job, stored),
            Target::Wix(w) => self.skip_wix(w, job, stored),
        }
    }

    fn remember(&self, job: &Job, result: Value) {
        let md5 = job.md5.as_deref();
        if let Err(text) = self.manifest.store(&job.identity, &job.state, result, md5) {
            self.board.note(&format!(
                "{text} (the upload is done, but a rerun will upload it again)"
            ));
        }
    }

    /// `--dry-run`: what each file would get, from the manifest alone; nothing is sent.
    fn dry_run(&self) -> Exit {
        let (mut upload, mut skip, mut failed) = (0, 0, 0);
        for item in Walk::new(self.args.paths.clone()) {
            let found = match item {
                Item::File(found) => found,
                Item::Skipped(_, why) => {
                    self.board.left_out(why);
                    continue;
                }
                Item::Error(path, text) => {
                    failed += 1;
                    self.fail(&path, &text, None);
                    continue;
                }
            };
            let path = found.path.clone();
            let mut job = match self.job(found) {
                Ok(job) => job,
                Err(text) => {
                    failed += 1;
                    self.fail(&path, &text, None);
                    continue;
                }
            };
            let action = if self.stored(&mut job, true).is_some() {
                skip += 1;
                "skip"
            } else {
                upload += 1;
                "upload"
            };
            self.emit(&json!({
                "path": path_text(job.path()),
                "action": action,
                "folder": job.folder,
            }));
            if self.stop.stopped() {
                break;
            }
        }
        output::info(&format!(
            "dry run: {upload} to upload, {skip} skipped (in the manifest), {failed} failed; nothing was sent"
        ));
        let failed = if failed > 0 { Exit::Failed } else { Exit::Ok };
        Exit::after(self.stop, failed)
    }

    /// Whether the library kept a resume record of the file (part of it is on the server),
    /// as `saved` (the uploader's or the Wix client's `has_saved`) says.
    fn kept(path: &Path, saved: impl Fn(&wix_media_upload::Source) -> bool) -> bool {
        wix_media_upload::Source::file(path).is_ok_and(|s| saved(&s))
    }
}
