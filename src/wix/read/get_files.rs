//! Many files by id: `POST /site-media/v1/files/get-files` `{fileIds}` → `{files}`, in
//! requests of at most [`MAX_IDS`] ids.

use crate::error::Result;
use crate::wix::FileDescriptor;
use crate::wix::action::{Action, RestRequest, json};
use crate::wix::rest::Rest;
use crate::wix::types::GetFilesResponse;
use wix_media_tus::Method;

/// Most ids one get-files request carries (Wix documents no bound; a URL-free POST body of
/// 100 ids stays small).
pub(crate) const MAX_IDS: usize = 100;

/// One get-files request.
pub(crate) struct GetFiles<'a>(pub(crate) &'a [&'a str]);

impl Action for GetFiles<'_> {
    type Output = Vec<FileDescriptor>;

    fn request(&self) -> RestRequest {
        let body = serde_json::json!({ "fileIds": self.0 });
        RestRequest::json(Method::Post, "/site-media/v1/files/get-files", body)
    }

    fn parse_response(&self, body: &[u8]) -> std::result::Result<Vec<FileDescriptor>, String> {
        Ok(json::<GetFilesResponse>(body)?.files)
    }
}

/// Every descriptor answered for `ids`, read [`MAX_IDS`] at a time, in the answers' order.
pub(crate) fn get_all(rest: &Rest<'_>, ids: &[&str]) -> Result<Vec<FileDescriptor>> {
    let mut files = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(MAX_IDS) {
        files.extend(rest.run(&GetFiles(chunk))?);
    }
    Ok(files)
}

/// The descriptor of each of `ids`, in order, read [`MAX_IDS`] at a time; `None` where an
/// answer left one out.
pub(crate) fn get_each(rest: &Rest<'_>, ids: &[&str]) -> Result<Vec<Option<FileDescriptor>>> {
    let mut files = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(MAX_IDS) {
        files.extend(match_ids(chunk, rest.run(&GetFiles(chunk))?));
    }
    Ok(files)
}

/// The descriptor answered for each of `asked`, in order: matched by id, else by position
/// when the answer has one per id (an id asked as `wix:image://...` comes back plain).
pub(crate) fn match_ids(asked: &[&str], files: Vec<FileDescriptor>) -> Vec<Option<FileDescriptor>> {
    let by_position = files.len() == asked.len();
    let mut slots: Vec<Option<FileDescriptor>> = files.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(asked.len());
    for (i, id) in asked.iter().enumerate() {
        let found = slots
            .iter()
            .position(|f| f.as_ref().and_then(|f| f.id.as_deref()) == Some(*id));
        let taken = match found {
            Some(j) => slots[j].take(),
            None if by_position => slots.get_mut(i).and_then(Option::take),
            None => None,
        };
        out.push(taken);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(id: &str) -> FileDescriptor {
        serde_json::from_value(json!({ "id": id })).unwrap()
    }

    #[test]
    fn get_files_request_and_answer() {
        let ids = ["a", "b"];
        let r = GetFiles(&ids).request();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/site-media/v1/files/get-files");
        assert_eq!(r.body, Some(json!({"fileIds": ["a", "b"]})));
        let files = GetFiles(&ids)
            .parse_response(br#"{"files": [{"id": "a"}, {"_id": "b"}]}"#)
            .unwrap();
        assert_eq!(files, vec![file("a"), file("b")]);
        assert_eq!(GetFiles(&ids).parse_response(b"{}").unwrap(), vec![]);
    }

    #[test]
    fn answers_are_matched_by_id_then_by_position() {
        let matched = match_ids(&["a", "b", "c"], vec![file("c"), file("a")]);
        assert_eq!(matched, vec![Some(file("a")), None, Some(file("c"))]);
        let plain = match_ids(&["wix:image://v1/x/y.png", "b"], vec![file("x"), file("b")]);
        assert_eq!(plain, vec![Some(file("x")), Some(file("b"))]);
        assert_eq!(match_ids(&["a"], vec![]), vec![None]);
    }
}
