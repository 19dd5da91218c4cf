//! The TLS mode: certificates made at test time and the server side of
//! rustls.
//!
//! A [`TestCa`] is a private certificate authority generated in memory (an
//! ECDSA P-256 key, a self-signed certificate valid until the year 4096), so
//! nothing that can expire is committed and every test run has its own CA,
//! as a company or a lab would. It issues server certificates
//! ([`TestCa::server`]: for `localhost` and `127.0.0.1` unless told
//! otherwise, optionally already expired) and client certificates
//! ([`TestCa::client`]). [`ServerTls`] says which certificate the server
//! shows and, for mutual TLS, which CA its clients' certificates must come
//! from; [`TestServer::start_tls`](crate::TestServer::start_tls) serves with
//! it.
//!
//! [`Wire`] is what a connection thread reads and writes: a plain
//! `TcpStream`, or the same stream inside a rustls `StreamOwned`, so the
//! request loop, the framing and every fault are the same code for HTTP and
//! HTTPS.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

/// A private certificate authority, made afresh in memory.
///
/// ```
/// use pardl_testserver::TestCa;
///
/// let ca = TestCa::new("pardl test CA");
/// assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// let server = ca.server(&["localhost", "127.0.0.1"]);
/// assert!(server.key_pem.contains("PRIVATE KEY"));
/// ```
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate with its private key, in PEM (for files a client is given)
/// and in DER (for the server's rustls configuration).
#[derive(Clone)]
pub struct Identity {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PKCS#8 PEM.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

/// Generation only fails on an impossible parameter, a bug of this crate.
fn generated<T>(result: Result<T, rcgen::Error>) -> T {
    result.unwrap_or_else(|e| panic!("pardl-testserver: cannot generate a certificate: {e}"))
}

impl TestCa {
    /// A new CA whose certificate's common name is `name`.
    pub fn new(name: &str) -> TestCa {
        let mut params = generated(CertificateParams::new(Vec::new()));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = generated(KeyPair::generate());
        TestCa {
            issuer: generated(CertifiedIssuer::self_signed(params, key)),
        }
    }

    /// The CA's certificate, PEM: what a client trusts (`--ca-certificate`).
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA's certificate, DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server certificate for `names` (host names, or IP addresses such as
    /// `127.0.0.1`), valid from 1975 to 4096.
    pub fn server(&self, names: &[&str]) -> Identity {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, false)
    }

    /// A server certificate for `names` that expired in 2001.
    pub fn expired_server(&self, names: &[&str]) -> Identity {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, true)
    }

    /// A client certificate for mutual TLS, with `name` as its common name.
    pub fn client(&self, name: &str) -> Identity {
        self.issue(&[name], ExtendedKeyUsagePurpose::ClientAuth, false)
    }

    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose, expired: bool) -> Identity {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = generated(CertificateParams::new(names.clone()));
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, first);
        }
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = generated(KeyPair::generate());
        let certificate = generated(params.signed_by(&key, &self.issuer));
        Identity {
            cert_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            cert_der: certificate.der().clone(),
            key_der: key.serialize_der(),
        }
    }
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// How a TLS server presents itself: its certificate, and for mutual TLS the
/// CA its clients' certificates must be issued by.
///
/// ```
/// use pardl_testserver::{ServerTls, TestCa, TestServer};
///
/// let ca = TestCa::new("pardl test CA");
/// let server = TestServer::start_tls(ServerTls::new(ca.server(&["127.0.0.1"])));
/// assert!(server.url("/a").starts_with("https://127.0.0.1:"));
/// ```
#[derive(Clone, Debug)]
pub struct ServerTls {
    identity: Identity,
    client_ca: Option<CertificateDer<'static>>,
}

impl ServerTls {
    /// Serves with `identity`'s certificate; asks clients for none.
    pub fn new(identity: Identity) -> ServerTls {
        ServerTls {
            identity,
            client_ca: None,
        }
    }

    /// Requires every client to show a certificate issued by `ca` (mutual
    /// TLS); a client without one fails its handshake.
    pub fn require_client_cert(mut self, ca: &TestCa) -> ServerTls {
        self.client_ca = Some(ca.cert_der());
        self
    }

    /// The rustls configuration. Panics on a certificate this crate made
    /// wrongly.
    pub(crate) fn server_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("pardl-testserver: TLS versions: {e}"));
        let builder = match &self.client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                roots
                    .add(ca.clone())
                    .unwrap_or_else(|e| panic!("pardl-testserver: client CA: {e}"));
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .unwrap_or_else(|e| panic!("pardl-testserver: client verifier: {e}"));
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.identity.key_der.clone()));
        let config = builder
            .with_single_cert(vec![self.identity.cert_der.clone()], key)
            .unwrap_or_else(|e| panic!("pardl-testserver: server certificate: {e}"));
        Arc::new(config)
    }
}

/// A connection's byte stream: plain TCP or TLS over TCP.
pub(crate) trait Wire: Read + Write + Send {
    /// The TCP socket underneath, for timeouts and an abortive close.
    fn tcp(&self) -> &TcpStream;
    /// Ends the sending direction cleanly: TLS's `close_notify` first
    /// (without it a TLS client must take the end for an attack), then FIN.
    fn finish_sending(&mut self) -> io::Result<()>;
}

impl Wire for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }

    fn finish_sending(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl Wire for StreamOwned<ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }

    fn finish_sending(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush()?;
        self.sock.shutdown(Shutdown::Write)
    }
}
