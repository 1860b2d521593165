//! `Upload-Checksum` values (tus checksum extension), computed by streaming the body once.

use std::io::Read;

use crate::error::Result;
use wix_media_tus::ChecksumAlgorithm;

/// The algorithms this build can compute, best first.
#[cfg(feature = "checksum")]
pub(crate) const SUPPORTED: &[ChecksumAlgorithm] =
    &[ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Sha1];
/// The algorithms this build can compute: none without the `checksum` feature.
#[cfg(not(feature = "checksum"))]
pub(crate) const SUPPORTED: &[ChecksumAlgorithm] = &[];

/// `"<algo> <base64 digest>"` of everything `body` yields.
#[cfg(feature = "checksum")]
pub(crate) fn header(algo: ChecksumAlgorithm, body: impl Read) -> Result<String> {
    use base64::Engine as _;
    let digest = match algo {
        ChecksumAlgorithm::Sha1 => hash::<sha1::Sha1>(body)?,
        ChecksumAlgorithm::Sha256 => hash::<sha2::Sha256>(body)?,
    };
    Ok(format!(
        "{} {}",
        algo.name(),
        base64::engine::general_purpose::STANDARD.encode(digest)
    ))
}

#[cfg(feature = "checksum")]
fn hash<D: sha1::Digest>(mut body: impl Read) -> Result<Vec<u8>> {
    let mut hasher = D::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().to_vec())
}

/// Without the `checksum` feature no algorithm is ever agreed, so this is never called.
#[cfg(not(feature = "checksum"))]
pub(crate) fn header(_algo: ChecksumAlgorithm, _body: impl Read) -> Result<String> {
    Err(crate::error::Error::Internal(
        "a checksum was agreed without the `checksum` feature",
    ))
}

#[cfg(all(test, feature = "checksum"))]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // RFC 3174 / FIPS 180-2 test vector "abc".
        assert_eq!(
            header(ChecksumAlgorithm::Sha1, &b"abc"[..]).unwrap(),
            "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
        );
        assert_eq!(
            header(ChecksumAlgorithm::Sha256, &b"abc"[..]).unwrap(),
            "sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }
}
