//! Where files go: a tus server, Wix, or the built-in emulator (started only when a request
//! is needed). One client for the whole run: every job shares its connections.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use wix_media_emulator::{Emulator, EmulatorConfig};
use wix_media_upload::wix::{RestCalls, Scope, WixClient};
use wix_media_upload::{Credentials, Error, RetryPolicy, Uploader, UploaderBuilder};

/// The uploader and client settings from the command line.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub chunk_size: Option<u64>,
    pub parallel: Option<usize>,
    pub stall_timeout: Option<Duration>,
    pub retry_delays: Option<Vec<Duration>>,
    /// REST calls a minute at most (`--rate`).
    pub rate: Option<u32>,
}

impl Settings {
    fn builder(&self, state_dir: &Path) -> UploaderBuilder {
        let mut b = Uploader::builder().state_dir(state_dir);
        if let Some(c) = self.chunk_size {
            b = b.chunk_size(c);
        }
        if let Some(n) = self.parallel {
            b = b.parallel(n);
        }
        if let Some(t) = self.stall_timeout {
            b = b.stall_timeout((!t.is_zero()).then_some(t));
        }
        if let Some(d) = &self.retry_delays {
            let millis: Vec<u64> = d
                .iter()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .collect();
            b = b.retry(RetryPolicy::from_millis(&millis));
        }
        b
    }

    /// The Wix client: resume records in `state_dir`, REST calls paced with every process
    /// that uses it.
    fn client(&self, credentials: Credentials, state_dir: &Path) -> Result<WixClient, String> {
        let mut b = WixClient::builder(credentials)
            .uploader(self.builder(state_dir))
            .pace_dir(state_dir);
        if let Some(n) = self.rate {
            b = b.requests_per_minute(n);
        }
        b.build().map_err(|e| e.to_string())
    }
}

/// `$XDG_CACHE_HOME/wix-media-upload`, else `~/.cache/wix-media-upload`.
pub fn default_state_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("wix-media-upload")
}

/// A Wix client, made at once for real credentials, and on first use for the emulator.
pub struct Wix {
    kind: WixKind,
    settings: Settings,
}

enum WixKind {
    Remote(WixClient),
    Emulator {
        state_dir: PathBuf,
        started: OnceLock<Result<(Emulator, WixClient), String>>,
    },
}

impl std::fmt::Debug for Wix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wix").finish_non_exhaustive()
    }
}

/// The site the command works on: the built-in emulator (`None`) when `emulator`, else the
/// credentials in the environment; without them, what to set (a usage error).
pub fn choose(emulator: bool) -> Result<Option<Credentials>, String> {
    if emulator {
        return Ok(None);
    }
    match Credentials::from_env() {
        Ok(Some(c)) => Ok(Some(c)),
        Ok(None) => Err(format!(
            "{}: set WIX_API_KEY to an API key with the Media Manager permission and \
             WIX_SITE_ID to the site's id (or WIX_ACCOUNT_ID); to try the built-in emulator \
             instead, add --emulator",
            if std::env::var_os("WIX_API_BASE").is_some() {
                "WIX_API_BASE is set but no credentials are"
            } else {
                "no Wix credentials"
            }
        )),
        Err(Error::InvalidInput(text)) => Err(text),
        Err(other) => Err(other.to_string()),
    }
}

impl Wix {
    /// Builds the client for `credentials`, or prepares the emulator when `None`.
    pub fn new(
        credentials: Option<Credentials>,
        state_dir: &Path,
        settings: Settings,
    ) -> Result<Wix, String> {
        let kind = match credentials {
            Some(c) => WixKind::Remote(settings.client(c, state_dir)?),
            None => {
                // A state directory that can't be used is said now, not at the first file.
                settings
                    .builder(state_dir)
                    .build()
                    .map_err(|e| e.to_string())?;
                WixKind::Emulator {
                    state_dir: state_dir.to_owned(),
                    started: OnceLock::new(),
                }
            }
        };
        Ok(Wix { kind, settings })
    }

    /// What the manifest calls this target (never the key).
    pub fn identity(&self) -> Value {
        match &self.kind {
            WixKind::Remote(c) => {
                let creds = c.credentials();
                let (scope, id) = match creds.scope() {
                    Scope::Site(id) => ("site", id.as_str()),
                    Scope::Account(id) => ("account", id.as_str()),
                    _ => ("other", ""),
                };
                json!({"kind": "wix", "apiBase": creds.api_base(), scope: id})
            }
            WixKind::Emulator { .. } => json!({"kind": "emulator"}),
        }
    }

    /// The client, starting the emulator on first use (and saying so with `announce`).
    pub fn client(&self, announce: &dyn Fn(&str)) -> Result<&WixClient, String> {
        match &self.kind {
            WixKind::Remote(c) => Ok(c),
            WixKind::Emulator { state_dir, started } => started
                .get_or_init(|| {
                    let emulator = start_emulator(state_dir)?;
                    announce(&format!(
                        "using the built-in emulator at {} (its files are kept in {})",
                        emulator.base_url(),
                        state_dir.join("emulator").display()
                    ));
                    let creds = Credentials::site("emulator-key", "emulator-site")
                        .with_api_base(emulator.base_url());
                    let client = self.settings.client(creds, state_dir)?;
                    Ok((emulator, client))
                })
                .as_ref()
                .map(|(_, c)| c)
                .map_err(Clone::clone),
        }
    }

    /// The REST calls made so far (none when the emulator was never started).
    pub fn rest_calls(&self) -> RestCalls {
        match &self.kind {
            WixKind::Remote(c) => c.rest_calls(),
            WixKind::Emulator { started, .. } => match started.get() {
                Some(Ok((_, c))) => c.rest_calls(),
                _ => RestCalls::default(),
            },
        }
    }

    /// Whether the built-in emulator is (or would be) used.
    pub fn is_emulator(&self) -> bool {
        matches!(self.kind, WixKind::Emulator { .. })
    }
}

/// A plain tus target.
#[derive(Debug)]
pub struct Tus {
    pub endpoint: String,
    pub uploader: Uploader,
}

impl Tus {
    pub fn new(endpoint: String, state_dir: &Path, settings: &Settings) -> Result<Tus, String> {
        let uploader = settings
            .builder(state_dir)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Tus { endpoint, uploader })
    }

    pub fn identity(&self) -> Value {
        json!({"kind": "tus", "endpoint": self.endpoint})
    }
}

/// Starts the emulator on `<state_dir>/emulator`, on the port it had last time when that is
/// free: resume records hold upload URLs with that port, so a rerun finds its uploads.
pub fn start_emulator(state_dir: &Path) -> Result<Emulator, String> {
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
        .map_err(|e| format!("cannot start the built-in emulator: {e}"))?;
    let _ = std::fs::write(&port_file, emulator.addr().port().to_string());
    Ok(emulator)
}
