//! The pipeline on an S3 store: s3s-fs, a real S3 server that checks SigV4 signatures and
//! presigned URL expiry. The email's link is a presigned URL that really downloads the PDF.

mod support;

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use pdfmill_schemas::v1::JobState;
use support::{TestSystem, root, suite};

struct S3Server {
    child: Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl S3Server {
    fn start(bucket: &str) -> S3Server {
        let bin = std::env::var_os("S3S_FS_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join(".tools/bin/s3s-fs"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(bucket)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                "AKIATEST",
                "--secret-key",
                "SECRETTEST",
            ])
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
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn curl(url: &str) -> (u16, Vec<u8>) {
    let output = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", url])
        .output()
        .expect("curl runs");
    let mut body = output.stdout;
    let split = body.iter().rposition(|&b| b == b'\n').unwrap();
    let code = String::from_utf8_lossy(&body[split + 1..]).parse().unwrap();
    body.truncate(split);
    (code, body)
}

#[tokio::test]
async fn a_job_on_s3_ends_with_a_presigned_link_that_downloads_the_pdf() {
    let s3 = S3Server::start("pdfmill");
    // SAFETY: this test binary runs one test on a current-thread runtime, and the variables
    // are set before anything reads the environment.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", &s3.endpoint);
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIATEST");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "SECRETTEST");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
    let mut system = TestSystem::start_with(|s| s.store_url = "s3://pdfmill".into()).await;
    system.start_workers().await;
    system
        .submit(
            "on-s3",
            &[std::fs::read(suite("basn2c08.png")).unwrap()],
            Some("frank@example.com"),
        )
        .await;
    let status = system
        .wait_for_state("on-s3", JobState::Emailed, Duration::from_secs(30))
        .await;

    let emails = system.wait_for_emails(1, Duration::from_secs(10)).await;
    let text = emails[0].body_text();
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with(&s3.endpoint))
        .unwrap_or_else(|| panic!("no S3 link in {text}"));
    assert!(
        link.contains("X-Amz-Signature="),
        "the link is presigned: {link}"
    );
    let (code, pdf) = curl(link);
    assert_eq!(code, 200);
    assert!(pdf.starts_with(b"%PDF-") && pdf.len() as u64 == status.pdf_size_bytes);

    let tampered = link.replace("on-s3.pdf", "other.pdf");
    assert_eq!(curl(&tampered).0, 403, "the server checks the signature");
    system.stop_workers().await;
}
