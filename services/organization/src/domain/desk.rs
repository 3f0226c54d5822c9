//! The Q&A desk's rules, without I/O: which expert a question goes to, what each step may do to a
//! question in each status, and the desk's figures (questions by topic, median time to the first
//! answer, share first answered within the deadline).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use redsupply_proto::organization::v1::QuestionStatus;
use uuid::Uuid;

/// An expert who could take a question: available and answering its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub expert: Uuid,
    /// Questions routed to them and waiting for an answer.
    pub waiting: i64,
}

/// The expert a new question goes to: the candidate with the fewest questions waiting, the one
/// enrolled first among equals (ids are time-ordered). `None`: nobody covers the topic, and the
/// county answers it.
pub fn choose_expert(candidates: &[Candidate]) -> Option<Uuid> {
    candidates
        .iter()
        .min_by_key(|c| (c.waiting, c.expert))
        .map(|c| c.expert)
}

/// When an answer asked for at `from` is due.
pub fn due(from: DateTime<Utc>, response_hours: u32) -> DateTime<Utc> {
    from + Duration::hours(i64::from(response_hours))
}

/// A step of the desk, refused in a status where it makes no sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Answer,
    FollowUp,
    Rate,
    Reassign,
    Publish,
}

/// Why a step may not be taken now (FAILED_PRECONDITION), or `None`.
pub fn refusal(step: Step, status: QuestionStatus, answered_once: bool) -> Option<&'static str> {
    let answered = status == QuestionStatus::Answered;
    match step {
        Step::Answer if answered => {
            Some("the question is already answered; a follow-up from the asker reopens it")
        }
        Step::FollowUp if !answered => Some("the question is still waiting for an answer"),
        Step::Rate | Step::Publish if !answered_once => Some("the question has no answer yet"),
        Step::Reassign if answered => Some("an answered question is not reassigned"),
        _ => None,
    }
}

/// What the figures are made of, one per question.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    pub topic: i16,
    pub status: i16,
    pub asked_at: DateTime<Utc>,
    pub first_due_at: DateTime<Utc>,
    pub first_answered_at: Option<DateTime<Utc>>,
    pub helpful: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub questions: i32,
    pub answered: i32,
    pub awaiting_answer: i32,
    pub escalated: i32,
    /// topic → (questions, answered at least once)
    pub by_topic: BTreeMap<i16, (i32, i32)>,
    pub median_minutes_to_first_answer: f64,
    /// Of the questions answered or past their first deadline at `now`, the share first answered
    /// by it.
    pub answered_within_deadline: f64,
    pub rated_helpful: i32,
}

/// The desk's figures over `questions`, as they stand at `now`.
pub fn figures(questions: &[Asked], now: DateTime<Utc>) -> Figures {
    let mut f = Figures::default();
    let mut minutes = Vec::new();
    let (mut judged, mut in_time) = (0u32, 0u32);
    for q in questions {
        f.questions += 1;
        let status = QuestionStatus::try_from(i32::from(q.status)).unwrap_or_default();
        match status {
            QuestionStatus::Answered => f.answered += 1,
            QuestionStatus::AwaitingAnswer => f.awaiting_answer += 1,
            QuestionStatus::Escalated => f.escalated += 1,
            QuestionStatus::Unspecified => {}
        }
        let topic = f.by_topic.entry(q.topic).or_default();
        topic.0 += 1;
        if let Some(at) = q.first_answered_at {
            topic.1 += 1;
            minutes.push((at - q.asked_at).num_milliseconds() as f64 / 60_000.0);
            judged += 1;
            if at <= q.first_due_at {
                in_time += 1;
            }
        } else if q.first_due_at < now {
            judged += 1;
        }
        if q.helpful {
            f.rated_helpful += 1;
        }
    }
    f.median_minutes_to_first_answer = median(&mut minutes);
    if judged > 0 {
        f.answered_within_deadline = f64::from(in_time) / f64::from(judged);
    }
    f
}

/// The median of `values` (0 when empty); sorts them.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn the_least_loaded_expert_takes_the_question_and_the_first_enrolled_among_equals() {
        let c = |n, waiting| Candidate {
            expert: id(n),
            waiting,
        };
        assert_eq!(choose_expert(&[c(1, 3), c(2, 1), c(3, 2)]), Some(id(2)));
        assert_eq!(choose_expert(&[c(7, 1), c(4, 1), c(9, 1)]), Some(id(4)));
        assert_eq!(choose_expert(&[]), None, "nobody covers it: the county");
    }

    #[test]
    fn each_step_is_refused_where_it_makes_no_sense() {
        use QuestionStatus::*;
        assert!(refusal(Step::Answer, AwaitingAnswer, false).is_none());
        assert!(refusal(Step::Answer, Escalated, false).is_none());
        assert!(refusal(Step::Answer, Answered, true).is_some());
        assert!(refusal(Step::FollowUp, Answered, true).is_none());
        assert!(refusal(Step::FollowUp, AwaitingAnswer, true).is_some());
        // Rated and published once answered, even while a follow-up waits.
        assert!(refusal(Step::Rate, AwaitingAnswer, true).is_none());
        assert!(refusal(Step::Rate, AwaitingAnswer, false).is_some());
        assert!(refusal(Step::Publish, Escalated, false).is_some());
        assert!(refusal(Step::Reassign, Escalated, false).is_none());
        assert!(refusal(Step::Reassign, Answered, true).is_some());
    }

    #[test]
    fn figures_count_topics_median_and_answers_within_the_deadline() {
        let t0 = DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
            .unwrap()
            .to_utc();
        let q = |topic, status: QuestionStatus, answer_after: Option<i64>, helpful| Asked {
            topic,
            status: status as i16,
            asked_at: t0,
            first_due_at: due(t0, 48),
            first_answered_at: answer_after.map(|m| t0 + Duration::minutes(m)),
            helpful,
        };
        let now = t0 + Duration::hours(72);
        let f = figures(
            &[
                q(2, QuestionStatus::Answered, Some(30), true),
                q(2, QuestionStatus::Answered, Some(90), false),
                // Answered late (after 50 hours), then followed up: waiting again.
                q(4, QuestionStatus::AwaitingAnswer, Some(50 * 60), false),
                // Never answered, past its deadline.
                q(5, QuestionStatus::Escalated, None, false),
            ],
            now,
        );
        assert_eq!(f.questions, 4);
        assert_eq!((f.answered, f.awaiting_answer, f.escalated), (2, 1, 1));
        assert_eq!(f.by_topic[&2], (2, 2));
        assert_eq!(f.by_topic[&4], (1, 1));
        assert_eq!(f.by_topic[&5], (1, 0));
        assert_eq!(f.median_minutes_to_first_answer, 90.0);
        // 2 of the 4 judged were answered by their deadline.
        assert_eq!(f.answered_within_deadline, 0.5);
        assert_eq!(f.rated_helpful, 1);
        // A question still within its deadline and unanswered is not judged yet.
        let early = figures(&[q(1, QuestionStatus::AwaitingAnswer, None, false)], t0);
        assert_eq!(early.answered_within_deadline, 0.0);
        assert_eq!(early.median_minutes_to_first_answer, 0.0);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [5.0]), 5.0);
        assert_eq!(median(&mut []), 0.0);
    }
}
