//! A conversation and its token budget. Each kept message carries its
//! tokens as the service counted them: after a reply, the assistant's are
//! the reply's output tokens and the user's are the prompt's input tokens
//! less everything before it, so the kept messages add up to exactly what
//! the service last counted. Before a turn, the new message is estimated
//! (four characters a token) and, when the total would pass the budget,
//! the session's [`Retention`] policy makes room; pinned messages and the
//! newest exchange always stay.

use serde::{Deserialize, Serialize};

use crate::types::{Message, Role, Usage};

/// How a session over its budget makes room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Retention {
    /// Forget the oldest unpinned messages.
    DropOldest,
    /// Replace the older unpinned messages with a summary the model
    /// writes.
    Summarise,
}

impl Retention {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DropOldest => "drop-oldest",
            Self::Summarise => "summarise",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "drop-oldest" => Some(Self::DropOldest),
            "summarise" | "summarize" => Some(Self::Summarise),
            _ => None,
        }
    }
}

/// Tokens in `text`, estimated before a service has counted it: four
/// characters a token (rounded up) and four for the message's framing.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4) + 4
}

/// One kept message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    pub message: Message,
    pub tokens: u64,
    pub pinned: bool,
    /// Written by the model to stand for older messages.
    pub summary: bool,
}

/// What to do to fit the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trim {
    /// It fits.
    Nothing,
    /// These messages (indexes into [`Session::kept`], oldest first) were
    /// forgotten.
    Dropped(Vec<usize>),
    /// Summarise these messages and call [`Session::summarised`].
    Summarise(Vec<usize>),
    /// Over the budget, with nothing left to drop: everything kept is
    /// pinned, a system prompt or the question being asked.
    Over,
}

/// A conversation: the seed's `ConversationContext`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub profile: String,
    pub model: Option<String>,
    /// The role (system prompt) it started with, by name.
    pub role: Option<String>,
    /// The most tokens its context may hold; `None`: no limit but the
    /// model's.
    pub budget: Option<u64>,
    pub retention: Retention,
    pub kept: Vec<Kept>,
}

impl Session {
    pub fn new(id: String, profile: String) -> Self {
        Self {
            id,
            profile,
            model: None,
            role: None,
            budget: None,
            retention: Retention::DropOldest,
            kept: Vec::new(),
        }
    }

    /// Tokens its kept messages hold.
    pub fn tokens(&self) -> u64 {
        self.kept.iter().map(|k| k.tokens).sum()
    }

    /// The messages to send.
    pub fn messages(&self) -> Vec<Message> {
        self.kept.iter().map(|k| k.message.clone()).collect()
    }

    /// Adds a message the service has not counted yet.
    pub fn push(&mut self, message: Message, pinned: bool) {
        let tokens = estimate_tokens(&message.content);
        self.kept.push(Kept {
            message,
            tokens,
            pinned,
            summary: false,
        });
    }

    /// Makes room for the newest message (already pushed) under the
    /// budget. `DropOldest` drops at once; `Summarise` names what to
    /// summarise, oldest first, and leaves the session as it was.
    pub fn fit(&mut self) -> Trim {
        let Some(budget) = self.budget else {
            return Trim::Nothing;
        };
        let mut total = self.tokens();
        if total <= budget {
            return Trim::Nothing;
        }
        // The newest user message (the question being asked) stays.
        let protected_from = self
            .kept
            .iter()
            .rposition(|k| k.message.role == Role::User)
            .unwrap_or(self.kept.len());
        // A question goes with the replies that answer it, so what is
        // left never opens with a reply (which some services refuse).
        let mut chosen: Vec<usize> = Vec::new();
        let mut index = 0;
        while index < protected_from && total > budget {
            let kept = &self.kept[index];
            if kept.pinned || (kept.message.role == Role::System && !kept.summary) {
                index += 1;
                continue;
            }
            total -= kept.tokens;
            chosen.push(index);
            index += 1;
            if kept.message.role == Role::User {
                while index < protected_from
                    && self.kept[index].message.role == Role::Assistant
                    && !self.kept[index].pinned
                {
                    total -= self.kept[index].tokens;
                    chosen.push(index);
                    index += 1;
                }
            }
        }
        if chosen.is_empty() {
            return Trim::Over;
        }
        match self.retention {
            Retention::DropOldest => {
                for index in chosen.iter().rev() {
                    self.kept.remove(*index);
                }
                Trim::Dropped(chosen)
            }
            Retention::Summarise => {
                // A summary needs something to say: when only one message
                // must go, summarising it saves nothing.
                if chosen.len() < 2 {
                    self.kept.remove(chosen[0]);
                    Trim::Dropped(chosen)
                } else {
                    Trim::Summarise(chosen)
                }
            }
        }
    }

    /// Replaces the messages at `indexes` by one summary, placed where the
    /// first of them was.
    pub fn summarised(&mut self, indexes: &[usize], summary: String, tokens: u64) {
        let Some(&first) = indexes.first() else {
            return;
        };
        for index in indexes.iter().rev() {
            self.kept.remove(*index);
        }
        self.kept.insert(
            first.min(self.kept.len()),
            Kept {
                message: Message::new(
                    Role::System,
                    format!("Summary of the earlier conversation: {summary}"),
                ),
                // The service's count of the summary when it gave one.
                tokens: if tokens > 0 {
                    tokens
                } else {
                    estimate_tokens(&summary)
                },
                pinned: false,
                summary: true,
            },
        );
    }

    /// Records a reply to the newest message, and the counts the service
    /// gave, so the kept messages add up to what it counted.
    pub fn answered(&mut self, reply: String, usage: Usage) {
        let before: u64 = self
            .kept
            .iter()
            .take(self.kept.len().saturating_sub(1))
            .map(|k| k.tokens)
            .sum();
        if usage.input_tokens > 0
            && let Some(last) = self.kept.last_mut()
        {
            last.tokens = usage.input_tokens.saturating_sub(before).max(1);
        }
        let tokens = if usage.output_tokens > 0 {
            usage.output_tokens
        } else {
            estimate_tokens(&reply)
        };
        self.kept.push(Kept {
            message: Message::new(Role::Assistant, reply),
            tokens,
            pinned: false,
            summary: false,
        });
    }

    /// The prompt that asks the model to summarise `indexes`.
    pub fn summary_request(&self, indexes: &[usize]) -> Vec<Message> {
        let mut transcript = String::new();
        for index in indexes {
            let kept = &self.kept[*index];
            transcript.push_str(kept.message.role.as_str());
            transcript.push_str(": ");
            transcript.push_str(&kept.message.content);
            transcript.push('\n');
        }
        vec![
            Message::new(
                Role::System,
                "Summarise the conversation below in a few sentences, keeping names, numbers \
                 and decisions. Answer with the summary only.",
            ),
            Message::new(Role::User, transcript),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(budget: u64, retention: Retention) -> Session {
        let mut s = Session::new("s".into(), "p".into());
        s.budget = Some(budget);
        s.retention = retention;
        s
    }

    #[test]
    fn counts_add_up_to_what_the_service_counted() {
        let mut s = session(1000, Retention::DropOldest);
        s.push(Message::new(Role::User, "hello"), false);
        s.answered(
            "hi".into(),
            Usage {
                input_tokens: 20,
                output_tokens: 3,
            },
        );
        s.push(Message::new(Role::User, "again"), false);
        s.answered(
            "yes".into(),
            Usage {
                input_tokens: 31,
                output_tokens: 2,
            },
        );
        assert_eq!(s.tokens(), 33);
    }

    #[test]
    fn drop_oldest_forgets_unpinned_messages_first_and_keeps_the_newest() {
        let mut s = session(40, Retention::DropOldest);
        s.push(Message::new(Role::User, "remember: the code is 7"), true);
        s.answered(
            "ok".into(),
            Usage {
                input_tokens: 10,
                output_tokens: 10,
            },
        );
        s.push(Message::new(Role::User, "first"), false);
        s.answered(
            "one".into(),
            Usage {
                input_tokens: 30,
                output_tokens: 10,
            },
        );
        s.push(Message::new(Role::User, "second"), false);
        assert_eq!(s.fit(), Trim::Dropped(vec![1]));
        assert!(s.kept[0].pinned);
        assert_eq!(s.kept.last().unwrap().message.content, "second");
        assert!(s.tokens() <= 40);
    }

    #[test]
    fn a_question_goes_with_its_answer_and_an_all_pinned_session_says_so() {
        let mut s = session(30, Retention::DropOldest);
        s.push(Message::new(Role::User, "q1"), false);
        s.answered(
            "a1".into(),
            Usage {
                input_tokens: 10,
                output_tokens: 10,
            },
        );
        s.push(Message::new(Role::User, "q2"), false);
        s.answered(
            "a2".into(),
            Usage {
                input_tokens: 25,
                output_tokens: 5,
            },
        );
        s.push(Message::new(Role::User, "q3"), false);
        // q1 alone would be enough, but its answer goes with it.
        assert_eq!(s.fit(), Trim::Dropped(vec![0, 1]));
        assert_eq!(s.kept[0].message.content, "q2");

        let mut pinned = session(5, Retention::DropOldest);
        pinned.push(Message::new(Role::System, "a long system prompt"), true);
        pinned.push(Message::new(Role::User, "question"), false);
        assert_eq!(pinned.fit(), Trim::Over);
    }

    #[test]
    fn summarise_names_the_older_messages_and_replaces_them() {
        let mut s = session(30, Retention::Summarise);
        s.push(Message::new(Role::User, "a"), false);
        s.answered(
            "b".into(),
            Usage {
                input_tokens: 10,
                output_tokens: 10,
            },
        );
        s.push(Message::new(Role::User, "c"), false);
        s.answered(
            "d".into(),
            Usage {
                input_tokens: 30,
                output_tokens: 10,
            },
        );
        s.push(Message::new(Role::User, "e"), false);
        let Trim::Summarise(indexes) = s.fit() else {
            panic!("expected a summary");
        };
        assert_eq!(indexes, vec![0, 1]);
        s.summarised(&indexes, "a and b were said".into(), 6);
        assert!(s.kept[0].summary);
        assert_eq!(s.kept[1].message.content, "c");
        assert_eq!(s.kept.len(), 4);
    }
}
