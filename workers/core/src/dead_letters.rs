//! Reading and replaying the `DLQ` stream, next to the loop that fills it
//! ([`crate::consume`]). A dead letter is the original message (payload and headers) plus the
//! failure headers; a replay publishes it on its original subject again, without those
//! headers and under a new dedup id, then removes it from the DLQ.

use async_nats::{HeaderMap, jetstream};
use pdfmill_schemas::{headers, streams, subjects};

use crate::{Error, Publisher};

/// One dead letter.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its sequence in the `DLQ` stream (what `pdfmill dlq replay` takes).
    pub sequence: u64,
    /// The subject it failed on, when known.
    pub original_subject: Option<String>,
    /// The raw message.
    pub message: jetstream::message::StreamMessage,
}

impl DeadLetter {
    /// A header of the dead letter, empty when absent.
    pub fn header(&self, name: &str) -> String {
        self.message
            .headers
            .get(name)
            .map(|v| v.as_str().to_string())
            .unwrap_or_default()
    }
}

/// The `DLQ` stream.
pub struct DeadLetters {
    stream: jetstream::stream::Stream,
    publisher: Publisher,
}

impl DeadLetters {
    /// Opens the stream (declared with the topology); declares nothing.
    pub async fn open(js: &jetstream::Context) -> Result<DeadLetters, Error> {
        let stream = js
            .get_stream(streams::DLQ)
            .await
            .map_err(|_| Error::NotDeclared {
                what: format!("stream {}", streams::DLQ),
            })?;
        Ok(DeadLetters {
            stream,
            publisher: Publisher::new(js.clone()),
        })
    }

    /// Every dead letter, oldest first.
    pub async fn list(&mut self) -> Result<Vec<DeadLetter>, Error> {
        let info = self
            .stream
            .info()
            .await
            .map_err(|e| Error::nats("cannot read the DLQ stream", e))?;
        let state = info.state.clone();
        let mut letters = Vec::new();
        if state.messages == 0 {
            return Ok(letters);
        }
        for sequence in state.first_sequence..=state.last_sequence {
            // Gaps are letters already replayed or deleted.
            if let Ok(message) = self.stream.get_raw_message(sequence).await {
                let original_subject = message
                    .headers
                    .get(headers::ORIGINAL_SUBJECT)
                    .map(|v| v.as_str().to_string())
                    .or_else(|| subjects::original_subject(&message.subject).map(str::to_string));
                letters.push(DeadLetter {
                    sequence,
                    original_subject,
                    message,
                });
            }
        }
        Ok(letters)
    }

    /// Publishes `letter` on its original subject again and removes it from the DLQ; `false`
    /// when it names no original subject (it is left in place).
    pub async fn replay(&self, letter: &DeadLetter) -> Result<bool, Error> {
        let Some(original) = &letter.original_subject else {
            return Ok(false);
        };
        let mut map = replay_headers(&letter.message.headers);
        map.insert(
            headers::NATS_MSG_ID,
            format!("replay:{}", letter.sequence).as_str(),
        );
        self.publisher
            .publish_raw(original, map, letter.message.payload.clone())
            .await?;
        self.stream
            .delete_message(letter.sequence)
            .await
            .map_err(|e| {
                Error::nats(
                    format!("replayed {} but could not remove it", letter.sequence),
                    e,
                )
            })?;
        Ok(true)
    }
}

/// Copies `map` without the headers a replay must not carry over.
fn replay_headers(map: &HeaderMap) -> HeaderMap {
    let dropped = [
        headers::ERROR_CLASS,
        headers::ERROR_MESSAGE,
        headers::ORIGINAL_SUBJECT,
        headers::DELIVERY_COUNT,
        headers::NATS_MSG_ID,
    ];
    let mut copy = HeaderMap::new();
    for (name, values) in map.iter() {
        let name: &str = name.as_ref();
        if dropped.iter().any(|d| d.eq_ignore_ascii_case(name)) {
            continue;
        }
        for value in values {
            copy.append(name, value.as_str());
        }
    }
    copy
}
