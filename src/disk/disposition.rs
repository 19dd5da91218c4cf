//! Reading the file name a server suggests in `Content-Disposition` (RFC 6266).
//!
//! Two forms exist and servers often send both: `filename="report.pdf"` (a token or a quoted
//! string, in practice ASCII) and `filename*=UTF-8''na%C3%AFve.pdf` (RFC 8187: a charset, an optional
//! language, then percent-encoded bytes), which carries any character. As the RFC asks, `filename*`
//! wins when both are there and it can be decoded. The name returned is exactly what the server
//! sent, decoded: it is *untrusted*, and must go through [`crate::disk::names::sanitize`] like every other
//! name before it touches the disk (a hostile `../../etc/passwd` becomes `etc_passwd`).

use crate::http::url::{decode_bytes, percent_decode};

/// The file name in a `Content-Disposition` value, decoded but not sanitised; `None` if there is
/// none (or only an empty one).
pub(crate) fn filename(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for (name, raw) in parameters(value) {
        if name.eq_ignore_ascii_case("filename*") && extended.is_none() {
            extended = decode_extended(&raw);
        } else if name.eq_ignore_ascii_case("filename") && plain.is_none() {
            plain = Some(raw);
        }
    }
    extended.or(plain).filter(|name| !name.trim().is_empty())
}

/// The `name=value` parameters after the disposition type, values unquoted. Splits on `;` outside
/// quoted strings only, so `filename="a;b.txt"` stays whole.
fn parameters(value: &str) -> Vec<(String, String)> {
    let mut parameters = Vec::new();
    let mut chars = value.chars().peekable();
    // The disposition type (`attachment`, `inline`) comes first; some servers leave it out and
    // start with a parameter, which the loop below handles the same way.
    loop {
        // Parameter name, up to `=` or `;`.
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            name.push(c);
            chars.next();
        }
        match chars.next() {
            Some('=') => {
                let value = read_value(&mut chars);
                parameters.push((name.trim().to_string(), value));
                // Skip anything up to the next separator (junk after a quoted string).
                for c in chars.by_ref() {
                    if c == ';' {
                        break;
                    }
                }
            }
            Some(_) => continue, // `;`: a bare token such as the disposition type
            None => break,
        }
    }
    parameters
}

/// A parameter value: a quoted string (with `\` escapes) or a token up to the next `;`.
fn read_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
    let mut value = String::new();
    if chars.peek() == Some(&'"') {
        chars.next();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                }
                c => value.push(c),
            }
        }
    } else {
        while let Some(&c) = chars.peek() {
            if c == ';' {
                break;
            }
            value.push(c);
            chars.next();
        }
        value = value.trim().to_string();
    }
    value
}

/// Decodes an RFC 8187 value, `charset'language'percent-encoded`; UTF-8 and ISO-8859-1 are the
/// charsets the RFC requires, anything else is not understood (`None`, so `filename` is used).
fn decode_extended(raw: &str) -> Option<String> {
    let mut parts = raw.splitn(3, '\'');
    let charset = parts.next()?.trim();
    let _language = parts.next()?;
    let encoded = parts.next()?;
    if charset.eq_ignore_ascii_case("utf-8") {
        Some(percent_decode(encoded))
    } else if charset.eq_ignore_ascii_case("iso-8859-1") {
        // Every byte is the code point of the same number.
        Some(decode_bytes(encoded).into_iter().map(char::from).collect())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::names::sanitize;

    #[test]
    fn both_forms_and_the_preference_between_them() {
        assert_eq!(
            filename("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf").as_deref(),
            Some("€ rates.pdf")
        );
        assert_eq!(
            filename("attachment; filename*=utf-8'en'caf%C3%A9.txt; filename=\"cafe.txt\"")
                .as_deref(),
            Some("café.txt"),
            "filename* wins whatever the order"
        );
        assert_eq!(
            filename("attachment; filename*=iso-8859-1''caf%E9.txt").as_deref(),
            Some("café.txt")
        );
        assert_eq!(
            filename("attachment; filename*=KOI8-R''%C6%C1%CA%CC; filename=file.txt").as_deref(),
            Some("file.txt"),
            "an unknown charset falls back to filename"
        );
    }

    #[test]
    fn quoting_and_odd_spacing() {
        assert_eq!(
            filename(r#"attachment;filename="a;b \"c\".txt""#).as_deref(),
            Some(r#"a;b "c".txt"#)
        );
        assert_eq!(
            filename("ATTACHMENT ; FILENAME = x.bin ").as_deref(),
            Some("x.bin")
        );
        assert_eq!(filename("filename=bare.bin").as_deref(), Some("bare.bin"));
        assert_eq!(filename("attachment; filename=\"\"").as_deref(), None);
        assert_eq!(filename("attachment; size=10").as_deref(), None);
        assert_eq!(filename("").as_deref(), None);
        assert_eq!(
            filename("attachment; filename=\"unterminated").as_deref(),
            Some("unterminated")
        );
    }

    #[test]
    fn hostile_names_are_decoded_then_made_safe_by_sanitize() {
        let cases = [
            (r#"attachment; filename="../../etc/passwd""#, "etc_passwd"),
            (r#"attachment; filename="C:\\x""#, "C__x"),
            ("attachment; filename*=UTF-8''..%2F..%2Fevil.sh", "evil.sh"),
            ("attachment; filename*=UTF-8''%2Fetc%2Fshadow", "etc_shadow"),
            ("attachment; filename=\"..\"", "download"),
            (
                "attachment; filename*=UTF-8''a%0Ab%1B[31m.txt",
                "a_b_[31m.txt",
            ),
        ];
        for (header, expected) in cases {
            let raw = filename(header).unwrap_or_default();
            assert_eq!(sanitize(&raw), expected, "{header}");
        }
    }
}

#[cfg(test)]
mod examples {
    //! The examples these items once showed in their docs, kept as tests.

    #[test]
    fn filename_example() {
        use crate::disk::disposition::filename;

        assert_eq!(
            filename(r#"attachment; filename="report.pdf""#).as_deref(),
            Some("report.pdf")
        );
        assert_eq!(
            filename("attachment; filename=plain.txt").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(
            filename(r#"attachment; filename="fallback.pdf"; filename*=UTF-8''na%C3%AFve.pdf"#)
                .as_deref(),
            Some("naïve.pdf")
        );
        assert_eq!(filename("inline").as_deref(), None);
    }
}
