//! The keys of state records, made and read here only: a tus upload's
//! `{endpoint}\n{source}`, a parallel slice's `{upload key}\npart {i}/{n}`, and a Wix job's
//! `wix-file\n{api_base}\n{scope}\n{source}\n{request as JSON}` (the one-writer lock and the
//! finished outcome of a file's upload: the site, the file, and everything asked of Wix).
//! [`source_of`] reads the source back, for `has_saved`.

/// The record of an upload of the source keyed `source` to `endpoint`.
pub(crate) fn upload(endpoint: &str, source: &str) -> String {
    format!("{endpoint}\n{source}")
}

/// The record of slice `i` of `n` of the upload keyed `upload`.
pub(crate) fn slice(upload: &str, i: usize, n: usize) -> String {
    format!("{upload}\npart {i}/{n}")
}

/// The record of a Wix job: `scope` is the credentials' scope as `Debug` shows it, `asked`
/// the generate request as JSON.
pub(crate) fn wix_job(api_base: &str, scope: &str, source: &str, asked: &str) -> String {
    format!("wix-file\n{api_base}\n{scope}\n{source}\n{asked}")
}

/// The source key inside a state key made above.
/// URLs, a `Debug` string and JSON hold no newline, so a source key with one is still found.
pub(crate) fn source_of(state_key: &str) -> Option<&str> {
    if let Some(rest) = state_key.strip_prefix("wix-file\n") {
        let (_api_base, rest) = rest.split_once('\n')?;
        let (_scope, rest) = rest.split_once('\n')?;
        return Some(rest.rsplit_once('\n')?.0);
    }
    let (_endpoint, rest) = state_key.split_once('\n')?;
    let Some((source, part)) = rest.rsplit_once('\n') else {
        return Some(rest);
    };
    let is_part = part.strip_prefix("part ").is_some_and(|p| {
        p.split_once('/').is_some_and(|(i, n)| {
            [i, n]
                .iter()
                .all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
    });
    Some(if is_part { source } else { rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_is_found_in_every_kind_of_key() {
        let up = upload("http://h/files", "key:a");
        assert_eq!(source_of(&up), Some("key:a"));
        assert_eq!(source_of(&slice(&up, 1, 4)), Some("key:a"));
        assert_eq!(source_of("http://h/files\nkey:a\nb"), Some("key:a\nb"));
        assert_eq!(
            source_of("http://h/files\nkey:a\npart 1/4\npart 2/4"),
            Some("key:a\npart 1/4")
        );
        let job = wix_job("http://w", "Site(\"s\")", "file:/x:3:9", "{\"a\":\"\\n\"}");
        assert_eq!(source_of(&job), Some("file:/x:3:9"));
        assert_eq!(source_of("no newline"), None);
    }
}
