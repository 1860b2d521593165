//! Request bodies of the routes that create or read files, and the answers that are not a
//! file descriptor.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;
use super::{MediaType, UploadProtocol};
use crate::secret::Secret;

/// `externalInfo`: the caller's own ids for a file, echoed back in Wix's webhooks (set with
/// [`FileOptions::external_info`]).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ExternalInfo {
    /// Who the ids belong to (`origin`), e.g. the caller's app name.
    pub(crate) origin: Option<String>,
    /// The caller's ids (`externalIds`).
    #[serde(
        deserialize_with = "lenient::seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) external_ids: Vec<String>,
}

/// The optional fields shared by every request that creates a file (generate upload URL,
/// resumable or not, and import): where the file goes, whether it is private, its labels and
/// the caller's own ids.
///
/// Build one set and hand it to [`FileUpload::options`](super::super::FileUpload::options),
/// [`GenerateUploadUrlRequest::options`] or [`ImportFileRequest::options`].
///
/// ```
/// use wix_media_upload::wix::FileOptions;
///
/// let options = FileOptions::new()
///     .file_path("/videos/2024/december")
///     .private(true)
///     .label("launch")
///     .external_info("crm", ["42"]);
/// # drop(options);
/// ```
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
#[must_use]
pub struct FileOptions {
    /// Folder to create the file in (`parentFolderId`; Wix's default: `media-root`).
    pub(crate) parent_folder_id: Option<String>,
    /// Whether the file is private (`private`; a private file cannot be made public later).
    pub(crate) private: Option<bool>,
    /// Labels to attach to the file (`labels`: at most 500, each at most 200 characters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) labels: Vec<String>,
    /// Folder path such as `/videos/2024/december` (`filePath`); missing folders are created.
    pub(crate) file_path: Option<String>,
    /// The caller's own ids for the file (`externalInfo`).
    pub(crate) external_info: Option<ExternalInfo>,
}

impl FileOptions {
    /// No options: Wix's defaults.
    pub fn new() -> Self {
        FileOptions::default()
    }

    /// Sets `parentFolderId`, the id of the folder to create the file in (Wix's default:
    /// `media-root`).
    pub fn parent_folder_id(mut self, id: impl Into<String>) -> Self {
        self.parent_folder_id = Some(id.into());
        self
    }

    /// Sets `private` (a private file cannot be made public later).
    pub fn private(mut self, private: bool) -> Self {
        self.private = Some(private);
        self
    }

    /// Sets `filePath`, a folder path such as `/videos/2024/december`; missing folders are
    /// created.
    pub fn file_path(mut self, path: impl Into<String>) -> Self {
        self.file_path = Some(path.into());
        self
    }

    /// Sets `externalInfo`: the caller's own `ids` for the file, under `origin` (who they
    /// belong to, e.g. the caller's app name); Wix echoes them back in its webhooks.
    pub fn external_info(
        mut self,
        origin: impl Into<String>,
        ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.external_info = Some(ExternalInfo {
            origin: Some(origin.into()),
            external_ids: ids.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Adds one label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }
}

fn tus() -> UploadProtocol {
    UploadProtocol::Tus
}

/// Body of `POST /site-media/v1/files/generate-resumable-upload-url` (the tus route) and, without
/// `uploadProtocol`, of `POST /site-media/v1/files/generate-upload-url` (the simple route): the
/// client sends the one the route needs.
///
/// ```
/// use wix_media_upload::wix::{FileOptions, GenerateUploadUrlRequest};
///
/// let request = GenerateUploadUrlRequest::new("video/mp4")
///     .file_name("clip.mp4")
///     .size_in_bytes(10_737_418_240)
///     .options(FileOptions::new().file_path("/videos/2024/december"));
/// let body = serde_json::to_value(&request)?;
/// assert_eq!(body["filePath"], "/videos/2024/december");
/// assert_eq!(body["sizeInBytes"], "10737418240");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
#[must_use]
pub struct GenerateUploadUrlRequest {
    /// MIME type of the file (required, max 100 chars).
    pub(crate) mime_type: String,
    /// File name shown in the Media Manager (max 200 chars); with it, finalize's `filename`
    /// is optional.
    pub(crate) file_name: Option<String>,
    /// File size; sent as a decimal string.
    #[serde(default, with = "lenient::string_u64")]
    pub(crate) size_in_bytes: Option<u64>,
    /// Folder, privacy, labels, external ids.
    #[serde(flatten)]
    pub(crate) options: FileOptions,
    upload_protocol: Option<UploadProtocol>,
}

impl GenerateUploadUrlRequest {
    /// A request for a tus upload of a file with this MIME type.
    pub fn new(mime_type: impl Into<String>) -> Self {
        GenerateUploadUrlRequest {
            mime_type: mime_type.into(),
            file_name: None,
            size_in_bytes: None,
            options: FileOptions::default(),
            upload_protocol: Some(UploadProtocol::Tus),
        }
    }

    /// Sets `fileName`.
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// Sets `sizeInBytes`.
    pub fn size_in_bytes(mut self, size: u64) -> Self {
        self.size_in_bytes = Some(size);
        self
    }

    /// Sets the folder, privacy, labels and external ids.
    pub fn options(mut self, options: FileOptions) -> Self {
        self.options = options;
        self
    }

    /// The upload protocol sent: `TUS` for requests built here, none for the simple route.
    #[cfg(test)]
    pub(crate) fn upload_protocol(&self) -> Option<&UploadProtocol> {
        self.upload_protocol.as_ref()
    }

    /// The same request for the simple route, which has no `uploadProtocol`.
    pub(crate) fn for_simple_route(&self) -> Self {
        Self {
            upload_protocol: None,
            ..self.clone()
        }
    }
}

/// Answer of generate-resumable-upload-url, read into a
/// [`ResumableTarget`](crate::wix::ResumableTarget). `Debug` masks the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateUploadUrlResponse {
    /// Protocol of `upload_url` (`TUS`).
    #[serde(default = "tus")]
    pub(crate) upload_protocol: UploadProtocol,
    /// tus creation endpoint.
    pub(crate) upload_url: String,
    /// Single-use token for the upload and finalize calls.
    pub(crate) upload_token: Secret,
}

/// Answer of generate-upload-url: `{"uploadUrl": ...}`.
///
/// The URL embeds a JWT that authorizes the one upload, so it is a [`Secret`]: `Debug` does
/// not show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub(crate) struct GenerateSimpleUploadUrlResponse {
    /// Single-use upload URL: `PUT {upload_url}?filename=NAME` with the file as the body.
    pub upload_url: Secret,
}

impl GenerateSimpleUploadUrlResponse {
    /// A target from an upload URL obtained elsewhere.
    #[cfg(test)]
    pub fn new(upload_url: impl Into<String>) -> Self {
        GenerateSimpleUploadUrlResponse {
            upload_url: Secret::new(upload_url),
        }
    }
}

/// Body of `POST /site-media/v1/files/import`: Wix fetches the file from `url`.
///
/// Wix needs one of `mimeType`, an extension in `displayName` or `url`, or a source that
/// answers `HEAD`. The answer is a `{"file": FileDescriptor}` envelope
/// whose file is `PENDING`.
///
/// `Debug` shows `url` without its user info, query and fragment, and the names but not the
/// values of `urlParams` and `urlHeaders`: a signed URL or a header may authorize the fetch.
#[serde_with::skip_serializing_none]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
#[must_use]
pub struct ImportFileRequest {
    /// URL to import from (required).
    pub(crate) url: String,
    /// Name shown in the Media Manager.
    pub(crate) display_name: Option<String>,
    /// MIME type of the file.
    pub(crate) mime_type: Option<String>,
    /// Kind of media (`IMAGE`, `VIDEO`, `AUDIO`, `DOCUMENT`, `VECTOR`, `ARCHIVE`, `MODEL3D`).
    pub(crate) media_type: Option<MediaType>,
    /// Folder, privacy, labels, external ids.
    #[serde(flatten)]
    pub(crate) options: FileOptions,
    /// Parameters Wix sends with the request to `url` (`urlParams`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub(crate) url_params: Map<String, Value>,
    /// Headers Wix sends with the request to `url` (`urlHeaders`); values are secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) url_headers: BTreeMap<String, Secret>,
}

impl ImportFileRequest {
    /// A request to import the file at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        ImportFileRequest {
            url: url.into(),
            display_name: None,
            mime_type: None,
            media_type: None,
            options: FileOptions::default(),
            url_params: Map::new(),
            url_headers: BTreeMap::new(),
        }
    }

    /// Sets `displayName`.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Sets `mimeType`.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// Sets `mediaType`.
    pub fn media_type(mut self, media_type: MediaType) -> Self {
        self.media_type = Some(media_type);
        self
    }

    /// Sets the folder, privacy, labels and external ids.
    pub fn options(mut self, options: FileOptions) -> Self {
        self.options = options;
        self
    }

    /// Adds (or replaces) one of `urlParams`.
    pub fn url_param(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.url_params.insert(name.into(), value.into());
        self
    }

    /// Adds (or replaces) one of `urlHeaders`; the value is kept as a [`Secret`].
    pub fn url_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.url_headers.insert(name.into(), Secret::new(value));
        self
    }
}

impl fmt::Debug for ImportFileRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Names only: the values print as `***`.
        struct Names<'a, I>(&'a I);
        impl<'a, I, K, V> fmt::Debug for Names<'a, I>
        where
            &'a I: IntoIterator<Item = (K, V)>,
            K: fmt::Debug,
        {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.into_iter().map(|(k, _)| (k, Masked)))
                    .finish()
            }
        }
        struct Masked;
        impl fmt::Debug for Masked {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("***")
            }
        }
        f.debug_struct("ImportFileRequest")
            .field("url", &redact_url(&self.url))
            .field("display_name", &self.display_name)
            .field("mime_type", &self.mime_type)
            .field("media_type", &self.media_type)
            .field("options", &self.options)
            .field("url_params", &Names(&self.url_params))
            .field("url_headers", &Names(&self.url_headers))
            .finish()
    }
}

/// `url` without user info, query or fragment (each replaced by `***`).
fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let end_of_authority = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end_of_authority);
    let host = match authority.rfind('@') {
        Some(at) => format!("***@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    let (path, cut) = match tail.find(['?', '#']) {
        Some(i) => (&tail[..i], true),
        None => (tail, false),
    };
    format!("{scheme}{host}{path}{}", if cut { "?***" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::json;

    fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
        let json = serde_json::to_string(value).unwrap();
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn request_minimal() {
        let req = GenerateUploadUrlRequest::new("image/jpeg");
        assert_eq!(req.upload_protocol(), Some(&UploadProtocol::Tus));
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"mimeType": "image/jpeg", "uploadProtocol": "TUS"})
        );
        assert_eq!(round_trip(&req), req);
    }

    #[test]
    fn request_full() {
        let req = GenerateUploadUrlRequest::new("video/mp4")
            .file_name("clip.mp4")
            .size_in_bytes(10_737_418_240)
            .options(
                FileOptions::new()
                    .parent_folder_id("media-root")
                    .private(true)
                    .label("one")
                    .label("two")
                    .file_path("/videos/2024/december")
                    .external_info("my-app", ["order-17"]),
            );
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({
                "mimeType": "video/mp4",
                "fileName": "clip.mp4",
                "sizeInBytes": "10737418240",
                "parentFolderId": "media-root",
                "private": true,
                "labels": ["one", "two"],
                "filePath": "/videos/2024/december",
                "externalInfo": {"origin": "my-app", "externalIds": ["order-17"]},
                "uploadProtocol": "TUS"
            })
        );
        assert_eq!(round_trip(&req), req);
        let req = req
            .options(FileOptions::new().label("x").private(false))
            .size_in_bytes(0);
        let out = serde_json::to_value(&req).unwrap();
        assert_eq!(out["labels"], json!(["x"]));
        assert_eq!(out["private"], json!(false));
        assert_eq!(out["sizeInBytes"], json!("0"));
        assert!(out.get("filePath").is_none());
        let req = req.options(FileOptions::new());
        assert!(serde_json::to_value(&req).unwrap().get("labels").is_none());
    }

    #[test]
    fn request_deserializes_for_emulators() {
        let req: GenerateUploadUrlRequest =
            serde_json::from_str(r#"{"mimeType":"text/plain","sizeInBytes":"5"}"#).unwrap();
        assert_eq!(req.size_in_bytes, Some(5));
        assert_eq!(req.upload_protocol(), None);
        let req: GenerateUploadUrlRequest = serde_json::from_str(
            r#"{"mimeType":"text/plain","uploadProtocol":"HTTP","private":true,"labels":["l"]}"#,
        )
        .unwrap();
        assert_eq!(
            req.upload_protocol(),
            Some(&UploadProtocol::Unrecognized("HTTP".into()))
        );
        assert_eq!(req.options.private, Some(true));
        assert_eq!(req.options.labels, vec!["l"]);
        assert!(serde_json::from_str::<GenerateUploadUrlRequest>(r#"{"fileName":"a"}"#).is_err());
    }

    #[test]
    fn shared_options_apply_to_every_request() {
        let options = FileOptions::new()
            .parent_folder_id("folder-1")
            .private(false)
            .label("a")
            .label("b")
            .file_path("/imports")
            .external_info("crm", ["1", "2"]);
        let expected = json!({
            "parentFolderId": "folder-1",
            "private": false,
            "labels": ["a", "b"],
            "filePath": "/imports",
            "externalInfo": {"origin": "crm", "externalIds": ["1", "2"]}
        });
        assert_eq!(serde_json::to_value(&options).unwrap(), expected);

        let bodies = [
            serde_json::to_value(GenerateUploadUrlRequest::new("m").options(options.clone())),
            serde_json::to_value(
                GenerateUploadUrlRequest::new("m")
                    .options(options.clone())
                    .for_simple_route(),
            ),
            serde_json::to_value(
                ImportFileRequest::new("https://x/a.png").options(options.clone()),
            ),
        ];
        for body in bodies {
            let body = body.unwrap();
            for (key, value) in expected.as_object().unwrap() {
                assert_eq!(&body[key], value, "{key} in {body}");
            }
        }
    }

    #[test]
    fn simple_route_request() {
        let resumable = GenerateUploadUrlRequest::new("image/png")
            .file_name("a.png")
            .size_in_bytes(10)
            .options(FileOptions::new().label("x"));
        let req = resumable.for_simple_route();
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"mimeType": "image/png", "fileName": "a.png", "sizeInBytes": "10", "labels": ["x"]})
        );
        assert_eq!(round_trip(&req), req);
        // Either route from the same fields: only `uploadProtocol` differs.
        let mut body = serde_json::to_value(&resumable).unwrap();
        assert_eq!(body["uploadProtocol"], json!("TUS"));
        body.as_object_mut().unwrap().remove("uploadProtocol");
        assert_eq!(body, serde_json::to_value(&req).unwrap());
    }

    #[test]
    fn resumable_response_parses_and_masks_token() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1cGxvYWQifQ.c2lnbmF0dXJl";
        let body = format!(
            r#"{{"uploadProtocol": "TUS", "uploadUrl": "https://upload.wixmp.com/upload/tus", "uploadToken": "{token}", "extra": 1}}"#
        );
        let resp: GenerateUploadUrlResponse = serde_json::from_str(&body).unwrap();
        assert_eq!(resp.upload_protocol, UploadProtocol::Tus);
        assert_eq!(resp.upload_url, "https://upload.wixmp.com/upload/tus");
        assert_eq!(resp.upload_token.expose(), token);
        assert!(!format!("{resp:?}").contains(token));
        assert!(!format!("{resp:#?}").contains(token));
        assert_eq!(round_trip(&resp), resp);
        let out = serde_json::to_value(&resp).unwrap();
        assert_eq!(out["uploadToken"], json!(token));

        let resp: GenerateUploadUrlResponse =
            serde_json::from_str(r#"{"uploadUrl": "u", "uploadToken": "t"}"#).unwrap();
        assert_eq!(resp.upload_protocol, UploadProtocol::Tus);
        let resp: GenerateUploadUrlResponse = serde_json::from_str(
            r#"{"uploadProtocol": "S3", "uploadUrl": "u", "uploadToken": "t"}"#,
        )
        .unwrap();
        assert_eq!(
            resp.upload_protocol,
            UploadProtocol::Unrecognized("S3".into())
        );
        assert!(
            serde_json::from_str::<GenerateUploadUrlResponse>(r#"{"uploadUrl": "u"}"#).is_err()
        );
    }

    #[test]
    fn simple_response_masks_the_url() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJwYXRoIjoiL3VwbG9hZCJ9.c2ln";
        let url = format!("https://upload.wixmp.com/upload/{jwt}");
        let resp: GenerateSimpleUploadUrlResponse =
            serde_json::from_value(json!({"uploadUrl": url, "unknown": true})).unwrap();
        assert_eq!(resp.upload_url.expose(), url);
        for shown in [format!("{resp:?}"), format!("{resp:#?}")] {
            assert!(!shown.contains(jwt), "{shown}");
            assert!(!shown.contains("upload.wixmp.com"), "{shown}");
        }
        assert_eq!(
            serde_json::to_value(&resp).unwrap(),
            json!({"uploadUrl": url})
        );
        assert_eq!(GenerateSimpleUploadUrlResponse::new(url.clone()), resp);
        assert!(serde_json::from_str::<GenerateSimpleUploadUrlResponse>("{}").is_err());
    }

    #[test]
    fn import_request() {
        let req = ImportFileRequest::new("https://example.com/logo.png")
            .display_name("logo.png")
            .mime_type("image/png")
            .media_type(MediaType::Image)
            .options(
                FileOptions::new()
                    .parent_folder_id("media-root")
                    .file_path("/imports/2024")
                    .private(false)
                    .label("imported")
                    .external_info("crm", ["42"]),
            )
            .url_param("size", "large")
            .url_param("v", 2)
            .url_header("Authorization", "Bearer s3cr3t-header");
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({
                "url": "https://example.com/logo.png",
                "displayName": "logo.png",
                "mimeType": "image/png",
                "mediaType": "IMAGE",
                "parentFolderId": "media-root",
                "filePath": "/imports/2024",
                "private": false,
                "labels": ["imported"],
                "externalInfo": {"origin": "crm", "externalIds": ["42"]},
                "urlParams": {"size": "large", "v": 2},
                "urlHeaders": {"Authorization": "Bearer s3cr3t-header"}
            })
        );
        assert_eq!(round_trip(&req), req);
        assert_eq!(
            serde_json::to_value(ImportFileRequest::new("https://x/y.jpg")).unwrap(),
            json!({"url": "https://x/y.jpg"})
        );
        assert!(serde_json::from_str::<ImportFileRequest>(r#"{"displayName":"a"}"#).is_err());
    }

    #[test]
    fn import_request_debug_hides_secrets() {
        let req = ImportFileRequest::new(
            "https://user:pa55@bucket.example.com/a/b.png?X-Amz-Signature=deadbeef#frag",
        )
        .display_name("b.png")
        .url_param("token", "param-secret")
        .url_header("Authorization", "Bearer header-secret");
        for shown in [format!("{req:?}"), format!("{req:#?}")] {
            for secret in [
                "pa55",
                "user",
                "deadbeef",
                "frag",
                "param-secret",
                "header-secret",
            ] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(
                shown.contains("https://***@bucket.example.com/a/b.png?***"),
                "{shown}"
            );
            assert!(shown.contains("b.png"), "{shown}");
            assert!(shown.contains("\"token\""), "{shown}");
            assert!(shown.contains("\"Authorization\""), "{shown}");
        }
    }

    #[test]
    fn redacted_urls() {
        for (url, shown) in [
            ("https://example.com/a.png", "https://example.com/a.png"),
            ("https://example.com", "https://example.com"),
            ("https://example.com?sig=1", "https://example.com?***"),
            ("https://example.com/p#f", "https://example.com/p?***"),
            ("https://u@example.com/p", "https://***@example.com/p"),
            ("https://example.com/p@q", "https://example.com/p@q"),
            ("example.com/a?b", "example.com/a?***"),
            ("", ""),
            ("ü://ä@ö/ß?€", "ü://***@ö/ß?***"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn external_info_and_get_files() {
        let info: ExternalInfo = serde_json::from_value(
            json!({"origin": "crm", "externalIds": ["1", 2, null], "other": 1}),
        )
        .unwrap();
        assert_eq!(
            info,
            ExternalInfo {
                origin: Some("crm".into()),
                external_ids: vec!["1".into()]
            }
        );
        let info: ExternalInfo = serde_json::from_value(json!({"externalIds": null})).unwrap();
        assert_eq!(info, ExternalInfo::default());
        assert_eq!(serde_json::to_value(&info).unwrap(), json!({}));
    }
}
