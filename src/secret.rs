//! A string that never shows up in logs: upload tokens and API keys.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret string (upload token, API key). `Debug` and `Display` print `***`.
///
/// Serializes transparently as a plain JSON string, so it can be stored in
/// state files and parsed from Wix responses.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself; only pass it where it is really needed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "eyJhbGciOiJIUzI1NiJ9.super-secret-token";

    #[test]
    fn debug_and_display_hide_value() {
        let s = Secret::new(VALUE);
        let debug = format!("{s:?}");
        let pretty = format!("{s:#?}");
        let display = format!("{s}");
        for out in [&debug, &pretty, &display] {
            assert!(!out.contains(VALUE), "{out}");
            assert!(!out.contains("secret-token"), "{out}");
            assert!(out.contains("***"), "{out}");
        }
        assert_eq!(display, "***");
    }

    #[test]
    fn debug_of_containing_struct_hides_value() {
        #[derive(Debug)]
        struct Holder {
            token: Secret,
        }
        let holder = Holder {
            token: Secret::new(VALUE),
        };
        let out = format!("{holder:?}");
        assert!(!out.contains(VALUE), "{out}");
        assert_eq!(holder.token.expose(), VALUE);
    }

    #[test]
    fn expose_and_eq() {
        let s = Secret::new(String::from(VALUE));
        assert_eq!(s.expose(), VALUE);
        assert_eq!(s.clone(), s);
        assert_ne!(s, Secret::new("other"));
    }

    #[test]
    fn serde_is_transparent() {
        let s = Secret::new(VALUE);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, format!("\"{VALUE}\""));
        let back: Secret = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<Secret>("42").is_err());
    }
}
