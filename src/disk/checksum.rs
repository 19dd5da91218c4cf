//! Checksums of downloaded files: SHA-256 and SHA-512, and MD5 and SHA-1 as releases still publish
//! them.
//!
//! A link may carry `sha256=HEX`, `sha512=HEX`, `sha1=HEX` or `md5=HEX` (a [`Checksum`]), or take
//! one from a `--checksum-file` ([`crate::disk::checksum_file`]). A file downloaded as one stream
//! is hashed as its bytes are written ([`Hasher`]), so a large file is not read again; a file fetched
//! in ranged chunks arrives out of order, so it is hashed once after the last chunk, from the `.part`
//! file through its open handle (usually still in the page cache), before it is renamed. A mismatch fails the link and
//! nothing appears under the final name.
//!
//! This module depends on nothing else in the crate, so [`crate::Error`] can name a
//! [`ChecksumAlgorithm`]; comparing digests and failing the link is the file task's business.
//!
//! MD5 and SHA-1 are broken as defences against someone who can change the file on purpose: they
//! catch a corrupted download, not a forged one. Only SHA-256 and SHA-512 protect against tampering
//! (and only when the digest comes from somewhere the attacker cannot write).

use std::fmt;
use std::io::{self, Read};

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// A hash function pardl can check a file with.
///
/// ```
/// use pardl::ChecksumAlgorithm;
///
/// assert_eq!(ChecksumAlgorithm::from_key("SHA512"), Some(ChecksumAlgorithm::Sha512));
/// assert_eq!(ChecksumAlgorithm::Sha512.key(), "sha512");
/// assert_eq!(ChecksumAlgorithm::Sha512.to_string(), "SHA-512");
/// assert_eq!(ChecksumAlgorithm::Md5.hex_len(), 32);
/// assert!(!ChecksumAlgorithm::Sha1.resists_tampering());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChecksumAlgorithm {
    /// MD5: catches a corrupted download, not a forged one.
    Md5,
    /// SHA-1: catches a corrupted download, not a forged one.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl ChecksumAlgorithm {
    /// Every algorithm, weakest first.
    pub const ALL: [ChecksumAlgorithm; 4] = [
        ChecksumAlgorithm::Md5,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Sha512,
    ];

    /// The name of the links-file option (`sha256` in `sha256=HEX`).
    pub fn key(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Md5 => "md5",
            ChecksumAlgorithm::Sha1 => "sha1",
            ChecksumAlgorithm::Sha256 => "sha256",
            ChecksumAlgorithm::Sha512 => "sha512",
        }
    }

    /// The algorithm an option name or a BSD checksum line names (`sha256`, `SHA256`, `MD5`),
    /// whatever its case.
    pub fn from_key(key: &str) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.key().eq_ignore_ascii_case(key))
    }

    /// The number of hex digits of a digest.
    pub fn hex_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Md5 => 32,
            ChecksumAlgorithm::Sha1 => 40,
            ChecksumAlgorithm::Sha256 => 64,
            ChecksumAlgorithm::Sha512 => 128,
        }
    }

    /// The algorithm whose digests have `len` hex digits (how a GNU `*SUMS` line is read).
    pub fn from_hex_len(len: usize) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.hex_len() == len)
    }

    /// Whether a match also shows that nobody changed the file on purpose (SHA-256, SHA-512), not
    /// only that it arrived intact (MD5, SHA-1, for which collisions can be made).
    pub fn resists_tampering(self) -> bool {
        matches!(self, ChecksumAlgorithm::Sha256 | ChecksumAlgorithm::Sha512)
    }
}

impl fmt::Display for ChecksumAlgorithm {
    /// The name people write: `SHA-256`, `MD5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChecksumAlgorithm::Md5 => "MD5",
            ChecksumAlgorithm::Sha1 => "SHA-1",
            ChecksumAlgorithm::Sha256 => "SHA-256",
            ChecksumAlgorithm::Sha512 => "SHA-512",
        })
    }
}

/// A digest a file must have: an algorithm and its value in lowercase hex.
///
/// ```
/// use pardl::{Checksum, ChecksumAlgorithm};
///
/// let hex = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
/// let checksum = Checksum::parse(&format!("sha256={hex}")).unwrap();
/// assert_eq!(checksum.algorithm, ChecksumAlgorithm::Sha256);
/// assert_eq!(checksum.hex, hex.to_ascii_lowercase());
/// assert_eq!(checksum.to_string(), format!("sha256={}", hex.to_ascii_lowercase()));
/// assert!(Checksum::parse("md5=abc").unwrap_err().contains("md5= needs 32 hex digits"));
/// assert!(Checksum::parse("crc32=abc").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    /// The hash function.
    pub algorithm: ChecksumAlgorithm,
    /// The digest, as lowercase hex digits.
    pub hex: String,
}

impl Checksum {
    /// Checks `hex` as a digest of `algorithm` (the right number of hex digits, any case) and keeps
    /// it in lowercase.
    pub fn new(algorithm: ChecksumAlgorithm, hex: &str) -> Result<Checksum, String> {
        let (key, digits) = (algorithm.key(), algorithm.hex_len());
        if let Some((at, c)) = hex
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_hexdigit())
        {
            // `{:?}` quotes the character and escapes one that could drive the terminal.
            return Err(format!(
                "{key}= needs {digits} hex digits, and {c:?} (character {}) is not a hex digit",
                at + 1
            ));
        }
        if hex.len() != digits {
            return Err(format!(
                "{key}= needs {digits} hex digits, got {} characters",
                hex.chars().count()
            ));
        }
        Ok(Checksum {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// Parses `ALGORITHM=HEX` as a links file and `--checksum` write it: `sha256=…`, `sha512=…`,
    /// `sha1=…` or `md5=…`.
    pub fn parse(text: &str) -> Result<Checksum, String> {
        let algorithm = text
            .split_once('=')
            .and_then(|(key, _)| ChecksumAlgorithm::from_key(key.trim()));
        match (algorithm, text.split_once('=')) {
            (Some(algorithm), Some((_, hex))) => Checksum::new(algorithm, hex.trim()),
            _ => Err(format!(
                "expected ALGORITHM=HEX with ALGORITHM one of sha256, sha512, sha1, md5, got '{text}'"
            )),
        }
    }
}

impl fmt::Display for Checksum {
    /// `sha256=HEX`, as a links file writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.algorithm.key(), self.hex)
    }
}

/// A digest being computed, of whichever algorithm the link asks for.
#[derive(Clone)]
pub(crate) enum Hasher {
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    /// A fresh digest of `algorithm`.
    pub(crate) fn new(algorithm: ChecksumAlgorithm) -> Hasher {
        match algorithm {
            ChecksumAlgorithm::Md5 => Hasher::Md5(Md5::new()),
            ChecksumAlgorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            ChecksumAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// Adds `bytes` to the digest.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Md5(hasher) => hasher.update(bytes),
            Hasher::Sha1(hasher) => hasher.update(bytes),
            Hasher::Sha256(hasher) => hasher.update(bytes),
            Hasher::Sha512(hasher) => hasher.update(bytes),
        }
    }

    /// The digest of everything added.
    pub(crate) fn finish(self) -> Checksum {
        let (algorithm, digest) = match self {
            Hasher::Md5(hasher) => (ChecksumAlgorithm::Md5, hasher.finalize().to_vec()),
            Hasher::Sha1(hasher) => (ChecksumAlgorithm::Sha1, hasher.finalize().to_vec()),
            Hasher::Sha256(hasher) => (ChecksumAlgorithm::Sha256, hasher.finalize().to_vec()),
            Hasher::Sha512(hasher) => (ChecksumAlgorithm::Sha512, hasher.finalize().to_vec()),
        };
        Checksum {
            algorithm,
            hex: to_hex(&digest),
        }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithm = match self {
            Hasher::Md5(_) => ChecksumAlgorithm::Md5,
            Hasher::Sha1(_) => ChecksumAlgorithm::Sha1,
            Hasher::Sha256(_) => ChecksumAlgorithm::Sha256,
            Hasher::Sha512(_) => ChecksumAlgorithm::Sha512,
        };
        write!(f, "Hasher({algorithm})")
    }
}

/// Lowercase hex of a digest.
pub(crate) fn to_hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `algorithm` digest of what `reader` reads to its end (a file through its open handle: a name
/// could be changed under pardl by another program).
pub(crate) fn hash_reader(
    mut reader: impl Read,
    algorithm: ChecksumAlgorithm,
) -> io::Result<Checksum> {
    let mut hasher = Hasher::new(algorithm);
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digests of `abc` (FIPS 180 and RFC 1321 test vectors).
    const ABC: [(ChecksumAlgorithm, &str); 4] = [
        (ChecksumAlgorithm::Md5, "900150983cd24fb0d6963f7d28e17f72"),
        (
            ChecksumAlgorithm::Sha1,
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        ),
        (
            ChecksumAlgorithm::Sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            ChecksumAlgorithm::Sha512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ];

    #[test]
    fn hashes_match_known_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        for (algorithm, hex) in ABC {
            let expected = Checksum::new(algorithm, hex).unwrap();
            assert_eq!(
                hash_reader(std::fs::File::open(&path).unwrap(), algorithm).unwrap(),
                expected,
                "{algorithm}"
            );
            let mut streamed = Hasher::new(algorithm);
            streamed.update(b"a");
            streamed.update(b"bc");
            assert_eq!(streamed.finish(), expected, "{algorithm}");
        }
    }

    #[test]
    fn each_algorithm_wants_its_own_number_of_digits() {
        for algorithm in ChecksumAlgorithm::ALL {
            let len = algorithm.hex_len();
            assert_eq!(ChecksumAlgorithm::from_hex_len(len), Some(algorithm));
            assert!(Checksum::new(algorithm, &"A".repeat(len)).is_ok());
            assert!(Checksum::new(algorithm, &"a".repeat(len - 1)).is_err());
            assert!(Checksum::new(algorithm, &"g".repeat(len)).is_err());
            let parsed = Checksum::parse(&format!("{}={}", algorithm.key(), "F".repeat(len)));
            assert_eq!(parsed.unwrap().hex, "f".repeat(len));
        }
    }
}
