//! The one stable 64-bit key of a text, used wherever pardl must remember or divide a great many
//! links without keeping their text.
//!
//! The key is the first 8 bytes of the SHA-256 of the text's UTF-8 bytes, read as a big-endian
//! integer. SHA-256 rather than the standard library's hasher because the key must be the same on
//! every platform, in every version of pardl and of Rust, and reproducible by users with ordinary
//! tools: shards divide a list by it ([`crate::run::shard`]), so two machines (or two releases) that
//! computed it differently would download some links twice and others never.
//!
//! Three places use it: [`crate::run::shard`] (which shard a URL belongs to), [`crate::disk::names`] (the names
//! already handed out, as keys instead of strings) and [`crate::run::skip_done`] (the links an earlier
//! report marks `ok`). 64 bits make an accidental collision among a million texts about one
//! chance in 36 million; what a collision would do is said where the key is used.

use sha2::{Digest, Sha256};

/// The stable key of `text`: the first 8 bytes of its SHA-256, big-endian.
///
/// The same as `printf %s TEXT | sha256sum | cut -c1-16` read as a hexadecimal number:
pub(crate) fn stable_key(text: &str) -> u64 {
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_sha256_prefix() {
        // sha256("") = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
        assert_eq!(stable_key(""), 0xe3b0c44298fc1c14);
        assert_ne!(stable_key("http://h/a"), stable_key("http://h/b"));
    }
}

#[cfg(test)]
mod examples {
    //! The examples these items once showed in their docs, kept as tests.

    #[test]
    fn stable_key_example() {
        use crate::key::stable_key;

        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(stable_key("abc"), 0xba7816bf8f01cfea);
    }
}
