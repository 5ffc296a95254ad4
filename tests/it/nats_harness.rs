//! A real `nats-server` for tests, and a TCP proxy to cut a client's link to it.
//!
//! [`NatsServer::start`] runs the Debian `nats-server` on a free loopback port with JetStream in
//! a temp dir and returns once the port accepts; [`NatsServer::kill9`] and
//! [`NatsServer::restart`] keep the port and the store, so a test can crash the broker and bring
//! it back. [`TcpProxy`] sits between a client and the broker: [`TcpProxy::cut`] drops the live
//! connections and refuses new ones until [`TcpProxy::restore`].

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to accept connections after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A `nats-server` child process on `127.0.0.1`, killed on drop.
pub struct NatsServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl NatsServer {
    /// A server with JetStream and no authentication.
    pub fn start() -> NatsServer {
        NatsServer::launch(None)
    }

    /// A server with this configuration file text. The listen address and port are the
    /// harness's (command-line flags win over the file), so the text may set users, permissions,
    /// TLS and JetStream limits and leave the rest out. The JetStream store dir is the harness's
    /// too unless the text sets `store_dir` (nats-server refuses both, and refuses to reload a
    /// configuration whose store dir came from the command line).
    pub fn start_with_config(text: &str) -> NatsServer {
        NatsServer::launch(Some(text))
    }

    fn launch(config: Option<&str>) -> NatsServer {
        let dir = tempfile::tempdir().expect("temp dir for nats-server");
        if let Some(text) = config {
            std::fs::write(dir.path().join("server.conf"), text).expect("write server.conf");
        }
        // A port that was free a moment ago may be taken by the time the server binds it (tests
        // run in parallel): try a few.
        for _ in 0..5 {
            let port = free_port();
            match spawn(dir.path(), port) {
                Ok(child) => return NatsServer { dir, port, child: Some(child) },
                Err(log) if log.contains("address already in use") => continue,
                Err(log) => panic!("nats-server did not start:\n{log}"),
            }
        }
        panic!("nats-server found no free port in 5 tries");
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The harness's JetStream store dir (kept across [`NatsServer::kill9`] and
    /// [`NatsServer::restart`]), used unless the configuration text sets its own.
    pub fn store_dir(&self) -> PathBuf {
        store_dir(self.dir.path())
    }

    /// Kills the server with SIGKILL (no clean shutdown) and waits until it is gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same store and configuration (killing
    /// it first if it still runs); returns once the port accepts.
    pub fn restart(&mut self) {
        self.kill9();
        match spawn(self.dir.path(), self.port) {
            Ok(child) => self.child = Some(child),
            Err(log) => panic!("nats-server did not restart on port {}:\n{log}", self.port),
        }
    }

    /// Replaces the configuration text and has the running server reload it (SIGHUP, through
    /// `nats-server --signal`); returns once the server's log says it reloaded.
    pub fn reload_config(&mut self, text: &str) {
        std::fs::write(self.dir.path().join("server.conf"), text).expect("write server.conf");
        let log_path = self.dir.path().join(format!("server-{}.log", self.port));
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        let reloads = || log().matches("Reloaded server configuration").count();
        let before = reloads();
        let pid = self.child.as_ref().expect("a running server").id();
        let signal = Command::new("nats-server").arg(format!("--signal=reload={pid}")).output();
        assert!(signal.expect("nats-server --signal").status.success(), "reload signal");
        let deadline = Instant::now() + START_TIMEOUT;
        while reloads() == before {
            assert!(!log().contains("Failed to reload") && Instant::now() < deadline, "{}", log());
            thread::sleep(Duration::from_millis(20));
        }
    }
}

fn store_dir(dir: &Path) -> PathBuf {
    dir.join("jetstream")
}

/// Spawns a server for the files in `dir` and waits until its port accepts; on failure, its log.
fn spawn(dir: &Path, port: u16) -> Result<Child, String> {
    let log_path = dir.join(format!("server-{port}.log"));
    let log = std::fs::File::create(&log_path).expect("create nats-server log");
    let mut command = Command::new("nats-server");
    let config = dir.join("server.conf");
    let text = std::fs::read_to_string(&config).unwrap_or_default();
    if config.exists() {
        command.arg("-c").arg(&config);
    }
    command.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
    if !text.contains("store_dir") {
        command.args(["-js", "-sd"]).arg(store_dir(dir));
    }
    command.stdin(Stdio::null()).stdout(log.try_clone().expect("log handle")).stderr(log);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run nats-server (apt-get install nats-server): {e}"));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(child);
        }
        let exited = child.try_wait().expect("nats-server status").is_some();
        if exited || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::fs::read_to_string(&log_path).unwrap_or_default());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A loopback port that was free when asked (for a second listener of a server).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A TCP proxy on a loopback port that forwards every connection to a target.
pub struct TcpProxy {
    port: u16,
    shared: Arc<ProxyState>,
}

struct ProxyState {
    target: String,
    cut: AtomicBool,
    closing: AtomicBool,
    next_id: AtomicU64,
    /// Both sockets of each live connection, so that `cut` can shut them down.
    live: Mutex<HashMap<u64, [TcpStream; 2]>>,
}

impl TcpProxy {
    /// A proxy to `target`: `nats://host:port` or `host:port`.
    pub fn new(target: &str) -> TcpProxy {
        let target = target.strip_prefix("nats://").unwrap_or(target).to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy port");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(ProxyState {
            target,
            cut: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        });
        let state = Arc::clone(&shared);
        thread::spawn(move || accept_loop(&listener, &state));
        TcpProxy { port, shared }
    }

    /// `nats://127.0.0.1:<proxy port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Drops every live connection and closes new ones at once, until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        self.shared.drop_live();
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.drop_live();
        // Wake the accept loop so that it sees `closing` and ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl ProxyState {
    fn drop_live(&self) {
        for [a, b] in self.live.lock().unwrap().drain().map(|(_, pair)| pair) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<ProxyState>) {
    for client in listener.incoming() {
        if state.closing.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        if state.cut.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(upstream) = TcpStream::connect(&state.target) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let id = state.next_id.fetch_add(1, Ordering::SeqCst);
        let clones = (client.try_clone(), upstream.try_clone());
        let (Ok(client_2), Ok(upstream_2)) = clones else { continue };
        state.live.lock().unwrap().insert(id, [client_2, upstream_2]);
        for (from, to) in [(client.try_clone(), upstream.try_clone()), (Ok(upstream), Ok(client))] {
            let (Ok(from), Ok(to)) = (from, to) else { continue };
            let state = Arc::clone(state);
            thread::spawn(move || pump(from, to, id, &state));
        }
    }
}

/// Copies one direction until either side closes, then closes both.
fn pump(mut from: TcpStream, mut to: TcpStream, id: u64, state: &ProxyState) {
    let _ = io::copy(&mut from, &mut to);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
    state.live.lock().unwrap().remove(&id);
}

/// A minimal NATS protocol client on a plain socket, enough to test the harness itself.
struct RawClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawClient {
    /// Connects, reads the server's INFO and completes the handshake with a PING/PONG.
    fn connect(url: &str) -> io::Result<RawClient> {
        let stream = TcpStream::connect(url.strip_prefix("nats://").unwrap_or(url))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut client = RawClient { reader: BufReader::new(stream.try_clone()?), writer: stream };
        let info = client.line()?;
        if !info.starts_with("INFO ") {
            return Err(io::Error::other(format!("expected INFO, got {info:?}")));
        }
        client.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")?;
        client.ping()?;
        Ok(client)
    }

    fn send(&mut self, text: &str) -> io::Result<()> {
        self.writer.write_all(text.as_bytes())
    }

    /// One protocol line; EOF is an error.
    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end().to_string())
    }

    fn ping(&mut self) -> io::Result<()> {
        self.send("PING\r\n")?;
        match self.line()?.as_str() {
            "PONG" => Ok(()),
            other => Err(io::Error::other(format!("expected PONG, got {other:?}"))),
        }
    }

    /// A request with a reply subject; the reply's payload.
    fn request(&mut self, subject: &str, payload: &str) -> io::Result<String> {
        self.send(&format!(
            "SUB _INBOX.harness 1\r\nPUB {subject} _INBOX.harness {}\r\n",
            payload.len()
        ))?;
        self.send(&format!("{payload}\r\n"))?;
        let header = self.line()?;
        let size: usize = header
            .strip_prefix("MSG ")
            .and_then(|h| h.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| io::Error::other(format!("expected MSG, got {header:?}")))?;
        let mut body = vec![0; size + 2];
        self.reader.read_exact(&mut body)?;
        self.send("UNSUB 1\r\n")?;
        Ok(String::from_utf8_lossy(&body[..size]).into_owned())
    }
}

/// True once the connection is closed by the other side (EOF or reset) within the read timeout.
fn closed(client: &mut RawClient) -> bool {
    match client.reader.read(&mut [0]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
    }
}

#[test]
fn a_cut_proxy_drops_its_clients_and_refuses_new_ones_until_restored() {
    let server = NatsServer::start();
    let proxy = TcpProxy::new(&server.url());
    let mut client = RawClient::connect(&proxy.url()).expect("a client through the proxy");

    proxy.cut();
    assert!(closed(&mut client), "a live connection is dropped by cut()");
    let refused = RawClient::connect(&proxy.url());
    assert!(refused.is_err(), "a new connection gets no INFO while cut");
    RawClient::connect(&server.url()).expect("the server itself still answers");

    proxy.restore();
    let mut again = RawClient::connect(&proxy.url()).expect("connects again after restore()");
    again.ping().expect("and talks to the server");
}

#[test]
fn a_killed_server_restarts_on_its_port_with_its_jetstream_store() {
    let mut server = NatsServer::start();
    let mut client = RawClient::connect(&server.url()).expect("client");
    let created = client
        .request("$JS.API.STREAM.CREATE.harness", r#"{"name":"harness","subjects":["harness.>"]}"#)
        .expect("stream create reply");
    assert!(created.contains(r#""name":"harness""#) && !created.contains("error"), "{created}");

    server.kill9();
    assert!(closed(&mut client), "the client sees the broker die");
    assert!(RawClient::connect(&server.url()).is_err(), "nothing listens after kill9()");

    server.restart();
    let mut client = RawClient::connect(&server.url()).expect("the same url after restart()");
    let info = client.request("$JS.API.STREAM.INFO.harness", "").expect("stream info reply");
    assert!(info.contains(r#""name":"harness""#) && !info.contains("error"), "{info}");
}

#[test]
fn a_configuration_text_is_applied() {
    let server = NatsServer::start_with_config("authorization { user: probe, password: secret }");
    let refused = RawClient::connect(&server.url()).err().map(|e| e.to_string());
    let refused = refused.unwrap_or_default();
    assert!(refused.contains("Authorization Violation"), "anonymous client: {refused:?}");
    assert!(server.store_dir().is_dir(), "JetStream store in the temp dir");
}
