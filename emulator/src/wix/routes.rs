//! The REST routes under `/site-media/v1`, by method and path.

use crate::http::decode_path_segment;

/// Prefix of every REST route.
pub(crate) const API_PATH: &str = "/site-media/v1";

/// A REST route under `/site-media/`.
pub(crate) enum RestRoute {
    GenerateResumable,
    GenerateSimple,
    Import,
    BulkImport,
    GetFileById,
    GetFiles,
    /// `GET /site-media/v1/files/{id}`.
    GetFile(String),
    ListFiles,
    SearchFiles,
    UpdateFile,
    BulkDelete,
    BulkRestore,
    DownloadUrl,
    CreateFolder,
    ListFolders,
    /// `GET /site-media/v1/folders/{id}`.
    GetFolder(String),
    Unknown,
}

impl RestRoute {
    /// The route at `path` for `method`; when the path has no route for the method, one of
    /// its routes (which then answers 405).
    pub fn of(method: &str, path: &str) -> RestRoute {
        let Some(rest) = path.strip_prefix(API_PATH) else {
            return RestRoute::Unknown;
        };
        match rest.trim_end_matches('/') {
            "/files" => RestRoute::ListFiles,
            "/files/generate-resumable-upload-url" => RestRoute::GenerateResumable,
            "/files/generate-upload-url" => RestRoute::GenerateSimple,
            "/files/import" => RestRoute::Import,
            "/files/get-file-by-id" => RestRoute::GetFileById,
            "/files/get-files" => RestRoute::GetFiles,
            "/files/search" => RestRoute::SearchFiles,
            "/files/update-file-descriptor" => RestRoute::UpdateFile,
            "/files/generate-file-download-url" => RestRoute::DownloadUrl,
            "/bulk/files/import-v2" => RestRoute::BulkImport,
            "/bulk/files/delete" => RestRoute::BulkDelete,
            "/bulk/trash-bin/files/restore" => RestRoute::BulkRestore,
            "/folders" if method == "POST" => RestRoute::CreateFolder,
            "/folders" => RestRoute::ListFolders,
            other => by_id(other),
        }
    }

    /// The route's name in [`Emulator::route_counts`](crate::Emulator::route_counts).
    pub fn name(&self) -> &'static str {
        match self {
            RestRoute::GenerateResumable => "generate-resumable-upload-url",
            RestRoute::GenerateSimple => "generate-upload-url",
            RestRoute::Import => "import",
            RestRoute::BulkImport => "bulk-import-v2",
            RestRoute::GetFileById => "get-file-by-id",
            RestRoute::GetFiles => "get-files",
            RestRoute::GetFile(_) => "get-file",
            RestRoute::ListFiles => "list-files",
            RestRoute::SearchFiles => "search-files",
            RestRoute::UpdateFile => "update-file-descriptor",
            RestRoute::BulkDelete => "bulk-delete-files",
            RestRoute::BulkRestore => "bulk-restore-files",
            RestRoute::DownloadUrl => "generate-file-download-url",
            RestRoute::CreateFolder => "create-folder",
            RestRoute::ListFolders => "list-folders",
            RestRoute::GetFolder(_) => "get-folder",
            RestRoute::Unknown => "unknown",
        }
    }

    /// The method the route takes.
    pub fn method(&self) -> &'static str {
        match self {
            RestRoute::GetFileById
            | RestRoute::GetFile(_)
            | RestRoute::ListFiles
            | RestRoute::ListFolders
            | RestRoute::GetFolder(_) => "GET",
            RestRoute::UpdateFile => "PATCH",
            _ => "POST",
        }
    }

    /// The methods its path takes (the `Allow` of a 405).
    pub fn allow(&self) -> &'static str {
        match self {
            RestRoute::CreateFolder | RestRoute::ListFolders => "GET, POST",
            other => other.method(),
        }
    }
}

/// `/files/{id}` and `/folders/{id}`.
fn by_id(rest: &str) -> RestRoute {
    let one_segment = |s: &str| (!s.is_empty() && !s.contains('/')).then(|| decode_path_segment(s));
    if let Some(id) = rest.strip_prefix("/files/").and_then(one_segment) {
        return RestRoute::GetFile(id);
    }
    if let Some(id) = rest.strip_prefix("/folders/").and_then(one_segment) {
        return RestRoute::GetFolder(id);
    }
    RestRoute::Unknown
}
