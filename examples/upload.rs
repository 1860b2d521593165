//! Uploads a file with tus: to Wix (or the built-in emulator), or to any tus server.
//!
//! ```text
//! cargo run --release --example upload --features emulator -- [OPTIONS] FILE
//! ```
//! Run with `--help` for the options. On success it prints one JSON line on stdout; on failure
//! one line on stderr and a non-zero exit. Run it again after an interruption to resume.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wix_media_upload::emulator::EmulatorConfig;
use wix_media_upload::wix::{self, GenerateUploadUrlRequest};
use wix_media_upload::{
    Credentials, Error, Metadata, Progress, RetryPolicy, Source, UploadOptions, Uploader,
};

const USAGE: &str = "\
usage: upload [OPTIONS] FILE

  (no --endpoint)         Wix mode: with WIX_API_KEY and WIX_SITE_ID set, call Wix (WIX_API_BASE
                          overrides the base URL); with neither set, start the built-in emulator
                          and upload there
  --endpoint URL          plain tus mode: upload to this tus creation URL, no generate/finalize
  --chunk-size BYTES      default: the whole rest of the file in one PATCH
  --parallel N            parallel upload over N connections where the server supports
                          concatenation
  --state-dir DIR         where resumable state is kept (default: the user's cache dir)
  --timeout SECS          stall timeout
  --retry-delays MS,...   override the default delays (\"\" = no retries)
  --no-progress           no progress bar";

#[derive(Default)]
struct Args {
    file: Option<PathBuf>,
    endpoint: Option<String>,
    chunk_size: Option<u64>,
    parallel: Option<usize>,
    state_dir: Option<PathBuf>,
    timeout: Option<u64>,
    retry: Option<RetryPolicy>,
    no_progress: bool,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--endpoint" => a.endpoint = Some(value("--endpoint")?),
            "--chunk-size" => a.chunk_size = Some(number(&value("--chunk-size")?, "--chunk-size")?),
            "--parallel" => {
                a.parallel = Some(number(&value("--parallel")?, "--parallel")? as usize)
            }
            "--state-dir" => a.state_dir = Some(value("--state-dir")?.into()),
            "--timeout" => a.timeout = Some(number(&value("--timeout")?, "--timeout")?),
            "--retry-delays" => {
                let v = value("--retry-delays")?;
                let delays = v
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| number(s.trim(), "--retry-delays"))
                    .collect::<Result<Vec<_>, _>>()?;
                a.retry = Some(RetryPolicy::from_millis(&delays));
            }
            "--no-progress" => a.no_progress = true,
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ if a.file.is_some() => return Err(format!("unexpected argument {arg:?}")),
            _ => a.file = Some(arg.into()),
        }
    }
    if a.file.is_none() {
        return Err("missing FILE".into());
    }
    Ok(Some(a))
}

fn number(s: &str, name: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| format!("{name}: {s:?} is not a whole number"))
}

fn main() -> ExitCode {
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"));
    // ureq's trace level prints request paths and raw bytes, which hold the upload token.
    if std::env::var("RUST_LOG").is_ok_and(|v| v.to_ascii_lowercase().contains("trace")) {
        logger.filter_module("ureq", log::LevelFilter::Debug);
        logger.filter_module("ureq_proto", log::LevelFilter::Debug);
    }
    logger.init();
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("upload: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("upload: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<String, String> {
    let file = args.file.clone().unwrap_or_default();
    let source = Source::file(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let name = source.file_name().unwrap_or_else(|| "file".into());
    let mime = mime_type(&name);
    let state_dir = args.state_dir.clone().unwrap_or_else(default_state_dir);

    let mut builder = Uploader::builder().state_dir(&state_dir);
    if let Some(c) = args.chunk_size {
        builder = builder.chunk_size(c);
    }
    if let Some(n) = args.parallel {
        builder = builder.parallel(n);
    }
    if let Some(t) = args.timeout {
        builder = builder.stall_timeout(Some(Duration::from_secs(t)));
    }
    if let Some(r) = args.retry.clone() {
        builder = builder.retry(r);
    }
    let uploader = builder.build().map_err(|e| e.to_string())?;
    let mut bar = Bar::new(!args.no_progress);
    let options = UploadOptions::new().progress(|p| bar.update(p));

    if let Some(endpoint) = &args.endpoint {
        let meta = Metadata::new()
            .with("filename", name.as_str())
            .and_then(|m| m.with("contentType", mime))
            .map_err(|e| e.to_string())?;
        let done = uploader
            .upload(endpoint, source, options.metadata(meta))
            .map_err(describe)?;
        return Ok(serde_json::json!({
            "uploadUrl": done.url,
            "size": done.size,
            "resumedFrom": done.resumed_from.unwrap_or(0),
        })
        .to_string());
    }

    let key = std::env::var("WIX_API_KEY").ok().filter(|s| !s.is_empty());
    let site = std::env::var("WIX_SITE_ID").ok().filter(|s| !s.is_empty());
    let _emulator;
    let credentials = match (key, site) {
        (Some(key), Some(site)) => {
            let c = Credentials::site(key, site);
            match std::env::var("WIX_API_BASE") {
                Ok(base) if !base.is_empty() => c.with_api_base(base),
                _ => c,
            }
        }
        (None, None) => {
            let emulator = start_emulator(&state_dir)?;
            eprintln!(
                "upload: WIX_API_KEY and WIX_SITE_ID are not set: using the built-in emulator at {}",
                emulator.base_url()
            );
            let c = Credentials::site("emulator-key", "emulator-site")
                .with_api_base(emulator.base_url());
            _emulator = emulator;
            c
        }
        _ => {
            return Err(
                "set both WIX_API_KEY and WIX_SITE_ID, or neither (to use the emulator)".into(),
            );
        }
    };
    let request = GenerateUploadUrlRequest::new(mime)
        .file_name(name.as_str())
        .size_in_bytes(source.length().unwrap_or(0));
    let target =
        wix::generate_resumable_upload_url(&uploader, &credentials, &request).map_err(describe)?;
    let descriptor = wix::upload(&uploader, &target, source, options)
        .map_err(describe)?
        .file;
    serde_json::to_string(&descriptor).map_err(|e| e.to_string())
}

// The emulator keeps its uploads in the state dir and reuses its last port, so that a rerun
// after an interruption finds the upload it left.
fn start_emulator(
    state_dir: &std::path::Path,
) -> Result<wix_media_upload::emulator::Emulator, String> {
    let dir = state_dir.join("emulator");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let port_file = dir.join("port");
    let last: u16 = std::fs::read_to_string(&port_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let emulator = EmulatorConfig::new()
        .port(last)
        .start(&dir)
        .or_else(|_| EmulatorConfig::new().start(&dir))
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let _ = std::fs::write(&port_file, emulator.addr().port().to_string());
    Ok(emulator)
}

fn describe(e: Error) -> String {
    let mut s = e.to_string();
    if let Error::GaveUp { .. } = e {
        s.push_str(" (run again to resume)");
    }
    s
}

fn default_state_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("wix-media-upload")
}

fn mime_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "txt" | "md" | "rs" | "toml" => "text/plain",
        "json" => "application/json",
        "zip" => "application/zip",
        "glb" => "model/gltf-binary",
        _ => "application/octet-stream",
    }
}

// A progress bar on a terminal, a plain line every few seconds elsewhere.
struct Bar {
    enabled: bool,
    tty: bool,
    started: Instant,
    last: Option<Instant>,
    first_sent: Option<u64>,
}

impl Bar {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            // The first line waits one interval, so quick uploads print only their last.
            last: Some(Instant::now()),
            first_sent: None,
        }
    }

    fn update(&mut self, p: Progress) {
        if !self.enabled {
            return;
        }
        // Rates count from where this run started (a resume starts past 0).
        let first = *self.first_sent.get_or_insert(p.acked);
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(2)
        };
        let total = p.total.unwrap_or(p.sent);
        let done = p.acked == total;
        if !done && self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = p.sent.saturating_sub(first) as f64 / secs;
        let pct = if total == 0 {
            100.0
        } else {
            p.sent as f64 * 100.0 / total as f64
        };
        let eta = if rate > 0.0 {
            format!("{:.0}s", total.saturating_sub(p.sent) as f64 / rate)
        } else {
            "?".into()
        };
        let text = format!(
            "{pct:5.1}% {}/{}  {}/s  ETA {eta}",
            human(p.sent),
            human(total),
            human(rate as u64)
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let width = 30;
            let filled = ((pct / 100.0) * width as f64) as usize;
            let _ = write!(
                err,
                "\r[{}{}] {text}",
                "#".repeat(filled),
                ".".repeat(width - filled.min(width))
            );
            if done {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "progress: {text}");
        }
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
