//! The job's lifecycle, as rules on [`JobState`]:
//!
//! ```text
//! queued → converting → converted → emailed
//!    │          │    ↖ (replay)  └──→ email_failed ──→ emailed (replay)
//!    └──────────┴──→ failed ──→ converting (a replayed dead letter)
//! ```
//!
//! A status only moves along these arrows (or stays where it is, for a redelivery). Whatever
//! writes a status asks [`JobState::can_move_to`] first, so a late or repeated writer can
//! never move a job backwards: an `emailed` job is never made `converted` again.

use crate::v1::JobState;

impl JobState {
    /// The name people and the HTTP API see: `queued`, `converting`, `converted`, `emailed`,
    /// `failed`, `email_failed` (`unknown` for a status that has none).
    pub fn name(self) -> &'static str {
        match self {
            JobState::Unspecified => "unknown",
            JobState::Queued => "queued",
            JobState::Converting => "converting",
            JobState::Converted => "converted",
            JobState::Emailed => "emailed",
            JobState::Failed => "failed",
            JobState::EmailFailed => "email_failed",
        }
    }

    /// Whether nothing more will happen to a job in this state by itself; `emails` says
    /// whether the job asked for a "PDF ready" email (without one, `converted` is the end).
    /// A dead letter replayed by hand can still move a final job.
    pub fn is_final(self, emails: bool) -> bool {
        match self {
            JobState::Failed | JobState::Emailed | JobState::EmailFailed => true,
            JobState::Converted => !emails,
            JobState::Unspecified | JobState::Queued | JobState::Converting => false,
        }
    }

    /// Whether the job's PDF is stored (and stays stored) in this state.
    pub fn has_pdf(self) -> bool {
        matches!(
            self,
            JobState::Converted | JobState::Emailed | JobState::EmailFailed
        )
    }

    /// Whether a status in this state may be overwritten with `next` (see the module docs).
    /// Staying in the same state is allowed: a redelivered message writes it again.
    pub fn can_move_to(self, next: JobState) -> bool {
        use JobState::*;
        self == next
            || matches!(
                (self, next),
                (Unspecified, Queued | Converting | Failed)
                    | (Queued, Converting | Failed)
                    | (Converting, Converted | Failed)
                    | (Failed, Converting)
                    | (Converted, Emailed | EmailFailed)
                    | (EmailFailed, Emailed)
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [JobState; 7] = [
        JobState::Unspecified,
        JobState::Queued,
        JobState::Converting,
        JobState::Converted,
        JobState::Emailed,
        JobState::Failed,
        JobState::EmailFailed,
    ];

    #[test]
    fn no_state_moves_back_to_an_earlier_one() {
        let order = |s: JobState| match s {
            JobState::Unspecified => 0,
            JobState::Queued => 1,
            JobState::Converting | JobState::Failed => 2,
            JobState::Converted => 3,
            JobState::Emailed | JobState::EmailFailed => 4,
        };
        for from in ALL {
            for to in ALL {
                let replay = matches!(
                    (from, to),
                    (JobState::Failed, JobState::Converting)
                        | (JobState::EmailFailed, JobState::Emailed)
                );
                if from.can_move_to(to) && !replay {
                    assert!(order(to) >= order(from), "{from:?} → {to:?}");
                }
            }
        }
        assert!(!JobState::Emailed.can_move_to(JobState::Converted));
        assert!(!JobState::Converted.can_move_to(JobState::Converting));
        assert!(!JobState::Converting.can_move_to(JobState::Queued));
    }

    #[test]
    fn a_converted_job_is_final_only_without_an_email() {
        assert!(JobState::Converted.is_final(false));
        assert!(!JobState::Converted.is_final(true));
        assert!(JobState::EmailFailed.is_final(true));
        assert_eq!(JobState::EmailFailed.name(), "email_failed");
    }
}
