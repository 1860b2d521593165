//! Serde types for the Wix Media Manager JSON bodies (exact Wix field names).
//!
//! Requests are built with constructors and builder methods
//! ([`GenerateUploadUrlRequest::new`], [`ImportFileRequest::new`], ...); the optional fields
//! every route that creates a file shares live in [`FileOptions`].
//!
//! Responses are read leniently, since what Wix sends varies between routes and over time:
//! unknown fields are ignored; unknown enum values are kept (`Unrecognized`); numbers may come
//! as strings and strings of digits as numbers; a list may be `null`; the descriptor's id may
//! be `id` or `_id`; a member of an unexpected shape is dropped rather than failing the body;
//! and `media` is kept as the JSON Wix sent, read by a few lenient accessors.

mod file;
mod lenient;
mod request;
mod wire_enum;

pub use file::FileDescriptor;
pub(crate) use file::{FileDescriptorEnvelope, GetFilesResponse};
pub use request::{FileOptions, GenerateUploadUrlRequest, ImportFileRequest};
pub(crate) use request::{GenerateSimpleUploadUrlResponse, GenerateUploadUrlResponse};

use wire_enum::wire_enum;

wire_enum! {
    /// Upload protocol of a resumable upload URL.
    UploadProtocol {
        /// tus 1.0, the only protocol Wix offers.
        Tus => "TUS",
    }
}

wire_enum! {
    /// Kind of media a file holds (`mediaType`).
    MediaType {
        /// `UNKNOWN`.
        Unknown => "UNKNOWN",
        /// `IMAGE`.
        Image => "IMAGE",
        /// `VIDEO`.
        Video => "VIDEO",
        /// `AUDIO`.
        Audio => "AUDIO",
        /// `DOCUMENT`.
        Document => "DOCUMENT",
        /// `VECTOR`.
        Vector => "VECTOR",
        /// `ARCHIVE`.
        Archive => "ARCHIVE",
        /// `MODEL3D`.
        Model3d => "MODEL3D",
        /// `OTHER`.
        Other => "OTHER",
    }
}

wire_enum! {
    /// Processing status of a file (`operationStatus`).
    OperationStatus {
        /// `FAILED`: Wix could not process the file.
        Failed => "FAILED",
        /// `READY`: the file is processed and usable.
        Ready => "READY",
        /// `PENDING`: still processing.
        Pending => "PENDING",
    }
}

wire_enum! {
    /// Lifecycle state of a file (`state`).
    FileState {
        /// `OK`.
        Ok => "OK",
        /// `DELETED`: in the trash bin.
        Deleted => "DELETED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_enum_values() {
        let all = [
            ("UNKNOWN", MediaType::Unknown),
            ("IMAGE", MediaType::Image),
            ("VIDEO", MediaType::Video),
            ("AUDIO", MediaType::Audio),
            ("DOCUMENT", MediaType::Document),
            ("VECTOR", MediaType::Vector),
            ("ARCHIVE", MediaType::Archive),
            ("MODEL3D", MediaType::Model3d),
            ("OTHER", MediaType::Other),
        ];
        for (wire, value) in all {
            assert_eq!(
                serde_json::from_value::<MediaType>(json!(wire)).unwrap(),
                value
            );
            assert_eq!(serde_json::to_value(&value).unwrap(), json!(wire));
            assert_eq!(value.to_string(), wire);
        }
        for (wire, value) in [
            ("FAILED", OperationStatus::Failed),
            ("READY", OperationStatus::Ready),
            ("PENDING", OperationStatus::Pending),
        ] {
            assert_eq!(
                serde_json::from_value::<OperationStatus>(json!(wire)).unwrap(),
                value
            );
            assert_eq!(value.as_str(), wire);
        }
        for (wire, value) in [("OK", FileState::Ok), ("DELETED", FileState::Deleted)] {
            assert_eq!(
                serde_json::from_value::<FileState>(json!(wire)).unwrap(),
                value
            );
            assert_eq!(value.as_str(), wire);
        }
        assert_eq!(UploadProtocol::from("TUS"), UploadProtocol::Tus);
        // Case matters: lower case is not the same value, but still parses.
        assert_eq!(
            MediaType::from("image"),
            MediaType::Unrecognized("image".into())
        );
        // Protobuf's JSON mapping allows enum numbers: kept, not understood.
        assert_eq!(
            serde_json::from_value::<MediaType>(json!(3)).unwrap(),
            MediaType::Unrecognized("3".into())
        );
        for bad in [json!(null), json!([]), json!({})] {
            assert!(serde_json::from_value::<MediaType>(bad).is_err());
        }
        // In a descriptor, null is no value.
        let f: FileDescriptor =
            serde_json::from_value(json!({"mediaType": null, "operationStatus": 2})).unwrap();
        assert_eq!(f.media_type, None);
        assert_eq!(
            f.operation_status,
            Some(OperationStatus::Unrecognized("2".into()))
        );
    }

    #[test]
    fn unknown_values_round_trip() {
        let v: MediaType = serde_json::from_value(json!("HOLOGRAM")).unwrap();
        assert_eq!(v, MediaType::Unrecognized("HOLOGRAM".into()));
        assert_eq!(v.as_str(), "HOLOGRAM");
        assert_eq!(serde_json::to_value(&v).unwrap(), json!("HOLOGRAM"));
        let v: OperationStatus = serde_json::from_str(r#""QUE\u0055ED""#).unwrap();
        assert_eq!(v, OperationStatus::Unrecognized("QUEUED".into()));
    }
}
