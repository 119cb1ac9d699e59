//! The names that mean lord: the `lord.` topics lord publishes its own
//! events on and the `lord.` shared keys it keeps for itself. A plugin may
//! listen to lord's topics but never speak on them, so a subscriber can
//! trust what arrives there. Install refuses a manifest that asks for one;
//! the channel scope never grants one, whatever pattern a grant holds.

use crate::permission::Permission;

/// The prefix of lord's own topics and shared keys, and its source name.
pub const LORD: &str = "lord";

/// Whether `name` (a topic, a topic pattern or a shared key) is in lord's
/// namespace: `lord` itself or anything under `lord.`.
pub fn is_lords(name: &str) -> bool {
    name.strip_prefix(LORD)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

impl Permission {
    /// The rule a permission breaks when it claims part of lord's
    /// namespace, or `None` when a plugin may hold it.
    pub fn reserved_for_lord(&self) -> Option<&'static str> {
        match self {
            Permission::EventsPublish(topic) if is_lords(topic.as_str()) => Some(
                "topics under `lord.` carry lord's own events and only lord publishes on them \
                 (`events-subscribe` to them is fine)",
            ),
            Permission::StateShared(key) if is_lords(key) => {
                Some("shared keys under `lord.` are lord's own")
            }
            Permission::EventsPublish(_)
            | Permission::StateShared(_)
            | Permission::EventsSubscribe(_)
            | Permission::FsRead(_)
            | Permission::FsWrite(_)
            | Permission::Net(_)
            | Permission::Env(_)
            | Permission::Secret(_)
            | Permission::Exec(_)
            | Permission::Db(_)
            | Permission::Ai(_)
            | Permission::SysMetrics
            | Permission::SysMetricsCommandLines
            | Permission::Message(_)
            | Permission::Tty => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lords_names_are_lord_and_what_is_under_it() {
        for (name, expected) in [
            ("lord", true),
            ("lord.command.finished", true),
            ("lord.**", true),
            ("lords.thing", false),
            ("lord-pdk-record.none", false),
            ("notes.lord", false),
            ("**", false),
        ] {
            assert_eq!(is_lords(name), expected, "{name}");
        }
    }

    #[test]
    fn publishing_on_lords_topics_and_holding_its_keys_are_reserved() {
        for (text, reserved) in [
            ("events-publish(lord.command.finished)", true),
            ("state-shared(lord.session)", true),
            ("events-subscribe(lord.command.finished)", false),
            ("events-publish(notes.added)", false),
            ("state-shared(notes.count)", false),
        ] {
            let permission: Permission = text.parse().expect(text);
            assert_eq!(permission.reserved_for_lord().is_some(), reserved, "{text}");
        }
    }
}
