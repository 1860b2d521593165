//! `wix-media import URL... [--from-file FILE]`: Wix fetches the files itself. Every URL is
//! checked before the first request.

use std::io::BufRead;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wix_media_upload::wix::{FileDescriptor, ImportFileRequest, WixClient};

use super::gate::Verdict;
use super::wait::{WaitError, wait_file};
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
        let mut pending = Vec::new();
        for entry in entries {
            if self.stop.stopped() {
                break;
            }
            match self.one(entry) {
                Some(file) if self.args.wait => pending.push((entry, file)),
                Some(file) => self.done(entry, &file),
                None => {}
            }
        }
        let deadline = Instant::now() + WAIT;
        for (entry, file) in pending {
            if self.stop.stopped() {
                break;
            }
            self.wait(entry, file, deadline);
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

    /// Asks Wix to import one file; `None` when it refused (said).
    fn one(&mut self, entry: &Entry) -> Option<FileDescriptor> {
        let mut request = ImportFileRequest::new(entry.url.as_str());
        if let Some(name) = &entry.name {
            request = request.display_name(name.as_str());
        }
        let folder = entry.folder.as_deref().or(self.args.file.folder.as_deref());
        request = request.options(self.args.file.options_in(folder));
        match self.client.import(&request) {
            Ok(file) => Some(file),
            Err(e) => {
                if verdict(self.client, &e) == Verdict::Refused {
                    refused(self.stop, &e);
                }
                self.failure(entry, describe_call(&e), None);
                None
            }
        }
    }

    fn wait(&mut self, entry: &Entry, file: FileDescriptor, deadline: Instant) {
        match wait_file(self.client, &file, deadline, self.stop) {
            Ok(file) => self.done(entry, &file),
            Err(WaitError::Stopped) => {}
            Err(e) => {
                let text = e.message(file.id.as_deref().unwrap_or("?"));
                e.verdict(self.client, self.stop);
                let file = match e {
                    WaitError::Failed(f) => *f,
                    _ => file,
                };
                self.failure(entry, text, Some(file));
            }
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
