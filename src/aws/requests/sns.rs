//! SNS (the AWS query protocol: a form-encoded body): the topic of every call; `Publish` and
//! `PublishBatch` are sends, and each message gets a `traceparent` message attribute where
//! there is room.
//!
//! A message's attributes are the form's `MessageAttributes.entry.N.Name` /
//! `MessageAttributes.entry.N.Value.DataType` / `….Value.StringValue` fields (those of a batch
//! entry under `PublishBatchRequestEntries.member.M.`). The new fields are **appended** to the
//! body as it was (numbered after the message's last entry), so the caller's own fields are
//! sent byte for byte.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

use super::{MAX_MESSAGE_ATTRIBUTES, TRACEPARENT, body, replace_body, sending, set, w3c_context};
use crate::span::Span;

static FULL_LOGGED: AtomicBool = AtomicBool::new(false);

/// The prefix of a batch entry's fields.
const BATCH_ENTRY: &str = "PublishBatchRequestEntries.member.";
/// The prefix of a message attribute's fields.
const ATTRIBUTE_ENTRY: &str = "MessageAttributes.entry.";

pub(super) fn apply(operation: &str, request: &mut HttpRequest, span: &Span) {
    let Some(bytes) = body(request, "application/x-www-form-urlencoded") else {
        return;
    };
    let fields: Vec<(Cow<'_, str>, Cow<'_, str>)> = form_urlencoded::parse(bytes).collect();
    let topic = fields
        .iter()
        .find(|(k, _)| k == "TopicArn")
        .map(|(_, v)| v.as_ref());
    if let Some(arn) = topic {
        set(span, "aws.sns.topic.arn", arn);
        set(span, "messaging.system", "aws.sns");
        if let Some(name) = arn.rsplit(':').next().filter(|n| !n.is_empty()) {
            set(span, "messaging.destination.name", name);
        }
    }
    let batch = match operation {
        "Publish" => false,
        "PublishBatch" => true,
        _ => return,
    };
    let messages = messages(&fields, batch);
    sending(span, messages.len());
    let Some(traceparent) = w3c_context(span) else {
        return;
    };
    let added = traceparent_fields(&messages, &traceparent);
    if added.is_empty() {
        return;
    }
    let mut new = Vec::with_capacity(bytes.len() + 1 + added.len());
    new.extend_from_slice(bytes);
    if !new.is_empty() {
        new.push(b'&');
    }
    new.extend_from_slice(added.as_bytes());
    replace_body(request, new);
}

/// What the form says of one message's attributes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Message {
    /// The prefix of the message's fields: empty for `Publish`, the entry's for a batch.
    prefix: String,
    /// Its message attributes (distinct entry numbers that have a `Name`).
    attributes: usize,
    /// The highest entry number it uses.
    last_entry: u32,
    /// One of its attributes is named `traceparent` (any case).
    has_traceparent: bool,
}

/// The messages of a `Publish` (one) or a `PublishBatch` (one per entry number), in order.
fn messages(fields: &[(Cow<'_, str>, Cow<'_, str>)], batch: bool) -> Vec<Message> {
    let mut messages: BTreeMap<u32, Message> = BTreeMap::new();
    if !batch {
        messages.insert(0, Message::default());
    }
    for (key, value) in fields {
        let (index, rest) = if batch {
            let Some((index, rest)) = key
                .strip_prefix(BATCH_ENTRY)
                .and_then(|r| r.split_once('.'))
                .and_then(|(i, rest)| Some((i.parse::<u32>().ok()?, rest)))
            else {
                continue;
            };
            (index, rest)
        } else {
            (0, key.as_ref())
        };
        let message = messages.entry(index).or_insert_with(|| Message {
            prefix: format!("{BATCH_ENTRY}{index}."),
            ..Message::default()
        });
        let Some((entry, field)) = rest
            .strip_prefix(ATTRIBUTE_ENTRY)
            .and_then(|r| r.split_once('.'))
            .and_then(|(n, field)| Some((n.parse::<u32>().ok()?, field)))
        else {
            continue;
        };
        message.last_entry = message.last_entry.max(entry);
        if field == "Name" {
            message.attributes += 1;
            message.has_traceparent |= value.eq_ignore_ascii_case(TRACEPARENT);
        }
    }
    messages.into_values().collect()
}

/// The form fields that add `traceparent` to every message that has room for it, joined by
/// `&` (empty when none has).
fn traceparent_fields(messages: &[Message], traceparent: &str) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for message in messages.iter().filter(|m| !m.has_traceparent) {
        if message.attributes >= MAX_MESSAGE_ATTRIBUTES {
            super::log_full_once(&FULL_LOGGED, "SNS", "the request's X-Amzn-Trace-Id");
            continue;
        }
        let Some(entry) = message.last_entry.checked_add(1) else {
            continue;
        };
        let field = |name: &str| format!("{}{ATTRIBUTE_ENTRY}{entry}.{name}", message.prefix);
        form.append_pair(&field("Name"), TRACEPARENT);
        form.append_pair(&field("Value.DataType"), "String");
        form.append_pair(&field("Value.StringValue"), traceparent);
    }
    form.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn parse(form: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
        form_urlencoded::parse(form.as_bytes()).collect()
    }

    /// `n` attributes `a1`…`an` under `prefix`.
    fn attributes(prefix: &str, n: usize) -> String {
        (1..=n)
            .map(|i| {
                format!(
                    "&{prefix}MessageAttributes.entry.{i}.Name=a{i}\
                     &{prefix}MessageAttributes.entry.{i}.Value.DataType=String\
                     &{prefix}MessageAttributes.entry.{i}.Value.StringValue=v"
                )
            })
            .collect()
    }

    #[test]
    fn publish_gets_traceparent_after_its_last_attribute() {
        let form = format!(
            "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3Aorders\
             &Message=hi{}",
            attributes("", 2)
        );
        let messages = messages(&parse(&form), false);
        assert_eq!(messages.len(), 1);
        assert_eq!((messages[0].attributes, messages[0].last_entry), (2, 2));
        let added = traceparent_fields(&messages, TP);
        let added: Vec<_> = parse(&added)
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            added,
            [
                (
                    "MessageAttributes.entry.3.Name".to_owned(),
                    "traceparent".to_owned()
                ),
                (
                    "MessageAttributes.entry.3.Value.DataType".to_owned(),
                    "String".to_owned()
                ),
                (
                    "MessageAttributes.entry.3.Value.StringValue".to_owned(),
                    TP.to_owned()
                ),
            ]
        );
    }

    #[test]
    fn batch_entries_each_get_theirs_where_there_is_room() {
        let form = format!(
            "Action=PublishBatch&TopicArn=t\
             &PublishBatchRequestEntries.member.1.Id=roomy\
             &PublishBatchRequestEntries.member.1.Message=a\
             &PublishBatchRequestEntries.member.2.Id=crowded{}\
             &PublishBatchRequestEntries.member.3.Id=own\
             &PublishBatchRequestEntries.member.3.MessageAttributes.entry.1.Name=TraceParent\
             &PublishBatchRequestEntries.member.3.MessageAttributes.entry.1.Value.DataType=String\
             &PublishBatchRequestEntries.member.3.MessageAttributes.entry.1.Value.StringValue=x",
            attributes(
                "PublishBatchRequestEntries.member.2.",
                MAX_MESSAGE_ATTRIBUTES
            )
        );
        let messages = messages(&parse(&form), true);
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[1].attributes, MAX_MESSAGE_ATTRIBUTES);
        assert!(messages[2].has_traceparent);
        let added = traceparent_fields(&messages, TP);
        let names: Vec<String> = parse(&added).into_iter().map(|(k, _)| k.into()).collect();
        assert_eq!(
            names,
            [
                "PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name",
                "PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.DataType",
                "PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.StringValue",
            ],
            "only the entry with room and without its own traceparent"
        );
    }

    #[test]
    fn odd_forms_add_nothing_wrong_and_never_panic() {
        for form in [
            "",
            "&&==&",
            "MessageAttributes.entry.x.Name=a",
            "MessageAttributes.entry.4294967295.Name=a",
            "PublishBatchRequestEntries.member.-1.Id=a",
            "PublishBatchRequestEntries.member.1",
            "MessageAttributes.entry.1.Name=%FF%FE",
        ] {
            for batch in [false, true] {
                let messages = messages(&parse(form), batch);
                let added = traceparent_fields(&messages, TP);
                for (key, _) in parse(&added) {
                    assert!(key.contains("MessageAttributes.entry."), "{form}: {key}");
                }
            }
        }
    }
}
