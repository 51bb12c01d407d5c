//! TLS for roundup-server `-s`: a PEM file holding the private key and
//! certificate (`-e`), or a temporary self-signed certificate.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS configuration from a PEM file with key and certificate chain.
pub fn from_pem_file(path: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let data =
        std::fs::read(path).map_err(|e| format!("reading PEM file {}: {e}", path.display()))?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &data[..])
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: bad certificate: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate (-----BEGIN CERTIFICATE-----) found",
            path.display()
        ));
    }
    let key = rustls_pemfile::private_key(&mut &data[..])
        .map_err(|e| format!("{}: bad private key: {e}", path.display()))?
        .ok_or_else(|| {
            format!(
                "{}: no private key (-----BEGIN PRIVATE KEY-----) found",
                path.display()
            )
        })?;
    build(certs, key).map_err(|e| format!("{}: {e}", path.display()))
}

/// A temporary self-signed certificate for `hostnames`, returned with the
/// TLS configuration using it (PEM text of the certificate, so clients
/// can be told to trust it).
pub fn self_signed(hostnames: &[String]) -> Result<(Arc<rustls::ServerConfig>, String), String> {
    let mut names: Vec<String> = hostnames.to_vec();
    if !names.iter().any(|n| n == "localhost") {
        names.push("localhost".into());
    }
    let key = rcgen::KeyPair::generate().map_err(|e| format!("generating a TLS key: {e}"))?;
    let params =
        rcgen::CertificateParams::new(names).map_err(|e| format!("certificate names: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("self-signing a certificate: {e}"))?;
    let pem = cert.pem();
    let der_key =
        PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| format!("TLS key: {e}"))?;
    let config = build(vec![cert.der().clone()], der_key)?;
    Ok((config, pem))
}

fn build(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate and key do not fit together: {e}"))?;
    Ok(Arc::new(config))
}
