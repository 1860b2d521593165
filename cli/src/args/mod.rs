//! The command line, as clap reads it.

pub mod values;

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use wix_media_upload::wix::FileOptions;

pub use values::Delays;

/// Upload files to a Wix site's Media Manager (or to any tus server), resumably.
///
/// Credentials come from the environment: WIX_API_KEY with WIX_SITE_ID (or WIX_ACCOUNT_ID);
/// WIX_API_BASE overrides the API's base URL. Without them the Wix commands stop (exit 2);
/// --emulator runs them against the built-in Wix emulator on 127.0.0.1 instead.
#[derive(Debug, Parser)]
#[command(
    name = "wix-media",
    version,
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true,
    after_help = "Output: one JSON line per file (or file id) on stdout as each finishes; \
                  progress and a summary on stderr. Exit status: 0 all succeeded, 1 some \
                  failed (or Wix refused the credentials, or stdout could not be written), \
                  2 usage error or no credentials, 129/130/143 stopped by SIGHUP/SIGINT \
                  (Ctrl-C)/SIGTERM (resume state kept), 141 stdout closed.\n\
                  -v, -vv show more (RUST_LOG=debug shows every request, secrets masked; \
                  RUST_LOG wins over -v and -q)."
)]
pub struct Cli {
    /// Say more on stderr (-v: what is done and skipped, -vv: every request)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Say only what went wrong: no progress, no summary
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload files and folders
    ///
    /// Folders are walked recursively and keep their shape: `upload DIR --folder /site`
    /// puts DIR/a/b/x.jpg in /site/a/b (Wix creates the folders); --flatten puts every file
    /// in --folder itself. Inside folders hidden entries, symbolic links and special files
    /// are left out (counted in the summary); a path named on the command line is taken as
    /// named, a symbolic link under its own name. Running the same command again uploads
    /// only new or changed files (the others print their stored result with "skipped":
    /// true, without a request) and resumes interrupted uploads from the server's offset.
    ///
    /// Wix mode prints {"path", "file": FileDescriptor, "resumedFrom", "skipped"} per file;
    /// tus mode (--endpoint) {"path", "uploadUrl", "size", "resumedFrom", "skipped"}; a failure
    /// {"path", "error"}; --dry-run {"path", "action": "upload" | "skip", "folder"}.
    Upload(UploadArgs),
    /// Make a Media Manager folder mirror a local folder
    ///
    /// Lists the remote tree under --folder (the largest pages) and compares each local file
    /// with the remote file at the same relative path: same name and size (--checksum: and
    /// content hash) is kept; different is replaced; missing is uploaded. Wix has no
    /// overwrite: a replacement is a new file, with a new id and URL (pages that use the old
    /// URL keep showing the old version until it is trashed); with --delete the old version
    /// is trashed once the new one is READY, and remote files that are not in DIR go to the
    /// trash (never deleted for good; at most --max-delete without being told).
    ///
    /// Prints one JSON line per file: {"action": "upload" | "replace" | "keep" | "trash",
    /// "path", "reason", ...}; --dry-run prints the plan and changes nothing. The manifest in
    /// the state directory only saves work: a fresh machine uploads nothing that is there.
    Sync(SyncArgs),
    /// List the files (and folders) under a Media Manager folder
    ///
    /// One JSON line per file {"path", "file": FileDescriptor} and folder {"path", "folder"};
    /// a table on a terminal or with --long.
    Ls(LsArgs),
    /// Move files to the trash (or delete them for good with --permanent)
    ///
    /// Each argument is a file id, or a path from the Media Manager's root (/photos/cat.jpg:
    /// every file of that name in that folder). Prints {"fileId", "path", "action"} per file.
    Rm(RmArgs),
    /// Have Wix import files from URLs
    ///
    /// Prints {"url", "file": FileDescriptor} per URL, or {"url", "error"}. Every URL is
    /// checked (http or https) before any request.
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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    ///
    /// For example: wix-media completions bash > ~/.local/share/bash-completion/completions/wix-media
    Completions(CompletionsArgs),
    /// Print the manual page (roff), of the command or of one subcommand
    ///
    /// For example: wix-media man | man -l -
    Man(ManArgs),
}

#[derive(Clone, Debug, Args)]
pub struct StateArgs {
    /// Where resume state, the manifest of uploaded files, the shared pace of REST calls and
    /// the built-in emulator's files are kept
    /// [default: $XDG_CACHE_HOME/wix-media-upload or ~/.cache/wix-media-upload]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Which Wix, and how fast (every Wix command).
#[derive(Clone, Debug, Args)]
pub struct SiteArgs {
    /// Use the built-in Wix emulator (offline, on 127.0.0.1, its files kept in the state
    /// directory) instead of the site in the environment
    #[arg(long)]
    pub emulator: bool,

    /// At most this many REST calls a minute (the site's quota, if you know it; Wix allows
    /// about 200), shared with every wix-media on the same state directory
    /// [default: learned from Wix's 429 answers]
    #[arg(long, value_name = "N/min", value_parser = values::rate)]
    pub rate: Option<u32>,

    #[command(flatten)]
    pub state: StateArgs,
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
    /// The options the Wix calls take, with `folder` as the filePath.
    pub fn options_in(&self, folder: Option<&str>) -> FileOptions {
        let mut options = self
            .labels
            .iter()
            .fold(FileOptions::new(), |o, label| o.label(label));
        if let Some(folder) = folder {
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
        conflicts_with_all = ["route", "folder", "private", "labels", "wait", "flatten", "emulator", "rate"]
    )]
    pub endpoint: Option<String>,

    #[command(flatten)]
    pub file: FileArgs,

    /// Every file straight into --folder, whatever subfolder it is in
    #[arg(long)]
    pub flatten: bool,

    /// Wait until each file is READY (or FAILED), at most an hour per file
    #[arg(long)]
    pub wait: bool,

    /// Upload again files the manifest says are uploaded
    #[arg(long)]
    pub force: bool,

    /// Print what would be uploaded and what skipped, one JSON line per file; no request
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub transfer: TransferArgs,

    #[command(flatten)]
    pub site: SiteArgs,
}

/// How files go up (`upload` and `sync`).
#[derive(Clone, Debug, Args)]
pub struct TransferArgs {
    /// Files in flight at once
    #[arg(short, long, value_name = "N", default_value_t = 4, value_parser = values::positive)]
    pub jobs: usize,

    /// The Wix route
    #[arg(long, value_enum, default_value_t = RouteArg::Auto)]
    pub route: RouteArg,

    /// The MIME type of every file, instead of the guess from its extension
    #[arg(long, value_name = "TYPE")]
    pub mime: Option<String>,

    /// tus PATCH bodies of at most this size (such as 8MiB) [default: the rest of the file]
    #[arg(long, value_name = "SIZE", value_parser = values::size)]
    pub chunk_size: Option<u64>,

    /// Upload each file over N connections where the server supports tus concatenation
    #[arg(long, value_name = "N", value_parser = values::positive)]
    pub parallel: Option<usize>,

    /// Stall timeout: fail a request after this long without progress (such as 30s, 2m; a
    /// bare number is seconds; 0: never) [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = values::seconds)]
    pub timeout: Option<Duration>,

    /// Delays between retries (a bare number is milliseconds; "" for no retries)
    /// [default: 0,3s,5s,10s,20s]
    #[arg(long, value_name = "DELAY,...", value_parser = values::delays, allow_hyphen_values = false)]
    pub retry_delays: Option<Delays>,

    /// No progress display
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The local folder
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// The Media Manager folder that mirrors it (made when missing)
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub folder: String,

    /// Make uploaded files private (they can't be made public later)
    #[arg(long)]
    pub private: bool,

    /// A label for uploaded files (repeatable)
    #[arg(long = "label", value_name = "TEXT")]
    pub labels: Vec<String>,

    /// Compare the content hash too, not only name and size
    #[arg(long)]
    pub checksum: bool,

    /// Move remote files that are not in DIR to the trash, and old versions of replaced files
    #[arg(long)]
    pub delete: bool,

    /// Refuse to trash more than this many files (and change nothing)
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_delete: usize,

    /// Print the plan, one JSON line per file, and change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub transfer: TransferArgs,

    #[command(flatten)]
    pub site: SiteArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The folder, from the Media Manager's root
    #[arg(value_name = "PATH", default_value = "/")]
    pub path: String,

    /// The files of every folder below too
    #[arg(short = 'R', long)]
    pub recursive: bool,

    /// A table, even when stdout is not a terminal
    #[arg(short, long)]
    pub long: bool,

    #[command(flatten)]
    pub site: SiteArgs,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// File ids, or paths from the root (/photos/cat.jpg)
    #[arg(required = true, value_name = "PATH|ID")]
    pub targets: Vec<String>,

    /// Delete for good instead of moving to the trash (they can't be restored)
    #[arg(long)]
    pub permanent: bool,

    #[command(flatten)]
    pub site: SiteArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// URLs (http or https) Wix fetches the files from
    #[arg(value_name = "URL", required_unless_present = "from_file")]
    pub urls: Vec<String>,

    /// Read URLs from FILE ("-": stdin), one a line: URL, then optionally the name shown in
    /// the Media Manager and a folder starting with "/" (blank lines and "#" lines ignored)
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,

    /// The name shown in the Media Manager (one URL only)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    #[command(flatten)]
    pub file: FileArgs,

    /// Wait until each file is READY (or FAILED), at most an hour
    #[arg(long)]
    pub wait: bool,

    #[command(flatten)]
    pub site: SiteArgs,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Ids of the files to wait for
    #[arg(required = true, value_name = "FILE_ID")]
    pub ids: Vec<String>,

    /// Longest wait in all (such as 600, 10m; a bare number is seconds)
    #[arg(long, value_name = "DURATION", default_value = "600", value_parser = values::seconds)]
    pub timeout: Duration,

    #[command(flatten)]
    pub site: SiteArgs,
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

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand's page instead of the command's
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
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
    fn short_flags_and_units_parse() {
        let cli = Cli::try_parse_from([
            "wix-media",
            "upload",
            "-j",
            "8",
            "-n",
            "--chunk-size",
            "8MiB",
            "--timeout",
            "2m",
            "--rate",
            "200/min",
            "-q",
            "x",
        ])
        .unwrap();
        assert!(cli.quiet);
        let Command::Upload(a) = cli.command else {
            panic!("not upload")
        };
        assert_eq!((a.transfer.jobs, a.dry_run), (8, true));
        assert_eq!(a.transfer.chunk_size, Some(8 << 20));
        assert_eq!(a.transfer.timeout, Some(Duration::from_secs(120)));
        assert_eq!(a.site.rate, Some(200));
    }
}
