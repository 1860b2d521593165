//! The MD5 of a file's content, read in constant memory: how a file whose size and mtime
//! changed but whose content did not (`touch`, a fresh checkout) is told from an edited one,
//! against the manifest or the `hash` of Wix's descriptor.

use std::io::Read;
use std::path::Path;

use md5::{Digest, Md5};

/// The lowercase hex MD5 of the file at `path`.
pub fn md5_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A Wix descriptor's `hash` when it looks like an MD5 (32 hex digits), lowercased; Wix does
/// not document the algorithm, so anything else is no hash.
pub fn md5_like(hash: Option<&str>) -> Option<String> {
    hash.filter(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_a_file() {
        let path = std::env::temp_dir().join(format!("wmu-md5-{}", std::process::id()));
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(md5_file(&path).unwrap(), "5d41402abc4b2a76b9719d911017c592");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            md5_like(Some("5D41402ABC4B2A76B9719D911017C592")).as_deref(),
            Some("5d41402abc4b2a76b9719d911017c592")
        );
        assert_eq!(md5_like(Some("abc")), None);
        assert_eq!(md5_like(None), None);
    }
}
