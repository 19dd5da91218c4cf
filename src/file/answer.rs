//! What an answer says, as plain values, and what pardl does with a status it did not ask for.
//!
//! The probe and the chunks judge an answer by a pure function of its [`Head`] (status, `Content-Range`,
//! validators, length) and of what was asked, so that the decision tables in probe.rs and chunk.rs are
//! tested row by row without a server. Sending the request and acting on the verdict stay with the
//! callers.
//!
//! A status that is not the answer a request wanted is sorted by [`bad_status`]; [`reject`] is the one
//! place that acts on it, so an overloaded host (`429`, `503`) gets fewer connections whichever request
//! it refused.

use ureq::http::Response;

use crate::error::Error;
use crate::file::request::InFlight;
use crate::http::{header, status_error, Validators};

/// The parts of a response's head that decide what its body is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Head<'a> {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Range` header as sent, if any.
    pub content_range: Option<&'a str>,
    /// The `ETag` and `Last-Modified` headers.
    pub validators: Validators,
    /// The body's length (`Content-Length`), if announced.
    pub content_length: Option<u64>,
}

impl Head<'_> {
    /// Reads the head of `response`.
    pub(crate) fn of(response: &Response<ureq::Body>) -> Head<'_> {
        Head {
            status: response.status().as_u16(),
            content_range: header(response, "content-range"),
            validators: Validators::of(response),
            content_length: response.body().content_length(),
        }
    }
}

/// How a status the request did not want is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadStatus {
    /// `429`, `503`: the host is overloaded. It gets fewer connections if others to it are busy, and
    /// the request is retried after its `Retry-After`.
    Overloaded,
    /// `408`, other `5xx`: trouble on the server's side; the request is retried.
    Retryable,
    /// Anything else (`403`, `404`, …): the file fails at once.
    Fatal,
}

/// How `status`, which the request did not want, is taken. [`Error::is_transient`] agrees (a test
/// checks every status).
pub(crate) fn bad_status(status: u16) -> BadStatus {
    match status {
        429 | 503 => BadStatus::Overloaded,
        408 | 500..=599 => BadStatus::Retryable,
        _ => BadStatus::Fatal,
    }
}

/// The error for `answer`, whose status is `bad`; an overloaded host's limit is lowered here, while the
/// answer still holds its slot (so the slot counts among the connections that were open).
pub(crate) fn reject(url: &str, answer: InFlight, bad: BadStatus) -> Error {
    if bad == BadStatus::Overloaded {
        answer.slot.refused();
    }
    status_error(url, &answer.response)
}

/// The first column of the decision table (`| answer | meaning | action |`) in the module doc of
/// `source`, in order: what a table-driven test of a verdict function compares its rows with.
#[cfg(test)]
pub(crate) fn doc_table_answers(source: &str) -> Vec<String> {
    source
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .filter_map(|line| line.strip_prefix("//! |"))
        .filter_map(|row| row.split('|').next())
        .map(|cell| cell.trim().to_string())
        .filter(|cell| cell != "answer" && !cell.starts_with("---"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_statuses_are_retried_exactly_when_their_error_is_transient() {
        for status in 100..=599 {
            let error = Error::Status {
                url: "u".into(),
                status,
                retry_after: None,
            };
            assert_eq!(
                bad_status(status) != BadStatus::Fatal,
                error.is_transient(),
                "status {status}"
            );
        }
    }

    #[test]
    fn the_doc_table_reader_takes_the_answer_column_only() {
        let source = "//! Text.\n//!\n//! | answer | meaning | action |\n//! |---|---|---|\n\
                      //! | `200` | fine | go on |\n//! | `404` | gone | give up |\n\nfn f() {}\n//! | late | no | no |\n";
        assert_eq!(doc_table_answers(source), ["`200`", "`404`"]);
    }
}
