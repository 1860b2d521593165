//! The pace shared across processes: one small file per site in the state directory, read and
//! written under its lock (flock) for each turn and each answer.
//!
//! The file holds the [`Pace`]: recent send times, the quota learned, a refusal's guesses. It
//! is named from the API base and the site (or account) id, never the key. A damaged or
//! unknown file is started over: it only ever costs a refusal or two.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Pace;

/// The format written; another one is started over.
const VERSION: u32 = 1;

/// The shared pace of one site.
#[derive(Debug)]
pub(crate) struct PaceFile {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    pace: Pace,
}

impl PaceFile {
    /// The file for the site `site` (API base and scope) in `dir`, created private if missing.
    ///
    /// # Errors
    ///
    /// The I/O error when `dir` can't be created.
    pub(crate) fn new(dir: &Path, site: &str) -> io::Result<Self> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
        let path = dir.join(format!("{:016x}.pace", fnv1a(site.as_bytes())));
        Ok(Self { path })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Locks the file and reads the shared pace from it; `fresh` is the pace to start from,
    /// and this process's own settings, kept over what is read. Held until saved or dropped.
    ///
    /// # Errors
    ///
    /// The I/O error when the file can't be opened, locked or read.
    pub(crate) fn lock(&self, fresh: &Pace) -> io::Result<Locked> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut file = opts.open(&self.path)?;
        file.lock()?;
        let pace =
            read(&mut file)?.map_or_else(|| fresh.clone(), |p| p.with_ceiling(fresh.ceiling));
        Ok(Locked { file, pace })
    }
}

/// The shared pace, its file locked.
pub(crate) struct Locked {
    file: File,
    pub(crate) pace: Pace,
}

impl Locked {
    /// Writes the pace back, and unlocks.
    ///
    /// # Errors
    ///
    /// The I/O error when the file can't be written.
    pub(crate) fn save(mut self) -> io::Result<()> {
        write(&mut self.file, &self.pace)
    }
}

fn read(file: &mut File) -> io::Result<Option<Pace>> {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    match serde_json::from_slice::<Stored>(&bytes) {
        Ok(s) if s.version == VERSION => Ok(Some(s.pace)),
        _ => {
            log::debug!("starting the shared pace over: its file is damaged or of another version");
            Ok(None)
        }
    }
}

fn write(file: &mut File, pace: &Pace) -> io::Result<()> {
    let json = serde_json::to_vec(&Stored {
        version: VERSION,
        pace: pace.clone(),
    })
    .map_err(io::Error::other)?;
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(&json)
}

// FNV-1a: a stable name for the site, whatever the Rust version.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Ascending times as their first value then the steps between them: a few digits each.
pub(crate) mod deltas {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(times: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let mut sorted = times.to_vec();
        sorted.sort_unstable();
        let mut last = 0;
        let steps: Vec<u64> = sorted
            .iter()
            .map(|t| {
                let step = t - last;
                last = *t;
                step
            })
            .collect();
        steps.serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let steps = Vec::<u64>::deserialize(d)?;
        let mut last = 0u64;
        Ok(steps
            .into_iter()
            .map(|step| {
                last = last.saturating_add(step);
                last
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wix::pace::{Answer, Quota, Turn, at};

    const T0: u64 = 1_800_000_000_000;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let d = std::env::temp_dir().join(format!("wmu-pace-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            Self(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    // One call through the file at `t` ms, answered as `a`.
    fn call(f: &PaceFile, fresh: &Pace, t: u64, a: Answer) -> bool {
        let mut shared = f.lock(fresh).unwrap();
        let turn = shared.pace.turn(at(T0 + t));
        shared.save().unwrap();
        let Turn::Go(ticket) = turn else {
            return false;
        };
        let mut shared = f.lock(fresh).unwrap();
        shared.pace.answered(ticket, a, at(T0 + t + 5));
        shared.save().unwrap();
        true
    }

    #[test]
    fn two_handles_on_one_site_share_the_pace_and_others_do_not() {
        let dir = Dir::new("share");
        let site = "https://www.wixapis.com\nSite(\"s\")";
        let a = PaceFile::new(&dir.0, site).unwrap();
        let b = PaceFile::new(&dir.0, site).unwrap();
        let other = PaceFile::new(&dir.0, "https://www.wixapis.com\nSite(\"t\")").unwrap();
        assert_eq!(a.path(), b.path());
        assert_ne!(a.path(), other.path());
        // Each process knows its own quota: 4 a minute for both.
        let fresh = Pace::new(Some(Quota::per_minute(4)));
        assert!(call(&a, &fresh, 0, Answer::Counted));
        assert!(call(&b, &fresh, 1, Answer::Counted));
        assert!(call(&a, &fresh, 2, Answer::Counted));
        assert!(call(&b, &fresh, 3, Answer::Counted));
        // Together they used the 4: neither may go, the other site may.
        assert!(!call(&a, &fresh, 4, Answer::Counted));
        assert!(!call(&b, &fresh, 5, Answer::Counted));
        assert!(call(&other, &fresh, 6, Answer::Counted));
        assert!(call(
            &b,
            &fresh,
            Quota::per_minute(4).window + 1,
            Answer::Counted
        ));
    }

    #[test]
    fn the_file_is_private_small_and_names_no_key() {
        let dir = Dir::new("small");
        let f =
            PaceFile::new(&dir.0.join("state"), "https://www.wixapis.com\nSite(\"s\")").unwrap();
        let fresh = Pace::new(None);
        for i in 0..1500 {
            call(&f, &fresh, i * 3, Answer::Counted);
        }
        let meta = std::fs::metadata(f.path()).unwrap();
        assert!(meta.len() < 8 * 1024, "{} bytes", meta.len());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
            let d = std::fs::metadata(dir.0.join("state")).unwrap();
            assert_eq!(d.permissions().mode() & 0o777, 0o700);
        }
        let name = f.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.ends_with(".pace") && !name.contains("wixapis"),
            "{name}"
        );
    }

    #[test]
    fn a_damaged_or_newer_file_is_started_over() {
        let dir = Dir::new("damaged");
        let f = PaceFile::new(&dir.0, "site").unwrap();
        let fresh = Pace::new(Some(Quota::per_minute(1)));
        for junk in [&b"{not json"[..], br#"{"version": 99, "pace": {}}"#] {
            std::fs::write(f.path(), junk).unwrap();
            assert!(call(&f, &fresh, 0, Answer::Counted));
            assert!(!call(&f, &fresh, 1, Answer::Counted));
        }
    }

    #[test]
    fn times_are_stored_as_steps() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Times(#[serde(with = "deltas")] Vec<u64>);
        let times = Times(vec![T0, T0 + 3, T0 + 3, T0 + 250]);
        let json = serde_json::to_string(&times).unwrap();
        assert_eq!(json, format!("[{T0},3,0,247]"));
        assert_eq!(serde_json::from_str::<Times>(&json).unwrap(), times);
    }
}
