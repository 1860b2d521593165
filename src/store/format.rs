//! The serde form of a [`Record`]: the state file's format, by version.
//!
//! - Format 1 (up to 0.1.0): no `version`; `created_at` and `expires_at` in seconds since the
//!   Unix epoch, `completed_at` in milliseconds.
//! - Format 2: `"version": 2`; every time in milliseconds since the Unix epoch, named `*_ms`.
//!
//! Written: always the current format. Read: format 1 and the current one; a newer format is
//! an error that says so (never misread, never taken for a damaged file).
//!
//! Added to format 2 since (absent: unknown): `acked_md5` (`{offset, md5}`: the MD5, 32 hex
//! digits, of the upload's first `offset` bytes), `source_stamp` (the source file's identity
//! and change time) and `intent` (what the Wix client is creating, opaque here).
//!
//! To add to format 2 a field that a reader can do without (a digest of the acknowledged
//! bytes, say): `#[serde(default)]`, and its absence means "unknown" (an older reader ignores
//! it, and drops it when it saves the record again). A change an older reader would misread (a
//! unit, a meaning) is format 3: bump [`CURRENT`] and keep reading 2 as its own struct.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::Record;
use super::record::millis;
use crate::secret::Secret;

/// The format this version writes.
pub(crate) const CURRENT: u64 = 2;

/// The current format, as written.
#[derive(Serialize, Deserialize)]
pub(super) struct Current {
    version: u64,
    key: String,
    endpoint: String,
    upload_url: String,
    length: Option<u64>,
    offset: u64,
    created_at_ms: u64,
    expires_at_ms: Option<u64>,
    metadata: Vec<(String, Secret)>,
    secret_keys: Vec<String>,
    chunk_size: Option<u64>,
    completed_at_ms: Option<u64>,
    result: Option<serde_json::Value>,
    finished_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acked_md5: Option<AckedMd5>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_stamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    intent: Option<serde_json::Value>,
}

/// The digest of an upload's first `offset` bytes.
#[derive(Serialize, Deserialize)]
struct AckedMd5 {
    offset: u64,
    /// 32 lowercase hex digits.
    md5: String,
}

/// Format 1, as 0.1.0 wrote it.
#[derive(Deserialize)]
pub(super) struct V1 {
    key: String,
    endpoint: String,
    upload_url: String,
    length: Option<u64>,
    offset: u64,
    /// Seconds.
    created_at: u64,
    /// Seconds.
    expires_at: Option<u64>,
    metadata: Vec<(String, Secret)>,
    #[serde(default)]
    secret_keys: Vec<String>,
    chunk_size: Option<u64>,
    /// Milliseconds.
    completed_at: Option<u64>,
    result: Option<serde_json::Value>,
    finished_by: Option<String>,
}

/// A record of any format this version reads (told apart by `version`).
pub(super) enum Stored {
    V1(V1),
    Current(Current),
}

/// Only the version of a record (absent: format 1).
#[derive(Deserialize)]
struct Version {
    version: Option<u64>,
}

/// The format version `bytes` (a JSON record) claims, when it is newer than this one reads.
pub(crate) fn newer_version(bytes: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Version>(bytes)
        .ok()?
        .version
        .filter(|v| *v > CURRENT)
}

/// Why a record was refused.
#[derive(Debug)]
pub(super) enum FormatError {
    Newer(u64),
    Unknown(u64),
    Time(&'static str),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Newer(v) => write!(
                f,
                "the record is of format {v}, written by a newer version of wix-media-upload \
                 (this one reads formats 1 to {CURRENT})"
            ),
            FormatError::Unknown(v) => write!(f, "the record claims an unknown format {v}"),
            FormatError::Time(field) => write!(f, "the record's {field} is out of range"),
        }
    }
}

impl<'de> Deserialize<'de> for Stored {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        // Records are small: read once as a value, then as the format it claims.
        let value = serde_json::Value::deserialize(d)?;
        let version = match value.get("version") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| D::Error::custom("the record's version is not a number"))?,
            ),
        };
        let parsed = match version {
            None => serde_json::from_value(value).map(Stored::V1),
            Some(CURRENT) => serde_json::from_value(value).map(Stored::Current),
            Some(v) if v > CURRENT => return Err(D::Error::custom(FormatError::Newer(v))),
            Some(v) => return Err(D::Error::custom(FormatError::Unknown(v))),
        };
        parsed.map_err(D::Error::custom)
    }
}

impl TryFrom<Stored> for Record {
    type Error = FormatError;

    fn try_from(stored: Stored) -> Result<Self, FormatError> {
        match stored {
            Stored::V1(r) => Ok(Record {
                key: r.key,
                endpoint: r.endpoint,
                upload_url: r.upload_url,
                length: r.length,
                offset: r.offset,
                created_at: time(Duration::from_secs(r.created_at), "created_at")?,
                expires_at: opt_time(r.expires_at.map(Duration::from_secs), "expires_at")?,
                metadata: r.metadata,
                secret_keys: r.secret_keys,
                chunk_size: r.chunk_size,
                completed_at: opt_time(r.completed_at.map(Duration::from_millis), "completed_at")?,
                result: r.result,
                finished_by: r.finished_by,
                acked_md5: None,
                source_stamp: None,
                intent: None,
            }),
            Stored::Current(r) => Ok(Record {
                key: r.key,
                endpoint: r.endpoint,
                upload_url: r.upload_url,
                length: r.length,
                offset: r.offset,
                created_at: time(Duration::from_millis(r.created_at_ms), "created_at_ms")?,
                expires_at: opt_time(r.expires_at_ms.map(Duration::from_millis), "expires_at_ms")?,
                metadata: r.metadata,
                secret_keys: r.secret_keys,
                chunk_size: r.chunk_size,
                completed_at: opt_time(
                    r.completed_at_ms.map(Duration::from_millis),
                    "completed_at_ms",
                )?,
                result: r.result,
                finished_by: r.finished_by,
                // A digest that does not parse is no digest: the resume is checked as without.
                acked_md5: r
                    .acked_md5
                    .and_then(|a| Some((a.offset, crate::digest::parse_hex(&a.md5)?))),
                source_stamp: r.source_stamp,
                intent: r.intent,
            }),
        }
    }
}

impl From<Record> for Current {
    fn from(r: Record) -> Self {
        Current {
            version: CURRENT,
            key: r.key,
            endpoint: r.endpoint,
            upload_url: r.upload_url,
            length: r.length,
            offset: r.offset,
            created_at_ms: unix_ms(r.created_at),
            expires_at_ms: r.expires_at.map(unix_ms),
            metadata: r.metadata,
            secret_keys: r.secret_keys,
            chunk_size: r.chunk_size,
            completed_at_ms: r.completed_at.map(unix_ms),
            result: r.result,
            finished_by: r.finished_by,
            acked_md5: r.acked_md5.map(|(offset, d)| AckedMd5 {
                offset,
                md5: crate::digest::hex(&d),
            }),
            source_stamp: r.source_stamp,
            intent: r.intent,
        }
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, millis)
}

// A file can hold any number: one past what `SystemTime` holds is refused, not a panic.
fn time(since_epoch: Duration, field: &'static str) -> Result<SystemTime, FormatError> {
    SystemTime::UNIX_EPOCH
        .checked_add(since_epoch)
        .ok_or(FormatError::Time(field))
}

fn opt_time(
    since_epoch: Option<Duration>,
    field: &'static str,
) -> Result<Option<SystemTime>, FormatError> {
    since_epoch.map(|d| time(d, field)).transpose()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::{Value, json};

    use super::*;
    use wix_media_tus::Metadata;

    fn parse(v: Value) -> Result<Record, serde_json::Error> {
        serde_json::from_value(v)
    }

    fn v1() -> Value {
        json!({
            "key": "k", "endpoint": "http://h/files", "upload_url": "http://h/files/1",
            "length": 10, "offset": 4, "created_at": 1_700_000_000, "expires_at": 1_700_086_400,
            "metadata": [["filename", "a.bin"], ["token", "S3CRET"]], "secret_keys": ["token"],
            "chunk_size": 262_144, "completed_at": 1_700_000_123_456_u64, "result": {"x": 1},
            "finished_by": "w1"
        })
    }

    /// A state file of format 1 from tests/fixtures/state-v1/ (written by 0.1.0), read, and
    /// its current form.
    fn fixture(name: &str) -> (Record, Value) {
        let json = match name {
            "tus-interrupted" => include_str!("../../tests/fixtures/state-v1/tus-interrupted.json"),
            "tus-finished" => include_str!("../../tests/fixtures/state-v1/tus-finished.json"),
            "wix-interrupted" => include_str!("../../tests/fixtures/state-v1/wix-interrupted.json"),
            "wix-finished-simple" => {
                include_str!("../../tests/fixtures/state-v1/wix-finished-simple.json")
            }
            _ => include_str!("../../tests/fixtures/state-v1/wix-finished-resumable.json"),
        };
        let rec: Record = serde_json::from_str(json).expect(name);
        let now = serde_json::to_value(&rec).unwrap();
        assert_eq!(now["version"], CURRENT, "{now}");
        (rec, now)
    }

    fn metadata_value<'a>(rec: &'a Value, key: &str) -> Option<&'a str> {
        let pairs = rec["metadata"].as_array()?;
        pairs.iter().find(|pair| pair[0] == key)?[1].as_str()
    }

    #[test]
    fn the_files_of_0_1_0_load_with_their_times() {
        const MIB: u64 = 1024 * 1024;
        let ms = |secs: u64| secs * 1000;
        // An interrupted tus upload: seconds for creation and expiry.
        let (_, rec) = fixture("tus-interrupted");
        let endpoint = "http://127.0.0.1:35523/files";
        assert_eq!(rec["endpoint"], endpoint);
        let url = format!("{endpoint}/a1e0ef5708022285ad8ee9c567a24c83");
        assert_eq!(rec["upload_url"], url);
        assert_eq!(
            (&rec["length"], &rec["offset"]),
            (&json!(3 * MIB), &json!(MIB))
        );
        assert_eq!(rec["created_at_ms"], ms(1_796_285_291));
        assert_eq!(rec["expires_at_ms"], ms(4_949_885_291));
        assert_eq!(
            (&rec["completed_at_ms"], &rec["chunk_size"]),
            (&Value::Null, &Value::Null)
        );
        assert_eq!(metadata_value(&rec, "filename"), Some("movie.bin"));

        // The same upload finished: milliseconds for the completion.
        let (_, rec) = fixture("tus-finished");
        assert_eq!(rec["offset"], 3 * MIB);
        assert_eq!(rec["created_at_ms"], ms(1_796_285_291));
        assert_eq!(rec["completed_at_ms"], 1_796_285_291_632_u64);

        // A Wix upload: the token is in the metadata, secret, and not in Debug.
        let (loaded, rec) = fixture("wix-interrupted");
        let token = metadata_value(&rec, "token").expect("the token");
        assert!(token.starts_with("eyJ"), "{token}");
        assert_eq!(rec["secret_keys"], json!(["token"]));
        assert_eq!(rec["expires_at_ms"], ms(1_796_371_691));
        let shown = format!("{loaded:?} {loaded:#?}");
        assert!(!shown.contains(token), "{shown}");

        // The Wix client's finished jobs (created at 0: the epoch).
        for (name, done) in [
            ("wix-finished-simple", 1_796_285_291_667_u64),
            ("wix-finished-resumable", 1_796_285_291_752),
        ] {
            let (_, rec) = fixture(name);
            assert_eq!(rec["created_at_ms"], 0, "{name}");
            assert_eq!(rec["completed_at_ms"], done, "{name}");
            assert_eq!(rec["offset"], rec["length"], "{name}");
            assert!(rec["offset"].is_u64(), "{name}");
        }
    }

    #[test]
    fn format_1_times_are_seconds_and_the_completion_milliseconds() {
        let rec = parse(v1()).unwrap();
        let secs = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rec.created_at(), secs(1_700_000_000));
        assert_eq!(rec.expires_at(), Some(secs(1_700_086_400)));
        assert_eq!(
            rec.completed_at(),
            Some(UNIX_EPOCH + Duration::from_millis(1_700_000_123_456))
        );
        assert_eq!(
            (rec.offset(), rec.length(), rec.chunk_size()),
            (4, Some(10), Some(262_144))
        );
        let meta = rec.metadata().unwrap();
        assert_eq!(meta.get("token"), Some("S3CRET"));
        assert!(meta.is_secret("token") && !meta.is_secret("filename"));
        assert_eq!(rec.result(), Some(&json!({"x": 1})));
        assert_eq!(rec.finished_by(), Some("w1"));
        // `secret_keys` came late in format 1: absent, nothing is secret.
        let mut old = v1();
        old.as_object_mut().unwrap().remove("secret_keys");
        assert!(!parse(old).unwrap().metadata().unwrap().is_secret("token"));
    }

    #[test]
    fn the_current_format_is_written_with_its_version_and_read_back_equal() {
        let meta = Metadata::new().with_secret("token", "S3CRET").unwrap();
        let now = SystemTime::now();
        let rec = Record::new("k", "http://h/files", "http://h/files/1", Some(10))
            .with_offset(4)
            .with_created_at(now)
            .with_expires_at(Some(now + Duration::from_secs(60)))
            .with_metadata(&meta)
            .with_chunk_size(Some(1024))
            .with_acked_md5(Some((4, [0xab; 16])))
            .with_source_stamp(Some("unix:1:2:3.000000004".into()))
            .finished(now, "w", Some(json!({"x": 1})));
        let written = serde_json::to_value(&rec).unwrap();
        assert_eq!(written["version"], CURRENT);
        let ms = unix_ms(now);
        assert_eq!(written["created_at_ms"], ms);
        assert_eq!(written["expires_at_ms"], ms + 60_000);
        assert_eq!(written["completed_at_ms"], ms);
        assert!(written.get("created_at").is_none(), "{written}");
        assert_eq!(
            written["acked_md5"],
            json!({"offset": 4, "md5": "ab".repeat(16)})
        );
        assert_eq!(parse(written.clone()).unwrap(), rec);
        // Fields added to format 2 are left out when unknown, and read as unknown when absent
        // or unreadable.
        let mut bare = written;
        bare.as_object_mut().unwrap().remove("source_stamp");
        bare["acked_md5"]["md5"] = json!("not hex");
        let read = parse(bare.clone()).unwrap();
        assert_eq!((read.acked_md5(), read.source_stamp()), (None, None));
        let rewritten = serde_json::to_value(read).unwrap();
        assert!(rewritten.get("acked_md5").is_none() && rewritten.get("intent").is_none());
        // An old record is written anew in the current format, with the same times.
        let upgraded = serde_json::to_value(parse(v1()).unwrap()).unwrap();
        assert_eq!(upgraded["version"], CURRENT);
        assert_eq!(upgraded["created_at_ms"], 1_700_000_000_000_u64);
        assert_eq!(parse(upgraded).unwrap(), parse(v1()).unwrap());
    }

    #[test]
    fn newer_or_unknown_formats_are_refused_with_a_reason() {
        let mut newer = serde_json::to_value(parse(v1()).unwrap()).unwrap();
        newer["version"] = json!(3);
        let bytes = serde_json::to_vec(&newer).unwrap();
        let err = serde_json::from_slice::<Record>(&bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("format 3") && err.contains("newer"), "{err}");
        assert_eq!(newer_version(&bytes), Some(3));
        for (version, says) in [(json!(0), "unknown format 0"), (json!("2"), "not a number")] {
            newer["version"] = version;
            let err = parse(newer.clone()).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
        assert_eq!(newer_version(b"{\"version\": 2}"), None);
        assert_eq!(newer_version(b"not json"), None);
    }

    #[test]
    fn times_past_what_the_clock_holds_are_refused_not_a_panic() {
        let mut far = v1();
        far["created_at"] = json!(u64::MAX);
        let err = parse(far).unwrap_err().to_string();
        assert!(err.contains("created_at"), "{err}");
    }
}
