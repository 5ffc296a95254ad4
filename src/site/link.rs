//! The link to the broker a [`BrokerLogin`] describes: which servers to dial and how to trust
//! them.
//!
//! - **Encrypted off loopback.** A `nats://` (plain) URL is refused unless the broker's host is
//!   loopback (`127.0.0.0/8`, `::1`, `localhost`): what a door and the site send crosses the
//!   network only over TLS, and a `tls://` login carries the site's CA, the only root trusted.
//! - **Addresses resolved at join.** A door's sync agent has no DNS (its unit allows only the
//!   broker's addresses), so it dials the addresses `facegate join` resolved and stored in the
//!   login, and still verifies the broker's certificate against the host name of the URL.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::SiteError;
use super::connect::BrokerLogin;

/// A broker URL's parts: `nats://` or `tls://` (or no scheme: plain), a user part and a path
/// ignored, port 4222 by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    /// A host name or an IP address (without the brackets of IPv6).
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    pub fn parse(url: &str) -> Result<Self, SiteError> {
        let bad = || SiteError::Invalid(format!("cannot read the broker's address in {url:?}"));
        let (scheme, rest) = url.split_once("://").unwrap_or(("nats", url));
        let tls = match scheme {
            "tls" => true,
            "nats" => false,
            _ => return Err(bad()),
        };
        let rest = rest.split('/').next().unwrap_or(rest);
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let (host, port) = match rest.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or_else(bad)?;
                (host, after.strip_prefix(':'))
            }
            None => match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            },
        };
        let port = port.map_or(Ok(4222), str::parse::<u16>).map_err(|_| bad())?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self { tls, host: host.to_owned(), port })
    }

    /// Whether the host is this machine: the only place a plain link is allowed.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Refuses a plain link to a broker that is not on this machine.
    pub fn check_encrypted(&self) -> Result<(), SiteError> {
        if self.tls || self.is_loopback() {
            return Ok(());
        }
        Err(SiteError::Invalid(format!(
            "the broker {} is not on this machine: use tls://{}:{} (plain nats:// only on loopback)",
            self.host, self.host, self.port
        )))
    }
}

/// Refuses a broker listening without TLS (`listen`, e.g. `0.0.0.0:4222`) anywhere but on
/// loopback.
pub fn check_plain_listener(listen: &str) -> Result<(), SiteError> {
    if BrokerUrl::parse(listen)?.is_loopback() {
        return Ok(());
    }
    Err(SiteError::Invalid(format!(
        "[server] listen = {listen:?} without TLS: set tls_cert and tls_key, or listen on 127.0.0.1 only"
    )))
}

/// The servers to dial for `login` (its stored addresses if any, else its URL) and, for a
/// `tls://` login, the TLS configuration that trusts only the login's CA and checks the
/// certificate against the URL's host name.
pub fn servers_and_tls(
    login: &BrokerLogin,
) -> Result<(Vec<String>, Option<ClientConfig>), SiteError> {
    let url = BrokerUrl::parse(&login.url)?;
    url.check_encrypted()?;
    let servers = if login.addresses.is_empty() {
        vec![login.url.clone()]
    } else {
        let scheme = if url.tls { "tls" } else { "nats" };
        let at = |ip: &IpAddr| match ip {
            IpAddr::V4(v4) => format!("{scheme}://{v4}:{}", url.port),
            IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{}", url.port),
        };
        login.addresses.iter().map(at).collect()
    };
    if !url.tls {
        return Ok((servers, None));
    }
    let ca = login.ca.as_deref().ok_or_else(|| {
        SiteError::Invalid(format!(
            "the broker login for {} has no site CA (`site init --broker-ca FILE`)",
            login.url
        ))
    })?;
    Ok((servers, Some(tls_config(ca, &url.host)?)))
}

/// A client configuration trusting the certificates of `ca_pem` only, for a server named `host`.
fn tls_config(ca_pem: &str, host: &str) -> Result<ClientConfig, SiteError> {
    let bad = |e: &dyn std::fmt::Display| SiteError::Invalid(format!("the site CA: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"no certificate in it"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| bad(&e))?;
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| SiteError::Invalid(format!("the broker's host {host:?}: {e}")))?;
    let verifier = Arc::new(NamedServer { inner, name });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

/// The standard verification, against the URL's host name whatever address was dialled.
#[derive(Debug)]
struct NamedServer {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NamedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _dialled: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(url: &str) -> BrokerLogin {
        BrokerLogin { url: url.into(), ..BrokerLogin::default() }
    }

    #[test]
    fn a_plain_link_is_refused_off_loopback() {
        for url in ["nats://192.0.2.10:4222", "broker.example:4222", "nats://[2001:db8::1]"] {
            let Err(err) = servers_and_tls(&login(url)) else { panic!("{url} is accepted") };
            let err = err.to_string();
            assert!(err.contains("use tls://"), "{url}: {err}");
        }
        for url in ["nats://127.0.0.1:4222", "nats://localhost:4333", "nats://[::1]:4222"] {
            let (servers, tls) = servers_and_tls(&login(url)).unwrap();
            assert_eq!((servers, tls.is_none()), (vec![url.to_owned()], true));
        }
        let err = servers_and_tls(&login("tls://broker.example")).err().unwrap().to_string();
        assert!(err.contains("no site CA"), "{err}");
    }

    #[test]
    fn a_broker_without_tls_listens_on_loopback_only() {
        for listen in ["127.0.0.1:4222", "[::1]:4222", "localhost:4222"] {
            assert!(check_plain_listener(listen).is_ok(), "{listen}");
        }
        for listen in ["0.0.0.0:4222", "192.0.2.10:4222", "[::]:4222"] {
            let Err(err) = check_plain_listener(listen) else { panic!("{listen} is accepted") };
            let err = err.to_string();
            assert!(err.contains("set tls_cert and tls_key"), "{listen}: {err}");
        }
    }

    #[test]
    fn the_stored_addresses_are_dialled_in_the_urls_scheme_and_port() {
        let mut login = login("nats://localhost:4333");
        login.addresses = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        let (servers, _) = servers_and_tls(&login).unwrap();
        assert_eq!(servers, ["nats://127.0.0.1:4333", "nats://[::1]:4333"]);
    }

    #[test]
    fn broker_urls_are_read_in_every_form() {
        let url = |tls, host: &str, port| BrokerUrl { tls, host: host.into(), port };
        for (text, expected) in [
            ("tls://192.0.2.10:4222", url(true, "192.0.2.10", 4222)),
            ("nats://door:pw@192.0.2.11", url(false, "192.0.2.11", 4222)),
            ("broker.example:4333", url(false, "broker.example", 4333)),
            ("tls://[2001:db8::10]:4222/", url(true, "2001:db8::10", 4222)),
        ] {
            assert_eq!(BrokerUrl::parse(text).unwrap(), expected, "{text}");
        }
        for bad in ["tls://", "tls://192.0.2.10:port", "tls://[2001:db8::10", "http://x"] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
