//! `wix-media`: upload files and folders to a Wix site's Media Manager (or to any tus
//! server), resumably, several at once; import from a URL; wait for processing; run the
//! built-in Wix emulator.
//!
//! ```text
//! cargo install --path cli
//! wix-media upload photos/ --folder /photos --jobs 8
//! ```
//!
//! Run `wix-media help` for the commands and `wix-media help upload` for the options.
#![forbid(unsafe_code)]

mod args;
mod interrupt;
mod jobs;
mod manifest;
mod output;
mod progress;
mod target;
mod walk;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::args::{Cli, Command};
use crate::interrupt::Stop;
use crate::jobs::Exit;
use crate::output::Stdout;

fn init_logging() {
    // The library's info lines are for people (a resume and where from, waiting for another
    // process on the same file, pacing under a rate limit), but for the state store's.
    let mut logger = env_logger::Builder::from_env(
        env_logger::Env::default()
            .default_filter_or("warn,wix_media_upload=info,wix_media_upload::store=warn"),
    );
    // ureq's trace level prints request paths and raw bytes, which hold upload tokens: it is
    // capped at debug (the crate's own logs mask them).
    if std::env::var("RUST_LOG").is_ok_and(|v| v.to_ascii_lowercase().contains("trace")) {
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
    init_logging();
    let out = Stdout::new();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    // A closed stdout (`wix-media --help | head -1`) is not an error here.
                    let _ = out.text(&text);
                    ExitCode::SUCCESS
                }
                _ => {
                    output::stderr_line(text.trim_end());
                    Exit::Usage.code()
                }
            };
        }
    };
    let stop = Stop::install();
    let exit = match cli.command {
        Command::Upload(a) => jobs::upload::run(a, &stop, &out),
        Command::Import(a) => jobs::import::run(a, &stop, &out),
        Command::Wait(a) => jobs::wait::run(a, &stop, &out),
        Command::Emulator(a) => jobs::emulator::run(a, &stop, &out),
    };
    exit.code()
}
