//! Sending one `GET` as every file task sends it: after taking a slot of the host's connection
//! limit, with the user's extra headers (`-H`) and credentials, following redirects itself.
//! Statuses are not judged here; the caller decides what each answer means.
//!
//! Credentials are chosen per request, for the URL of that request ([`authorization`]), and so are
//! the `--load-cookies` cookies: a netrc entry or a cookie goes to the host it names, whichever way
//! the request got there.
//!
//!
//! * **One `Authorization` header at most**: the URL's own credentials (`https://user:pass@host/…`)
//!   if it has them, as they are the most specific (one link's own); else an `-H 'Authorization: …'`
//!   as the user wrote it; else `--user`/`--password` as Basic credentials. A header written by hand
//!   replaces the one pardl would make, as in curl (where `-u` also wins over a URL's credentials;
//!   in a links file, a URL's credentials are that link's, so pardl lets them win).
//! * **Only to their origin**: `--user` and the secret `-H` headers (`Authorization`, `Cookie`) go
//!   only to the origin (scheme, host and port) of one of the links, and a URL's own credentials
//!   only to its own origin: never to another host, another port or another scheme a redirect led
//!   to.
//! * **`Proxy-Authorization` never**: pardl tunnels through proxies (`CONNECT`), so a header of the
//!   request would reach the server, not the proxy; `Config::check` refuses it, and it is skipped
//!   here too.
//!
//! Redirects are followed here rather than by the HTTP client (whose rule compares hosts, not ports
//! or schemes), up to `max_redirects`: the `Location` is resolved against the URL that was requested
//! as RFC 3986 says ([`resolve_reference`]); only `http` and `https` targets are followed (a
//! `file:`, `data:` or `javascript:` one fails the link, it is never taken for a path); a redirect
//! from `https` to `http` is refused for a link that carries credentials (they would cross the
//! network in clear text) and logged as a warning for the others.

use std::time::SystemTime;

use crate::error::Error;
use crate::http::hosts::HostSlot;
use crate::http::url::{
    host_of, keep_credentials, percent_decode, redact_url, resolve_reference, scheme_of, target,
    userinfo, validate_url, without_credentials,
};
use crate::http::{basic_auth, header, is_secret_header};
use crate::run::context::Context;
use ureq::http::header::{HeaderValue, COOKIE};
use ureq::http::Response;
use ureq::RequestBuilder;

/// A redirect's body is read (and thrown away) up to this size, so its connection can carry the
/// next request; a bigger one is dropped with its connection.
const REDIRECT_BODY_LIMIT: u64 = 64 * 1024;

/// A response on its way in, with the host slot it occupies until its body has been read.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// The response; its body is unread.
    pub response: Response<ureq::Body>,
    /// The connection's place in its host's limit.
    pub slot: HostSlot,
}

/// Sends a `GET` for `url` (with `Range` and `If-Range` if given) once a connection to its host is
/// allowed, and follows its redirects. Statuses are not errors here: callers decide what each one
/// means (a redirect that cannot be followed, with no `Location`, is returned as it is).
pub(crate) fn send(
    context: &Context,
    url: &str,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Result<InFlight, Error> {
    let max_redirects = context.config.max_redirects;
    let mut current = url.to_string();
    let mut followed = 0;
    loop {
        let answer = send_once(context, &current, range, if_range)?;
        if !is_redirect(answer.response.status().as_u16()) || max_redirects == 0 {
            return Ok(answer);
        }
        let Some(location) = header(&answer.response, "location").map(str::to_string) else {
            return Ok(answer);
        };
        if followed == max_redirects {
            return Err(Error::redirect(
                url,
                format!("too many redirects (more than {max_redirects})"),
            ));
        }
        let next = next_hop(context, url, &current, &location)?;
        log::debug!(
            "{} redirects to {}",
            redact_url(&current),
            redact_url(&next)
        );
        drain(answer);
        current = next;
        followed += 1;
    }
}

/// The statuses whose `Location` is followed.
fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where a redirect from `current` to `location` leads, for a chain of requests that started at
/// `start`; an error if pardl does not follow it (see the module doc).
fn next_hop(
    context: &Context,
    start: &str,
    current: &str,
    location: &str,
) -> Result<String, Error> {
    let target = resolve_reference(&without_credentials(current), location);
    let shown = redact_url(&target);
    let scheme = scheme_of(&target).map(str::to_ascii_lowercase);
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return Err(Error::redirect(
            start,
            format!("redirect to {shown} refused: pardl follows redirects only to http:// and https:// URLs"),
        ));
    }
    validate_url(&target).map_err(|reason| {
        Error::redirect(start, format!("redirect to {shown} refused: {reason}"))
    })?;
    let from_https = scheme_of(current).is_some_and(|s| s.eq_ignore_ascii_case("https"));
    if from_https && scheme.as_deref() == Some("http") {
        if carries_credentials(context, start) {
            return Err(Error::redirect(
                start,
                format!(
                    "redirect from https to {shown} refused: the link carries credentials, which would cross the network in clear text"
                ),
            ));
        }
        log::warn!(
            "{}: redirected from https to {shown}; the file comes over an unencrypted connection",
            redact_url(start)
        );
    }
    // Back on the origin of the chain's first URL, its own credentials apply again.
    Ok(keep_credentials(start, &target))
}

/// Whether requests for `url` carry credentials of the user's: the URL's own, `--user`, or a
/// secret `-H` header.
fn carries_credentials(context: &Context, url: &str) -> bool {
    let config = &context.config;
    userinfo(url).is_some()
        || config.credentials.is_some()
        || config.headers.iter().any(|h| is_secret_header(&h.name))
}

/// Reads a redirect's short body to its end, so its connection returns to the pool.
fn drain(mut answer: InFlight) {
    let _ = answer
        .response
        .body_mut()
        .with_config()
        .limit(REDIRECT_BODY_LIMIT)
        .read_to_vec();
}

/// Sends one `GET` for `url`, with the headers and credentials that may go there; no redirect is
/// followed.
fn send_once(
    context: &Context,
    url: &str,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Result<InFlight, Error> {
    let slot = context.hosts.acquire(&host_of(url).unwrap_or_default());
    // Waiting for a slot can take a while; a request started after Ctrl-C would be wasted.
    if context.is_cancelled() {
        return Err(Error::Interrupted {
            url: url.to_string(),
        });
    }
    context.note_unverified(url);
    // The client is given the URL without credentials: it would make an `Authorization` header of
    // its own from them.
    let agent = context.agents.for_url(url, &context.config);
    let mut request = agent.get(without_credentials(url));
    let trusted = context.is_trusted(url);
    for extra in &context.config.headers {
        let name = extra.name.as_str();
        // `authorization` decides the one Authorization header.
        if name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("proxy-authorization")
        {
            continue;
        }
        if is_secret_header(name) && !trusted {
            log::debug!(
                "not sending -H {name} to {}, which a redirect led to",
                redact_url(url)
            );
            continue;
        }
        request = request.header(name, extra.value.as_str());
    }
    if let Some(value) = authorization(context, url) {
        request = request.header("Authorization", value);
    }
    if let Some(cookies) = loaded_cookies(context, url) {
        request = with_cookies(request, &cookies);
    }
    if let Some(range) = range {
        request = request.header("Range", range);
        if let Some(validator) = if_range {
            request = request.header("If-Range", validator);
        }
    }
    log::debug!(
        "GET {} {}",
        redact_url(url),
        range.unwrap_or("(whole file)")
    );
    let response = request.call().map_err(|source| match source {
        ureq::Error::BadUri(reason) => Error::InvalidUrl {
            url: url.to_string(),
            reason,
        },
        source => Error::network(url, source),
    })?;
    if context.config.insecure {
        // A redirect ureq followed may have led to another host.
        context.note_unverified(&ureq::ResponseExt::get_uri(&response).to_string());
    }
    log::debug!(
        "{} {} -> {}",
        redact_url(url),
        range.unwrap_or("(whole file)"),
        response.status().as_u16()
    );
    Ok(InFlight { response, slot })
}

/// The one `Authorization` value for a request to `url` (see the module doc): the URL's own
/// credentials (percent-decoded); else, on the origin of a link, an `-H 'Authorization: …'` as
/// written, else `--user`/`--password`; else none.
pub(crate) fn authorization(context: &Context, url: &str) -> Option<String> {
    if let Some((user, password)) = userinfo(url) {
        let user = percent_decode(user);
        let password = match password {
            Some(password) => percent_decode(password),
            // A URL that names only a user takes the password from that machine's netrc entry.
            None => netrc_credentials(context, url, Some(&user))
                .map(|(_, password)| password)
                .unwrap_or_default(),
        };
        return Some(basic_auth(&user, &password));
    }
    if context.is_trusted(url) {
        let config = &context.config;
        if let Some(written) = config
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("authorization"))
        {
            return Some(written.value.clone());
        }
        if let Some(credentials) = &config.credentials {
            return Some(basic_auth(&credentials.user, &credentials.password));
        }
    }
    // A netrc entry names its machine, so it goes to that machine however the request got there.
    let (login, password) = netrc_credentials(context, url, None)?;
    Some(basic_auth(&login, &password))
}

/// The netrc entry (`--netrc-file`, `~/.netrc`) of the machine `url` is on, for `user` if given.
/// Looked up by the request's own host, so a redirect to another machine gets that machine's entry
/// or none, never the link's.
fn netrc_credentials(context: &Context, url: &str, user: Option<&str>) -> Option<(String, String)> {
    let netrc = context.config.netrc.as_ref()?;
    let host = target(url)?.host;
    let (login, password) = netrc.credentials(&host, user)?;
    log::debug!("using the netrc entry of {host} (login {login})");
    Some((login.to_string(), password.to_string()))
}

/// The `Cookie` value that `--load-cookies` gives a request to `url`, if any cookie matches.
fn loaded_cookies(context: &Context, url: &str) -> Option<String> {
    let jar = context.config.cookies.as_ref()?;
    let target = target(url)?;
    jar.header_for(target.secure, &target.host, &target.path, SystemTime::now())
}

/// `request` with `cookies` added to its `Cookie` header: one header, after the cookies a `-H
/// 'Cookie: …'` gave (HTTP/1.1 allows a request a single `Cookie` header).
fn with_cookies<B>(mut request: RequestBuilder<B>, cookies: &str) -> RequestBuilder<B> {
    let Some(headers) = request.headers_mut() else {
        return request;
    };
    let mut values: Vec<&str> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    values.push(cookies);
    match HeaderValue::from_str(&values.join("; ")) {
        Ok(value) => {
            headers.insert(COOKIE, value);
        }
        Err(_) => log::warn!("a cookie of --load-cookies cannot be sent in a header; skipped"),
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::config::{Config, Credentials, Header};

    fn context(credentials: bool, headers: &[(&str, &str)]) -> Context {
        Context::new(Config {
            credentials: credentials.then(|| Credentials {
                user: "alice".into(),
                password: "s3cret".into(),
            }),
            headers: headers
                .iter()
                .map(|(name, value)| Header {
                    name: (*name).into(),
                    value: (*value).into(),
                })
                .collect(),
            ..Config::default()
        })
    }

    #[test]
    fn one_authorization_the_urls_own_first_then_the_header_then_user() {
        let both = context(true, &[("Authorization", "Bearer X")]);
        both.trust_link("https://h/f");
        assert_eq!(
            authorization(&both, "https://u:p%40ss@h/f").as_deref(),
            Some("Basic dTpwQHNz")
        );
        assert_eq!(
            authorization(&both, "https://h/g").as_deref(),
            Some("Bearer X")
        );
        let user_only = context(true, &[]);
        user_only.trust_link("https://h/f");
        assert_eq!(
            authorization(&user_only, "https://h/g").as_deref(),
            Some("Basic YWxpY2U6czNjcmV0")
        );
    }

    #[test]
    fn run_wide_credentials_go_only_to_the_origins_of_the_links() {
        let context = context(true, &[("Authorization", "Bearer X")]);
        context.trust_link("https://h/f");
        for elsewhere in [
            "http://h/f",
            "https://h:8443/f",
            "https://other/f",
            "https://h.evil/f",
        ] {
            assert_eq!(authorization(&context, elsewhere), None, "{elsewhere}");
        }
        assert!(authorization(&context, "https://h:443/other").is_some());
        assert!(authorization(&context, "HTTPS://H/f").is_some());
    }

    #[test]
    fn a_redirect_goes_only_to_http_or_https_and_never_down_to_http_with_credentials() {
        let plain = context(false, &[("X-Plain", "yes")]);
        let start = "https://h/a/b";
        assert_eq!(
            next_hop(&plain, start, start, "../c").unwrap(),
            "https://h/c"
        );
        // Without credentials, a downgrade is followed (with a warning).
        assert_eq!(
            next_hop(&plain, start, start, "http://m/c").unwrap(),
            "http://m/c"
        );
        for location in [
            "file:///etc/passwd",
            "data:,x",
            "javascript:alert(1)",
            "ftp://m/x",
        ] {
            let error = next_hop(&plain, start, start, location).unwrap_err();
            assert!(
                error.to_string().contains("only to http:// and https://"),
                "{error}"
            );
            assert!(!error.is_transient());
            assert_eq!(error.kind(), "network");
        }
        let error = next_hop(&plain, start, start, "http://:80/x").unwrap_err();
        assert!(error.to_string().contains("missing host"), "{error}");

        for carrying in [
            context(true, &[]),
            context(false, &[("Cookie", "a=b")]),
            context(false, &[("Authorization", "Bearer X")]),
        ] {
            let error = next_hop(&carrying, start, start, "http://h/a/b").unwrap_err();
            assert!(error.to_string().contains("clear text"), "{error}");
            assert!(matches!(
                error,
                Error::Network {
                    kind: crate::NetworkErrorKind::Redirect,
                    ..
                }
            ));
        }
        let with_userinfo = "https://u:p@h/a";
        let error = next_hop(&plain, with_userinfo, with_userinfo, "http://h/a").unwrap_err();
        assert!(error.to_string().contains("clear text"), "{error}");
        assert!(!error.to_string().contains(":p@"), "{error}");
    }

    #[test]
    fn a_urls_own_credentials_follow_it_only_on_its_origin() {
        let plain = context(false, &[]);
        let start = "http://u:p@h/latest";
        assert_eq!(
            next_hop(&plain, start, start, "/v2/f").unwrap(),
            "http://u:p@h/v2/f"
        );
        assert_eq!(
            next_hop(&plain, start, start, "http://h:8080/v2/f").unwrap(),
            "http://h:8080/v2/f"
        );
        // Back on the first origin after a detour, they apply again, as curl does.
        assert_eq!(
            next_hop(&plain, start, "http://m/x", "http://h/y").unwrap(),
            "http://u:p@h/y"
        );
    }
}
