//! Sending one `GET` as every file task sends it: after taking a slot of the host's connection
//! limit, with the user's extra headers (`-H`) and credentials ([`authorization`]), never giving a
//! secret to a host that only a redirect led to. Statuses are not judged here; the caller decides
//! what each answer means.

use crate::error::Error;
use crate::http::hosts::HostSlot;
use crate::http::url::{host_of, percent_decode, redact_url, userinfo};
use crate::http::{basic_auth, is_secret_header};
use crate::run::context::Context;
use ureq::http::Response;

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
    context.note_unverified(url);
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

/// The `Authorization` value for a request to `url`: Basic credentials from the URL itself
/// (`https://user:pass@host/…`, percent-decoded), else the `--user`/`--password` ones when `url` is
/// on the host of a link (not a host a redirect led to), else none.
pub(crate) fn authorization(context: &Context, url: &str) -> Option<String> {
    let (user, password) = match userinfo(url) {
        Some((user, password)) => (percent_decode(user), percent_decode(password.unwrap_or(""))),
        None => {
            let credentials = context.config.credentials.as_ref()?;
            if !context.is_trusted_host(&host_of(url)?) {
                return None;
            }
            (credentials.user.clone(), credentials.password.clone())
        }
    };
    Some(basic_auth(&user, &password))
}
