//! `pdfmill dlq list|replay`: the dead letters, read and replayed through core's
//! [`DeadLetters`]. Declares nothing.

use anyhow::bail;
use async_nats::jetstream;
use pdfmill_core::{DeadLetters, Settings};
use pdfmill_schemas::headers;

use crate::cli::DlqCommand;

/// Lists or replays.
pub async fn run(command: DlqCommand, settings: Settings) -> anyhow::Result<()> {
    let client = pdfmill_core::connect_nats(&settings, "pdfmill-dlq").await?;
    let mut dead_letters = DeadLetters::open(&jetstream::new(client)).await?;
    let letters = dead_letters.list().await?;
    match command {
        DlqCommand::List => {
            if letters.is_empty() {
                println!("the dead-letter queue is empty");
            }
            for letter in &letters {
                println!(
                    "{:>6}  {}  {}  deliveries {}  {}: {}",
                    letter.sequence,
                    letter.original_subject.as_deref().unwrap_or("?"),
                    letter.header(headers::NATS_MSG_ID),
                    letter.header(headers::DELIVERY_COUNT),
                    letter.header(headers::ERROR_CLASS),
                    letter.header(headers::ERROR_MESSAGE)
                );
            }
        }
        DlqCommand::Replay { sequences, all } => {
            if sequences.is_empty() && !all {
                bail!("name the dead letters to replay (see `pdfmill dlq list`), or pass --all");
            }
            let mut replayed = 0;
            for letter in letters
                .iter()
                .filter(|l| all || sequences.contains(&l.sequence))
            {
                if dead_letters.replay(letter).await? {
                    replayed += 1;
                } else {
                    eprintln!(
                        "pdfmill: dead letter {} names no original subject; left in place",
                        letter.sequence
                    );
                }
            }
            println!("replayed {replayed} dead letter(s)");
        }
    }
    Ok(())
}
