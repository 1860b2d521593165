//! The `Upload-Metadata` header.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::{Error, Result, Usage};

/// Key/value pairs sent as `Upload-Metadata` on creation.
///
/// Keys are checked (non-empty ASCII without spaces or commas); values are base64-encoded.
/// `Debug` shows the keys only: values may be secrets (Wix's `token`). Values added with
/// [`Metadata::with_secret`] are also masked wherever a driver logs a URL or an error.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pairs: Vec<(String, String)>,
    secret: Vec<String>,
}

impl Metadata {
    /// No metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `key`.
    ///
    /// # Errors
    ///
    /// [`Usage::BadMetadataKey`] for a key that is empty or has spaces, commas or non-ASCII.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Result<Self> {
        self.insert(key, value)?;
        Ok(self)
    }

    /// Adds (or replaces) `key` with a value that must never be shown (an upload token).
    ///
    /// # Errors
    ///
    /// [`Usage::BadMetadataKey`], as [`Metadata::with`].
    pub fn with_secret(mut self, key: &str, value: impl Into<String>) -> Result<Self> {
        self.insert(key, value)?;
        self.secret.push(key.to_owned());
        Ok(self)
    }

    /// Adds (or replaces) `key`.
    ///
    /// # Errors
    ///
    /// [`Usage::BadMetadataKey`], as [`Metadata::with`].
    pub fn insert(&mut self, key: &str, value: impl Into<String>) -> Result<()> {
        validate_key(key)?;
        let value = value.into();
        match self.pairs.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value,
            None => self.pairs.push((key.to_owned(), value)),
        }
        self.secret.retain(|k| k != key);
        Ok(())
    }

    /// Adds every pair of `other`, replacing keys present in both (secrets stay secret).
    pub fn merge(&mut self, other: &Metadata) {
        for (k, v) in &other.pairs {
            // Keys of a `Metadata` are valid already.
            if let Some(pair) = self.pairs.iter_mut().find(|(key, _)| key == k) {
                pair.1.clone_from(v);
            } else {
                self.pairs.push((k.clone(), v.clone()));
            }
            self.secret.retain(|s| s != k);
        }
        self.secret.extend(other.secret.iter().cloned());
    }

    /// Whether `key` holds a secret.
    pub fn is_secret(&self, key: &str) -> bool {
        self.secret.iter().any(|k| k == key)
    }

    /// The secret values, for masking.
    pub fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(|(k, _)| self.is_secret(k))
            .map(|(_, v)| v.as_str())
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The header value: `key base64(value)` pairs joined by commas (an empty value is sent bare).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            if !v.is_empty() {
                out.push(' ');
                out.push_str(&STANDARD.encode(v));
            }
        }
        out
    }
}

fn validate_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b',' && b != b' ');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(Usage::BadMetadataKey(super::error::excerpt(
            key,
        ))))
    }
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.pairs.iter().map(|(k, _)| k))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(pairs: &[(&str, &str)]) -> Metadata {
        pairs
            .iter()
            .fold(Metadata::new(), |m, &(k, v)| m.with(k, v).unwrap())
    }

    #[test]
    fn encodes_values_in_base64_in_order() {
        let m = pairs(&[
            ("filename", "world_domination_plan.pdf"),
            ("is_confidential", ""),
        ]);
        assert_eq!(
            m.encode(),
            "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential"
        );
    }

    #[test]
    fn unicode_and_separators_in_values_survive() {
        let m = Metadata::new().with("filename", "a b,&?/ü.txt").unwrap();
        let enc = m.encode();
        let value = enc.strip_prefix("filename ").unwrap();
        assert_eq!(STANDARD.decode(value).unwrap(), "a b,&?/ü.txt".as_bytes());
    }

    #[test]
    fn bad_keys_are_refused() {
        for key in ["", "a b", "a,b", "ü", "a\n"] {
            assert!(
                matches!(
                    Metadata::new().with(key, "v"),
                    Err(Error::Usage(Usage::BadMetadataKey(_)))
                ),
                "{key:?}"
            );
        }
    }

    #[test]
    fn insert_replaces() {
        let m = pairs(&[("k", "1"), ("k", "2")]);
        assert_eq!(m.get("k"), Some("2"));
        assert_eq!(m.iter().count(), 1);
    }

    #[test]
    fn secrets_are_known_and_merge_keeps_them() {
        let mut m = Metadata::new()
            .with("filename", "a")
            .unwrap()
            .with_secret("token", "T")
            .unwrap();
        assert!(m.is_secret("token") && !m.is_secret("filename"));
        assert_eq!(m.secret_values().collect::<Vec<_>>(), ["T"]);
        let caller = Metadata::new().with("filename", "b").unwrap();
        m.merge(&caller);
        assert_eq!((m.get("filename"), m.get("token")), (Some("b"), Some("T")));
        // A plain insert over a secret makes it plain.
        m.insert("token", "U").unwrap();
        assert_eq!(m.secret_values().count(), 0);
    }

    #[test]
    fn debug_hides_values() {
        let m = Metadata::new().with("token", "SECRET-TOKEN").unwrap();
        let dbg = format!("{m:?}");
        assert!(dbg.contains("token") && !dbg.contains("SECRET"), "{dbg}");
    }
}
