//! Resolving a `Location` header against the URL it answered.

/// Resolves `location` (absolute, scheme-relative, absolute-path or relative-path) against `base`.
///
/// Returns `None` when `base` is not an absolute `http(s)` URL or `location` is empty.
pub fn resolve(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.is_empty() {
        return None;
    }
    let (scheme, rest) = base.split_once("://")?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return None;
    }
    if has_scheme(location) {
        return Some(location.to_owned());
    }
    if let Some(after) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{after}"));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if authority.is_empty() {
        return None;
    }
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    // A relative path replaces the last segment of the base path (RFC 3986 5.2.3).
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    Some(format!(
        "{scheme}://{authority}{}",
        normalize(&format!("{dir}{location}"))
    ))
}

fn has_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(i) if i > 0 => {
            let scheme = &s[..i];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !s[..i].contains('/')
        }
        _ => false,
    }
}

// Removes `.` and `..` segments of a path (query left as it is).
fn normalize(path: &str) -> String {
    let (path, query) = match path.find(['?', '#']) {
        Some(i) => path.split_at(i),
        None => (path, ""),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut joined = out.join("/");
    if !joined.starts_with('/') {
        joined.insert(0, '/');
    }
    joined + query
}

#[cfg(test)]
mod tests {
    use super::resolve;

    const BASE: &str = "http://h:1080/upload/tus";

    #[test]
    fn absolute_is_kept() {
        assert_eq!(resolve(BASE, "https://x/y").as_deref(), Some("https://x/y"));
    }

    #[test]
    fn scheme_relative_takes_base_scheme() {
        assert_eq!(resolve(BASE, "//x/y").as_deref(), Some("http://x/y"));
    }

    #[test]
    fn absolute_path_takes_base_authority() {
        assert_eq!(
            resolve(BASE, "/files/1").as_deref(),
            Some("http://h:1080/files/1")
        );
    }

    #[test]
    fn relative_path_replaces_last_segment() {
        assert_eq!(
            resolve(BASE, "abc").as_deref(),
            Some("http://h:1080/upload/abc")
        );
        assert_eq!(
            resolve("http://h/upload/tus/", "abc").as_deref(),
            Some("http://h/upload/tus/abc")
        );
        assert_eq!(
            resolve(BASE, "../x?q=1").as_deref(),
            Some("http://h:1080/x?q=1")
        );
        assert_eq!(resolve("http://h", "abc").as_deref(), Some("http://h/abc"));
        assert_eq!(
            resolve("http://h/a?x=/y", "b").as_deref(),
            Some("http://h/b")
        );
    }

    #[test]
    fn bad_inputs_give_none() {
        assert_eq!(resolve(BASE, ""), None);
        assert_eq!(resolve("no-scheme/x", "/a"), None);
        assert_eq!(resolve("ftp://h/x", "/a"), None);
        assert_eq!(resolve("http:///x", "/a"), None);
    }
}
