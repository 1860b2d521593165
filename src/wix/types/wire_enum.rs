//! `wire_enum!`: a string enum that keeps values it does not know.

/// Defines a string enum with a fallback variant that keeps unknown values.
///
/// The enum gets `Display` (the wire value), `From<&str>`, a crate-private `as_str`, and serde impls that read any JSON string
/// (an unknown one becomes `Unrecognized`) and write the wire value back. A number or a boolean
/// (protobuf's JSON mapping allows enum numbers) is kept as `Unrecognized` with its JSON text;
/// a list, an object or null is an error.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this crate does not know yet, kept verbatim.
            Unrecognized(String),
        }

        impl $name {
            /// The value as sent on the wire (`Display` writes it).
            pub(crate) fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )*
                    $name::Unrecognized(raw) => raw,
                }
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                match raw {
                    $( $wire => $name::$variant, )*
                    other => $name::Unrecognized(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <::serde_json::Value as ::serde::Deserialize>::deserialize(deserializer)?;
                match $crate::wix::types::lenient::text(value) {
                    Some(raw) => Ok($name::from(raw.as_str())),
                    None => Err(<D::Error as ::serde::de::Error>::custom(
                        concat!("expected a string for ", stringify!($name)),
                    )),
                }
            }
        }
    };
}

pub(super) use wire_enum;
