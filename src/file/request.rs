//! Sending one `GET` as every file task sends it: after taking a slot of the host's connection
//! limit, with the user's extra headers (`-H`), credentials ([`authorization`]: the URL's,
//! `--user`'s, the netrc's) and `--load-cookies` cookies, never giving a secret to a host that only a
//! redirect led to (a netrc entry or a cookie goes to the host it names, whichever way the request
//! got there). Statuses are not judged here; the caller decides what each answer means.

use std::time::SystemTime;

use crate::error::Error;
use crate::http::hosts::HostSlot;
use crate::http::url::{host_of, percent_decode, redact_url, target, userinfo};
use crate::http::{basic_auth, is_secret_header};
use crate::run::context::Context;
use ureq::http::header::{HeaderValue, COOKIE};
use ureq::http::Response;
use ureq::RequestBuilder;

/// A response on its way in, with the host slot it occupies until its body has been read.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// The response; its body is unread.
    pub response: Response<ureq::Body>,
    /// The connection's place in its host's limit.
    pub slot: HostSlot,
}

/// Sends a `GET` for `url` (with `Range` and `If-Range` if given) once a connection to its host is
/// allowed. Statuses are not errors here: callers decide what each one means.
pub(crate) fn send(
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
    let mut request = context.agent.get(url);
    let host = host_of(url).unwrap_or_default();
    for extra in &context.config.headers {
        if is_secret_header(&extra.name) && !context.is_trusted_host(&host) {
            log::debug!(
                "not sending -H {} to {host}, which a redirect led to",
                extra.name
            );
            continue;
        }
        request = request.header(extra.name.as_str(), extra.value.as_str());
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
    log::debug!(
        "{} {} -> {}",
        redact_url(url),
        range.unwrap_or("(whole file)"),
        response.status().as_u16()
    );
    Ok(InFlight { response, slot })
}

/// The `Authorization` value for a request to `url`: Basic credentials from the URL itself
/// (`https://user:pass@host/…`, percent-decoded; a URL with a user and no password takes the
/// password from the netrc entry of that machine and user), else the `--user`/`--password` ones
/// when `url` is on the host of a link (not a host a redirect led to), else the netrc entry of
/// `url`'s own machine, else none.
pub(crate) fn authorization(context: &Context, url: &str) -> Option<String> {
    let (user, password) = match userinfo(url) {
        Some((user, Some(password))) => (percent_decode(user), percent_decode(password)),
        Some((user, None)) => {
            let user = percent_decode(user);
            let password = netrc_credentials(context, url, Some(&user)).map(|(_, p)| p);
            (user, password.unwrap_or_default())
        }
        None => match &context.config.credentials {
            Some(credentials) if context.is_trusted_host(&host_of(url)?) => {
                (credentials.user.clone(), credentials.password.clone())
            }
            _ => netrc_credentials(context, url, None)?,
        },
    };
    Some(basic_auth(&user, &password))
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
