//! The file descriptor Wix answers with, and the envelopes around it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// Media-specific details, as Wix sent them (a JSON object: `image`, `video`, `audio`,
    /// `document`, `vector`, `archive`, `model3d`...; `None` when it is not an object).
    /// [`FileDescriptor::image_size`] and [`FileDescriptor::video_urls`] read the common parts.
    #[serde(deserialize_with = "lenient::object_or_none")]
    pub media: Option<Value>,
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

impl FileDescriptor {
    /// The image's width and height in pixels: those of `media.image.image` (or, for a vector
    /// image, `media.vector.image`), numbers or strings of digits. `None` for other media, an
    /// image given as a `wix:image://` URI, or sizes that are not pixel counts.
    pub fn image_size(&self) -> Option<(u32, u32)> {
        let media = self.media.as_ref()?;
        let image = ["image", "vector"]
            .into_iter()
            .find_map(|kind| media.get(kind)?.get("image").filter(|i| i.is_object()))?;
        let pixels = |name| lenient::uint(image.get(name)?).and_then(|n| u32::try_from(n).ok());
        Some((pixels("width")?, pixels("height")?))
    }

    /// The URLs of the video's renditions (`media.video.resolutions[].url`), in Wix's order;
    /// empty for other media, and while Wix has made none.
    pub fn video_urls(&self) -> Vec<&str> {
        let resolutions = self
            .media
            .as_ref()
            .and_then(|m| m.get("video")?.get("resolutions")?.as_array());
        resolutions
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("url")?.as_str())
            .collect()
    }
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

        // `media` is kept as sent; the image's size is read from it.
        let example: Value = serde_json::from_str(FINALIZE_EXAMPLE).unwrap();
        assert_eq!(f.media.as_ref(), Some(&example["file"]["media"]));
        assert_eq!(f.image_size(), Some((370, 226)));
        assert!(f.video_urls().is_empty());
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
        let sent = json!({
            "image": {"image": {"height": "226", "width": 370.0, "sizeInBytes": 15359}},
            "video": {"resolutions": [{"url": "https://v/720.mp4", "height": "720"},
                                      {"height": -1, "width": "wide"}, {"url": 5}]},
            "audio": {"bitrate": "128000", "duration": "12.5", "sizeInBytes": 197530}
        });
        let f = descriptor(json!({ "media": sent.clone() }));
        assert_eq!(f.image_size(), Some((370, 226)));
        assert_eq!(f.video_urls(), ["https://v/720.mp4"]);
        // Written back as it came.
        assert_eq!(serde_json::to_value(&f).unwrap()["media"], sent);
        // A pixel count past u32 is not one; nor is a negative or fractional one.
        for bad in [
            json!(4_294_967_296u64),
            json!(-1),
            json!(1.5),
            json!("wide"),
        ] {
            let f = descriptor(json!({"media": {"image": {"image": {"width": bad, "height": 1}}}}));
            assert_eq!(f.image_size(), None);
        }
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
        assert_eq!(media["hologram"], json!({"v": 1}));
        assert_eq!(f.image_size(), None, "no width or height");
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
        assert_eq!(f.image_size(), None);
        assert!(f.video_urls().is_empty());
        assert_eq!(f.media.unwrap()["video"]["id"], json!("v"));
        // Neither an image object nor its size, nor a list of renditions.
        for media in [
            json!({"image": {"image": [370, 226]}}),
            json!({"image": {"image": {"width": 370}}}),
            json!({"vector": "v.svg"}),
            json!({"video": {"resolutions": {"url": "u"}}}),
            json!({"video": [{"resolutions": []}]}),
        ] {
            let f = descriptor(json!({ "media": media.clone() }));
            assert_eq!((f.image_size(), f.video_urls().len()), (None, 0), "{media}");
            assert_eq!(f.media, Some(media));
        }

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
        // A URI has no size to read; the rest is kept.
        assert_eq!(f.image_size(), None);
        let image = &f.media.as_ref().unwrap()["image"];
        assert_eq!(image["image"], json!(uri));
        assert_eq!(image["colors"], json!({"prominent": {"hex": "#fff"}}));
        assert_eq!(image["previewImage"], json!({"id": "p", "width": 10}));
        let out = serde_json::to_value(&f).unwrap();
        assert_eq!(out["media"]["image"]["image"], json!(uri));
        assert_eq!(round_trip(&f), f);
        // The example's image as a URI string: the rest of the example still reads.
        let example: Value = serde_json::from_str(FINALIZE_EXAMPLE).unwrap();
        let mut file = example["file"].clone();
        file["media"]["image"]["image"] = json!(uri);
        let f = descriptor(file);
        assert_eq!(f.id.as_deref(), Some(ID));
        assert_eq!(f.image_size(), None);
        assert_eq!(f.media.unwrap()["image"]["faces"], json!([]));
    }

    #[test]
    fn vector_media() {
        let f = descriptor(json!({
            "mediaType": "VECTOR",
            "media": {"vector": {"image": {"id": "v.svg", "height": 5, "width": 6}}}
        }));
        assert_eq!(f.image_size(), Some((6, 5)));
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
        assert_eq!(
            f.video_urls(),
            [
                "https://video.wixstatic.com/video/2acbb8_vid/720p/mp4/file.mp4",
                "https://video.wixstatic.com/video/2acbb8_vid/480p/mp4/file.mp4"
            ]
        );
        assert_eq!(f.image_size(), None);
        let video = &f.media.as_ref().unwrap()["video"];
        assert_eq!(video["resolutions"][1]["format"], json!("480p.mp4"));
        assert_eq!(round_trip(&f), f);
    }

    #[test]
    fn other_media_are_kept_as_sent() {
        for media in [
            json!({"audio": {"id": "mp3_1", "assets": [{"url": "https://music.wixstatic.com/mp3/x.mp3"}],
              "bitrate": 128000, "format": "mp3", "duration": 12.345, "sizeInBytes": "197530"}}),
            json!({"document": {"id": "ugd/doc.pdf", "url": "https://x/doc.pdf", "filename": "doc.pdf"}}),
            json!({"archive": {"id": "z", "url": "https://x/z.zip",
              "urlExpirationDate": "2024-01-01T00:00:00Z", "sizeInBytes": "99", "filename": "z.zip"}}),
            json!({"model3d": {"id": "m", "url": "https://x/m.glb", "thumbnail": "wix:image://v1/t.png/t.png",
              "altText": "a chair", "filename": "m.glb", "sizeInBytes": 1234}}),
        ] {
            let f = descriptor(json!({"id": "x", "media": media.clone()}));
            assert_eq!(f.media.as_ref(), Some(&media));
            assert_eq!((f.image_size(), f.video_urls().len()), (None, 0), "{media}");
            assert_eq!(serde_json::to_value(&f).unwrap()["media"], media);
            assert_eq!(round_trip(&f), f);
        }
        let f = descriptor(json!({
            "mediaType": "DOCUMENT", "private": true, "labels": ["a", "b"],
            "siteId": "site-1", "state": "OK", "media": {"document": {"id": "d"}}
        }));
        assert_eq!(f.labels, vec!["a", "b"]);
        assert_eq!(f.site_id.as_deref(), Some("site-1"));
        assert_eq!(f.state, Some(FileState::Ok));
        assert_eq!(f.private, Some(true));
        assert_eq!(f.media_type, Some(MediaType::Document));
    }

    #[test]
    fn empty_and_partial_descriptors() {
        let env: FileDescriptorEnvelope = serde_json::from_str(r#"{"file": {}}"#).unwrap();
        assert_eq!(env.file, FileDescriptor::default());
        assert_eq!(serde_json::to_string(&env).unwrap(), r#"{"file":{}}"#);
        let env: FileDescriptorEnvelope =
            serde_json::from_str(r#"{"file": {"id": "a", "media": {}}}"#).unwrap();
        assert_eq!(env.file.media, Some(json!({})));
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
