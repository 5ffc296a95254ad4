//! A gate in a temporary folder, driven through the built binary: `gate.toml` there, every
//! command run with `--config gate.toml` from that folder, with its standard input fed.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct CliGate {
    pub dir: tempfile::TempDir,
    /// Variables set for every command (e.g. a test's own systemd host secret).
    env: Vec<(OsString, OsString)>,
}

impl CliGate {
    /// A folder with `gate.toml` holding `config`.
    pub fn with_config(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("gate.toml"), config).unwrap();
        Self { dir, env: Vec::new() }
    }

    /// `init`, resident 1201 with PIN 2580, after `config` (database `gate.db`, key `site.key`)
    /// with `extra` lines.
    pub fn with_resident(extra: &str) -> Self {
        let gate = Self::with_config(&format!(
            "[store]\ndatabase = \"gate.db\"\nkey_file = \"site.key\"\n{extra}"
        ));
        gate.ok(&["init"], "");
        gate.ok(&["admin", "resident", "add", "1201", "--name", "Li", "--unit", "3-1201"], "");
        gate.ok(&["admin", "pin", "set", "1201"], "2580\n");
        gate
    }

    /// Sets `name` to `value` for every later command.
    pub fn set_env(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) {
        self.env.push((name.into(), value.into()));
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `facegate --config gate.toml ARGS` in the folder, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
        command.current_dir(self.dir.path()).args(["--config", "gate.toml"]).args(args);
        command.env_remove("CREDENTIALS_DIRECTORY");
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        run_with_stdin(self.command(args), stdin)
    }

    /// Runs a command that must succeed; its standard output.
    pub fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "facegate {args:?} failed:\n{}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Runs a command that must fail; its standard error.
    pub fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(!out.status.success(), "facegate {args:?} should fail");
        text(&out.stderr)
    }
}

/// Runs `command` with `stdin` on its standard input; its output.
pub fn run_with_stdin(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The contents of `path`.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}
