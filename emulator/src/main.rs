//! Runs the local Wix emulator until it is killed (Ctrl-C, SIGTERM, SIGKILL).
//!
//! ```text
//! wix-media-emulator --port 8080 --dir /tmp/wix-emulator
//! ```
//!
//! Prints its base URL, and nothing else, as one line on standard output (point your code's
//! Wix API base URL at it); the other routes and the store directory go to standard error.
//! Killing it at any moment is safe: state files are replaced atomically, and the bytes of a
//! body cut short are kept (unless it carried `Upload-Checksum`) on the next start.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wix_media_emulator::{EmulatorConfig, RateWindow};

const USAGE: &str = "usage: wix-media-emulator [--port PORT] [--dir DIR] [--max-body-size BYTES]
                [--processing-delay DURATION] [--lookup-delay DURATION] [--list-lag DURATION]
                [--rate-limit CALLS/DURATION] [--rate-window sliding|fixed] [--retry-after]
                [--site-id ID]
DURATION is a number with an optional unit: ms, s (the default), m or h (e.g. 500ms, 2s, 1m).";

/// `500ms`, `2s`, `2`, `1m`, `1h`.
fn parse_duration(s: &str) -> Option<Duration> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// `200/1m`: 200 calls per minute.
fn parse_rate(s: &str) -> Option<(u32, Duration)> {
    let (calls, window) = s.split_once('/')?;
    Some((calls.parse().ok()?, parse_duration(window)?))
}

/// The config with option `flag` set to `value`; `None` when the value doesn't parse or the
/// flag is unknown.
fn with_option(config: EmulatorConfig, flag: &str, value: &str) -> Option<EmulatorConfig> {
    Some(match flag {
        "--port" => config.port(value.parse().ok()?),
        "--max-body-size" => config.max_body_size(value.parse().ok()?),
        "--processing-delay" => config.processing_delay(parse_duration(value)?),
        "--lookup-delay" => config.lookup_delay(parse_duration(value)?),
        "--list-lag" => config.list_lag(parse_duration(value)?),
        "--rate-limit" => {
            let (calls, window) = parse_rate(value)?;
            config.rate_limit(calls, window)
        }
        "--rate-window" => config.rate_window(match value {
            "sliding" => RateWindow::Sliding,
            "fixed" => RateWindow::Fixed,
            _ => return None,
        }),
        "--site-id" => config.site_id(value),
        _ => return None,
    })
}

/// What the command line asks for: the config and the directory, or the exit code.
fn parse_args(
    mut args: impl Iterator<Item = String>,
) -> Result<(EmulatorConfig, PathBuf), ExitCode> {
    let mut config = EmulatorConfig::new();
    let mut dir = std::env::temp_dir().join("wix-media-upload-emulator");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Err(ExitCode::SUCCESS);
            }
            "--retry-after" => {
                config = config.rate_limit_retry_after(true);
                continue;
            }
            _ => {}
        }
        let Some(value) = args.next() else {
            eprintln!("{arg} needs a value (or is unknown)\n{USAGE}");
            return Err(ExitCode::from(2));
        };
        if arg == "--dir" {
            dir = PathBuf::from(value);
            continue;
        }
        config = with_option(config, &arg, &value).ok_or_else(|| {
            eprintln!("bad argument {arg} {value:?}\n{USAGE}");
            ExitCode::from(2)
        })?;
    }
    Ok((config, dir))
}

fn main() -> ExitCode {
    let (config, dir) = match parse_args(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let emulator = match config.start(&dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("could not start the emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", emulator.base_url())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(out);
    eprintln!("generate (resumable): {}", emulator.generate_url());
    eprintln!("generate (simple):    {}", emulator.generate_simple_url());
    eprintln!("files API:            {}", emulator.files_url());
    eprintln!("folders API:          {}", emulator.folders_url());
    eprintln!("tus endpoint:         {}", emulator.tus_endpoint());
    eprintln!("storing in            {}", dir.display());
    eprintln!("running until killed");
    // std has no portable signal handling and this example takes no dependency for it: the
    // process ends when killed, and the OS frees the port.
    loop {
        std::thread::park();
    }
}
