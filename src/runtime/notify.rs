//! systemd's notification protocol (`Type=notify`, `WatchdogSec=`): one datagram per message to
//! the socket named by `NOTIFY_SOCKET`. A handful of lines, so written here rather than pulled in;
//! the socket is taken explicitly so tests need not touch the process environment.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;

/// Where "ready" and the watchdog's "alive" go; does nothing when not run by systemd.
pub struct Notifier(Option<(UnixDatagram, SocketAddr)>);

impl Notifier {
    /// The socket systemd named in `NOTIFY_SOCKET`, if any.
    pub fn from_env() -> io::Result<Self> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(name) => Self::to(Path::new(&name)),
            None => Ok(Self(None)),
        }
    }

    /// A socket path, or `@name` for Linux's abstract namespace.
    pub fn to(socket: &Path) -> io::Result<Self> {
        let name = socket.as_os_str().as_encoded_bytes();
        let address = match name.strip_prefix(b"@") {
            Some(abstract_name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(abstract_name)?
            }
            None => SocketAddr::from_pathname(socket)?,
        };
        Ok(Self(Some((UnixDatagram::unbound()?, address))))
    }

    /// The gate is up: systemd considers the start complete.
    pub fn ready(&self) -> io::Result<()> {
        self.send("READY=1")
    }

    /// The control loop is alive (sent every turn; systemd restarts the gate if it stops).
    pub fn alive(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }

    fn send(&self, message: &str) -> io::Result<()> {
        match &self.0 {
            Some((socket, address)) => socket.send_to_addr(message.as_bytes(), address).map(drop),
            None => Ok(()),
        }
    }
}
