//! [`Fields`]: typed optional fields of a JSON request body, collecting Wix-style violations.

use serde_json::Value;

use super::{Violation, folder_or_root};
use crate::store::Placement;

/// Reads typed optional fields of a JSON object, collecting violations.
pub(crate) struct Fields<'a> {
    v: &'a Value,
    pub bad: Vec<Violation>,
}

impl<'a> Fields<'a> {
    pub fn new(v: &'a Value) -> Self {
        Fields { v, bad: Vec::new() }
    }

    /// `parentFolderId` (default `media-root`), `filePath`, `private`, `labels`, `externalInfo`.
    pub fn placement(&mut self) -> Placement {
        let parent = self.string("parentFolderId");
        Placement {
            parent_folder_id: folder_or_root(parent),
            file_path: self.file_path(),
            private: self.boolean("private"),
            labels: self.labels(),
            external_info: self.external_info(),
        }
    }

    pub fn string(&mut self, field: &'static str) -> Option<String> {
        match self.v.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.bad.push(Violation::new(
                    field,
                    "FORMAT",
                    format!("{field} must be a string"),
                ));
                None
            }
        }
    }

    pub fn boolean(&mut self, field: &'static str) -> bool {
        match self.v.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.bad.push(Violation::new(
                    field,
                    "FORMAT",
                    format!("{field} must be a boolean"),
                ));
                false
            }
        }
    }

    /// `labels`: at most 500 strings of at most 200 characters.
    pub fn labels(&mut self) -> Vec<String> {
        let mut labels = Vec::new();
        match self.v.get("labels") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if items.len() > 500 {
                    self.bad
                        .push(Violation::new("labels", "MAX_SIZE", "at most 500 labels"));
                }
                for item in items {
                    match item {
                        Value::String(s) if s.chars().count() <= 200 => labels.push(s.clone()),
                        Value::String(_) => self.bad.push(Violation::new(
                            "labels",
                            "MAX_LENGTH",
                            "a label is at most 200 characters",
                        )),
                        _ => self.bad.push(Violation::new(
                            "labels",
                            "FORMAT",
                            "labels must be strings",
                        )),
                    }
                }
            }
            Some(_) => self.bad.push(Violation::new(
                "labels",
                "FORMAT",
                "labels must be an array",
            )),
        }
        labels
    }

    /// `externalInfo`: `{origin, externalIds[]}`, kept as sent.
    pub fn external_info(&mut self) -> Option<Value> {
        match self.v.get("externalInfo") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(o)) => {
                let origin_ok = o.get("origin").is_none_or(|x| x.is_string() || x.is_null());
                let ids_ok = o.get("externalIds").is_none_or(|x| {
                    x.is_null() || x.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                });
                if origin_ok && ids_ok {
                    Some(v.clone())
                } else {
                    self.bad.push(Violation::new(
                        "externalInfo",
                        "FORMAT",
                        "externalInfo is {origin: string, externalIds: string[]}",
                    ));
                    None
                }
            }
            Some(_) => {
                self.bad.push(Violation::new(
                    "externalInfo",
                    "FORMAT",
                    "externalInfo must be an object",
                ));
                None
            }
        }
    }

    /// `filePath`: at most 100 characters.
    pub fn file_path(&mut self) -> Option<String> {
        let path = self.string("filePath");
        if path.as_ref().is_some_and(|f| f.chars().count() > 100) {
            self.bad.push(Violation::new(
                "filePath",
                "MAX_LENGTH",
                "filePath is at most 100 characters",
            ));
        }
        path
    }
}
