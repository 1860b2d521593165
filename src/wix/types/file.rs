//! The file descriptor Wix answers with, its `media` details, and the envelopes around it.

use serde::{Deserialize, Deserializer, Serialize, de};
use serde_json::{Map, Value};

use super::lenient;
use super::{FileState, MediaType, OperationStatus};

/// `{"file": FileDescriptor}`: the answer of finalize, the simple upload, import and
/// get-file-by-id.
///
/// Public for callers that make these calls themselves; the crate's own calls return the
/// [`FileDescriptor`] inside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub(crate) struct FileDescriptorEnvelope {
    /// The file.
    pub file: FileDescriptor,
}

impl FileDescriptorEnvelope {
    /// Wraps a descriptor.
    #[cfg(test)]
    pub fn new(file: FileDescriptor) -> Self {
        FileDescriptorEnvelope { file }
    }
}

/// `{"files": [FileDescriptor]}`: the answer of `POST /site-media/v1/files/get-files`.
///
/// A missing or null `files` reads as empty (Wix leaves out empty lists).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub(crate) struct GetFilesResponse {
    /// The files found.
    #[serde(deserialize_with = "lenient::null_as_default")]
    pub files: Vec<FileDescriptor>,
}

impl GetFilesResponse {
    /// Wraps descriptors.
    #[cfg(test)]
    pub fn new(files: Vec<FileDescriptor>) -> Self {
        GetFilesResponse { files }
    }
}

/// A Media Manager file. Every field is optional so partial responses parse.
///
/// The id is read from `id` or, as Wix's JS SDK names it, `_id` (`id` wins when both are
/// non-empty); it is always written as `id`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct FileDescriptor {
    /// File ID.
    #[serde(flatten, with = "descriptor_id")]
    pub id: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Static URL of the file.
    pub url: Option<String>,
    /// Parent folder ID.
    pub parent_folder_id: Option<String>,
    /// Content hash.
    pub hash: Option<String>,
    /// Size in bytes (a decimal string on the wire; numbers accepted too).
    #[serde(with = "lenient::string_u64")]
    pub size_in_bytes: Option<u64>,
    /// Whether the file is private.
    pub private: Option<bool>,
    /// Kind of media.
    pub media_type: Option<MediaType>,
    /// Media-specific details (`None` as well when `media` has an unexpected shape).
    #[serde(deserialize_with = "lenient::object_or_none")]
    pub media: Option<Media>,
    /// Processing status.
    pub operation_status: Option<OperationStatus>,
    /// URL the file was imported from.
    pub source_url: Option<String>,
    /// Thumbnail URL.
    pub thumbnail_url: Option<String>,
    /// Labels.
    #[serde(
        deserialize_with = "lenient::seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub labels: Vec<String>,
    /// Creation time (RFC 3339).
    pub created_date: Option<String>,
    /// Last update time (RFC 3339).
    pub updated_date: Option<String>,
    /// Site ID.
    pub site_id: Option<String>,
    /// Lifecycle state.
    pub state: Option<FileState>,
}

/// The descriptor's id: read from `id` or `_id`, written as `id`.
///
/// Used through `flatten`, so the (de)serializer sees the descriptor's own map.
mod descriptor_id {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    use super::lenient;

    #[derive(Deserialize)]
    struct Ids {
        id: Option<Value>,
        #[serde(default, rename = "_id")]
        underscore_id: Option<Value>,
    }

    #[serde_with::skip_serializing_none]
    #[derive(Serialize)]
    struct Id<'a> {
        id: Option<&'a str>,
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        let ids = Ids::deserialize(deserializer)?;
        let id = ids.id.and_then(lenient::text);
        let underscore_id = ids.underscore_id.and_then(lenient::text);
        Ok(match (id, underscore_id) {
            (Some(id), Some(other)) if id.is_empty() => Some(other),
            (id, other) => id.or(other),
        })
    }

    pub(super) fn serialize<S: Serializer>(
        id: &Option<String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        Id { id: id.as_deref() }.serialize(serializer)
    }
}

/// The `media` object; normally exactly one member is set.
///
/// A member of an unexpected shape reads as `None`; kinds this crate does not know are kept,
/// as sent, in [`other`](Media::other).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Media {
    /// Image details.
    #[serde(deserialize_with = "lenient::object_or_none")]
    pub image: Option<ImageMedia>,
    /// Video details.
    #[serde(deserialize_with = "lenient::object_or_none")]
    pub video: Option<VideoMedia>,
    /// Audio details.
    #[serde(deserialize_with = "lenient::object_or_none")]
    pub audio: Option<AudioMedia>,
    /// Document details.
    #[serde(deserialize_with = "lenient::object_or_none")]
    pub document: Option<DocumentMedia>,
    /// Vector image details (same shape as `image`).
    #[serde(deserialize_with = "lenient::object_or_none")]
    pub vector: Option<ImageMedia>,
    /// Archive details.
    #[serde(deserialize_with = "lenient::object_or_none")]
    pub archive: Option<ArchiveMedia>,
    /// 3D model details.
    #[serde(deserialize_with = "lenient::object_or_none")]
    pub model3d: Option<Model3dMedia>,
    /// Media kinds this crate does not know, as sent (written back as they came).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An image given either as an object or as a `wix:image://v1/...` URI.
///
/// Reading one fails for any other JSON value; the fields that hold one read that as `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ImageRef {
    /// Image object.
    Object(ImageInfo),
    /// `wix:image://v1/...` string.
    Uri(String),
}

impl<'de> Deserialize<'de> for ImageRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(uri) => Ok(ImageRef::Uri(uri)),
            value @ Value::Object(_) => ImageInfo::deserialize(value)
                .map(ImageRef::Object)
                .map_err(de::Error::custom),
            _ => Err(de::Error::custom(
                "expected an image object or a wix:image:// string",
            )),
        }
    }
}

/// Image object: `{id, url, height, width, altText, filename, sizeInBytes}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImageInfo {
    /// Image ID.
    pub id: Option<String>,
    /// Image URL.
    pub url: Option<String>,
    /// Height in pixels (a number on the wire; strings of digits accepted too).
    #[serde(deserialize_with = "lenient::number")]
    pub height: Option<u32>,
    /// Width in pixels (a number on the wire; strings of digits accepted too).
    #[serde(deserialize_with = "lenient::number")]
    pub width: Option<u32>,
    /// Alt text.
    pub alt_text: Option<String>,
    /// Original file name.
    pub filename: Option<String>,
    /// Size in bytes (a decimal string on the wire; numbers accepted too).
    #[serde(with = "lenient::string_u64")]
    pub size_in_bytes: Option<u64>,
}

/// `media.image` / `media.vector`: `{image, colors, faces, previewImage}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImageMedia {
    /// The image (object or URI).
    #[serde(deserialize_with = "lenient::or_none")]
    pub image: Option<ImageRef>,
    /// Color information, as sent.
    pub colors: Option<Value>,
    /// Detected faces, as sent.
    #[serde(deserialize_with = "lenient::or_none")]
    pub faces: Option<Vec<Value>>,
    /// Preview image (object or URI).
    #[serde(deserialize_with = "lenient::or_none")]
    pub preview_image: Option<ImageRef>,
}

/// `media.video`: `{id, resolutions, filename}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct VideoMedia {
    /// Video ID.
    pub id: Option<String>,
    /// Available renditions.
    #[serde(
        deserialize_with = "lenient::seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resolutions: Vec<VideoResolution>,
    /// Original file name.
    pub filename: Option<String>,
}

/// One video rendition: `{url, height, width, format}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct VideoResolution {
    /// Rendition URL.
    pub url: Option<String>,
    /// Height in pixels (strings of digits accepted too).
    #[serde(deserialize_with = "lenient::number")]
    pub height: Option<u32>,
    /// Width in pixels (strings of digits accepted too).
    #[serde(deserialize_with = "lenient::number")]
    pub width: Option<u32>,
    /// Format, e.g. `720p.mp4`.
    pub format: Option<String>,
}

/// `media.audio`: `{id, assets, bitrate, format, duration, sizeInBytes}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct AudioMedia {
    /// Audio ID.
    pub id: Option<String>,
    /// Audio assets, as sent.
    #[serde(
        deserialize_with = "lenient::seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub assets: Vec<Value>,
    /// Bit rate (strings of digits accepted too).
    #[serde(deserialize_with = "lenient::number")]
    pub bitrate: Option<u64>,
    /// Format, e.g. `mp3`.
    pub format: Option<String>,
    /// Duration in seconds (numeric strings accepted too).
    #[serde(deserialize_with = "lenient::float")]
    pub duration: Option<f64>,
    /// Size in bytes (a decimal string on the wire; numbers accepted too).
    #[serde(with = "lenient::string_u64")]
    pub size_in_bytes: Option<u64>,
}

/// `media.document`: `{id, url, filename}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct DocumentMedia {
    /// Document ID.
    pub id: Option<String>,
    /// Document URL.
    pub url: Option<String>,
    /// Original file name.
    pub filename: Option<String>,
}

/// `media.archive`: `{id, url, urlExpirationDate, sizeInBytes, filename}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ArchiveMedia {
    /// Archive ID.
    pub id: Option<String>,
    /// Archive URL.
    pub url: Option<String>,
    /// When `url` expires (RFC 3339).
    pub url_expiration_date: Option<String>,
    /// Size in bytes (a decimal string on the wire; numbers accepted too).
    #[serde(with = "lenient::string_u64")]
    pub size_in_bytes: Option<u64>,
    /// Original file name.
    pub filename: Option<String>,
}

/// `media.model3d`: `{id, url, thumbnail, altText, urlExpirationDate, filename, sizeInBytes}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Model3dMedia {
    /// Model ID.
    pub id: Option<String>,
    /// Model URL.
    pub url: Option<String>,
    /// Thumbnail (object or URI).
    #[serde(deserialize_with = "lenient::or_none")]
    pub thumbnail: Option<ImageRef>,
    /// Alt text.
    pub alt_text: Option<String>,
    /// When `url` expires (RFC 3339).
    pub url_expiration_date: Option<String>,
    /// Original file name.
    pub filename: Option<String>,
    /// Size in bytes (a decimal string on the wire; numbers accepted too).
    #[serde(with = "lenient::string_u64")]
    pub size_in_bytes: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::json;

    /// The example finalize response from wix-api.md, byte for byte.
    const FINALIZE_EXAMPLE: &str = r#"{"file": {"id": "2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg", "displayName": "file.jpg",
  "url": "https://static.wixstatic.com/media/2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg",
  "parentFolderId": "media-root", "hash": "cf96f0567ed967f02bc9580ab8db86be", "sizeInBytes": "15359",
  "private": false, "mediaType": "IMAGE",
  "media": {"image": {"image": {"id": "2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg",
    "url": "https://static.wixstatic.com/media/2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg",
    "height": 226, "width": 370, "filename": "file.jpg", "sizeInBytes": "15359"}, "faces": []}},
  "operationStatus": "READY",
  "thumbnailUrl": "https://static.wixstatic.com/media/2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg",
  "labels": [], "createdDate": "2022-09-11T15:13:24.000Z", "updatedDate": "2022-09-11T15:13:24.000Z"}}"#;

    const ID: &str = "2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg";
    const URL: &str =
        "https://static.wixstatic.com/media/2acbb8_86485e224dd84143ba2f228777217bb7~mv2.jpeg";

    fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
        let json = serde_json::to_string(value).unwrap();
        serde_json::from_str(&json).unwrap()
    }

    fn descriptor(value: Value) -> FileDescriptor {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn finalize_example_parses_every_field() {
        let env: FileDescriptorEnvelope = serde_json::from_str(FINALIZE_EXAMPLE).unwrap();
        let f = &env.file;
        assert_eq!(f.id.as_deref(), Some(ID));
        assert_eq!(f.display_name.as_deref(), Some("file.jpg"));
        assert_eq!(f.url.as_deref(), Some(URL));
        assert_eq!(f.parent_folder_id.as_deref(), Some("media-root"));
        assert_eq!(f.hash.as_deref(), Some("cf96f0567ed967f02bc9580ab8db86be"));
        assert_eq!(f.size_in_bytes, Some(15359));
        assert_eq!(f.private, Some(false));
        assert_eq!(f.media_type, Some(MediaType::Image));
        assert_eq!(f.operation_status, Some(OperationStatus::Ready));
        assert_eq!(f.thumbnail_url.as_deref(), Some(URL));
        assert!(f.labels.is_empty());
        assert_eq!(f.created_date.as_deref(), Some("2022-09-11T15:13:24.000Z"));
        assert_eq!(f.updated_date.as_deref(), Some("2022-09-11T15:13:24.000Z"));
        assert_eq!(f.source_url, None);
        assert_eq!(f.site_id, None);
        assert_eq!(f.state, None);

        let media = f.media.as_ref().unwrap();
        assert!(media.video.is_none() && media.audio.is_none() && media.document.is_none());
        assert!(media.vector.is_none() && media.archive.is_none() && media.model3d.is_none());
        assert!(media.other.is_empty());
        let image = media.image.as_ref().unwrap();
        assert_eq!(image.faces, Some(vec![]));
        assert_eq!(image.colors, None);
        assert_eq!(image.preview_image, None);
        let expected = ImageInfo {
            id: Some(ID.into()),
            url: Some(URL.into()),
            height: Some(226),
            width: Some(370),
            alt_text: None,
            filename: Some("file.jpg".into()),
            size_in_bytes: Some(15359),
        };
        assert_eq!(image.image, Some(ImageRef::Object(expected)));
    }

    #[test]
    fn finalize_example_round_trips() {
        let env: FileDescriptorEnvelope = serde_json::from_str(FINALIZE_EXAMPLE).unwrap();
        assert_eq!(round_trip(&env), env);
        let out: Value = serde_json::to_value(&env).unwrap();
        assert_eq!(out["file"]["id"], json!(ID));
        assert!(out["file"].get("_id").is_none());
        assert_eq!(out["file"]["sizeInBytes"], json!("15359"));
        assert_eq!(
            out["file"]["media"]["image"]["image"]["sizeInBytes"],
            json!("15359")
        );
        assert_eq!(out["file"]["media"]["image"]["image"]["height"], json!(226));
        assert_eq!(out["file"]["mediaType"], json!("IMAGE"));
        assert_eq!(out["file"]["operationStatus"], json!("READY"));
        // What we emit is the original less its empty list (`labels`, skipped when empty).
        let mut original: Value = serde_json::from_str(FINALIZE_EXAMPLE).unwrap();
        original["file"].as_object_mut().unwrap().remove("labels");
        assert_eq!(out, original);
    }

    #[test]
    fn id_or_underscore_id() {
        assert_eq!(descriptor(json!({"id": "a"})).id.as_deref(), Some("a"));
        assert_eq!(descriptor(json!({"_id": "b"})).id.as_deref(), Some("b"));
        assert_eq!(
            descriptor(json!({"id": "a", "_id": "b"})).id.as_deref(),
            Some("a")
        );
        assert_eq!(
            descriptor(json!({"_id": "b", "id": "a"})).id.as_deref(),
            Some("a")
        );
        assert_eq!(
            descriptor(json!({"id": "", "_id": "b"})).id.as_deref(),
            Some("b")
        );
        assert_eq!(
            descriptor(json!({"id": null, "_id": "b"})).id.as_deref(),
            Some("b")
        );
        assert_eq!(descriptor(json!({"id": 12})).id.as_deref(), Some("12"));
        assert_eq!(descriptor(json!({"id": {"x": 1}})).id, None);
        assert_eq!(descriptor(json!({"_id": null})).id, None);
        assert_eq!(descriptor(json!({})).id, None);
        // Written back as `id` only.
        let f = descriptor(json!({"_id": "b", "displayName": "n"}));
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({"id": "b", "displayName": "n"})
        );
        assert_eq!(round_trip(&f), f);
        // The SDK's shape of the example: `_id` and the rest unchanged.
        let sdk = FINALIZE_EXAMPLE.replacen(r#"{"id""#, r#"{"_id""#, 1);
        let env: FileDescriptorEnvelope = serde_json::from_str(&sdk).unwrap();
        assert_eq!(env.file.id.as_deref(), Some(ID));
    }

    #[test]
    fn size_in_bytes_string_or_number() {
        let size = |v: Value| descriptor(json!({ "sizeInBytes": v })).size_in_bytes;
        assert_eq!(size(json!("15359")), Some(15359));
        assert_eq!(size(json!(15359)), Some(15359));
        assert_eq!(size(json!(15359.0)), Some(15359));
        assert_eq!(size(json!(" 15359 ")), Some(15359));
        assert_eq!(size(json!(null)), None);
        assert_eq!(descriptor(json!({})).size_in_bytes, None);
        assert_eq!(size(json!("18446744073709551615")), Some(u64::MAX));
        assert_eq!(size(json!("0")), Some(0));
        // Not a size: dropped, and the rest of the descriptor still reads.
        for bad in [
            json!("-1"),
            json!("+1"),
            json!("1.5"),
            json!(""),
            json!("abc"),
            json!("18446744073709551616"),
            json!(-1),
            json!(1.5),
            json!(true),
            json!([1]),
            json!({"low": 1}),
        ] {
            let f = descriptor(json!({"id": "x", "sizeInBytes": bad.clone()}));
            assert_eq!(f.size_in_bytes, None, "{bad}");
            assert_eq!(f.id.as_deref(), Some("x"), "{bad}");
        }
        // Always written back as a string.
        let f = descriptor(json!({"sizeInBytes": 42}));
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({"sizeInBytes": "42"})
        );
    }

    #[test]
    fn numbers_as_strings_in_media() {
        let media: Media = serde_json::from_value(json!({
            "image": {"image": {"height": "226", "width": 370.0, "sizeInBytes": 15359}},
            "video": {"resolutions": [{"height": "720", "width": "1280"},
                                      {"height": -1, "width": "wide"}]},
            "audio": {"bitrate": "128000", "duration": "12.5", "sizeInBytes": 197530}
        }))
        .unwrap();
        let Some(ImageRef::Object(info)) = media.image.as_ref().unwrap().image.clone() else {
            panic!("{media:?}")
        };
        assert_eq!(
            (info.height, info.width, info.size_in_bytes),
            (Some(226), Some(370), Some(15359))
        );
        let video = media.video.as_ref().unwrap();
        assert_eq!(
            (video.resolutions[0].height, video.resolutions[0].width),
            (Some(720), Some(1280))
        );
        assert_eq!(
            (video.resolutions[1].height, video.resolutions[1].width),
            (None, None)
        );
        let audio = media.audio.as_ref().unwrap();
        assert_eq!(audio.bitrate, Some(128_000));
        assert_eq!(audio.duration, Some(12.5));
        assert_eq!(audio.size_in_bytes, Some(197_530));
        // Written back in Wix's own forms.
        let out = serde_json::to_value(&media).unwrap();
        assert_eq!(out["image"]["image"]["height"], json!(226));
        assert_eq!(out["image"]["image"]["sizeInBytes"], json!("15359"));
        assert_eq!(out["audio"]["bitrate"], json!(128_000));
        assert_eq!(out["audio"]["duration"], json!(12.5));
        assert_eq!(out["audio"]["sizeInBytes"], json!("197530"));
        // A pixel count past u32 is not one.
        let info: ImageInfo = serde_json::from_value(json!({"width": 4_294_967_296u64})).unwrap();
        assert_eq!(info.width, None);
    }

    #[test]
    fn unknown_fields_and_enum_values_parse() {
        let body = json!({"file": {
            "id": "x", "internalTags": ["a"], "addedBy": {"id": "u"},
            "mediaType": "HOLOGRAM", "operationStatus": "QUEUED", "state": "ARCHIVED",
            "parentFolderId": null, "sourceUrl": null, "thumbnailUrl": null,
            "media": {"image": {"image": {"id": "i", "newThing": 1}, "extra": true}, "hologram": {"v": 1}}
        }});
        let env: FileDescriptorEnvelope = serde_json::from_value(body).unwrap();
        let f = env.file;
        assert_eq!(
            f.media_type,
            Some(MediaType::Unrecognized("HOLOGRAM".into()))
        );
        assert_eq!(
            f.operation_status,
            Some(OperationStatus::Unrecognized("QUEUED".into()))
        );
        assert_eq!(f.state, Some(FileState::Unrecognized("ARCHIVED".into())));
        assert_eq!(f.parent_folder_id, None);
        assert_eq!(f.source_url, None);
        let media = f.media.as_ref().unwrap();
        assert_eq!(media.other.get("hologram"), Some(&json!({"v": 1})));
        let out = serde_json::to_value(&f).unwrap();
        assert_eq!(out["mediaType"], json!("HOLOGRAM"));
        assert_eq!(out["operationStatus"], json!("QUEUED"));
        assert_eq!(out["state"], json!("ARCHIVED"));
        assert_eq!(out["media"]["hologram"], json!({"v": 1}));
        assert!(out.get("internalTags").is_none());
        assert_eq!(round_trip(&f), f);
    }

    #[test]
    fn odd_shapes_do_not_fail() {
        // Each of these would otherwise make the whole descriptor unreadable.
        let f = descriptor(json!({
            "id": "x",
            "labels": ["a", 5, null, "b"],
            "media": {
                "image": "wix:image://v1/x/y.jpg",
                "video": {"resolutions": null, "id": "v"},
                "audio": {"assets": {"not": "a list"}, "duration": [1]},
                "document": "doc.pdf",
                "vector": {"image": 5, "faces": "none", "previewImage": ["p"]},
                "archive": null,
                "model3d": {"thumbnail": true}
            }
        }));
        assert_eq!(f.labels, vec!["a", "b"]);
        let media = f.media.unwrap();
        assert_eq!(media.image, None);
        let video = media.video.unwrap();
        assert_eq!(video.id.as_deref(), Some("v"));
        assert!(video.resolutions.is_empty());
        let audio = media.audio.unwrap();
        assert!(audio.assets.is_empty());
        assert_eq!(audio.duration, None);
        assert_eq!(media.document, None);
        assert_eq!(media.vector, Some(ImageMedia::default()));
        assert_eq!(media.archive, None);
        assert_eq!(media.model3d, Some(Model3dMedia::default()));
        assert!(media.other.is_empty());

        for value in [json!(null), json!("m"), json!([]), json!(3)] {
            let f = descriptor(json!({"id": "x", "media": value.clone()}));
            assert_eq!(f.media, None, "{value}");
            assert_eq!(f.id.as_deref(), Some("x"));
        }
        assert!(descriptor(json!({"labels": null})).labels.is_empty());
    }

    #[test]
    fn image_as_uri_string() {
        let uri = "wix:image://v1/2acbb8_abc~mv2.jpg/file.jpg#originWidth=370&originHeight=226";
        let f = descriptor(json!({
            "mediaType": "IMAGE",
            "media": {"image": {"image": uri, "colors": {"prominent": {"hex": "#fff"}},
                                "previewImage": {"id": "p", "width": 10}}}
        }));
        let image = f.media.as_ref().unwrap().image.as_ref().unwrap();
        assert_eq!(image.image, Some(ImageRef::Uri(uri.into())));
        assert_eq!(image.colors, Some(json!({"prominent": {"hex": "#fff"}})));
        assert_eq!(
            image.preview_image,
            Some(ImageRef::Object(ImageInfo {
                id: Some("p".into()),
                width: Some(10),
                ..ImageInfo::default()
            }))
        );
        let out = serde_json::to_value(&f).unwrap();
        assert_eq!(out["media"]["image"]["image"], json!(uri));
        assert_eq!(round_trip(&f), f);
        // The example's image as a URI string: the rest of the example still reads.
        let example: Value = serde_json::from_str(FINALIZE_EXAMPLE).unwrap();
        let mut file = example["file"].clone();
        file["media"]["image"]["image"] = json!(uri);
        let f = descriptor(file);
        assert_eq!(f.id.as_deref(), Some(ID));
        let image = f.media.unwrap().image.unwrap();
        assert_eq!(image.image, Some(ImageRef::Uri(uri.into())));
        assert_eq!(image.faces, Some(vec![]));
    }

    #[test]
    fn vector_media() {
        let f = descriptor(json!({
            "mediaType": "VECTOR",
            "media": {"vector": {"image": {"id": "v.svg", "height": 5, "width": 6}}}
        }));
        let media = f.media.unwrap();
        assert!(media.image.is_none());
        match media.vector.unwrap().image.unwrap() {
            ImageRef::Object(info) => assert_eq!((info.height, info.width), (Some(5), Some(6))),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn video_media() {
        let f = descriptor(json!({
            "id": "2acbb8_vid", "mediaType": "VIDEO", "operationStatus": "PENDING",
            "media": {"video": {"id": "2acbb8_vid", "filename": "clip.mp4", "posters": [],
              "resolutions": [
                {"url": "https://video.wixstatic.com/video/2acbb8_vid/720p/mp4/file.mp4",
                 "height": 720, "width": 1280, "format": "720p.mp4"},
                {"url": "https://video.wixstatic.com/video/2acbb8_vid/480p/mp4/file.mp4",
                 "height": 480, "width": 854, "format": "480p.mp4"}]}}
        }));
        assert_eq!(f.operation_status, Some(OperationStatus::Pending));
        let video = f.media.as_ref().unwrap().video.as_ref().unwrap();
        assert_eq!(video.id.as_deref(), Some("2acbb8_vid"));
        assert_eq!(video.filename.as_deref(), Some("clip.mp4"));
        assert_eq!(video.resolutions.len(), 2);
        assert_eq!(video.resolutions[0].height, Some(720));
        assert_eq!(video.resolutions[0].width, Some(1280));
        assert_eq!(video.resolutions[1].format.as_deref(), Some("480p.mp4"));
        assert_eq!(round_trip(&f), f);
    }

    #[test]
    fn audio_media() {
        let f = descriptor(json!({
            "mediaType": "AUDIO",
            "media": {"audio": {"id": "mp3_1", "assets": [{"url": "https://music.wixstatic.com/mp3/x.mp3"}],
              "bitrate": 128000, "format": "mp3", "duration": 12.345, "sizeInBytes": "197530"}}
        }));
        let audio = f.media.as_ref().unwrap().audio.as_ref().unwrap();
        assert_eq!(audio.id.as_deref(), Some("mp3_1"));
        assert_eq!(audio.assets.len(), 1);
        assert_eq!(audio.bitrate, Some(128000));
        assert_eq!(audio.format.as_deref(), Some("mp3"));
        assert_eq!(audio.duration, Some(12.345));
        assert_eq!(audio.size_in_bytes, Some(197530));
        assert_eq!(round_trip(&f), f);
        // Integer duration is fine too.
        let a: AudioMedia = serde_json::from_value(json!({"duration": 3})).unwrap();
        assert_eq!(a.duration, Some(3.0));
    }

    #[test]
    fn document_archive_model3d_media() {
        let f = descriptor(json!({
            "mediaType": "DOCUMENT", "private": true, "labels": ["a", "b"],
            "siteId": "site-1", "state": "OK",
            "media": {"document": {"id": "ugd/doc.pdf", "url": "https://x/doc.pdf",
                                   "filename": "doc.pdf"}}
        }));
        let doc = f.media.as_ref().unwrap().document.as_ref().unwrap();
        assert_eq!(doc.id.as_deref(), Some("ugd/doc.pdf"));
        assert_eq!(doc.url.as_deref(), Some("https://x/doc.pdf"));
        assert_eq!(doc.filename.as_deref(), Some("doc.pdf"));
        assert_eq!(f.labels, vec!["a", "b"]);
        assert_eq!(f.site_id.as_deref(), Some("site-1"));
        assert_eq!(f.state, Some(FileState::Ok));
        assert_eq!(f.private, Some(true));
        assert_eq!(round_trip(&f), f);

        let archive: Media = serde_json::from_value(json!({"archive": {
            "id": "z", "url": "https://x/z.zip", "urlExpirationDate": "2024-01-01T00:00:00Z",
            "sizeInBytes": "99", "filename": "z.zip"}}))
        .unwrap();
        let a = archive.archive.as_ref().unwrap();
        assert_eq!(a.size_in_bytes, Some(99));
        assert_eq!(
            a.url_expiration_date.as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(a.filename.as_deref(), Some("z.zip"));
        assert_eq!(round_trip(&archive), archive);

        let model: Media = serde_json::from_value(json!({"model3d": {
            "id": "m", "url": "https://x/m.glb", "thumbnail": "wix:image://v1/t.png/t.png",
            "altText": "a chair", "urlExpirationDate": "2024-01-01T00:00:00Z",
            "filename": "m.glb", "sizeInBytes": 1234}}))
        .unwrap();
        let m = model.model3d.as_ref().unwrap();
        assert_eq!(
            m.thumbnail,
            Some(ImageRef::Uri("wix:image://v1/t.png/t.png".into()))
        );
        assert_eq!(m.alt_text.as_deref(), Some("a chair"));
        assert_eq!(m.size_in_bytes, Some(1234));
        assert_eq!(
            serde_json::to_value(&model).unwrap()["model3d"]["sizeInBytes"],
            json!("1234")
        );
        assert_eq!(round_trip(&model), model);
    }

    #[test]
    fn empty_and_partial_descriptors() {
        let env: FileDescriptorEnvelope = serde_json::from_str(r#"{"file": {}}"#).unwrap();
        assert_eq!(env.file, FileDescriptor::default());
        assert_eq!(serde_json::to_string(&env).unwrap(), r#"{"file":{}}"#);
        let env: FileDescriptorEnvelope =
            serde_json::from_str(r#"{"file": {"id": "a", "media": {}}}"#).unwrap();
        assert_eq!(env.file.media, Some(Media::default()));
        assert_eq!(
            FileDescriptorEnvelope::new(FileDescriptor::default()),
            FileDescriptorEnvelope {
                file: FileDescriptor::default()
            }
        );
        // Not an envelope at all.
        for body in ["{}", r#"{"file": null}"#, r#"{"file": []}"#, "[]", "null"] {
            assert!(
                serde_json::from_str::<FileDescriptorEnvelope>(body).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn import_answer_is_pending_without_media() {
        let env: FileDescriptorEnvelope = serde_json::from_value(json!({"file": {
            "id": "2acbb8_imp~mv2.png", "displayName": "logo.png", "url": "",
            "sizeInBytes": "0", "private": false, "mediaType": "IMAGE",
            "operationStatus": "PENDING", "sourceUrl": "https://example.com/logo.png",
            "labels": []
        }}))
        .unwrap();
        assert_eq!(env.file.operation_status, Some(OperationStatus::Pending));
        assert_eq!(env.file.media, None);
        assert_eq!(
            env.file.source_url.as_deref(),
            Some("https://example.com/logo.png")
        );
    }

    #[test]
    fn get_files_response() {
        let resp: GetFilesResponse = serde_json::from_value(json!({"files": [
            {"id": "a", "operationStatus": "READY"},
            {"_id": "b", "operationStatus": "PENDING", "sizeInBytes": 3}
        ], "nextCursor": null}))
        .unwrap();
        assert_eq!(resp.files.len(), 2);
        assert_eq!(resp.files[0].id.as_deref(), Some("a"));
        assert_eq!(resp.files[1].id.as_deref(), Some("b"));
        assert_eq!(resp.files[1].size_in_bytes, Some(3));
        assert_eq!(round_trip(&resp), resp);
        assert_eq!(
            serde_json::to_value(GetFilesResponse::new(vec![FileDescriptor::default()])).unwrap(),
            json!({"files": [{}]})
        );
        for empty in ["{}", r#"{"files": null}"#, r#"{"files": []}"#] {
            let resp: GetFilesResponse = serde_json::from_str(empty).unwrap();
            assert!(resp.files.is_empty(), "{empty}");
        }
        assert!(serde_json::from_str::<GetFilesResponse>(r#"{"files": 3}"#).is_err());
    }
}
