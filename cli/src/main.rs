//! `wix-media`: upload files and folders to a Wix site's Media Manager (or to any tus
//! server), resumably, several at once; import from a URL; wait for processing; run the
//! built-in Wix emulator.
//!
//! ```text
//! cargo install --path cli
//! wix-media upload photos/ --folder /photos -j 8
//! wix-media upload --emulator README.md
//! ```
//!
//! Run `wix-media help` for the commands and `wix-media help upload` for the options.
#![forbid(unsafe_code)]

mod args;
mod digest;
mod interrupt;
mod jobs;
mod manifest;
mod output;
mod progress;
mod remote;
mod target;
mod walk;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::args::{Cli, Command};
use crate::interrupt::Stop;
use crate::jobs::Exit;
use crate::output::{Stdout, WriteError};

/// The log filter for `-q` (-1), nothing (0) and `-v`, `-vv`, `-vvv`; `RUST_LOG` wins.
fn default_filter(verbosity: i8) -> &'static str {
    match verbosity {
        ..0 => "error",
        // The library's info lines are for people (a resume and where from, waiting for
        // another process on the same file, pacing under a rate limit), but for the state
        // store's.
        0 => "warn,wix_media_upload=info,wix_media_upload::store=warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

fn init_logging(verbosity: i8) {
    let mut logger = env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(default_filter(verbosity)),
    );
    // ureq's trace level prints request paths and raw bytes, which hold upload tokens: it is
    // capped at debug (the crate's own logs mask them).
    let traced = std::env::var("RUST_LOG").is_ok_and(|v| v.to_ascii_lowercase().contains("trace"));
    if traced || verbosity > 2 {
        logger.filter_module("ureq", log::LevelFilter::Debug);
        logger.filter_module("ureq_proto", log::LevelFilter::Debug);
    }
    // One line per message, like the command's own: no timestamps for people.
    logger.format(|buf, record| {
        use std::io::Write as _;
        match record.level() {
            log::Level::Info => writeln!(buf, "wix-media: {}", record.args()),
            log::Level::Warn | log::Level::Error => {
                writeln!(buf, "wix-media: {}: {}", record.level(), record.args())
            }
            level => writeln!(
                buf,
                "wix-media: {level} {}: {}",
                record.target(),
                record.args()
            ),
        }
    });
    let _ = logger.try_init();
}

fn main() -> ExitCode {
    let out = Stdout::new();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse_error(&e, &out),
    };
    let verbosity = if cli.quiet {
        output::set_quiet();
        -1
    } else {
        i8::try_from(cli.verbose).unwrap_or(i8::MAX)
    };
    init_logging(verbosity);
    let stop = Stop::install();
    let exit = match cli.command {
        Command::Upload(a) => jobs::upload::run(a, &stop, &out),
        Command::Import(a) => jobs::import::run(a, &stop, &out),
        Command::Sync(a) => jobs::upload::sync::run(&a, &stop, &out),
        Command::Ls(a) => jobs::ls::run(&a, &stop, &out),
        Command::Rm(a) => jobs::ls::rm(&a, &stop, &out),
        Command::Wait(a) => jobs::wait::run(a, &stop, &out),
        Command::Emulator(a) => jobs::emulator::run(a, &stop, &out),
        Command::Completions(a) => jobs::docs::completions(&a, &out),
        Command::Man(a) => jobs::docs::man(&a, &out),
    };
    exit.code()
}

/// Help and version on stdout (exit 0), usage errors on stderr (exit 2).
fn parse_error(e: &clap::Error, out: &Stdout) -> ExitCode {
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => match out.text(&text) {
            // A closed stdout (`wix-media --help | head -1`) is not an error here.
            Ok(()) | Err(WriteError::Closed) => ExitCode::SUCCESS,
            Err(WriteError::Failed(e)) => {
                output::note(&format!("cannot write to stdout: {e}"));
                Exit::Failed.code()
            }
        },
        _ => {
            output::stderr_line(text.trim_end());
            Exit::Usage.code()
        }
    }
}
