//! Events from the persisted log, one line each. Topics, sources and
//! payloads are written by plugins, so they are foreign text.

use lord_host::lord_state::Event;

use super::foreign;

/// `#SEQ AT TOPIC [PROPAGATION] from SOURCE: PAYLOAD`; a sensitive payload
/// that was not revealed says how to see it.
pub(crate) fn event_line(event: &Event) -> String {
    let payload = if event.sensitive && event.payload.is_null() {
        "[sensitive; --reveal to decrypt]".to_owned()
    } else {
        event.payload.to_string()
    };
    format!(
        "#{} {} {} [{}] from {}: {}",
        event.seq,
        event.at_ms,
        foreign(event.topic.as_str()),
        event.propagation.as_str(),
        foreign(event.source.as_str()),
        foreign(&payload)
    )
}
