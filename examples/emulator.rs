//! Runs the local Wix upload emulator until Ctrl-C or end of standard input.
//!
//! ```text
//! cargo run --example emulator --features emulator -- --port 8080 --dir /tmp/wix-emulator
//! ```
//!
//! Point your code's Wix API base URL at the printed base URL. It stops at end of standard
//! input; started in the background (where stdin is often `/dev/null`), pass `--until-killed`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use wix_media_upload::emulator::EmulatorConfig;

const USAGE: &str =
    "usage: emulator [--port PORT] [--dir DIR] [--max-body-size BYTES] [--until-killed]";

fn main() -> ExitCode {
    let mut port: u16 = 0;
    let mut dir = std::env::temp_dir().join("wix-media-upload-emulator");
    let mut max_body: Option<u64> = None;
    let mut until_killed = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--until-killed" => {
                until_killed = true;
                continue;
            }
            "--port" | "--dir" | "--max-body-size" => args.next(),
            _ => {
                eprintln!("unknown argument {arg:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        };
        let Some(value) = value else {
            eprintln!("{arg} needs a value\n{USAGE}");
            return ExitCode::from(2);
        };
        let ok = match arg.as_str() {
            "--port" => value.parse().map(|p| port = p).is_ok(),
            "--max-body-size" => value.parse().map(|m| max_body = Some(m)).is_ok(),
            _ => {
                dir = PathBuf::from(value.clone());
                true
            }
        };
        if !ok {
            eprintln!("bad value {value:?} for {arg}\n{USAGE}");
            return ExitCode::from(2);
        }
    }

    let mut config = EmulatorConfig::new().port(port);
    if let Some(m) = max_body {
        config = config.max_body_size(m);
    }
    let emulator = match config.start(&dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("could not start the emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("base URL:     {}", emulator.base_url());
    println!("generate URL: {}", emulator.generate_url());
    println!("tus endpoint: {}", emulator.tus_endpoint());
    println!("storing in    {}", dir.display());
    if until_killed {
        println!("running until killed (Ctrl-C)");
        // Killing is safe: state files are replaced atomically and stray bytes past a recorded
        // offset are dropped on the next start.
        loop {
            std::thread::park();
        }
    }
    println!("press Ctrl-C or close stdin (Ctrl-D) to stop");

    // EOF on stdin stops cleanly; Ctrl-C ends the process (the OS frees the port). std has no
    // portable signal handling and this example takes no extra dependency for it.
    let mut sink = [0u8; 1024];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}

    emulator.stop();
    println!("stopped");
    ExitCode::SUCCESS
}
