//! `wix-media ls [PATH] [--recursive]` and `wix-media rm PATH|ID...`.

use std::io::IsTerminal;

use serde_json::json;
use wix_media_upload::Error;
use wix_media_upload::wix::{FileDescriptor, ListFiles, SortField, SortOrder, WixClient};

use super::gate::Verdict;
use super::{Exit, describe_call, print, refused, verdict};
use crate::args::{LsArgs, RmArgs};
use crate::interrupt::Stop;
use crate::output::{self, Stdout, human_bytes};
use crate::remote::{self, Folders, RemoteFolder};

pub fn run(args: &LsArgs, stop: &Stop, out: &Stdout) -> Exit {
    super::on_wix(&args.site, |_, client| {
        let table = args.long || std::io::stdout().is_terminal();
        let ls = Ls {
            client,
            stop,
            out,
            table,
            base: args.path.trim_end_matches('/').to_owned(),
        };
        match ls.list(args.recursive) {
            Ok(exit) => exit,
            Err(e) => ls.failed(&e),
        }
    })
}

struct Ls<'a> {
    client: &'a WixClient,
    stop: &'a Stop,
    out: &'a Stdout,
    table: bool,
    /// The listed folder's path, without a trailing `/`.
    base: String,
}

impl Ls<'_> {
    fn list(&self, recursive: bool) -> Result<Exit, Error> {
        let Some(root) = self.client.find_folder(&self.base)? else {
            output::note(&format!("no folder {}", self.base_shown()));
            return Ok(Exit::Failed);
        };
        if self.table {
            self.row("TYPE", "SIZE", "STATUS", "UPDATED", "PATH");
        }
        let mut folders = Folders::new(root.id);
        while let Some(folder) = folders.next(self.client)? {
            if self.stop.stopped() {
                break;
            }
            if !folder.rel.is_empty() {
                self.folder(&folder);
            }
            let by_name = ListFiles::new()
                .parent_folder_id(&folder.id)
                .sort(SortField::DisplayName, SortOrder::Asc);
            for file in self.client.list(by_name) {
                self.file(&folder.rel, &file?);
            }
            if !recursive {
                // The subfolders are shown, not entered.
                while let Some(sub) = folders.pop() {
                    self.folder(&sub);
                }
            }
        }
        Ok(Exit::after(self.stop, Exit::Ok))
    }

    fn base_shown(&self) -> &str {
        if self.base.is_empty() {
            "/"
        } else {
            &self.base
        }
    }

    fn path(&self, rel: &str, name: &str) -> String {
        format!("{}/{}", self.base, remote::join(rel, name))
    }

    fn folder(&self, folder: &RemoteFolder) {
        let path = format!("{}/{}/", self.base, folder.rel);
        if self.table {
            return self.row("folder", "-", "-", "-", &path);
        }
        self.line(&json!({"path": path, "folderId": folder.id}));
    }

    fn file(&self, rel: &str, file: &FileDescriptor) {
        if remote::trashed(file.state.as_ref()) {
            return;
        }
        let path = self.path(rel, file.display_name.as_deref().unwrap_or(""));
        if !self.table {
            return self.line(&json!({"path": path, "file": file}));
        }
        let kind = file
            .media_type
            .as_ref()
            .and_then(|m| serde_json::to_value(m).ok())
            .and_then(|v| v.as_str().map(str::to_ascii_lowercase))
            .unwrap_or_else(|| "file".into());
        let status = file
            .operation_status
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let size = file.size_in_bytes.map(human_bytes).unwrap_or_default();
        let updated = file.updated_date.as_deref().unwrap_or("");
        let updated = updated.get(..19).unwrap_or(updated).replace('T', " ");
        self.row(&kind, &size, &status, &updated, &path);
    }

    fn row(&self, kind: &str, size: &str, status: &str, updated: &str, path: &str) {
        let text = format!("{kind:<9} {size:>10}  {status:<10} {updated:<19}  {path}");
        if let Err(e) = self.out.line(&text) {
            self.stop.stdout_failed(&e);
        }
    }

    fn line(&self, value: &serde_json::Value) {
        print(self.out, self.stop, value);
    }

    fn failed(&self, e: &Error) -> Exit {
        if verdict(self.client, e) == Verdict::Refused {
            refused(self.stop, e);
        } else {
            output::note(&describe_call(e));
        }
        Exit::after(self.stop, Exit::Failed)
    }
}

pub fn rm(args: &RmArgs, stop: &Stop, out: &Stdout) -> Exit {
    super::on_wix(&args.site, |_, client| remove(args, client, stop, out))
}

fn remove(args: &RmArgs, client: &WixClient, stop: &Stop, out: &Stdout) -> Exit {
    let mut ids: Vec<(String, Option<String>)> = Vec::new();
    let mut failed = false;
    for target in &args.targets {
        if !target.starts_with('/') {
            ids.push((target.clone(), None));
            continue;
        }
        match by_path(client, target) {
            Ok(found) if !found.is_empty() => {
                ids.extend(found.into_iter().map(|id| (id, Some(target.clone()))));
            }
            Ok(_) => {
                failed = true;
                output::note(&format!("{target}: no such file"));
                print(out, stop, &json!({"path": target, "error": "no such file"}));
            }
            Err(e) => return failed_call(client, stop, &e),
        }
    }
    let list: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    let done = if args.permanent {
        client.delete_files_permanently(&list)
    } else {
        client.trash_files(&list)
    };
    if let Err(e) = done {
        return failed_call(client, stop, &e);
    }
    let action = if args.permanent { "delete" } else { "trash" };
    for (id, path) in &ids {
        print(
            out,
            stop,
            &json!({"fileId": id, "path": path, "action": action}),
        );
    }
    Exit::after(stop, if failed { Exit::Failed } else { Exit::Ok })
}

/// The ids of the files called like the path's last name in its folder.
fn by_path(client: &WixClient, path: &str) -> Result<Vec<String>, Error> {
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    let Some(folder) = client.find_folder(folder)? else {
        return Ok(Vec::new());
    };
    let mut ids = Vec::new();
    for file in client.list(ListFiles::new().parent_folder_id(folder.id)) {
        let file = file?;
        if file.display_name.as_deref() == Some(name) && !remote::trashed(file.state.as_ref()) {
            ids.extend(file.id);
        }
    }
    Ok(ids)
}

fn failed_call(client: &WixClient, stop: &Stop, e: &Error) -> Exit {
    if verdict(client, e) == Verdict::Refused {
        refused(stop, e);
    } else {
        output::note(&describe_call(e));
    }
    Exit::after(stop, Exit::Failed)
}
