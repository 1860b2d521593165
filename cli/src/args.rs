//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use wix_media_upload::wix::FileOptions;

/// Upload files to a Wix site's Media Manager (or to any tus server), resumably.
///
/// Credentials come from the environment: WIX_API_KEY with WIX_SITE_ID (or WIX_ACCOUNT_ID);
/// WIX_API_BASE overrides the API's base URL. With none of them set, the built-in Wix
/// emulator is started on 127.0.0.1 and used instead (said so on stderr).
#[derive(Debug, Parser)]
#[command(
    name = "wix-media",
    version,
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true,
    after_help = "Output: one JSON line per file (or file id) on stdout as each finishes; \
                  progress and a summary on stderr. Exit status: 0 all succeeded, 1 some \
                  failed, 2 usage error, 130 interrupted (Ctrl-C).\n\
                  RUST_LOG=debug shows every request, secrets masked."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload files and folders
    ///
    /// Folders are walked recursively; inside them hidden files are skipped and symbolic links
    /// are not followed. Running the same command again uploads only new or changed files
    /// (the others print their stored result with "skipped": true, without a request) and
    /// resumes interrupted uploads from the server's offset.
    ///
    /// Wix mode prints {"path", "file": FileDescriptor, "resumedFrom", "skipped"} per file;
    /// tus mode (--endpoint) {"path", "uploadUrl", "size", "resumedFrom", "skipped"}; a failure
    /// {"path", "error"}.
    Upload(UploadArgs),
    /// Have Wix import a file from a URL
    ///
    /// Prints {"file": FileDescriptor}.
    Import(ImportArgs),
    /// Wait until files are processed (READY or FAILED)
    ///
    /// Prints {"file": FileDescriptor} per file id as each is READY, or
    /// {"fileId", "error"} for one that FAILED or was not ready in time.
    Wait(WaitArgs),
    /// Run the built-in Wix emulator on 127.0.0.1 until killed
    ///
    /// Prints its base URL on stdout; point WIX_API_BASE at it (with any WIX_API_KEY and
    /// WIX_SITE_ID).
    Emulator(EmulatorArgs),
}

#[derive(Clone, Debug, Args)]
pub struct StateArgs {
    /// Where resume state, the manifest of uploaded files and the built-in emulator's files
    /// are kept [default: $XDG_CACHE_HOME/wix-media-upload or ~/.cache/wix-media-upload]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RouteArg {
    /// One request below 10 MiB, resumable (tus) above
    Auto,
    /// Always the resumable (tus) route
    Resumable,
    /// Always one request
    Simple,
}

/// Where Wix puts a file and how it marks it (`upload` and `import`).
#[derive(Debug, Args)]
pub struct FileArgs {
    /// The Wix folder (filePath, such as /photos/2024); missing folders are created by Wix
    #[arg(long, value_name = "PATH")]
    pub folder: Option<String>,

    /// Make the files private (they can't be made public later)
    #[arg(long)]
    pub private: bool,

    /// A label for the files (repeatable)
    #[arg(long = "label", value_name = "TEXT")]
    pub labels: Vec<String>,
}

impl FileArgs {
    /// The options the Wix calls take.
    pub fn options(&self) -> FileOptions {
        let mut options = self
            .labels
            .iter()
            .fold(FileOptions::new(), |o, label| o.label(label));
        if let Some(folder) = &self.folder {
            options = options.file_path(folder);
        }
        if self.private {
            options = options.private(true);
        }
        options
    }
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Files and folders to upload
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Plain tus mode: upload each file to this tus creation URL, no Wix calls
    #[arg(
        long,
        value_name = "URL",
        conflicts_with_all = ["route", "folder", "private", "labels", "wait"]
    )]
    pub endpoint: Option<String>,

    /// Files in flight at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = positive)]
    pub jobs: usize,

    /// The Wix route
    #[arg(long, value_enum, default_value_t = RouteArg::Auto)]
    pub route: RouteArg,

    #[command(flatten)]
    pub file: FileArgs,

    /// The MIME type of every file, instead of the guess from its extension
    #[arg(long, value_name = "TYPE")]
    pub mime: Option<String>,

    /// Wait until each file is READY (or FAILED), at most an hour per file
    #[arg(long)]
    pub wait: bool,

    /// Upload again files the manifest says are uploaded
    #[arg(long)]
    pub force: bool,

    /// tus PATCH bodies of at most this many bytes [default: the rest of the file in one]
    #[arg(long, value_name = "BYTES", value_parser = positive_u64)]
    pub chunk_size: Option<u64>,

    /// Upload each file over N connections where the server supports tus concatenation
    #[arg(long, value_name = "N", value_parser = positive)]
    pub parallel: Option<usize>,

    #[command(flatten)]
    pub state: StateArgs,

    /// Stall timeout: fail a request after this long without progress (0: never) [default: 30]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,

    /// Delays between retries, in milliseconds ("" for no retries)
    /// [default: 0,3000,5000,10000,20000]
    #[arg(long, value_name = "MS,...", value_parser = delays, allow_hyphen_values = false)]
    pub retry_delays: Option<Delays>,

    /// No progress display
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The URL Wix fetches the file from
    #[arg(value_name = "URL")]
    pub url: String,

    /// The name shown in the Media Manager
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    #[command(flatten)]
    pub file: FileArgs,

    /// Wait until the file is READY (or FAILED), at most an hour
    #[arg(long)]
    pub wait: bool,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Ids of the files to wait for
    #[arg(required = true, value_name = "FILE_ID")]
    pub ids: Vec<String>,

    /// Longest wait in all, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (0: any free port)
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub port: u16,

    /// Where the emulator keeps its files [default: $TMPDIR/wix-media-upload-emulator]
    #[arg(long, value_name = "D")]
    pub dir: Option<PathBuf>,
}

/// Retry delays in milliseconds.
#[derive(Clone, Debug)]
pub struct Delays(pub Vec<u64>);

fn delays(s: &str) -> Result<Delays, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<u64>()
                .map_err(|_| format!("{p:?} is not a whole number of milliseconds"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Delays)
}

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of at least 1")),
    }
}

fn positive_u64(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of at least 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn delays_parse() {
        assert_eq!(delays("").unwrap().0, Vec::<u64>::new());
        assert_eq!(delays("0, 100,2000").unwrap().0, vec![0, 100, 2000]);
        assert!(delays("1,x").is_err());
    }
}
