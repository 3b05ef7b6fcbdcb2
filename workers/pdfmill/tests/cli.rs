//! `pdfmill submit`, `status`, `streams` and `dlq` as a person runs them, against real servers.

mod support;

use std::{process::Output, time::Duration};

use pdfmill_email::testing::Reply;
use pdfmill_schemas::{streams, v1::JobState};
use support::{TestSystem, suite};

async fn pdfmill(system: &TestSystem, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pdfmill"));
    command.args(args).envs(system.env());
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("pdfmill finishes")
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn submit_waits_for_the_pdf_and_the_email_and_status_shows_the_job() {
    let system = TestSystem::spawn().await;
    let (a, b) = (suite("basn2c08.png"), suite("basn3p04.png"));
    let output = pdfmill(
        &system,
        &[
            "submit",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--email",
            "gina@example.com",
            "--job-id",
            "cli-1",
            "--wait",
        ],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = stdout(&output);
    assert!(printed.starts_with("cli-1\n"), "{printed}");
    assert!(
        printed.contains("state    emailed") && printed.contains("2 pages"),
        "{printed}"
    );
    assert_eq!(
        system
            .wait_for_emails(1, Duration::from_secs(10))
            .await
            .len(),
        1
    );

    let output = pdfmill(&system, &["status", "cli-1", "--json"]).await;
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["state"], "JOB_STATE_EMAILED");
    assert_eq!(status["pdfKey"], "pdfs/cli-1.pdf");

    let output = pdfmill(&system, &["status", "no-such-job"]).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no job no-such-job"));
}

#[tokio::test]
async fn a_dead_letter_can_be_listed_and_replayed_after_the_cause_is_fixed() {
    let system = TestSystem::spawn().await;
    // The request names an image that is not in the store yet: a permanent failure.
    let mut request = system.request("late", &[], None).await;
    request.images.push(pdfmill_schemas::v1::ImageRef {
        key: "uploads/late.png".into(),
        ..Default::default()
    });
    system.publish(&request).await;
    system
        .wait_for_state("late", JobState::Failed, Duration::from_secs(30))
        .await;

    let listed = stdout(&pdfmill(&system, &["dlq", "list"]).await);
    assert!(
        listed.contains("image.convert.v1") && listed.contains("uploads/late.png does not exist"),
        "{listed}"
    );
    let table = stdout(&pdfmill(&system, &["streams"]).await);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("DLQ") && l.split_whitespace().nth(2) == Some("1")),
        "{table}"
    );

    system
        .ctx
        .store
        .put(
            "uploads/late.png",
            std::fs::read(suite("basn2c08.png")).unwrap().into(),
        )
        .await
        .unwrap();
    let replayed = pdfmill(&system, &["dlq", "replay", "--all"]).await;
    assert!(
        stdout(&replayed).contains("replayed 1 dead letter"),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    system
        .wait_for_state("late", JobState::Converted, Duration::from_secs(30))
        .await;
    assert_eq!(
        system.stream_messages(streams::DLQ).await,
        0,
        "a replayed letter leaves the DLQ"
    );
}

#[tokio::test]
async fn submit_stops_waiting_when_the_email_fails_and_a_replay_sends_it() {
    let system = TestSystem::spawn().await;
    system.smtp.reply_with(Reply::REJECT);
    let image = suite("basn2c08.png");
    let output = pdfmill(
        &system,
        &[
            "submit",
            image.to_str().unwrap(),
            "--email",
            "hal@example.com",
            "--job-id",
            "cli-refused",
            "--wait",
        ],
    )
    .await;
    let (printed, stderr) = (stdout(&output), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{printed}{stderr}");
    assert!(
        printed.contains("state    email_failed")
            && printed.contains("pdf      pdfs/cli-refused.pdf")
            && printed.contains("550"),
        "{printed}"
    );
    assert!(
        stderr
            .contains("the PDF is stored as pdfs/cli-refused.pdf, but the email could not be sent"),
        "{stderr}"
    );

    // Once the relay accepts, the dead letter is replayed and the job is emailed after all.
    system.smtp.reply_with(Reply::ACCEPT);
    system
        .wait_for_dead_letters(1, Duration::from_secs(10))
        .await;
    let replayed = pdfmill(&system, &["dlq", "replay", "--all"]).await;
    assert!(stdout(&replayed).contains("replayed 1 dead letter"));
    let status = system
        .wait_for_state("cli-refused", JobState::Emailed, Duration::from_secs(30))
        .await;
    assert!(status.error_message.is_empty(), "{status:?}");
    assert_eq!(
        system
            .wait_for_emails(1, Duration::from_secs(10))
            .await
            .len(),
        1
    );
}

/// Every stream's and consumer's configuration, as the server reports it.
async fn configs(system: &TestSystem) -> Vec<serde_json::Value> {
    let mut configs = Vec::new();
    for name in [
        streams::CONVERT,
        streams::EMAIL,
        streams::EVENTS,
        streams::DLQ,
    ] {
        let mut stream = system.ctx.js.get_stream(name).await.unwrap();
        let info = stream.info().await.unwrap().clone();
        configs.push(serde_json::to_value(&info.config).unwrap());
        for consumer in [
            pdfmill_schemas::consumers::CONVERT,
            pdfmill_schemas::consumers::EMAIL,
        ] {
            if let Ok(mut consumer) = stream
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(consumer)
                .await
            {
                let info = consumer.info().await.unwrap().clone();
                configs.push(serde_json::to_value(&info.config).unwrap());
            }
        }
    }
    configs
}

#[tokio::test]
async fn read_only_commands_and_submit_leave_streams_and_consumers_as_they_are() {
    let system = TestSystem::start().await;
    let before = configs(&system).await;
    let image = suite("basn2c08.png");
    // A laptop's settings that differ from the system's: had these commands declared the
    // topology, every stream would now have 3 replicas and every consumer a 99 s ack wait.
    let laptop = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pdfmill"));
        command
            .args(args)
            .envs(system.env())
            .env("PDFMILL_NATS_REPLICAS", "3")
            .env("PDFMILL_ACK_WAIT_SECONDS", "99");
        command.output().unwrap()
    };
    let submitted = laptop(&["submit", image.to_str().unwrap(), "--job-id", "ro-1"]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    for args in [&["status", "ro-1"][..], &["streams"], &["dlq", "list"]] {
        let output = laptop(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(configs(&system).await, before);
}

#[tokio::test]
async fn submit_refuses_a_fit_or_page_size_typo_before_storing_anything() {
    let system = TestSystem::start().await;
    let image = suite("basn2c08.png");
    for (option, value) in [
        ("--fit", "stretch"),
        ("--page-size", "a44"),
        ("--margin", "1km"),
    ] {
        let output = pdfmill(
            &system,
            &[
                "submit",
                image.to_str().unwrap(),
                option,
                value,
                "--job-id",
                "typo",
            ],
        )
        .await;
        assert!(!output.status.success(), "{option} {value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(value), "{option}: {stderr}");
    }
    let jobs = system
        .ctx
        .js
        .get_key_value(pdfmill_schemas::buckets::JOBS)
        .await
        .unwrap();
    assert_eq!(
        futures::StreamExt::count(jobs.keys().await.unwrap()).await,
        0
    );
}
