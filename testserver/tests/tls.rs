//! The TLS mode and the `CONNECT` proxy, checked with a rustls client on raw sockets: the bytes a
//! client reads over TLS are exactly the plain mode's, a client without the CA or without the client
//! certificate fails its handshake, and the proxy tunnels to loopback only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use pardl_testserver::{pattern_bytes, Behaviour, Body, ServerTls, TestCa, TestProxy, TestServer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

fn client_config(ca: &TestCa, identity: Option<&pardl_testserver::Identity>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match identity {
        Some(identity) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(identity.cert_pem.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    })
}

/// Sends `request` over TLS on `stream` and reads the answer to its end (the request says
/// `Connection: close`).
fn exchange(
    stream: TcpStream,
    config: Arc<ClientConfig>,
    request: &str,
) -> std::io::Result<Vec<u8>> {
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let connection = ClientConnection::new(config, name).unwrap();
    let mut tls = StreamOwned::new(connection, stream);
    tls.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer)?;
    Ok(answer)
}

fn body_of(answer: &[u8]) -> &[u8] {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    &answer[end + 4..]
}

const RANGE_REQUEST: &str =
    "GET /a.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-1999\r\nConnection: close\r\n\r\n";

#[test]
fn tls_serves_the_same_bytes_and_ranges() {
    let ca = TestCa::new("test CA");
    let server = TestServer::start_tls(ServerTls::new(ca.server(&["127.0.0.1"])));
    server.add(
        "/a.bin",
        Body::Pattern { seed: 9, len: 5000 },
        Behaviour::default(),
    );
    assert!(server.url("/a.bin").starts_with("https://127.0.0.1:"));
    let answer = exchange(
        TcpStream::connect(server.addr()).unwrap(),
        client_config(&ca, None),
        RANGE_REQUEST,
    )
    .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 206 Partial Content\r\n"));
    assert_eq!(body_of(&answer), &pattern_bytes(9, 1000, 1000)[..]);
    assert_eq!(
        server.requests_for("/a.bin")[0].range.as_deref(),
        Some("bytes=1000-1999")
    );
}

#[test]
fn a_client_without_the_ca_or_the_client_certificate_fails_its_handshake() {
    let ca = TestCa::new("test CA");
    let stranger = TestCa::new("another CA");
    let server =
        TestServer::start_tls(ServerTls::new(ca.server(&["127.0.0.1"])).require_client_cert(&ca));
    server.add("/a.bin", Body::from("secret"), Behaviour::default());
    let untrusting = exchange(
        TcpStream::connect(server.addr()).unwrap(),
        client_config(&stranger, None),
        RANGE_REQUEST,
    );
    assert!(untrusting.is_err());
    let anonymous = exchange(
        TcpStream::connect(server.addr()).unwrap(),
        client_config(&ca, None),
        RANGE_REQUEST,
    );
    assert!(anonymous.is_err());
    let client = ca.client("me");
    let answer = exchange(
        TcpStream::connect(server.addr()).unwrap(),
        client_config(&ca, Some(&client)),
        "GET /a.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(body_of(&answer), b"secret");
    assert_eq!(server.stats().requests, 1, "only the authenticated request");
}

#[test]
fn the_proxy_tunnels_to_loopback_and_records_it() {
    let ca = TestCa::new("test CA");
    let server = TestServer::start_tls(ServerTls::new(ca.server(&["127.0.0.1"])));
    server.add(
        "/a.bin",
        Body::Pattern { seed: 9, len: 5000 },
        Behaviour::default(),
    );
    let proxy = TestProxy::start();
    let address = proxy.url().trim_start_matches("http://").to_string();

    let mut stream = TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "CONNECT {} HTTP/1.1\r\nHost: x\r\n\r\n",
        server.addr()
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert_eq!(status, "HTTP/1.1 200 Connection established\r\n");
    let mut blank = String::new();
    reader.read_line(&mut blank).unwrap();
    let answer = exchange(stream, client_config(&ca, None), RANGE_REQUEST).unwrap();
    assert_eq!(body_of(&answer), &pattern_bytes(9, 1000, 1000)[..]);
    assert_eq!(proxy.tunnels(), vec![server.addr().to_string()]);

    for (request, status) in [
        ("GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n", "405"),
        ("CONNECT 192.0.2.1:443 HTTP/1.1\r\nHost: x\r\n\r\n", "403"),
    ] {
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{answer}"
        );
    }
    assert_eq!(proxy.tunnels().len(), 1);
}
