//! `wix-media emulator`: the built-in Wix emulator as a server of its own, until killed.

use wix_media_emulator::EmulatorConfig;

use super::Exit;
use crate::args::EmulatorArgs;
use crate::interrupt::Stop;
use crate::output::{self, Stdout};

pub fn run(args: EmulatorArgs, stop: &Stop, out: &Stdout) -> Exit {
    let dir = args
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("wix-media-upload-emulator"));
    let emulator = match EmulatorConfig::new().port(args.port).start(&dir) {
        Ok(e) => e,
        Err(e) => {
            output::note(&format!(
                "cannot start the emulator on port {}: {e}",
                args.port
            ));
            return Exit::Failed;
        }
    };
    // The base URL alone on stdout, for scripts; the rest on stderr.
    if let Err(e) = out.line(emulator.base_url()) {
        stop.stdout_failed(&e);
        emulator.stop();
        return Exit::after(stop, Exit::Failed);
    }
    let say = |k: &str, v: &str| output::stderr_line(&format!("{k:<22}{v}"));
    say("generate (resumable):", &emulator.generate_url());
    say("generate (simple):", &emulator.generate_simple_url());
    say("files API:", &emulator.files_url());
    say("tus endpoint:", &emulator.tus_endpoint());
    say("storing in", &dir.display().to_string());
    output::stderr_line(&format!(
        "running until killed; use it with WIX_API_BASE={} WIX_API_KEY=any WIX_SITE_ID=any",
        emulator.base_url()
    ));
    stop.wait();
    emulator.stop();
    output::note("emulator stopped");
    Exit::after(stop, Exit::Ok)
}
