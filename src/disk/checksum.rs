//! SHA-256 checks of downloaded files.
//!
//! A link may carry `sha256=HEX`. A file downloaded as one stream is hashed as its bytes are written,
//! so a large file is not read again; a file fetched in ranged chunks arrives out of order, so it is
//! hashed once after the last chunk, from the `.part` file through its open handle (usually still in
//! the page cache), before it is renamed. A mismatch fails the link and nothing appears under the final name.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::Error;

/// Lowercase hex of a digest.
pub(crate) fn to_hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of what `reader` reads to its end (the bytes of the file at `path`, named in errors),
/// in lowercase hex.
pub(crate) fn sha256_of(mut reader: impl Read, path: &Path) -> Result<String, Error> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read for checksum", path, e)),
        }
    }
    Ok(to_hex(&hasher.finalize()))
}

/// Compares a computed digest with the expected one.
pub(crate) fn verify(url: &str, expected: &str, actual: String) -> Result<(), Error> {
    if actual == expected {
        Ok(())
    } else {
        Err(Error::ChecksumMismatch {
            url: url.to_string(),
            expected: expected.to_string(),
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_known_values() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_of(&b"abc"[..], Path::new("abc")).unwrap(), abc);
        assert!(verify("u", abc, abc.to_string()).is_ok());
        let error = verify("u", abc, "00".repeat(32)).unwrap_err();
        assert!(
            error.to_string().contains(&format!("expected {abc}")),
            "{error}"
        );
    }
}
