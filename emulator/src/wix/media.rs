//! MIME types, file-name extensions and Wix media types; media ids and image sizes.

/// Every `mediaType` a caller may name (the import route's `mediaType` field).
pub(crate) const MEDIA_TYPES: [&str; 7] = [
    "IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "VECTOR", "ARCHIVE", "MODEL3D",
];

/// `type/subtype` of a MIME type, lowercased, without parameters.
pub(crate) fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The Wix media type of a MIME type, or `None` when Wix doesn't take such files.
pub(crate) fn media_type(mime: &str) -> Option<&'static str> {
    let m = essence(mime);
    let (top, sub) = m.split_once('/')?;
    if sub.is_empty() {
        return None;
    }
    Some(match (top, sub) {
        ("image", "svg+xml") => "VECTOR",
        ("image", _) => "IMAGE",
        ("video", _) => "VIDEO",
        ("audio", _) => "AUDIO",
        ("model", _) => "MODEL3D",
        // Active content is not a document.
        ("text", "html" | "javascript" | "xml") => return None,
        ("text", _) => "DOCUMENT",
        ("application", "pdf" | "msword" | "rtf" | "vnd.ms-excel" | "vnd.ms-powerpoint") => {
            "DOCUMENT"
        }
        ("application", s)
            if s.starts_with("vnd.openxmlformats-officedocument.")
                || s.starts_with("vnd.oasis.opendocument.") =>
        {
            "DOCUMENT"
        }
        (
            "application",
            "zip" | "x-zip-compressed" | "vnd.rar" | "x-rar-compressed" | "x-7z-compressed"
            | "gzip" | "x-tar",
        ) => "ARCHIVE",
        // Generic binaries are kept as OTHER; executables are refused below.
        ("font", _) | ("application", "octet-stream") => "OTHER",
        _ => return None,
    })
}

/// The media types a file-name extension may stand for (empty when unknown).
pub(crate) fn extension_media_types(file_name: &str) -> &'static [&'static str] {
    let Some((_, ext)) = file_name.rsplit_once('.') else {
        return &[];
    };
    match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" | "jpe" | "png" | "gif" | "webp" | "bmp" | "tif" | "tiff" | "ico"
        | "heic" | "heif" | "avif" => &["IMAGE"],
        "svg" => &["VECTOR"],
        "mp4" | "mov" | "avi" | "wmv" | "mpeg" | "mpg" | "m4v" | "flv" | "3gp" | "mkv" | "mts" => {
            &["VIDEO"]
        }
        "webm" | "ogg" => &["VIDEO", "AUDIO"],
        "mp3" | "wav" | "aac" | "flac" | "m4a" | "oga" | "wma" | "aif" | "aiff" | "opus" => {
            &["AUDIO"]
        }
        "pdf" | "doc" | "docx" | "xls" | "xlsx" | "ppt" | "pptx" | "odt" | "ods" | "odp"
        | "txt" | "rtf" | "csv" => &["DOCUMENT"],
        "zip" | "rar" | "7z" | "gz" | "tar" => &["ARCHIVE"],
        "glb" | "gltf" | "obj" | "fbx" | "stl" | "usdz" => &["MODEL3D"],
        "ttf" | "otf" | "woff" | "woff2" => &["OTHER"],
        _ => &[],
    }
}

/// Width and height from a PNG or GIF header; (0, 0) for anything else.
pub(crate) fn image_size(head: &[u8]) -> (u32, u32) {
    if head.len() >= 24 && head.starts_with(b"\x89PNG\r\n\x1a\n") && &head[12..16] == b"IHDR" {
        let be = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        return (be(16), be(20));
    }
    if head.len() >= 10 && (head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a")) {
        let le = |i: usize| u32::from(u16::from_le_bytes([head[i], head[i + 1]]));
        return (le(6), le(8));
    }
    (0, 0)
}

/// The extension Wix puts on a media id: from the MIME type, else from the file name.
pub(crate) fn id_extension(mime: &str, file_name: &str) -> String {
    let m = essence(mime);
    let from_mime = match m.as_str() {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Some("jpeg"),
        "image/png" => Some("png"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        "image/svg+xml" => Some("svg"),
        "video/mp4" => Some("mp4"),
        "video/quicktime" => Some("mov"),
        "audio/mpeg" => Some("mp3"),
        "application/pdf" => Some("pdf"),
        "application/zip" => Some("zip"),
        "text/plain" => Some("txt"),
        _ => None,
    };
    if let Some(ext) = from_mime {
        return ext.to_string();
    }
    file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into())
}

/// A stable 6-hex-digit owner prefix for a site, like Wix's `2acbb8_`.
pub(crate) fn owner_prefix(site_id: &str) -> String {
    // FNV-1a: stable across runs, unlike std's randomly keyed hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in site_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{:06x}", h & 0x00ff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_follow_the_mime_family() {
        assert_eq!(media_type("image/png"), Some("IMAGE"));
        assert_eq!(media_type("image/svg+xml"), Some("VECTOR"));
        assert_eq!(media_type("video/mp4"), Some("VIDEO"));
        assert_eq!(media_type("audio/mpeg"), Some("AUDIO"));
        assert_eq!(media_type("application/pdf"), Some("DOCUMENT"));
        assert_eq!(media_type("text/plain; charset=utf-8"), Some("DOCUMENT"));
        assert_eq!(media_type("application/zip"), Some("ARCHIVE"));
        assert_eq!(media_type("model/gltf-binary"), Some("MODEL3D"));
        assert_eq!(media_type("application/x-msdownload"), None);
        assert_eq!(media_type("nonsense"), None);
    }

    #[test]
    fn extension_mismatch_is_by_family() {
        assert_eq!(extension_media_types("a.PNG"), &["IMAGE"]);
        assert!(extension_media_types("noext").is_empty());
        assert!(extension_media_types("a.weird").is_empty());
    }

    #[test]
    fn png_and_gif_sizes_are_read() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&370u32.to_be_bytes());
        png.extend_from_slice(&226u32.to_be_bytes());
        assert_eq!(image_size(&png), (370, 226));
        assert_eq!(image_size(b"GIF89a\x02\x00\x03\x00"), (2, 3));
        assert_eq!(image_size(b"junk"), (0, 0));
    }
}
