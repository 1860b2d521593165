//! What the handle, the connection threads and the import threads share.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Shutdown, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use crate::http::lock;
use crate::store::{Concat, Store, UploadRecord};
use crate::wix::access::RateLimiter;
use crate::wix::download::Grant;
use crate::{EmulatorConfig, TUS_PATH, UploadInfo};

/// A failure injected by the fault switch.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fault {
    Status(u16),
    Drop,
}

/// Background imports, so a stop can cut and join them.
#[derive(Default)]
pub(crate) struct Imports {
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    /// Clones of the sockets of fetches in progress.
    pub(crate) sockets: Mutex<HashMap<u64, TcpStream>>,
    pub(crate) next: AtomicU64,
    pub(crate) stopping: AtomicBool,
}

/// State shared by the handle, the connection threads and the import threads.
pub(crate) struct State {
    pub(crate) config: EmulatorConfig,
    pub(crate) base_url: String,
    pub(crate) store: Store,
    pub(crate) faults: Mutex<VecDeque<Fault>>,
    pub(crate) cut_body_after: Mutex<Option<u64>>,
    pub(crate) counts: Mutex<BTreeMap<String, u64>>,
    pub(crate) route_counts: Mutex<BTreeMap<String, u64>>,
    /// REST calls refused by the rate limit, per route key.
    pub(crate) refused_counts: Mutex<BTreeMap<String, u64>>,
    /// The REST calls the rate limit let through lately.
    pub(crate) rate: Mutex<RateLimiter>,
    /// Download URLs issued, by token.
    pub(crate) downloads: Mutex<HashMap<String, Grant>>,
    pub(crate) imports: Imports,
}

impl State {
    pub(crate) fn upload_url(&self, id: &str) -> String {
        format!("{}{}/{}", self.base_url, TUS_PATH, id)
    }

    pub(crate) fn info(&self, rec: &UploadRecord) -> UploadInfo {
        UploadInfo {
            id: rec.id.clone(),
            url: self.upload_url(&rec.id),
            offset: rec.offset,
            length: rec.length,
            metadata: rec
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                .collect(),
            token: rec.token.clone(),
            is_partial: rec.concat == Concat::Partial,
            is_final: matches!(rec.concat, Concat::Final(_)),
            path: self.store.data_path(&rec.id),
        }
    }

    /// Takes the one-shot "cut the next body" switch.
    pub(crate) fn take_cut(&self) -> Option<u64> {
        lock(&self.cut_body_after).take()
    }

    /// Cuts running imports and joins their threads.
    pub(crate) fn stop_imports(&self) {
        self.imports.stopping.store(true, Ordering::SeqCst);
        for s in lock(&self.imports.sockets).values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.imports.threads));
        for t in threads {
            let _ = t.join();
        }
    }
}
