//! Lenient serde helpers for what Wix sends.
//!
//! Wix encodes int64 values as strings and other numbers as numbers, but clients see both forms
//! for the same field; lists may come as `null`; and a member of an unexpected shape must not
//! make a whole descriptor unreadable (it is dropped instead). Each helper reads the value as
//! JSON first, then interprets it, and never fails on a well-formed JSON value.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A non-negative integer: a JSON number with no fraction, or a string of decimal digits
/// (surrounding whitespace allowed). `None` for anything else, or past `u64::MAX`.
pub(crate) fn uint(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            // 2^64: the first float past u64::MAX.
            const LIMIT: f64 = 18_446_744_073_709_551_616.0;
            let f = n.as_f64()?;
            // The cast is exact: `f` is integral and in range.
            ((0.0..LIMIT).contains(&f) && f.fract() == 0.0).then_some(f as u64)
        }),
        Value::String(s) => {
            let digits = s.trim();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok()
        }
        _ => None,
    }
}

/// `Option<u64>` written as a string of decimal digits (Wix's int64 encoding), read with
/// [`uint`]: a number or a string, `None` when null, missing or not a non-negative integer.
pub(crate) mod string_u64 {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::Value;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<u64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(n) => serializer.collect_str(n),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        Ok(super::uint(&Value::deserialize(deserializer)?))
    }
}

/// A `T` read from a JSON object, or `None` for anything else (null, a string, a list, ...)
/// and for an object that is not a valid `T`.
///
/// Serde would otherwise also read a struct from a list, field by field in order.
pub(crate) fn object_or_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(deserializer)? {
        value @ Value::Object(_) => Ok(T::deserialize(value).ok()),
        _ => Ok(None),
    }
}

/// A list of `T`: null or a non-list reads as empty, and items that are not a valid `T` are
/// skipped.
pub(crate) fn seq<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(deserializer)? {
        Value::Array(items) => Ok(items
            .into_iter()
            .filter_map(|item| T::deserialize(item).ok())
            .collect()),
        _ => Ok(Vec::new()),
    }
}

/// A `T`, with null read as `T::default()`.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A string; a number or a boolean is kept as its JSON text, anything else is `None`.
pub(crate) fn text(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uint_accepts_numbers_and_digit_strings() {
        for (value, expected) in [
            (json!(0), Some(0)),
            (json!(15359), Some(15359)),
            (json!("15359"), Some(15359)),
            (json!(" 7 "), Some(7)),
            (json!(226.0), Some(226)),
            (json!(1e3), Some(1000)),
            (json!("18446744073709551615"), Some(u64::MAX)),
            (json!(u64::MAX), Some(u64::MAX)),
            (json!("18446744073709551616"), None),
            (json!(18446744073709551616.0), None),
            (json!(1e300), None),
            (json!(-1), None),
            (json!(-1.0), None),
            (json!(1.5), None),
            (json!("-1"), None),
            (json!("+1"), None),
            (json!("1.5"), None),
            (json!("1e3"), None),
            (json!(""), None),
            (json!("abc"), None),
            (json!(null), None),
            (json!(true), None),
            (json!([1]), None),
            (json!({"n": 1}), None),
        ] {
            assert_eq!(uint(&value), expected, "{value}");
        }
    }

    #[test]
    fn text_of_scalars() {
        assert_eq!(text(json!("a")), Some("a".into()));
        assert_eq!(text(json!(12)), Some("12".into()));
        assert_eq!(text(json!(true)), Some("true".into()));
        assert_eq!(text(json!(null)), None);
        assert_eq!(text(json!(["a"])), None);
    }

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(default)]
    struct Probe {
        #[serde(deserialize_with = "object_or_none")]
        one: Option<std::collections::BTreeMap<String, u8>>,
        #[serde(deserialize_with = "seq")]
        many: Vec<u8>,
        #[serde(deserialize_with = "null_as_default")]
        strict: Vec<u8>,
    }

    #[test]
    fn helpers_in_a_struct() {
        let p: Probe = serde_json::from_value(json!({
            "one": [1], "many": [1, "2", 3, 300, null], "strict": null
        }))
        .unwrap();
        assert_eq!(p, Probe::default().with_many(vec![1, 3]));
        let p: Probe = serde_json::from_value(json!({
            "one": {"a": 4}, "many": {"a": 1}, "strict": [5]
        }))
        .unwrap();
        assert_eq!(
            p,
            Probe {
                one: Some([("a".to_owned(), 4)].into()),
                many: vec![],
                strict: vec![5],
            }
        );
        // An object that is not a valid map of bytes: none.
        let p: Probe = serde_json::from_value(json!({"one": {"a": "x"}})).unwrap();
        assert_eq!(p.one, None);
        // The strict list still rejects a bad item.
        assert!(serde_json::from_value::<Probe>(json!({"strict": ["x"]})).is_err());
    }

    impl Probe {
        fn with_many(mut self, many: Vec<u8>) -> Self {
            self.many = many;
            self
        }
    }
}
