//! Where files go: a tus server, Wix, or the built-in emulator (started only when a request
//! is needed). One client for the whole run: every job shares its connections.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use wix_media_emulator::{Emulator, EmulatorConfig};
use wix_media_upload::wix::{RestCalls, Scope, WixClient};
use wix_media_upload::{
    Credentials, DirStore, Error, Record, Result as LibResult, RetryPolicy, Source, StateStore,
    StoreLock, Uploader, UploaderBuilder,
};

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
    fn builder(&self, store: TrackingStore) -> UploaderBuilder {
        let mut b = Uploader::builder().state_store(store);
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

    /// The Wix client: the uploader on `store`, REST calls paced with every process that
    /// uses `state_dir` (the store is not a state directory the SDK would find by itself).
    fn client(
        &self,
        credentials: Credentials,
        store: TrackingStore,
        state_dir: &Path,
    ) -> Result<WixClient, String> {
        let mut b = WixClient::builder(credentials)
            .uploader(self.builder(store))
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

/// The library's resume records in the state directory, and which of them this process has
/// seen exist: after a failure that tells whether something is left to resume.
#[derive(Clone, Debug)]
pub struct TrackingStore {
    inner: Arc<DirStore>,
    live: Arc<Mutex<HashSet<String>>>,
}

impl TrackingStore {
    pub fn new(state_dir: &Path) -> LibResult<Self> {
        Ok(Self {
            inner: Arc::new(DirStore::new(state_dir)?),
            live: Arc::default(),
        })
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a resume record of `source` exists.
    pub fn has_record_for(&self, source: &Source) -> bool {
        self.live().iter().any(|k| source.owns_state_key(k))
    }

    /// Stops tracking the source's records (the job is over), so memory stays flat.
    pub fn untrack(&self, source: &Source) {
        self.live().retain(|k| !source.owns_state_key(k));
    }
}

impl StateStore for TrackingStore {
    fn load(&self, key: &str) -> LibResult<Option<Record>> {
        let found = self.inner.load(key)?;
        if found.is_some() {
            self.live().insert(key.to_owned());
        }
        Ok(found)
    }

    fn save(&self, record: &Record) -> LibResult<()> {
        self.inner.save(record)?;
        self.live().insert(record.key().to_owned());
        Ok(())
    }

    fn remove(&self, key: &str) -> LibResult<()> {
        self.inner.remove(key)?;
        self.live().remove(key);
        Ok(())
    }

    fn try_lock(&self, key: &str) -> LibResult<Option<StoreLock>> {
        self.inner.try_lock(key)
    }

    fn lock(&self, key: &str) -> LibResult<StoreLock> {
        self.inner.lock(key)
    }
}

/// A Wix client, made at once for real credentials, and on first use for the emulator.
pub struct Wix {
    kind: WixKind,
    store: TrackingStore,
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
        let store = TrackingStore::new(state_dir).map_err(|e| e.to_string())?;
        let kind = match credentials {
            Some(c) => WixKind::Remote(settings.client(c, store.clone(), state_dir)?),
            None => WixKind::Emulator {
                state_dir: state_dir.to_owned(),
                started: OnceLock::new(),
            },
        };
        Ok(Wix {
            kind,
            store,
            settings,
        })
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
                    let client = self.settings.client(creds, self.store.clone(), state_dir)?;
                    Ok((emulator, client))
                })
                .as_ref()
                .map(|(_, c)| c)
                .map_err(Clone::clone),
        }
    }

    pub fn store(&self) -> &TrackingStore {
        &self.store
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
    pub store: TrackingStore,
}

impl Tus {
    pub fn new(endpoint: String, state_dir: &Path, settings: &Settings) -> Result<Tus, String> {
        let store = TrackingStore::new(state_dir).map_err(|e| e.to_string())?;
        let uploader = settings
            .builder(store.clone())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Tus {
            endpoint,
            uploader,
            store,
        })
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
