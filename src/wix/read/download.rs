//! A download URL for a file: `POST /site-media/v1/files/generate-file-download-url`.

use serde::Deserialize;
use serde_json::json;

use crate::wix::action::{Action, RestRequest, json};
use wix_media_tus::Method;

/// `{fileId}` → `{downloadUrls: [{url, assetKey}]}`: the first URL. Wix's defaults hold: the
/// URL lasts 600 minutes, and downloads as an attachment named as the file.
pub(crate) struct DownloadUrl<'a>(pub(crate) &'a str);

impl Action for DownloadUrl<'_> {
    type Output = String;

    fn request(&self) -> RestRequest {
        let path = "/site-media/v1/files/generate-file-download-url";
        RestRequest::json(Method::Post, path, json!({ "fileId": self.0 }))
    }

    fn parse_response(&self, body: &[u8]) -> Result<String, String> {
        #[derive(Deserialize)]
        struct Urls {
            #[serde(default, rename = "downloadUrls")]
            download_urls: Option<Vec<Url>>,
        }
        #[derive(Deserialize)]
        struct Url {
            #[serde(default)]
            url: Option<String>,
        }
        json::<Urls>(body)?
            .download_urls
            .unwrap_or_default()
            .into_iter()
            .find_map(|u| u.url.filter(|u| !u.is_empty()))
            .ok_or_else(|| "the answer has no download URL".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_url_is_the_first_one_answered() {
        let action = DownloadUrl("f 1");
        let r = action.request();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/site-media/v1/files/generate-file-download-url");
        assert_eq!(r.body, Some(json!({"fileId": "f 1"})));
        let body = br#"{"downloadUrls": [{"assetKey": "src"}, {"url": "https://d/x", "assetKey": "src"}]}"#;
        assert_eq!(action.parse_response(body).as_deref(), Ok("https://d/x"));
        for none in [
            &br#"{"downloadUrls": []}"#[..],
            br#"{}"#,
            br#"{"downloadUrls": [{"url": ""}]}"#,
        ] {
            assert!(action.parse_response(none).is_err());
        }
    }
}
