//! Whom pardl trusts over HTTPS, and who it says it is: the system's trust store, extra CA
//! certificates (`--ca-certificate`), `--insecure`, and a client certificate for mutual TLS
//! (`--certificate`, `--private-key`), turned into the `TlsConfig` of the shared agent.
//!
//! * **Trust like the platform.** The roots are the operating system's (on Linux the distribution's
//!   bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, as OpenSSL-based tools read them), loaded
//!   by rustls-native-certs; only where the system has none (a minimal container) the Mozilla list
//!   built into the binary stands in for them. Certificates from `--ca-certificate` are **added** to
//!   those roots, as wget does (curl's `--cacert` and aria2's `--ca-certificate` replace them): a
//!   list that mixes an internal server with public ones works with one option.
//! * **Files are checked before any request.** [`UserTls::load`] reads the user's files and refuses a
//!   missing file, a file with no PEM certificate, a certificate that cannot be a trust anchor, a
//!   client certificate without a key and a key that does not belong to its certificate, each time
//!   naming the file. `Config::check` calls it, so the command reports a usage error and a library
//!   user gets `Error::Config` from `Downloader::new`.
//! * **`--insecure` is never silent.** [`InsecureWarnings`] prints one warning for each host whose
//!   certificate goes unchecked.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use crate::http::url::{host_of, scheme_of};

/// What the user's files say: CA certificates to trust besides the system's, and the client
/// certificate (with its key) to show a server that asks for one.
#[derive(Debug, Default)]
pub(crate) struct UserTls {
    extra_roots: Vec<Certificate<'static>>,
    client: Option<ClientCert>,
}

/// The certificates and keys of one PEM file.
struct PemFile {
    bytes: Vec<u8>,
    certificates: Vec<Certificate<'static>>,
    keys: Vec<PrivateKey<'static>>,
}

impl PemFile {
    /// Reads `path` as PEM; `what` names the file's role in messages ("CA certificate file").
    fn read(what: &str, path: &Path) -> Result<PemFile, String> {
        let bytes = fs::read(path)
            .map_err(|error| format!("cannot read {what} {}: {error}", path.display()))?;
        let mut certificates = Vec::new();
        let mut keys = Vec::new();
        for item in ureq::tls::parse_pem(&bytes) {
            match item {
                Ok(PemItem::Certificate(certificate)) => certificates.push(certificate),
                Ok(PemItem::PrivateKey(key)) => keys.push(key),
                Ok(_) => {}
                Err(error) => {
                    return Err(format!(
                        "{what} {} is not valid PEM: {error}",
                        path.display()
                    ))
                }
            }
        }
        Ok(PemFile {
            bytes,
            certificates,
            keys,
        })
    }
}

impl UserTls {
    /// Reads and checks the user's files. `ca_certificate` holds CA certificates to trust (PEM, any
    /// number); `certificate` the client certificate, its chain, and its key unless `private_key`
    /// gives the key in a file of its own.
    pub(crate) fn load(
        ca_certificate: Option<&Path>,
        certificate: Option<&Path>,
        private_key: Option<&Path>,
    ) -> Result<UserTls, String> {
        let mut user = UserTls::default();
        if let Some(path) = ca_certificate {
            let file = PemFile::read("CA certificate file", path)?;
            if file.certificates.is_empty() {
                return Err(format!(
                    "CA certificate file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    path.display()
                ));
            }
            for (n, certificate) in file.certificates.iter().enumerate() {
                let mut store = rustls::RootCertStore::empty();
                store
                    .add(CertificateDer::from(certificate.der()))
                    .map_err(|error| {
                        format!(
                            "CA certificate file {}: certificate {} cannot be trusted as a CA: {error}",
                            path.display(),
                            n + 1
                        )
                    })?;
            }
            user.extra_roots = file.certificates;
        }
        match (certificate, private_key) {
            (None, None) => {}
            (None, Some(key)) => {
                return Err(format!(
                    "private key {} given without its client certificate (--certificate FILE)",
                    key.display()
                ))
            }
            (Some(certificate), key) => {
                user.client = Some(client_cert(certificate, key)?);
            }
        }
        Ok(user)
    }
}

/// The client certificate of `certificate_path` (its first certificate, then the rest of its
/// chain) with the key of `key_path`, or the key in the certificate's own file.
fn client_cert(certificate_path: &Path, key_path: Option<&Path>) -> Result<ClientCert, String> {
    let certificate_file = PemFile::read("client certificate", certificate_path)?;
    if certificate_file.certificates.is_empty() {
        return Err(format!(
            "client certificate {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            certificate_path.display()
        ));
    }
    let key_file = match key_path {
        Some(path) => PemFile::read("private key", path)?,
        None => PemFile {
            bytes: Vec::new(),
            certificates: Vec::new(),
            keys: Vec::new(),
        },
    };
    let (key, key_path, key_pem) = match key_path {
        Some(path) => match key_file.keys.first() {
            Some(key) => (key.to_owned(), path, &key_file.bytes),
            None => {
                return Err(format!(
                    "private key {} holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
                    path.display()
                ))
            }
        },
        None => match certificate_file.keys.first() {
            Some(key) => (key.to_owned(), certificate_path, &certificate_file.bytes),
            None => {
                return Err(format!(
                "client certificate {} holds no private key: give its key with --private-key FILE",
                certificate_path.display()
            ))
            }
        },
    };
    check_key_matches(
        &certificate_file.certificates,
        key_pem,
        certificate_path,
        key_path,
    )?;
    Ok(ClientCert::new_with_certs(
        &certificate_file.certificates,
        key,
    ))
}

/// Refuses a key that rustls cannot use or that does not belong to the certificate: ureq would
/// only find out when a server asks for the certificate, and then panic. `key_pem` is the text of
/// the key's file; its first key is the one ureq's parser found too.
fn check_key_matches(
    chain: &[Certificate<'static>],
    key_pem: &[u8],
    certificate_path: &Path,
    key_path: &Path,
) -> Result<(), String> {
    let key_der = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|error| format!("private key {}: {error}", key_path.display()))?;
    let chain = chain
        .iter()
        .map(|certificate| CertificateDer::from(certificate.der().to_vec()))
        .collect();
    let provider = rustls::crypto::ring::default_provider();
    match rustls::sign::CertifiedKey::from_der(chain, key_der, &provider) {
        Ok(_) => Ok(()),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(format!(
                "private key {} does not belong to client certificate {}",
                key_path.display(),
                certificate_path.display()
            ))
        }
        Err(error) => Err(format!(
            "client certificate {} with key {} cannot be used: {error}",
            certificate_path.display(),
            key_path.display()
        )),
    }
}

/// The agent's TLS settings: the system's roots (or the Mozilla list where there are none) plus the
/// user's CA certificates, the client certificate, and no verification at all with `insecure`.
pub(crate) fn tls_config(user: UserTls, insecure: bool) -> TlsConfig {
    let builder = TlsConfig::builder().client_cert(user.client);
    if insecure {
        return builder.disable_verification(true).build();
    }
    let mut roots = system_roots();
    if roots.is_empty() {
        log::info!(
            "no trusted certificates in the system's store; using the built-in Mozilla list"
        );
        roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|certificate| Certificate::from_der(certificate.as_ref()))
            .collect();
    }
    roots.extend(user.extra_roots);
    builder
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .build()
}

/// The system's trusted certificates: on Linux and the BSDs the bundle and directory OpenSSL
/// would read, or only `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set; the keychain on macOS,
/// the certificate store on Windows. A store that cannot be read counts as empty.
fn system_roots() -> Vec<Certificate<'static>> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        if found.certs.is_empty() {
            log::warn!("cannot read the system's trusted certificates: {error}");
        } else {
            log::debug!("skipped part of the system's trusted certificates: {error}");
        }
    }
    log::debug!(
        "{} trusted certificates from the system's store",
        found.certs.len()
    );
    found
        .certs
        .iter()
        .map(|certificate| Certificate::from_der(certificate.as_ref()).to_owned())
        .collect()
}

/// The hosts already warned about under `--insecure`: each gets one warning, the first time a
/// request to it over HTTPS is sent. Locked once per request, never per byte.
#[derive(Debug, Default)]
pub(crate) struct InsecureWarnings {
    warned: Mutex<HashSet<String>>,
}

impl InsecureWarnings {
    /// Warns that the certificate of `url`'s host is not checked, unless that host was warned
    /// about before or `url` is not HTTPS.
    pub(crate) fn note(&self, url: &str) {
        let is_https = scheme_of(url).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https"));
        let Some(host) = host_of(url).filter(|_| is_https) else {
            return;
        };
        if self.warned.lock().insert(host.clone()) {
            log::warn!(
                "not checking the certificate of {host} (--insecure): anyone on the way can read and change what is downloaded from it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named() {
        let error = UserTls::load(Some(Path::new("/no/such/ca.pem")), None, None).unwrap_err();
        assert!(
            error.starts_with("cannot read CA certificate file /no/such/ca.pem: "),
            "{error}"
        );
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        fs::write(&path, "not a certificate\n").unwrap();
        let error = UserTls::load(Some(&path), None, None).unwrap_err();
        assert_eq!(
            error,
            format!(
                "CA certificate file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            )
        );
    }

    #[test]
    fn a_key_needs_its_certificate() {
        let error = UserTls::load(None, None, Some(Path::new("key.pem"))).unwrap_err();
        assert_eq!(
            error,
            "private key key.pem given without its client certificate (--certificate FILE)"
        );
    }

    #[test]
    fn insecure_trusts_without_loading_roots() {
        let config = tls_config(UserTls::default(), true);
        assert!(config.disable_verification());
    }

    #[test]
    fn the_system_roots_or_the_mozilla_list_are_trusted() {
        let config = tls_config(UserTls::default(), false);
        assert!(!config.disable_verification());
        match config.root_certs() {
            RootCerts::Specific(roots) => assert!(!roots.is_empty()),
            other => panic!("expected specific roots, got {other:?}"),
        }
    }

    #[test]
    fn one_warning_per_https_host() {
        let warnings = InsecureWarnings::default();
        warnings.note("https://a.example/x");
        warnings.note("HTTPS://a.example/y");
        warnings.note("http://b.example/x");
        warnings.note("https://c.example:8443/x");
        let warned = warnings.warned.lock();
        assert_eq!(warned.len(), 2);
        assert!(warned.contains("a.example"));
    }
}
