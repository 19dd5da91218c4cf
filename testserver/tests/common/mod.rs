//! The raw `TcpStream` client shared by the test files, so the bytes on the
//! wire (framing, headers, where a body stops) are checked exactly, not
//! through a client library's interpretation.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use pardl_testserver::{Behaviour, Body, TestServer};

/// Generous: only there so a broken server fails the test instead of hanging it.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(server: &TestServer) -> Client {
        let stream = TcpStream::connect(server.addr()).unwrap();
        stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        req.push_str("\r\n");
        self.reader.get_mut().write_all(req.as_bytes()).unwrap();
    }

    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        assert!(line.ends_with("\r\n"), "line not CRLF-terminated: {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    /// Reads one response, decoding whichever framing the server chose.
    pub fn receive(&mut self, head_only: bool) -> Response {
        let status_line = self.line();
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"), "{status_line:?}");
        let status = parts.next().unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let line = self.line();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(": ").expect("header format");
            headers.push((name.to_owned(), value.to_owned()));
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head_only {
            return response;
        }
        if response.header("transfer-encoding") == Some("chunked") {
            assert!(response.header("content-length").is_none());
            loop {
                let size = usize::from_str_radix(&self.line(), 16).unwrap();
                if size == 0 {
                    assert_eq!(self.line(), "", "no trailers expected");
                    break;
                }
                let start = response.body.len();
                response.body.resize(start + size, 0);
                self.reader.read_exact(&mut response.body[start..]).unwrap();
                assert_eq!(self.line(), "", "chunk not followed by CRLF");
            }
        } else if let Some(len) = response.header("content-length") {
            response.body.resize(len.parse().unwrap(), 0);
            self.reader.read_exact(&mut response.body).unwrap();
        } else {
            self.reader.read_to_end(&mut response.body).unwrap();
        }
        response
    }

    pub fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        self.send(method, path, headers);
        self.receive(method == "HEAD")
    }

    /// Reads whatever arrives until the server closes the connection, and
    /// how it closed: what a client sees of a cut body.
    pub fn read_until_closed(&mut self) -> (Vec<u8>, Ending) {
        let mut got = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return (got, Ending::Eof),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return (got, Ending::Reset)
                }
                Err(e) => panic!("read failed after {} bytes: {e}", got.len()),
            }
        }
    }

    /// True once the server has closed its side (EOF with nothing pending).
    pub fn at_eof(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }
}

pub fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Response {
    Client::connect(server).request("GET", path, headers)
}

pub const SEED: u64 = 0x5EED;

pub fn pattern_server(len: u64, behaviour: Behaviour) -> TestServer {
    let server = TestServer::start();
    server.add("/f", Body::Pattern { len, seed: SEED }, behaviour);
    server
}

/// How a connection ended, as the client saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// A clean close (FIN).
    Eof,
    /// `ECONNRESET` (RST).
    Reset,
}

/// What [`Behaviour::reset_after`] looks like to a client here: a real reset
/// on Linux, an early EOF elsewhere.
pub const RESET_ENDING: Ending = if cfg!(target_os = "linux") {
    Ending::Reset
} else {
    Ending::Eof
};
