//! A convert worker killed in the middle of a job (a real process, SIGKILL) loses nothing.

mod support;

use std::time::{Duration, Instant};

use pdfmill_schemas::{streams, v1::JobState};
use support::{TestSystem, noise_png};

#[tokio::test]
async fn a_worker_killed_mid_job_loses_nothing_and_duplicates_nothing() {
    let system = TestSystem::start().await;
    let mut email = system.spawn_worker_process("email");
    let mut first = system.spawn_worker_process("convert");
    system
        .submit("crash", &[noise_png(2400, 2400)], Some("erin@example.com"))
        .await;

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = system
            .ctx
            .jobs
            .get(&"crash".parse().unwrap())
            .await
            .unwrap();
        if status.is_some_and(|s| s.state() == JobState::Converting) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first worker never started the job"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let status = system
        .ctx
        .jobs
        .get(&"crash".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status.state(),
        JobState::Converting,
        "the worker must die mid-job for this test to mean anything"
    );
    assert_eq!(system.pdf_objects().await, 0);

    let mut second = system.spawn_worker_process("convert");
    system
        .wait_for_state("crash", JobState::Emailed, Duration::from_secs(60))
        .await;
    let emails = system.wait_for_emails(1, Duration::from_secs(10)).await;
    assert_eq!(emails.len(), 1, "exactly one email");
    assert_eq!(system.pdf_objects().await, 1, "exactly one PDF object");
    let consumer = system
        .ctx
        .js
        .get_stream(streams::CONVERT)
        .await
        .unwrap()
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>("convert")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(
        consumer.num_redelivered, 0,
        "nothing left waiting for redelivery"
    );
    assert_eq!(
        system.stream_messages(streams::CONVERT).await,
        0,
        "the request was consumed"
    );
    assert_eq!(system.stream_messages(streams::DLQ).await, 0);

    for child in [&mut second, &mut email] {
        // SIGTERM: the worker drains and exits by itself.
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let exit = child.wait().unwrap();
        assert!(
            exit.success(),
            "a worker stops cleanly on SIGTERM: {exit:?}"
        );
    }
}
