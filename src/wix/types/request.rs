//! Request bodies of the routes that create or read files, and the answers that are not a
//! file descriptor.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;
use super::{MediaType, UploadProtocol};
use crate::secret::Secret;

/// `externalInfo`: the caller's own ids for a file, echoed back in Wix's webhooks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ExternalInfo {
    /// Who the ids belong to (`origin`), e.g. the caller's app name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The caller's ids (`externalIds`).
    #[serde(
        deserialize_with = "lenient::seq",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub external_ids: Vec<String>,
}

impl ExternalInfo {
    /// External info with this `origin` and no ids yet.
    pub fn new(origin: impl Into<String>) -> Self {
        ExternalInfo {
            origin: Some(origin.into()),
            external_ids: Vec::new(),
        }
    }

    /// Adds one id to `externalIds`.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_ids.push(id.into());
        self
    }

    /// Replaces `externalIds`.
    pub fn external_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.external_ids = ids.into_iter().map(Into::into).collect();
        self
    }
}

/// The optional fields shared by every request that creates a file (generate upload URL,
/// resumable or not, and import): where the file goes, whether it is private, its labels and
/// the caller's own ids.
///
/// Build one set and hand it to any of these requests with their `options` method, or use
/// the requests' own setters of the same names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct FileOptions {
    /// Folder to create the file in (`parentFolderId`; Wix's default: `media-root`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_folder_id: Option<String>,
    /// Whether the file is private (`private`; a private file cannot be made public later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private: Option<bool>,
    /// Labels to attach to the file (`labels`: at most 500, each at most 200 characters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Folder path such as `/videos/2024/december` (`filePath`); missing folders are created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    /// The caller's own ids for the file (`externalInfo`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_info: Option<ExternalInfo>,
}

impl FileOptions {
    /// No options: Wix's defaults.
    pub fn new() -> Self {
        FileOptions::default()
    }

    /// Sets `parentFolderId`.
    pub fn parent_folder_id(mut self, id: impl Into<String>) -> Self {
        self.parent_folder_id = Some(id.into());
        self
    }

    /// Sets `private`.
    pub fn private(mut self, private: bool) -> Self {
        self.private = Some(private);
        self
    }

    /// Adds one label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }

    /// Replaces all labels.
    pub fn labels<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `filePath`.
    pub fn file_path(mut self, path: impl Into<String>) -> Self {
        self.file_path = Some(path.into());
        self
    }

    /// Sets `externalInfo`.
    pub fn external_info(mut self, info: ExternalInfo) -> Self {
        self.external_info = Some(info);
        self
    }
}

/// The [`FileOptions`] setters, for a request with an `options: FileOptions` field.
macro_rules! file_option_setters {
    () => {
        /// Replaces all the shared options ([`FileOptions`]) at once.
        pub fn options(mut self, options: FileOptions) -> Self {
            self.options = options;
            self
        }

        /// Sets `parentFolderId` (Wix's default: `media-root`).
        pub fn parent_folder_id(mut self, id: impl Into<String>) -> Self {
            self.options = self.options.parent_folder_id(id);
            self
        }

        /// Sets `private` (a private file cannot be made public later).
        pub fn private(mut self, private: bool) -> Self {
            self.options = self.options.private(private);
            self
        }

        /// Adds one label.
        pub fn label(mut self, label: impl Into<String>) -> Self {
            self.options = self.options.label(label);
            self
        }

        /// Replaces all labels.
        pub fn labels<I, S>(mut self, labels: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.options = self.options.labels(labels);
            self
        }

        /// Sets `filePath`, e.g. `/videos/2024/december`; missing folders are created.
        pub fn file_path(mut self, path: impl Into<String>) -> Self {
            self.options = self.options.file_path(path);
            self
        }

        /// Sets `externalInfo`.
        pub fn external_info(mut self, info: ExternalInfo) -> Self {
            self.options = self.options.external_info(info);
            self
        }
    };
}

fn tus() -> UploadProtocol {
    UploadProtocol::Tus
}

/// Body of `POST /site-media/v1/files/generate-resumable-upload-url` (the tus route).
///
/// ```
/// use wix_media_upload::wix::GenerateUploadUrlRequest;
///
/// let request = GenerateUploadUrlRequest::new("video/mp4")
///     .file_name("clip.mp4")
///     .size_in_bytes(10_737_418_240)
///     .file_path("/videos/2024/december");
/// assert_eq!(request.options.file_path.as_deref(), Some("/videos/2024/december"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GenerateUploadUrlRequest {
    /// MIME type of the file (required, max 100 chars).
    pub mime_type: String,
    /// File name shown in the Media Manager (max 200 chars); with it, finalize's `filename`
    /// is optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// File size; sent as a decimal string.
    #[serde(
        default,
        with = "lenient::string_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub size_in_bytes: Option<u64>,
    /// Folder, privacy, labels, external ids.
    #[serde(flatten)]
    pub options: FileOptions,
    #[serde(default = "tus")]
    upload_protocol: UploadProtocol,
}

impl GenerateUploadUrlRequest {
    /// A request for a tus upload of a file with this MIME type.
    pub fn new(mime_type: impl Into<String>) -> Self {
        GenerateUploadUrlRequest {
            mime_type: mime_type.into(),
            file_name: None,
            size_in_bytes: None,
            options: FileOptions::default(),
            upload_protocol: UploadProtocol::Tus,
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

    file_option_setters!();

    /// The upload protocol sent (as parsed, when deserialized); `TUS` for requests built here.
    pub fn upload_protocol(&self) -> &UploadProtocol {
        &self.upload_protocol
    }
}

impl From<GenerateSimpleUploadUrlRequest> for GenerateUploadUrlRequest {
    /// The same file, uploaded with tus instead.
    fn from(simple: GenerateSimpleUploadUrlRequest) -> Self {
        GenerateUploadUrlRequest {
            mime_type: simple.mime_type,
            file_name: simple.file_name,
            size_in_bytes: simple.size_in_bytes,
            options: simple.options,
            upload_protocol: UploadProtocol::Tus,
        }
    }
}

/// Answer of generate-resumable-upload-url. `Debug` masks the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GenerateUploadUrlResponse {
    /// Protocol of `upload_url` (`TUS`).
    #[serde(default = "tus")]
    pub upload_protocol: UploadProtocol,
    /// tus creation endpoint.
    pub upload_url: String,
    /// Single-use token for the upload and finalize calls.
    pub upload_token: Secret,
}

impl GenerateUploadUrlResponse {
    /// A tus target from an upload URL and token obtained elsewhere (e.g. by a server that
    /// called Wix and handed both on).
    pub fn new(upload_url: impl Into<String>, upload_token: impl Into<String>) -> Self {
        GenerateUploadUrlResponse {
            upload_protocol: UploadProtocol::Tus,
            upload_url: upload_url.into(),
            upload_token: Secret::new(upload_token),
        }
    }
}

/// Body of `POST /site-media/v1/files/generate-upload-url` (the simple, single-request
/// route): the fields of [`GenerateUploadUrlRequest`] without `uploadProtocol`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GenerateSimpleUploadUrlRequest {
    /// MIME type of the file (required, max 100 chars).
    pub mime_type: String,
    /// File name shown in the Media Manager (max 200 chars); with it, the upload's `filename`
    /// is optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// File size; sent as a decimal string.
    #[serde(
        default,
        with = "lenient::string_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub size_in_bytes: Option<u64>,
    /// Folder, privacy, labels, external ids.
    #[serde(flatten)]
    pub options: FileOptions,
}

impl GenerateSimpleUploadUrlRequest {
    /// A request for a single-request upload of a file with this MIME type.
    pub fn new(mime_type: impl Into<String>) -> Self {
        GenerateSimpleUploadUrlRequest {
            mime_type: mime_type.into(),
            file_name: None,
            size_in_bytes: None,
            options: FileOptions::default(),
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

    file_option_setters!();
}

impl From<GenerateUploadUrlRequest> for GenerateSimpleUploadUrlRequest {
    /// The same file, uploaded in one request instead.
    fn from(resumable: GenerateUploadUrlRequest) -> Self {
        GenerateSimpleUploadUrlRequest {
            mime_type: resumable.mime_type,
            file_name: resumable.file_name,
            size_in_bytes: resumable.size_in_bytes,
            options: resumable.options,
        }
    }
}

/// Answer of generate-upload-url: `{"uploadUrl": ...}`.
///
/// The URL embeds a JWT that authorizes the one upload, so it is a [`Secret`]: `Debug` does
/// not show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GenerateSimpleUploadUrlResponse {
    /// Single-use upload URL: `PUT {upload_url}?filename=NAME` with the file as the body.
    pub upload_url: Secret,
}

impl GenerateSimpleUploadUrlResponse {
    /// A target from an upload URL obtained elsewhere.
    pub fn new(upload_url: impl Into<String>) -> Self {
        GenerateSimpleUploadUrlResponse {
            upload_url: Secret::new(upload_url),
        }
    }
}

/// Body of `POST /site-media/v1/files/import`: Wix fetches the file from `url`.
///
/// Wix needs one of `mimeType`, an extension in `displayName` or `url`, or a source that
/// answers `HEAD`. The answer is a [`FileDescriptorEnvelope`](super::FileDescriptorEnvelope)
/// whose file is `PENDING`.
///
/// `Debug` shows `url` without its user info, query and fragment, and the names but not the
/// values of `urlParams` and `urlHeaders`: a signed URL or a header may authorize the fetch.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImportFileRequest {
    /// URL to import from (required).
    pub url: String,
    /// Name shown in the Media Manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// MIME type of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Kind of media (`IMAGE`, `VIDEO`, `AUDIO`, `DOCUMENT`, `VECTOR`, `ARCHIVE`, `MODEL3D`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// Folder, privacy, labels, external ids.
    #[serde(flatten)]
    pub options: FileOptions,
    /// Parameters Wix sends with the request to `url` (`urlParams`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub url_params: Map<String, Value>,
    /// Headers Wix sends with the request to `url` (`urlHeaders`); values are secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub url_headers: BTreeMap<String, Secret>,
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

    file_option_setters!();
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

/// Body of `POST /site-media/v1/files/get-files`: `{"fileIds": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct GetFilesRequest {
    /// IDs of the files to read (`wix:image://...` ids work too).
    pub file_ids: Vec<String>,
}

impl GetFilesRequest {
    /// A request for these files.
    pub fn new<I, S>(file_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        GetFilesRequest {
            file_ids: file_ids.into_iter().map(Into::into).collect(),
        }
    }
}
