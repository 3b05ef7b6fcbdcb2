//! `pdfmill streams`: every stream and consumer with its counts. Read-only: it declares
//! nothing, so it is safe to point at production from a laptop.

use anyhow::Context as _;
use async_nats::jetstream;
use futures::StreamExt;
use pdfmill_core::Settings;
use pdfmill_schemas::streams;

/// Prints the table.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let client = pdfmill_core::connect_nats(&settings, "pdfmill-streams").await?;
    let js = jetstream::new(client);
    let mut rows = vec![
        [
            "stream",
            "consumer",
            "messages",
            "bytes",
            "pending",
            "ack pending",
            "redelivered",
        ]
        .map(String::from),
    ];
    for name in [
        streams::CONVERT,
        streams::EMAIL,
        streams::EVENTS,
        streams::DLQ,
    ] {
        let mut stream = js.get_stream(name).await.with_context(|| {
            format!("no stream {name}; `pdfmill up` or any `pdfmill worker` declares it")
        })?;
        let info = stream.info().await?.clone();
        rows.push([
            name.to_string(),
            "-".into(),
            info.state.messages.to_string(),
            info.state.bytes.to_string(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
        let mut consumers = stream.consumers();
        while let Some(consumer) = consumers.next().await {
            let consumer = consumer?;
            rows.push([
                name.to_string(),
                consumer.name.clone(),
                "-".into(),
                "-".into(),
                consumer.num_pending.to_string(),
                consumer.num_ack_pending.to_string(),
                consumer.num_redelivered.to_string(),
            ]);
        }
    }
    print_table(&rows);
    Ok(())
}

fn print_table(rows: &[[String; 7]]) {
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i < 2 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}
