//! `wix-media sync DIR --folder PATH`: the Media Manager folder mirrors DIR. The remote tree
//! is the truth (listed with the largest pages); the manifest only saves work: a file it says
//! was uploaded but that the listing lacks (Wix's listings lag) is read by id before being
//! uploaded again.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use wix_media_upload::Error;
use wix_media_upload::wix::{FileDescriptor, OperationStatus, WixClient};

use super::{Ctx, Replaces, Target, open_target, run_batch};
use crate::args::{FileArgs, SyncArgs, UploadArgs};
use crate::digest::{md5_file, md5_like};
use crate::interrupt::Stop;
use crate::jobs::gate::Verdict;
use crate::jobs::{Exit, describe_call, refused, verdict};
use crate::output::{self, Stdout};
use crate::progress::{Board, Mode};
use crate::remote::{self, Tree};
use crate::walk::{Found, Item, Walk, rel_path};

/// How long `--delete` waits for new versions to be READY before trashing the old ones.
const READY_WAIT: Duration = Duration::from_secs(3600);

/// What happens to one file.
#[derive(Debug)]
enum Step {
    Keep {
        rel: String,
        id: Option<String>,
        reason: &'static str,
    },
    Upload {
        found: Found,
        rel: String,
        reason: &'static str,
    },
    Replace {
        found: Found,
        rel: String,
        old: String,
        reason: &'static str,
    },
    Trash {
        rel: String,
        id: String,
        reason: &'static str,
    },
}

impl Step {
    /// The plan's JSON line.
    fn line(&self) -> Value {
        match self {
            Step::Keep { rel, id, reason } => {
                json!({"action": "keep", "path": rel, "fileId": id, "reason": reason})
            }
            Step::Upload { rel, reason, .. } => {
                json!({"action": "upload", "path": rel, "reason": reason})
            }
            Step::Replace {
                rel, old, reason, ..
            } => json!({"action": "replace", "path": rel, "replaces": old, "reason": reason,
                "note": "a new file with a new id and URL"}),
            Step::Trash { rel, id, reason } => {
                json!({"action": "trash", "path": rel, "fileId": id, "reason": reason})
            }
        }
    }
}

/// The `upload` the files of a sync go through: DIR into the folder, no manifest skips (the
/// plan decided).
fn upload_args(args: &SyncArgs) -> UploadArgs {
    UploadArgs {
        paths: vec![args.dir.clone()],
        endpoint: None,
        file: FileArgs {
            folder: Some(args.folder.clone()),
            private: args.private,
            labels: args.labels.clone(),
        },
        flatten: false,
        wait: false,
        force: false,
        dry_run: args.dry_run,
        transfer: args.transfer.clone(),
        site: args.site.clone(),
    }
}

pub fn run(args: &SyncArgs, stop: &Stop, out: &Stdout) -> Exit {
    if !args.dir.is_dir() {
        return crate::jobs::usage(&format!("{}: not a folder", args.dir.display()));
    }
    let up = upload_args(args);
    let state_dir = crate::jobs::state_dir(&args.site);
    let (target, manifest) = match open_target(&up, &state_dir) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    let Target::Wix(wix) = &target else {
        return Exit::Failed;
    };
    let quiet = args.transfer.no_progress || output::quiet() || args.dry_run;
    let board = Board::new(Mode::pick(quiet));
    let ctx = Ctx::new(&target, &up, &manifest, &board, out, stop);
    let client = match wix.client(&output::info) {
        Ok(c) => c,
        Err(text) => {
            output::note(&text);
            return Exit::Failed;
        }
    };
    Sync { ctx, args, client }.run()
}

/// One sync run.
struct Sync<'a> {
    ctx: Ctx<'a>,
    args: &'a SyncArgs,
    client: &'a WixClient,
}

impl Sync<'_> {
    fn run(mut self) -> Exit {
        let tree = match remote::read_tree(self.client, &self.args.folder, self.ctx.stop) {
            Ok(Some(tree)) => tree,
            Ok(None) => return Exit::after(self.ctx.stop, Exit::Failed),
            Err(e) => return self.failed_call(&e),
        };
        let steps = match self.plan(&tree) {
            Ok(steps) => steps,
            Err(e) => return self.failed_call(&e),
        };
        if let Some(exit) = self.too_many_to_trash(&steps) {
            return exit;
        }
        if self.args.dry_run {
            return self.print_plan(&steps);
        }
        self.apply(steps)
    }

    fn failed_call(&self, e: &Error) -> Exit {
        if verdict(self.client, e) == Verdict::Refused {
            refused(self.ctx.stop, e);
        } else {
            output::note(&format!(
                "cannot read the Media Manager: {}",
                describe_call(e)
            ));
        }
        Exit::after(self.ctx.stop, Exit::Failed)
    }

    /// The steps: each local file against the remote file at its path, then (with
    /// `--delete`) the remote files that are not local.
    fn plan(&self, tree: &Tree) -> Result<Vec<Step>, Error> {
        let mut steps = Vec::new();
        let mut local = HashSet::new();
        let mut unlisted = Vec::new();
        for item in Walk::new(vec![self.args.dir.clone()]) {
            match item {
                Item::File(found) => {
                    let rel = rel_path(&found);
                    local.insert(rel.clone());
                    match tree.files.get(&rel) {
                        Some(remote) => steps.extend(self.compare(found, rel, remote)),
                        None => match self.cached_id(&found) {
                            Some(id) => unlisted.push((found, rel, id)),
                            None => steps.push(upload(found, rel, "not in the Media Manager")),
                        },
                    }
                }
                Item::Skipped(_, why) => self.ctx.board.left_out(why),
                Item::Error(path, text) => {
                    self.ctx.board.failed_early(0);
                    self.ctx.fail(&path, &text, None);
                }
            }
        }
        steps.extend(self.verify(tree, unlisted)?);
        if self.args.delete {
            steps.extend(remote_only(tree, &local));
        }
        Ok(steps)
    }

    /// A local file against the remote files of its path.
    fn compare(&self, found: Found, rel: String, remote: &[FileDescriptor]) -> Vec<Step> {
        let size = found.meta.len();
        let md5 = if self.args.checksum {
            self.local_md5(&found)
        } else {
            None
        };
        let same = |f: &FileDescriptor| {
            let hash = md5_like(f.hash.as_deref());
            f.size_in_bytes == Some(size) && (md5.is_none() || hash.is_none() || hash == md5)
        };
        let chosen = remote.iter().position(same);
        let mut steps = vec![match chosen {
            Some(i) => Step::Keep {
                rel: rel.clone(),
                id: remote[i].id.clone(),
                reason: if md5.is_some() {
                    "same name, size and content"
                } else {
                    "same name and size"
                },
            },
            None => Step::Replace {
                old: remote[0].id.clone().unwrap_or_default(),
                reason: if remote[0].size_in_bytes == Some(size) {
                    "content differs"
                } else {
                    "size differs"
                },
                rel: rel.clone(),
                found,
            },
        }];
        if self.args.delete {
            // Other files of the name: older versions (the replaced one goes after).
            let kept = chosen.unwrap_or(0);
            steps.extend(
                remote
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != kept)
                    .map(|(_, f)| Step::Trash {
                        rel: rel.clone(),
                        id: f.id.clone().unwrap_or_default(),
                        reason: "another file of the same name",
                    }),
            );
        }
        steps
    }

    /// The MD5 of a local file: the manifest's while the file is unchanged, else read.
    fn local_md5(&self, found: &Found) -> Option<String> {
        let job = self.ctx.job(found.clone()).ok()?;
        self.ctx
            .manifest
            .md5_of(&job.identity, &job.state)
            .or_else(|| md5_file(&found.path).ok())
    }

    /// The id the manifest holds for the file, when it is the file uploaded then (the same
    /// size and mtime, or touched with the same content).
    fn cached_id(&self, found: &Found) -> Option<String> {
        let mut job = self.ctx.job(found.clone()).ok()?;
        let stored = self.ctx.stored(&mut job, self.args.dry_run)?;
        stored["file"]["id"].as_str().map(str::to_owned)
    }

    /// Files the manifest says are uploaded but the listing lacks: read by id (many a
    /// request); still there, in the same folder, with the same size: kept.
    fn verify(
        &self,
        tree: &Tree,
        unlisted: Vec<(Found, String, String)>,
    ) -> Result<Vec<Step>, Error> {
        if unlisted.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = unlisted.iter().map(|(_, _, id)| id.as_str()).collect();
        let found: BTreeMap<String, FileDescriptor> = self
            .read_files(&ids)?
            .into_iter()
            .filter_map(|f| Some((f.id.clone()?, f)))
            .collect();
        Ok(unlisted
            .into_iter()
            .map(|(local, rel, id)| {
                let folder = rel.rsplit_once('/').map_or("", |(dir, _)| dir);
                let there = found.get(&id).is_some_and(|f| {
                    !remote::trashed(f.state.as_ref())
                        && f.size_in_bytes == Some(local.meta.len())
                        && tree.folders.get(folder).is_none_or(|want| {
                            f.parent_folder_id.as_deref().is_none_or(|p| p == want)
                        })
                });
                if there {
                    Step::Keep {
                        rel,
                        id: Some(id),
                        reason: "uploaded earlier (not listed yet)",
                    }
                } else {
                    upload(local, rel, "not in the Media Manager")
                }
            })
            .collect())
    }

    /// The files of `ids` Wix still has: one request per 100; when one is unknown (Wix
    /// answers 404 for the whole request), one request each.
    fn read_files(&self, ids: &[&str]) -> Result<Vec<FileDescriptor>, Error> {
        match self.client.get_files(ids) {
            Err(e) if e.status() == Some(404) => {}
            other => return other,
        }
        let mut found = Vec::new();
        for id in ids {
            match self.client.get_file(id) {
                Ok(f) => found.push(f),
                Err(e) if e.status() == Some(404) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    }

    /// `--max-delete`: more trashing than allowed changes nothing (said).
    fn too_many_to_trash(&self, steps: &[Step]) -> Option<Exit> {
        let trash = steps
            .iter()
            .filter(|s| match s {
                Step::Trash { .. } => true,
                Step::Replace { .. } => self.args.delete,
                _ => false,
            })
            .count();
        if trash <= self.args.max_delete {
            return None;
        }
        output::note(&format!(
            "this sync would trash {trash} files, more than --max-delete {}: nothing was \
             changed (run with --dry-run to see them, --max-delete {trash} to allow it)",
            self.args.max_delete
        ));
        Some(Exit::Failed)
    }

    fn print_plan(&self, steps: &[Step]) -> Exit {
        let mut counts = BTreeMap::new();
        for step in steps {
            let line = step.line();
            *counts
                .entry(line["action"].as_str().unwrap_or("").to_owned())
                .or_insert(0) += 1;
            if !crate::jobs::print(self.ctx.out, self.ctx.stop, &line) {
                break;
            }
        }
        let n = |k: &str| counts.get(k).copied().unwrap_or(0);
        let calls = self.client.rest_calls();
        output::info(&format!(
            "dry run: {} to upload, {} to replace, {} to trash, {} to keep; nothing was \
             changed; {} REST calls, {} refused",
            n("upload"),
            n("replace"),
            n("trash"),
            n("keep"),
            calls.sent,
            calls.refused
        ));
        let failed = self.ctx.board.failures() > 0;
        Exit::after(self.ctx.stop, if failed { Exit::Failed } else { Exit::Ok })
    }
}

fn upload(found: Found, rel: String, reason: &'static str) -> Step {
    Step::Upload { found, rel, reason }
}

/// The remote files whose path is not a local file's.
fn remote_only(tree: &Tree, local: &HashSet<String>) -> Vec<Step> {
    tree.files
        .iter()
        .filter(|(rel, _)| !local.contains(*rel))
        .flat_map(|(rel, files)| {
            files.iter().map(|f| Step::Trash {
                rel: rel.clone(),
                id: f.id.clone().unwrap_or_default(),
                reason: "not in the local folder",
            })
        })
        .collect()
}

impl Sync<'_> {
    /// Carries the plan out: keeps said, uploads and replacements through the batch, then
    /// with `--delete` the trash.
    fn apply(&mut self, steps: Vec<Step>) -> Exit {
        let (mut kept, mut trash, mut files) = (0, Vec::new(), Vec::new());
        let mut replaces = Replaces::default();
        for step in steps {
            match step {
                Step::Keep { .. } => {
                    kept += 1;
                    crate::jobs::print(self.ctx.out, self.ctx.stop, &step.line());
                }
                Step::Upload { found, .. } => files.push(found),
                Step::Replace {
                    found, old, rel, ..
                } => {
                    replaces.old.insert(found.path.clone(), (old, rel));
                    files.push(found);
                }
                Step::Trash { rel, id, reason } => trash.push((rel, id, reason)),
            }
        }
        self.ctx.planned = Some(files);
        self.ctx.replaces = Some(replaces);
        let walked_all = run_batch(&self.ctx);
        self.ctx.board.finish();
        let mut trashed = 0;
        if self.args.delete && !self.ctx.stop.stopped() {
            trashed += self.trash_old_versions();
            trashed += self.trash(trash);
        }
        output::info(&format!("sync: {kept} kept, {trashed} trashed"));
        self.ctx.finish(walked_all)
    }

    /// Trashes the versions replaced by files that are READY now; how many.
    fn trash_old_versions(&self) -> usize {
        let made = self
            .ctx
            .replaces
            .as_ref()
            .map(|r| std::mem::take(&mut *r.made.lock().unwrap_or_else(|e| e.into_inner())));
        let made = made.unwrap_or_default();
        if made.is_empty() {
            return 0;
        }
        let news: Vec<&FileDescriptor> = made.iter().map(|(_, _, f)| f).collect();
        let abort = Some(self.ctx.stop.abort_handle());
        let ready = match self.client.wait_processed_all(news, READY_WAIT, abort) {
            Ok(files) => files,
            Err(e) => {
                output::note(&format!("old versions kept: {}", describe_call(&e)));
                return 0;
            }
        };
        let old: Vec<(String, String, &'static str)> = made
            .iter()
            .zip(&ready)
            .filter(|(_, f)| f.operation_status == Some(OperationStatus::Ready))
            .map(|((old, rel, _), _)| (rel.clone(), old.clone(), "replaced by a new version"))
            .collect();
        self.trash(old)
    }

    /// Moves files to the trash (100 a request); how many.
    fn trash(&self, files: Vec<(String, String, &'static str)>) -> usize {
        let mut done = 0;
        for chunk in files.chunks(100) {
            let ids: Vec<&str> = chunk.iter().map(|(_, id, _)| id.as_str()).collect();
            if let Err(e) = self.client.trash_files(&ids) {
                self.ctx.board.failed_early(0);
                output::note(&format!("cannot trash files: {}", describe_call(&e)));
                if verdict(self.client, &e) == Verdict::Refused {
                    refused(self.ctx.stop, &e);
                }
                return done;
            }
            for (rel, id, reason) in chunk {
                done += 1;
                let line = json!({"action": "trash", "path": rel, "fileId": id, "reason": reason});
                crate::jobs::print(self.ctx.out, self.ctx.stop, &line);
            }
        }
        done
    }
}
