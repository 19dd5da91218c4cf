//! Every rule pardl applies to the text of a URL, in one place: where the authority, the credentials
//! and the host are, the origin credentials belong to, where a redirect's `Location` leads, the last
//! segment of the path, percent-decoding, whether a link is something pardl can download, and how
//! credentials are masked before a URL is shown.
//!
//! The authority is read as RFC 3986 has it: after `://`, up to the first `/`, `?` or `#`, so an `@`
//! in the path or the query is never taken for credentials. Inside it, the credentials end at the
//! *last* `@`: a host never holds one, a password written unencoded may.
//!
//! All of it works on the text as written, not through the `url` crate: pardl sends a link exactly as
//! the user wrote it (ureq parses it with `http::Uri`) and prints it as written, while a WHATWG parser
//! lowercases hosts, re-encodes paths and resolves `%2e%2e` segments, so its output would be another
//! request and another name on disk.

use std::borrow::Cow;

use ureq::http::Uri;

use crate::http::punycode;

const NOT_HTTP: &str = "not an http or https URL";
const MISSING_HOST: &str = "missing host";

fn authority_span(url: &str) -> Option<(usize, usize)> {
    // The first "://", found from the colons: a `&str` pattern builds a substring searcher on
    // every call, and this runs several times per request.
    let start = url
        .match_indices(':')
        .find(|&(colon, _)| url[colon..].starts_with("://"))?
        .0
        + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    Some((start, end))
}

/// `(credentials, host[:port])` of an authority.
fn split_authority(authority: &str) -> (Option<&str>, &str) {
    match authority.rsplit_once('@') {
        Some((info, host)) => (Some(info), host),
        None => (None, authority),
    }
}

fn credentials(url: &str) -> Option<&str> {
    let (start, end) = authority_span(url)?;
    split_authority(&url[start..end]).0
}

/// The `user[:password]` of a URL, still percent-encoded, if it has credentials.
pub(crate) fn userinfo(url: &str) -> Option<(&str, Option<&str>)> {
    let info = credentials(url)?;
    Some(match info.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (info, None),
    })
}

/// The host (and port, if any) a URL points at, for logs and per-host bookkeeping; `None` if ureq
/// could not send to it anyway.
pub(crate) fn host_of(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    uri.authority()
        .map(|authority| split_authority(authority.as_str()).1.to_string())
}

/// What a URL's per-host settings (netrc entries, cookies) are matched against: whether it is
/// `https`, its host name (without port or credentials, as the URL parser gives it) and its path
/// (without the query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub secure: bool,
    pub host: String,
    pub path: String,
}

/// The [`Target`] of `url`, or `None` if ureq could not send to it anyway.
pub(crate) fn target(url: &str) -> Option<Target> {
    let uri: Uri = url.parse().ok()?;
    Some(Target {
        secure: uri.scheme_str()?.eq_ignore_ascii_case("https"),
        host: uri.host()?.to_string(),
        path: uri.path().to_string(),
    })
}

/// Masks the password of a URL's credentials so the URL can be printed:
/// `https://ann:s3cret@example.com/f` becomes `https://ann:***@example.com/f`. Text that is not a URL,
/// or a URL without credentials, is returned as it is.
pub fn redact_url(url: &str) -> String {
    let Some((start, end)) = authority_span(url) else {
        return url.to_string();
    };
    let (Some(info), host) = split_authority(&url[start..end]) else {
        return url.to_string();
    };
    // A user without a password is often the secret itself (`https://TOKEN@host/`), so then all
    // of it is hidden, as pip does; with a password, the user stays readable.
    let shown = match info.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => "***".to_string(),
    };
    format!("{}{shown}@{host}{}", &url[..start], &url[end..])
}

/// The origin of a URL (RFC 6454): its scheme, host and port, lowercased, with the scheme's default
/// port when none is written (`http://example.com:80`). Credentials belong to an origin, never to a
/// host alone: another port or another scheme may be another server, or the same one in clear text.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let host = uri.host()?.to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(default_port);
    Some(format!("{scheme}://{host}:{port}"))
}

/// The scheme of a URL or of a redirect's target, as written (`https`, `file`), if it has one.
pub(crate) fn scheme_of(url: &str) -> Option<&str> {
    let end = url.find([':', '/', '?', '#'])?;
    (end > 0 && url[end..].starts_with(':')).then(|| &url[..end])
}

/// `url` without its credentials (`https://u:p@h/f` becomes `https://h/f`): what the HTTP client is
/// given, as it would otherwise make an `Authorization` header of its own from them.
pub(crate) fn without_credentials(url: &str) -> String {
    match (authority_span(url), credentials(url)) {
        (Some((start, _)), Some(info)) => {
            format!("{}{}", &url[..start], &url[start + info.len() + 1..])
        }
        _ => url.to_string(),
    }
}

/// `final_url` (where `url` led after redirects) with `url`'s credentials put back, when a redirect
/// stayed on the same origin (scheme, host and port) and the redirect target dropped them: the chunks
/// are then fetched from the final URL with the credentials the link gave.
pub(crate) fn keep_credentials(url: &str, final_url: &str) -> String {
    let (Some(kept), None) = (credentials(url), credentials(final_url)) else {
        return final_url.to_string();
    };
    match authority_span(final_url) {
        Some((start, _)) if origin_of(url).is_some() && origin_of(url) == origin_of(final_url) => {
            format!("{}{kept}@{}", &final_url[..start], &final_url[start..])
        }
        _ => final_url.to_string(),
    }
}

/// Where a redirect's `Location` leads from `base` (the URL that was requested), resolved as
/// RFC 3986 §5.2 says, as curl and browsers do: an absolute URL of any scheme (`https://…`,
/// `file:…`: the caller decides which it follows), a network-path reference (`//host/…`), an
/// absolute path (`/…`), a relative path (`x`, `../x`) or a query alone (`?x`), with `.` and `..`
/// segments removed. The fragment is dropped: it is never sent.
pub(crate) fn resolve_reference(base: &str, reference: &str) -> String {
    let r = Reference::split(reference.trim());
    let b = Reference::split(base);
    let (scheme, authority, path, query) = match (r.scheme, r.authority) {
        (Some(scheme), _) => (
            Some(scheme),
            r.authority,
            remove_dot_segments(r.path),
            r.query,
        ),
        (None, Some(authority)) => (
            b.scheme,
            Some(authority),
            remove_dot_segments(r.path),
            r.query,
        ),
        (None, None) if r.path.is_empty() => (
            b.scheme,
            b.authority,
            b.path.to_string(),
            r.query.or(b.query),
        ),
        (None, None) if r.path.starts_with('/') => {
            (b.scheme, b.authority, remove_dot_segments(r.path), r.query)
        }
        (None, None) => {
            let merged = match b.path.rfind('/') {
                Some(slash) => format!("{}{}", &b.path[..=slash], r.path),
                None if b.authority.is_some() => format!("/{}", r.path),
                None => r.path.to_string(),
            };
            (b.scheme, b.authority, remove_dot_segments(&merged), r.query)
        }
    };
    let mut target = String::new();
    if let Some(scheme) = scheme {
        target.push_str(scheme);
        target.push(':');
    }
    if let Some(authority) = authority {
        target.push_str("//");
        target.push_str(authority);
    }
    target.push_str(&path);
    if let Some(query) = query {
        target.push('?');
        target.push_str(query);
    }
    target
}

/// The parts of a URI reference (RFC 3986 appendix B), without its fragment.
struct Reference<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

impl Reference<'_> {
    fn split(text: &str) -> Reference<'_> {
        let text = text.split('#').next().unwrap_or_default();
        let scheme = scheme_of(text);
        let rest = scheme.map_or(text, |scheme| &text[scheme.len() + 1..]);
        let (authority, rest) = match rest.strip_prefix("//") {
            Some(after) => {
                let end = after.find(['/', '?']).unwrap_or(after.len());
                (Some(&after[..end]), &after[end..])
            }
            None => (None, rest),
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        Reference {
            scheme,
            authority,
            path,
            query,
        }
    }
}

/// RFC 3986 §5.2.4: a path without its `.` and `..` segments; `..` never climbs above the root.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut output = String::with_capacity(path.len());
    let pop = |output: &mut String| output.truncate(output.rfind('/').unwrap_or(0));
    while !input.is_empty() {
        if let Some(rest) = input
            .strip_prefix("../")
            .or_else(|| input.strip_prefix("./"))
        {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") {
            input = &input[3..];
            pop(&mut output);
        } else if input == "/.." {
            input = "/";
            pop(&mut output);
        } else if input == "." || input == ".." {
            input = "";
        } else {
            // The first segment, with its leading `/` if it has one.
            let first = input.chars().next().map_or(0, char::len_utf8);
            let end = input[first..].find('/').map_or(input.len(), |i| i + first);
            output.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    output
}

/// The last segment of a URL's path, as written (still percent-encoded, so an encoded `%2F` does
/// not split it); empty when the path is empty or ends in `/`.
pub(crate) fn last_segment(url: &str) -> &str {
    let url = &url[..url.find(['?', '#']).unwrap_or(url.len())];
    let path = authority_span(url).map_or(url, |(_, end)| &url[end..]);
    path.rsplit('/').next().unwrap_or_default()
}

/// Decodes `%XX` escapes into text; bytes that do not form UTF-8 become U+FFFD.
///
/// Like curl and wget, a `%` not followed by two hex digits is kept as it is (`%+1` and `%zz` stay),
/// and `+` is left alone: it means a space only in form data, not in a path or a user name.
pub(crate) fn percent_decode(text: &str) -> String {
    String::from_utf8_lossy(&decode_bytes(text)).into_owned()
}

/// [`percent_decode`] without the UTF-8 step, for text in another charset.
pub(crate) fn decode_bytes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(&[high, low]) = bytes.get(i + 1..i + 3) {
                if let (Some(high), Some(low)) = (hex_value(high), hex_value(low)) {
                    decoded.push((high << 4) | low);
                    i += 3;
                    continue;
                }
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    decoded
}

// Not `u8::from_str_radix` on the pair: it accepts a leading `+`, which would read `%+1` as byte 1.
fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
}

/// Checks that `url` is something pardl can download: an `http` or `https` URL with a non-empty
/// host that the HTTP client will accept.
///
/// Returns the reason as a short phrase, without the URL, so callers can put it into their own
/// message.
pub(crate) fn validate_url(url: &str) -> Result<(), String> {
    // The scheme and host are checked by hand first: the URI parser's own messages for these cases
    // ("empty string", "invalid format") would not tell the user what is wrong.
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(NOT_HTTP.to_string());
    };
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return Err(NOT_HTTP.to_string());
    }
    let host_and_port =
        authority_span(url).map_or("", |(start, end)| split_authority(&url[start..end]).1);
    if host_and_port.is_empty() || host_and_port.starts_with(':') {
        return Err(MISSING_HOST.to_string());
    }

    // Parsing with the same type the HTTP client uses means a URL accepted here is not rejected
    // later, after its download has been scheduled.
    let uri: Uri = url.parse().map_err(|err| format!("invalid URL ({err})"))?;
    let host = uri.host().unwrap_or("");
    if host.is_empty() {
        return Err(MISSING_HOST.to_string());
    }
    // `Uri` accepts any port text and then reports no port at all, which would silently send
    // "host:99999" to port 80.
    let after_host = host_and_port.strip_prefix(host).unwrap_or("");
    if let Some(port) = after_host.strip_prefix(':') {
        if !port.is_empty() && port.parse::<u16>().is_err() {
            return Err("invalid port".to_string());
        }
    }
    Ok(())
}

/// `url` as it is sent: a host with non-ASCII letters in IDNA form (each such label lowercased and
/// written as `xn--` and its Punycode: `bücher.example` → `xn--bcher-kva.example`), and every other
/// non-ASCII character percent-encoded as UTF-8 (`Straße` → `Stra%C3%9Fe`), as browsers and curl
/// send them. An ASCII URL is returned as it is, unchanged in every byte.
pub(crate) fn ascii_url(url: &str) -> Cow<'_, str> {
    if url.is_ascii() {
        return Cow::Borrowed(url);
    }
    let (start, end) = authority_span(url).unwrap_or((0, 0));
    let authority = &url[start..end];
    let (info, host_and_port) = split_authority(authority);
    // An IPv6 literal is ASCII already; elsewhere the port follows the last ':'.
    let (host, port) = match host_and_port.rsplit_once(':') {
        Some((host, port)) if !host_and_port.starts_with('[') => (host, Some(port)),
        _ => (host_and_port, None),
    };
    let labels: Vec<String> = host
        .split('.')
        .map(|label| {
            if label.is_ascii() {
                return label.to_string();
            }
            // A character no host name may hold (a control, a bidirectional override that would
            // show the name reordered) is not encoded into one: the URL check then refuses it.
            if label
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || is_bidi_control(c))
            {
                return percent_encode_non_ascii(label);
            }
            let lower = label.to_lowercase();
            match punycode::encode(&lower) {
                Some(encoded) => format!("xn--{encoded}"),
                // Too long for DNS anyway: left for the URL check to refuse.
                None => percent_encode_non_ascii(label),
            }
        })
        .collect();
    let mut ascii = percent_encode_non_ascii(&url[..start]);
    if let Some(info) = info {
        ascii.push_str(&percent_encode_non_ascii(info));
        ascii.push('@');
    }
    ascii.push_str(&labels.join("."));
    if let Some(port) = port {
        ascii.push(':');
        ascii.push_str(port);
    }
    ascii.push_str(&percent_encode_non_ascii(&url[end..]));
    Cow::Owned(ascii)
}

/// Whether `c` is one of Unicode's bidirectional formatting characters (the
/// marks, embeddings, overrides and isolates, U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069), which change the order in which the text
/// around them is shown.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every non-ASCII character written as `%XX` escapes of its UTF-8 bytes.
fn percent_encode_non_ascii(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            encoded.push(c);
        } else {
            let mut bytes = [0; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    encoded
}

/// For text written without a scheme that starts with what looks like a host (`example.com/x`,
/// `localhost:8080/f`), the URL it most likely means: `http://` in front, as curl and wget assume.
/// `None` for anything else.
pub(crate) fn scheme_hint(text: &str) -> Option<String> {
    if text.contains("://") {
        return None;
    }
    let authority = &text[..text.find(['/', '?', '#']).unwrap_or(text.len())];
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_like = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
        && (host.contains('.') || host.eq_ignore_ascii_case("localhost"))
        && !host.starts_with('.');
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (host_like && port_ok).then(|| format!("http://{text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_handles_user_without_password_and_ports() {
        assert_eq!(redact_url("http://u@h:8080/x"), "http://***@h:8080/x");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(host_of("http://u:p@h:8080/x").as_deref(), Some("h:8080"));
    }

    // Where the two masking rules of earlier versions disagreed (one showed `u:***@`, the other
    // left `u@` alone): the user itself is often the secret, so all of it is hidden.
    #[test]
    fn a_user_without_password_is_hidden() {
        assert_eq!(redact_url("http://u@h/x"), "http://***@h/x");
        assert_eq!(
            redact_url("https://ghp_TOKEN@github.com/o/r/archive/main.zip"),
            "https://***@github.com/o/r/archive/main.zip"
        );
    }

    #[test]
    fn a_password_is_hidden_wherever_the_at_signs_are() {
        for (url, masked) in [
            ("http://u:p@h:8080/x?q@r", "http://u:***@h:8080/x?q@r"),
            ("http://u:@h/x", "http://u:***@h/x"),
            ("http://:p@h/x", "http://:***@h/x"),
            ("http://u:p:q@h/x", "http://u:***@h/x"),
            ("http://u:p@ss@h/x", "http://u:***@h/x"),
            ("http://u:p@[::1]:8080/x", "http://u:***@[::1]:8080/x"),
            ("HTTPS://u:p@h", "HTTPS://u:***@h"),
        ] {
            assert_eq!(redact_url(url), masked, "{url}");
        }
    }

    #[test]
    fn an_at_sign_after_the_authority_is_not_credentials() {
        for url in [
            "http://h/a@b:c",
            "http://h?x=u:p@y",
            "http://h#u:p@y",
            "http://h/x?q@r",
        ] {
            assert_eq!(userinfo(url), None, "{url}");
            assert_eq!(redact_url(url), url);
            assert_eq!(host_of(url).as_deref(), Some("h"), "{url}");
        }
    }

    #[test]
    fn credentials_end_at_the_last_at_sign_and_the_first_colon() {
        let url = "http://u:p@h:8080/x?q@r";
        assert_eq!(userinfo(url), Some(("u", Some("p"))));
        assert_eq!(host_of(url).as_deref(), Some("h:8080"));
        assert_eq!(last_segment(url), "x");
        assert_eq!(validate_url(url), Ok(()));
        assert_eq!(userinfo("http://u:p@ss@h/"), Some(("u", Some("p@ss"))));
        assert_eq!(host_of("http://u:p@ss@h/").as_deref(), Some("h"));
        assert_eq!(userinfo("http://u@h/x"), Some(("u", None)));
        assert_eq!(userinfo("http://u:p%40ss@h/"), Some(("u", Some("p%40ss"))));
    }

    #[test]
    fn escapes_that_are_not_two_hex_digits_stay_as_written() {
        for (text, decoded) in [
            ("%+1", "%+1"),
            ("%-1", "%-1"),
            ("% 1", "% 1"),
            ("%zz", "%zz"),
            ("%4", "%4"),
            ("%", "%"),
            ("a%", "a%"),
            ("%41", "A"),
            ("%4a%4A", "JJ"),
        ] {
            assert_eq!(percent_decode(text), decoded, "{text}");
            assert_eq!(decode_bytes(text), decoded.as_bytes(), "{text}");
        }
        assert_eq!(decode_bytes("caf%E9"), b"caf\xE9");
        assert_eq!(percent_decode("caf%E9"), "caf\u{FFFD}");
    }

    #[test]
    fn an_encoded_slash_is_decoded_only_after_the_path_is_split() {
        assert_eq!(last_segment("http://h/dir/a%2Fb.txt"), "a%2Fb.txt");
        assert_eq!(
            percent_decode(last_segment("http://h/dir/a%2Fb.txt")),
            "a/b.txt"
        );
        assert_eq!(
            last_segment("http://h/..%2F..%2Fetc%2Fpasswd"),
            "..%2F..%2Fetc%2Fpasswd"
        );
    }

    #[test]
    fn the_last_segment_ignores_query_fragment_and_authority() {
        for (url, segment) in [
            ("http://h/a/b/file.iso?x=1#f", "file.iso"),
            ("http://h/a/b/file.iso#f?x=1", "file.iso"),
            ("http://u:p@h:8080/f.bin", "f.bin"),
            ("http://h/download?name=x/y.zip", "download"),
            ("http://h/get?u=http://x/y.zip", "get"),
            ("http://h", ""),
            ("http://h?x=1", ""),
            ("http://h/dir/", ""),
            ("/a/b/file.iso?x=1", "file.iso"),
        ] {
            assert_eq!(last_segment(url), segment, "{url}");
        }
    }

    #[test]
    fn references_resolve_as_rfc_3986_section_5_4_says() {
        let base = "http://a/b/c/d;p?q";
        for (reference, target) in [
            // 5.4.1 Normal examples (fragments dropped: they are never sent).
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            ("g?y#s", "http://a/b/c/g?y"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y#s", "http://a/b/c/g;x?y"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
            // 5.4.2 Abnormal examples.
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g"),
            ("g#s/../x", "http://a/b/c/g"),
            ("http:g", "http:g"),
        ] {
            assert_eq!(resolve_reference(base, reference), target, "{reference:?}");
        }
        // What servers send.
        assert_eq!(
            resolve_reference("http://h:8080/d/e/f", "../../dl/rel.bin"),
            "http://h:8080/dl/rel.bin"
        );
        assert_eq!(
            resolve_reference("http://h/a/file", "file:///etc/passwd"),
            "file:///etc/passwd"
        );
        assert_eq!(resolve_reference("http://h", "x"), "http://h/x");
        assert_eq!(
            resolve_reference("https://h/a", " https://m/b "),
            "https://m/b"
        );
    }

    #[test]
    fn an_origin_is_scheme_host_and_port() {
        for (url, origin) in [
            ("http://h/x", Some("http://h:80")),
            ("http://H:80/x", Some("http://h:80")),
            ("HTTPS://u:p@Example.COM/x", Some("https://example.com:443")),
            ("https://h:8443", Some("https://h:8443")),
            ("http://127.0.0.1:9/x", Some("http://127.0.0.1:9")),
            ("ftp://h/x", None),
            ("not a url", None),
        ] {
            assert_eq!(origin_of(url).as_deref(), origin, "{url}");
        }
        assert_ne!(origin_of("http://h/"), origin_of("https://h/"));
        assert_ne!(origin_of("http://h:1/"), origin_of("http://h:2/"));
    }

    #[test]
    fn schemes_and_credentials_are_found_as_written() {
        assert_eq!(scheme_of("HTTPS://h/"), Some("HTTPS"));
        assert_eq!(scheme_of("javascript:alert(1)"), Some("javascript"));
        assert_eq!(scheme_of("../x:y"), None);
        assert_eq!(scheme_of("/a:b"), None);
        assert_eq!(scheme_of(":x"), None);
        assert_eq!(without_credentials("http://u:p@h:1/x@y"), "http://h:1/x@y");
        assert_eq!(without_credentials("http://u:p@ss@h/"), "http://h/");
        assert_eq!(without_credentials("http://h/x"), "http://h/x");
    }

    #[test]
    fn credentials_are_kept_only_on_the_same_scheme_and_host() {
        assert_eq!(
            keep_credentials("http://u@h/latest", "http://h/v2/f"),
            "http://u@h/v2/f"
        );
        assert_eq!(
            keep_credentials("http://u:p@h/f", "https://h/f"),
            "https://h/f"
        );
        assert_eq!(
            keep_credentials("http://u:p@h:8080/f", "http://h/f"),
            "http://h/f"
        );
        assert_eq!(
            keep_credentials("http://u:p@h/f", "http://v:q@h/g"),
            "http://v:q@h/g"
        );
        // Another port is another origin; the default port written out is the same one.
        assert_eq!(
            keep_credentials("http://u:p@h:8080/f", "http://h:8081/f"),
            "http://h:8081/f"
        );
        assert_eq!(
            keep_credentials("http://u:p@h/f", "http://h:80/g"),
            "http://u:p@h:80/g"
        );
    }

    #[test]
    fn validate_url_rules() {
        for good in [
            "http://example.com",
            "HTTPS://Example.COM/x",
            "http://user:pass@example.com/f",
            "http://user:p%40ss@example.com/f",
            "http://[::1]:8080/x",
            "http://example.com:/x",
            "https://example.com?q=1#frag",
        ] {
            assert_eq!(validate_url(good), Ok(()), "{good}");
        }
        for (bad, reason) in [
            ("ftp://example.com/", "not an http or https URL"),
            ("example.com/x", "not an http or https URL"),
            ("http:/example.com/x", "not an http or https URL"),
            ("httpx://example.com/", "not an http or https URL"),
            ("http://", "missing host"),
            ("http:///x", "missing host"),
            ("http://user:pw@/x", "missing host"),
            ("http://:80/", "missing host"),
            ("http://example.com:99999/", "invalid port"),
            ("http://example.com:8o/", "invalid port"),
            ("http://[::1]:x/", "invalid port"),
        ] {
            assert_eq!(validate_url(bad).unwrap_err(), reason, "{bad}");
        }
        assert!(validate_url("http://exa mple.com/")
            .unwrap_err()
            .starts_with("invalid URL"));
    }

    #[test]
    fn the_target_is_scheme_host_and_path() {
        assert_eq!(
            target("HTTPS://u:p@Files.Example.com:8443/a/b.iso?x=1#f"),
            Some(Target {
                secure: true,
                host: "Files.Example.com".into(),
                path: "/a/b.iso".into()
            })
        );
        assert_eq!(
            target("http://h").map(|t| (t.secure, t.path)),
            Some((false, "/".into()))
        );
        assert_eq!(target("not a url"), None);
    }

    #[test]
    fn non_ascii_urls_are_sent_in_ascii() {
        for (url, ascii) in [
            ("http://bücher.example/", "http://xn--bcher-kva.example/"),
            (
                "https://BÜCHER.example:8443/x",
                "https://xn--bcher-kva.example:8443/x",
            ),
            (
                "http://ü:pä@münchen.de/ä?ö=1#ü",
                "http://%C3%BC:p%C3%A4@xn--mnchen-3ya.de/%C3%A4?%C3%B6=1#%C3%BC",
            ),
            ("http://例え.テスト/", "http://xn--r8jz45g.xn--zckzah/"),
            ("http://example.com/€", "http://example.com/%E2%82%AC"),
            ("http://Example.COM/a%20b", "http://Example.COM/a%20b"),
        ] {
            assert_eq!(ascii_url(url), ascii, "{url}");
            assert_eq!(validate_url(&ascii_url(url)), Ok(()), "{url}");
        }
        assert!(matches!(ascii_url("http://h/x"), Cow::Borrowed(_)));
    }

    #[test]
    fn text_that_starts_with_a_host_gets_a_scheme_hint() {
        for (text, hint) in [
            ("example.com/x", Some("http://example.com/x")),
            ("example.com", Some("http://example.com")),
            ("localhost:8080/f?x", Some("http://localhost:8080/f?x")),
            ("bücher.example/", Some("http://bücher.example/")),
            ("not", None),
            ("C:/x.iso", None),
            ("/etc/passwd", None),
            ("example.com:http/x", None),
            ("ftp://example.com/", None),
            ("mailto:ann@example.com", None),
        ] {
            assert_eq!(scheme_hint(text).as_deref(), hint, "{text}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%20"), " ");
        assert_eq!(percent_decode("a%2fb%2Fc"), "a/b/c");
        assert_eq!(percent_decode("a+b"), "a+b");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%2"), "%2");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%%41"), "%A");
        assert_eq!(percent_decode("%E2%82%AC"), "€");
        assert_eq!(percent_decode("%E2%82"), "\u{FFFD}");
        assert_eq!(percent_decode("é%C3%A9"), "éé");
    }
}

#[cfg(test)]
mod examples {
    //! The examples these items once showed in their docs, kept as tests.

    #[test]
    fn redact_url_example() {
        use crate::http::url::redact_url;

        assert_eq!(
            redact_url("https://ann:s3cret@example.com/f"),
            "https://ann:***@example.com/f"
        );
        assert_eq!(
            redact_url("https://example.com/a@b"),
            "https://example.com/a@b"
        );
    }

    #[test]
    fn keep_credentials_example() {
        use crate::http::url::keep_credentials;

        assert_eq!(
            keep_credentials("http://u:p@h/latest", "http://h/v2/f"),
            "http://u:p@h/v2/f"
        );
        assert_eq!(
            keep_credentials("http://u:p@h/f", "http://other/f"),
            "http://other/f"
        );
        assert_eq!(keep_credentials("http://h/f", "http://h/g"), "http://h/g");
    }

    #[test]
    fn percent_decode_example() {
        use crate::http::url::percent_decode;

        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn validate_url_example() {
        use crate::http::url::validate_url;

        assert!(validate_url("https://user:secret@example.com:8443/a?b#c").is_ok());
        assert_eq!(
            validate_url("ftp://example.com/x").unwrap_err(),
            "not an http or https URL"
        );
        assert_eq!(validate_url("http://").unwrap_err(), "missing host");
    }
}
