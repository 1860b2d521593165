//! `wix-media import URL... [--from-file FILE]`: Wix fetches the files itself. Every URL is
//! checked before the first request.

use std::io::BufRead;
use std::time::Duration;

use serde_json::{Value, json};
use wix_media_upload::wix::{
    FileDescriptor, ImportFileRequest, ItemError, OperationStatus, WixClient,
};

use super::gate::Verdict;
use super::wait::WaitError;
use super::{Exit, describe_call, print, refused, usage, verdict};
use crate::args::ImportArgs;
use crate::interrupt::Stop;
use crate::output::{self, Stdout};
use crate::target::Wix;

/// The longest `--wait`, for all the files.
const WAIT: Duration = Duration::from_secs(3600);

/// One file to import.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    url: String,
    name: Option<String>,
    folder: Option<String>,
}

pub fn run(args: ImportArgs, stop: &Stop, out: &Stdout) -> Exit {
    let entries = match entries(&args) {
        Ok(e) => e,
        Err(text) => return usage(&text),
    };
    super::on_wix(&args.site, |wix, client| {
        Import {
            args: &args,
            client,
            stop,
            out,
            imported: 0,
            failed: 0,
        }
        .all(wix, &entries)
    })
}

/// The URLs of the command line and of `--from-file`, each checked.
fn entries(args: &ImportArgs) -> Result<Vec<Entry>, String> {
    let mut entries: Vec<Entry> = args
        .urls
        .iter()
        .map(|url| Entry {
            url: url.clone(),
            name: args.name.clone(),
            folder: None,
        })
        .collect();
    if let Some(path) = &args.from_file {
        let shown = path.display();
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
            Box::new(std::io::BufReader::new(file))
        };
        for (n, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| format!("{shown}: {e}"))?;
            if let Some(entry) = parse_line(&line) {
                entries.push(entry.map_err(|e| format!("{shown}, line {}: {e}", n + 1))?);
            }
        }
    }
    if args.name.is_some() && entries.len() != 1 {
        return Err("--name names one file: give one URL".into());
    }
    for e in &entries {
        check_url(&e.url)?;
    }
    Ok(entries)
}

/// `URL [NAME...] [/FOLDER]`; `None` for a blank or `#` line.
fn parse_line(line: &str) -> Option<Result<Entry, String>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let url = words.remove(0).to_owned();
    let folder = match words.last() {
        Some(w) if w.starts_with('/') => words.pop().map(str::to_owned),
        _ => None,
    };
    let name = (!words.is_empty()).then(|| words.join(" "));
    Some(check_url(&url).map(|()| Entry { url, name, folder }))
}

/// An absolute http or https URL with a host.
fn check_url(url: &str) -> Result<(), String> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let web = matches!(uri.scheme_str(), Some("http" | "https"));
    if !web || uri.host().is_none_or(str::is_empty) {
        return Err(format!(
            "{url:?} is not an http or https URL: Wix imports from the web"
        ));
    }
    Ok(())
}

/// An import run.
struct Import<'a> {
    args: &'a ImportArgs,
    client: &'a WixClient,
    stop: &'a Stop,
    out: &'a Stdout,
    imported: usize,
    failed: usize,
}

impl Import<'_> {
    fn all(mut self, wix: &Wix, entries: &[Entry]) -> Exit {
        let imported = match entries {
            [one] => self.one(one).map(|f| vec![(one, f)]).unwrap_or_default(),
            many => self.many(many),
        };
        if self.args.wait {
            self.wait_all(imported);
        } else {
            for (entry, file) in imported {
                self.done(entry, &file);
            }
        }
        if wix.is_emulator() && !self.args.wait {
            output::info(
                "the built-in emulator stops with this command: an import it has not fetched \
                 yet is lost (use --wait)",
            );
        }
        let calls = wix.rest_calls();
        output::info(&format!(
            "{} imported, {} failed; {} REST calls, {} refused",
            self.imported, self.failed, calls.sent, calls.refused
        ));
        if self.stop.interrupted() {
            output::note("interrupted");
        }
        let exit = if self.failed > 0 {
            Exit::Failed
        } else {
            Exit::Ok
        };
        Exit::after(self.stop, exit)
    }

    fn request(&self, entry: &Entry) -> ImportFileRequest {
        let mut request = ImportFileRequest::new(entry.url.as_str());
        if let Some(name) = &entry.name {
            request = request.display_name(name.as_str());
        }
        let folder = entry.folder.as_deref().or(self.args.file.folder.as_deref());
        request.options(self.args.file.options_in(folder))
    }

    /// Asks Wix to import one file; `None` when it refused (said).
    fn one(&mut self, entry: &Entry) -> Option<FileDescriptor> {
        match self.client.import(&self.request(entry)) {
            Ok(file) => Some(file),
            Err(e) => {
                self.refusal(&e);
                self.failure(entry, describe_call(&e), None);
                None
            }
        }
    }

    /// Bulk import, 100 files a request; the files Wix took (the others said).
    fn many<'e>(&mut self, entries: &'e [Entry]) -> Vec<(&'e Entry, FileDescriptor)> {
        let requests: Vec<ImportFileRequest> = entries.iter().map(|e| self.request(e)).collect();
        let results = match self.client.import_many(&requests) {
            Ok(results) => results,
            Err(e) => {
                self.refusal(&e);
                let text = describe_call(&e);
                for entry in entries {
                    self.failure(entry, text.clone(), None);
                }
                return Vec::new();
            }
        };
        let mut taken = Vec::new();
        for (entry, result) in entries.iter().zip(results) {
            match result {
                Ok(file) => taken.push((entry, file)),
                Err(e) => {
                    if let ItemError::Request(e) = &e {
                        self.refusal(e);
                    }
                    self.failure(entry, output::one_line(&e.to_string()), None);
                }
            }
        }
        taken
    }

    fn refusal(&self, e: &wix_media_upload::Error) {
        if verdict(self.client, e) == Verdict::Refused {
            refused(self.stop, e);
        }
    }

    /// `--wait`: the files read together (get-files, 100 a request) until each is processed.
    fn wait_all(&mut self, imported: Vec<(&Entry, FileDescriptor)>) {
        if imported.is_empty() {
            return;
        }
        let files: Vec<&FileDescriptor> = imported.iter().map(|(_, f)| f).collect();
        let abort = Some(self.stop.abort_handle());
        let done = match self.client.wait_processed_all(files, WAIT, abort) {
            Ok(done) => done,
            Err(wix_media_upload::Error::Aborted) => return,
            Err(e) => {
                self.refusal(&e);
                let text = describe_call(&e);
                for (entry, file) in imported {
                    self.failure(entry, text.clone(), Some(file));
                }
                return;
            }
        };
        for ((entry, _), file) in imported.into_iter().zip(done) {
            let id = file.id.clone().unwrap_or_default();
            let text = match file.operation_status {
                Some(OperationStatus::Ready) => {
                    self.done(entry, &file);
                    continue;
                }
                Some(OperationStatus::Failed) => {
                    WaitError::Failed(Box::new(file.clone())).message(&id)
                }
                _ => WaitError::NotReady(WAIT).message(&id),
            };
            self.failure(entry, text, Some(file));
        }
    }

    fn done(&mut self, entry: &Entry, file: &FileDescriptor) {
        self.imported += 1;
        self.line(json!({"url": entry.url, "file": file}));
    }

    fn failure(&mut self, entry: &Entry, text: String, file: Option<FileDescriptor>) {
        self.failed += 1;
        output::note(&format!("{}: {text}", entry.url));
        let mut line = json!({"url": entry.url, "error": text});
        if let Some(file) = file {
            line["file"] = json!(file);
        }
        self.line(line);
    }

    fn line(&self, line: Value) {
        print(self.out, self.stop, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_a_url_a_name_and_a_folder() {
        let e = |url: &str, name: Option<&str>, folder: Option<&str>| Entry {
            url: url.into(),
            name: name.map(Into::into),
            folder: folder.map(Into::into),
        };
        let u = "https://example.com/a.png";
        assert_eq!(parse_line(u), Some(Ok(e(u, None, None))));
        assert_eq!(
            parse_line(&format!("  {u}  My cat  /pets/cats ")),
            Some(Ok(e(u, Some("My cat"), Some("/pets/cats"))))
        );
        assert_eq!(
            parse_line(&format!("{u} /pets")),
            Some(Ok(e(u, None, Some("/pets"))))
        );
        assert_eq!(parse_line("# a comment"), None);
        assert_eq!(parse_line("   "), None);
        assert!(matches!(parse_line("not-a-url name"), Some(Err(_))));
    }

    #[test]
    fn only_web_urls_are_taken() {
        assert!(check_url("http://127.0.0.1:8080/x.png").is_ok());
        assert!(check_url("https://example.com/x").is_ok());
        for bad in [
            "not-a-url",
            "ftp://example.com/x",
            "file:///etc/passwd",
            "/x.png",
            "http://",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
