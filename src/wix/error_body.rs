//! Wix error bodies: `{"message", "details": {"applicationError" | "validationError"}}`.
//!
//! The crate's [`Error`] keeps the start of an error answer's body as it came
//! ([`ErrorBody`](crate::ErrorBody)), naming nothing of Wix; this layer reads it as Wix's:
//! [`Error::wix`] parses it on demand, and the Wix calls give their errors Wix's summary
//! (message, code, rule names) and, for an HTML 401/403, a hint of the usual cause.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

/// One entry of `details.validationError.fieldViolations`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct FieldViolation {
    /// Offending field, e.g. `sizeInBytes`.
    pub field: Option<String>,
    /// Human-readable description.
    pub description: Option<String>,
    /// Generic rule that was violated.
    pub violated_rule: Option<String>,
    /// Wix rule name, e.g. `ZERO_FILE_SIZE`.
    pub rule_name: Option<String>,
    /// Extra data, as sent.
    pub data: Option<Value>,
}

/// A parsed Wix error body: [`Error::wix`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct WixError {
    /// Top-level `message` (may be empty).
    pub message: String,
    /// `details.applicationError.code`.
    pub code: Option<String>,
    /// `details.applicationError.description`.
    pub description: Option<String>,
    /// Distinct `ruleName`s of the field violations, in order.
    pub rule_names: Vec<String>,
    /// `details.validationError.fieldViolations`.
    pub field_violations: Vec<FieldViolation>,
}

impl WixError {
    /// Parses an error body; `None` when it is not a Wix error (empty, HTML, garbage, ...).
    ///
    /// A body counts as a Wix error when it is a JSON object with a string `message`
    /// or an object `details`. Never panics.
    pub(crate) fn parse(body: &[u8]) -> Option<WixError> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let root = value.as_object()?;
        let message = root.get("message").and_then(Value::as_str);
        let details = root.get("details").and_then(Value::as_object);
        if message.is_none() && details.is_none() {
            return None;
        }
        let mut error = WixError {
            message: message.unwrap_or_default().to_owned(),
            ..WixError::default()
        };
        let Some(details) = details else {
            return Some(error);
        };
        if let Some(app) = details.get("applicationError").and_then(Value::as_object) {
            error.code = text(app, "code");
            error.description = text(app, "description");
        }
        let violations = details
            .get("validationError")
            .and_then(|v| v.get("fieldViolations"))
            .and_then(Value::as_array);
        for violation in violations.into_iter().flatten() {
            let Some(obj) = violation.as_object() else {
                continue;
            };
            let parsed = FieldViolation {
                field: text(obj, "field"),
                description: text(obj, "description"),
                violated_rule: text(obj, "violatedRule"),
                rule_name: text(obj, "ruleName"),
                data: obj.get("data").filter(|d| !d.is_null()).cloned(),
            };
            if let Some(rule) = &parsed.rule_name
                && !error.rule_names.contains(rule)
            {
                error.rule_names.push(rule.clone());
            }
            error.field_violations.push(parsed);
        }
        Some(error)
    }

    /// Whether any field violation carries this `ruleName`.
    pub fn has_rule(&self, rule_name: &str) -> bool {
        self.rule_names.iter().any(|r| r == rule_name)
    }
}

/// A string member, or a number rendered as text; `None` otherwise.
fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl fmt::Display for WixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str("Wix error without message")?;
        } else {
            f.write_str(&self.message)?;
        }
        if let Some(code) = &self.code {
            write!(f, " [code {code}]")?;
        }
        if !self.rule_names.is_empty() {
            write!(f, " [rules {}]", self.rule_names.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for WixError {}

/// What a 401 or 403 that is not a Wix error body (Wix's HTML page) usually means.
const AUTH_HINT: &str =
    "check the API key, the site id, and that the key has the Media Manager permission";

impl Error {
    /// The Wix error body of an error answer, if it was one (looking through
    /// [`Error::GaveUp`]): message, `applicationError.code`, validation rule names.
    pub fn wix(&self) -> Option<WixError> {
        match self.last_attempt() {
            Error::Status { body: Some(b), .. } => WixError::parse(b.bytes()),
            _ => None,
        }
    }
}

/// Gives an error from a Wix call Wix's reading of its answer's body: the Wix error's summary,
/// or the hint for an HTML 401/403 (looking through [`Error::GaveUp`]).
pub(crate) fn read_wix(mut e: Error) -> Error {
    if let Error::Status {
        status,
        body: Some(body),
        ..
    } = e.last_attempt_mut()
    {
        match WixError::parse(body.bytes()) {
            Some(wix) => body.set_summary(wix.to_string()),
            None if matches!(status, 401 | 403) => body.set_hint(AUTH_HINT),
            None => {}
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn application_error() {
        let body = br#"{"message": "File not found", "details": {"applicationError": {
            "code": "FILE_NOT_FOUND", "description": "no such file", "data": {"id": "x"}}}}"#;
        let e = WixError::parse(body).unwrap();
        assert_eq!(e.message, "File not found");
        assert_eq!(e.code.as_deref(), Some("FILE_NOT_FOUND"));
        assert_eq!(e.description.as_deref(), Some("no such file"));
        assert!(e.rule_names.is_empty());
        assert!(e.field_violations.is_empty());
        assert_eq!(e.to_string(), "File not found [code FILE_NOT_FOUND]");
    }

    #[test]
    fn validation_error() {
        let body = json!({"message": "INVALID_ARGUMENT: file size is zero", "details": {
        "validationError": {"fieldViolations": [
            {"field": "sizeInBytes", "description": "must be positive",
             "violatedRule": "OTHER", "ruleName": "ZERO_FILE_SIZE", "data": {"min": 1}},
            {"field": "mimeType", "violatedRule": "FORMAT",
             "ruleName": "MISMATCH_MIME_TYPE"},
            {"field": "other", "ruleName": "ZERO_FILE_SIZE", "data": null},
            "not an object"
        ]}}})
        .to_string();
        let e = WixError::parse(body.as_bytes()).unwrap();
        assert_eq!(e.code, None);
        assert_eq!(e.rule_names, vec!["ZERO_FILE_SIZE", "MISMATCH_MIME_TYPE"]);
        assert!(e.has_rule("ZERO_FILE_SIZE"));
        assert!(!e.has_rule("FILE_SIZE_OVER_LIMIT"));
        assert_eq!(e.field_violations.len(), 3);
        assert_eq!(
            e.field_violations[0],
            FieldViolation {
                field: Some("sizeInBytes".into()),
                description: Some("must be positive".into()),
                violated_rule: Some("OTHER".into()),
                rule_name: Some("ZERO_FILE_SIZE".into()),
                data: Some(json!({"min": 1})),
            }
        );
        assert_eq!(e.field_violations[1].description, None);
        assert_eq!(e.field_violations[2].data, None);
        assert_eq!(
            e.to_string(),
            "INVALID_ARGUMENT: file size is zero [rules ZERO_FILE_SIZE, MISMATCH_MIME_TYPE]"
        );
    }

    #[test]
    fn both_details_kinds() {
        let body = br#"{"message":"m","details":{"applicationError":{"code":"C"},
            "validationError":{"fieldViolations":[{"ruleName":"R"}]}}}"#;
        let e = WixError::parse(body).unwrap();
        assert_eq!(e.to_string(), "m [code C] [rules R]");
    }

    #[test]
    fn empty_details() {
        let e = WixError::parse(br#"{"message":"","details":{}}"#).unwrap();
        assert_eq!(e, WixError::default());
        assert_eq!(e.to_string(), "Wix error without message");
        let e = WixError::parse(br#"{"message":"Internal"}"#).unwrap();
        assert_eq!(e.message, "Internal");
        let e = WixError::parse(br#"{"details":{"applicationError":{"code":503}}}"#).unwrap();
        assert_eq!(e.code.as_deref(), Some("503"));
    }

    #[test]
    fn odd_shapes_do_not_fail() {
        let e = WixError::parse(
            br#"{"message":"m","details":{"applicationError":"x","validationError":{"fieldViolations":{}}}}"#,
        )
        .unwrap();
        assert_eq!(e.message, "m");
        assert_eq!(e.code, None);
        assert!(e.field_violations.is_empty());
        let e = WixError::parse(br#"{"message":"m","details":null}"#).unwrap();
        assert_eq!(e.message, "m");
    }

    #[test]
    fn not_wix_errors() {
        let cases: [&[u8]; 12] = [
            b"",
            b"   ",
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            b"\xff\xfe\x00garbage\x80",
            b"null",
            b"42",
            b"\"message\"",
            b"[]",
            b"{}",
            br#"{"message": 5}"#,
            br#"{"error": "nope"}"#,
            br#"{"message": "truncated"#,
        ];
        for body in cases {
            assert_eq!(
                WixError::parse(body),
                None,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn every_prefix_is_safe() {
        let body = br#"{"message":"x","details":{"validationError":{"fieldViolations":[{"ruleName":"ZERO_FILE_SIZE"}]}}}"#;
        for end in 0..=body.len() {
            let _ = WixError::parse(&body[..end]);
        }
        assert!(WixError::parse(body).is_some());
    }

    #[test]
    fn wix_calls_read_their_error_bodies() {
        use crate::error::{ErrorBody, FailedRequest};
        let status = |status, body: &[u8]| Error::Status {
            status,
            retry_after: None,
            request: Box::new(FailedRequest::new(
                wix_media_tus::Method::Post,
                "http://h/x",
            )),
            body: ErrorBody::new(body).map(Box::new),
        };
        // The hint of the body behind the error (looking through `GaveUp`).
        let hint = |e: &Error| match e.last_attempt() {
            Error::Status { body, .. } => body.as_ref().and_then(|b| b.hint()).map(str::to_owned),
            _ => panic!("{e:?}"),
        };
        let wix = br#"{"message":"m","details":{"applicationError":{"code":"C"}}}"#;
        let e = read_wix(Error::GaveUp {
            attempts: 2,
            last: Box::new(status(400, wix)),
        });
        assert!(e.to_string().ends_with("HTTP 400: m [code C]"), "{e}");
        assert_eq!(e.wix().and_then(|w| w.code).as_deref(), Some("C"));
        assert_eq!(hint(&e), None);
        let page = read_wix(status(403, b"<html><body>Forbidden</body></html>"));
        assert!(page.wix().is_none());
        assert_eq!(hint(&page).as_deref(), Some(AUTH_HINT));
        assert!(
            page.to_string()
                .contains("\"Forbidden\" (check the API key"),
            "{page}"
        );
        let other = read_wix(status(500, b"<html><body>Oops</body></html>"));
        assert_eq!(hint(&other), None);
        // Without the Wix reading, the JSON message alone.
        assert!(status(400, wix).to_string().ends_with("HTTP 400: m"));
    }

    #[test]
    fn html_pages_are_no_wix_errors() {
        let page = crate::excerpt::tests::WIX_403_PAGE.as_bytes();
        assert_eq!(WixError::parse(page), None);
    }

    #[test]
    fn field_violation_serde() {
        let v = FieldViolation {
            field: Some("f".into()),
            rule_name: Some("R".into()),
            ..FieldViolation::default()
        };
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json, json!({"field": "f", "ruleName": "R"}));
        assert_eq!(serde_json::from_value::<FieldViolation>(json).unwrap(), v);
    }
}
