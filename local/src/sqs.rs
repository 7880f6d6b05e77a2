//! SQS for the stand-in (feature `sqs`): a client of a local endpoint (moto, [`crate::moto`]),
//! the queue of the demo, and what Lambda's event source mapping does with the messages it
//! receives: [`receive`] asks for them as the mapping does, [`lambda_event`] turns them into the
//! SQS event a function gets.
//!
//! The event, record by record, as Lambda writes it ("Using Lambda with Amazon SQS", the
//! example event):
//!
//! | `ReceiveMessage` (the SDK's `Message`) | record of the event |
//! |---|---|
//! | `MessageId`, `ReceiptHandle`, `Body`, `MD5OfBody`, `MD5OfMessageAttributes` | `messageId`, `receiptHandle`, `body`, `md5OfBody`, `md5OfMessageAttributes` (when present) |
//! | `Attributes` (all system attributes: `SentTimestamp`, `ApproximateReceiveCount`, `AWSTraceHeader`, …) | `attributes`, the same names and string values |
//! | `MessageAttributes`: `StringValue`, `BinaryValue`, `StringListValues`, `BinaryListValues`, `DataType` | `messageAttributes`: `stringValue`, `binaryValue` (base64), `stringListValues`, `binaryListValues` (base64), `dataType` |
//! | the queue | `eventSource: "aws:sqs"`, `eventSourceARN`, `awsRegion` |
//!
//! ```no_run
//! # async fn example() -> Result<(), String> {
//! use lambda_trace_local::sqs;
//! let client = sqs::client("http://127.0.0.1:5000", "us-east-1");
//! let queue = sqs::create_queue(&client, "orders", 60).await?;
//! let messages = sqs::receive(&client, &queue, 10, 1).await?;
//! let event = sqs::lambda_event(&messages, &queue); // what the function gets
//! # let _ = event;
//! # Ok(()) }
//! ```

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName,
};
use serde_json::{Map, Value, json};

/// The credentials the stand-in's clients sign with, and the functions get (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`): moto checks none, and no real credential leaves the machine.
pub const LOCAL_CREDENTIALS: (&str, &str) = ("lambda-trace-local", "lambda-trace-local");

/// A queue: its URL (the API's handle), ARN (the event's `eventSourceARN`) and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// The queue URL, as `CreateQueue` answered it.
    pub url: String,
    /// The queue ARN (`arn:aws:sqs:<region>:<account>:<name>`).
    pub arn: String,
    /// The region of the queue (the event's `awsRegion`).
    pub region: String,
}

/// An SQS client for `endpoint` (e.g. moto's `http://127.0.0.1:<port>`) in `region`, with
/// [`LOCAL_CREDENTIALS`]; nothing is read from the environment.
pub fn client(endpoint: &str, region: &str) -> Client {
    let (key, secret) = LOCAL_CREDENTIALS;
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            key,
            secret,
            None,
            None,
            "lambda-trace-local",
        ))
        .http_client(http_client())
        .build();
    Client::from_conf(config)
}

/// The SDK's HTTP client on rustls with `ring` (the SDK's default client is off).
fn http_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

fn sdk_error(what: &str, e: impl std::error::Error) -> String {
    format!("SQS {what}: {}", DisplayErrorContext(e))
}

/// Creates (or finds: `CreateQueue` is idempotent) the standard queue `name` with a visibility
/// timeout of `visibility_timeout_s` seconds, and reads its ARN.
pub async fn create_queue(
    client: &Client,
    name: &str,
    visibility_timeout_s: u32,
) -> Result<Queue, String> {
    let created = client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout_s.to_string(),
        )
        .send()
        .await
        .map_err(|e| sdk_error("CreateQueue", e))?;
    let url = created
        .queue_url
        .ok_or("SQS CreateQueue answered without a QueueUrl")?;
    let attributes = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error("GetQueueAttributes", e))?;
    let arn = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or("SQS GetQueueAttributes answered without a QueueArn")?;
    let region = arn.split(':').nth(3).unwrap_or_default().to_owned();
    Ok(Queue { url, arn, region })
}

/// Receives up to `max` (1–10) messages, waiting up to `wait_s` seconds (long polling) for the
/// first, asking — as Lambda's event source mapping does — for every system attribute
/// (`AWSTraceHeader` among them) and every message attribute (a `traceparent`).
pub async fn receive(
    client: &Client,
    queue: &Queue,
    max: usize,
    wait_s: u32,
) -> Result<Vec<Message>, String> {
    let output = client
        .receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
        .wait_time_seconds(i32::try_from(wait_s.min(20)).unwrap_or(20))
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| sdk_error("ReceiveMessage", e))?;
    Ok(output.messages.unwrap_or_default())
}

/// Deletes the messages with these receipt handles (in batches of 10, as `DeleteMessageBatch`
/// takes them); returns how many were deleted.
pub async fn delete(client: &Client, queue: &Queue, receipts: &[&str]) -> Result<usize, String> {
    let mut deleted = 0;
    for chunk in receipts.chunks(10) {
        let mut request = client.delete_message_batch().queue_url(&queue.url);
        for (i, receipt) in chunk.iter().enumerate() {
            let entry = DeleteMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .receipt_handle(*receipt)
                .build()
                .map_err(|e| sdk_error("DeleteMessageBatch", e))?;
            request = request.entries(entry);
        }
        let output = request
            .send()
            .await
            .map_err(|e| sdk_error("DeleteMessageBatch", e))?;
        deleted += output.successful().len();
    }
    Ok(deleted)
}

/// The SQS event Lambda's event source mapping invokes a function with for `messages` received
/// from `queue`: `{"Records": [...]}`, one record per message, in order (see the module docs).
pub fn lambda_event(messages: &[Message], queue: &Queue) -> Value {
    let records: Vec<Value> = messages.iter().map(|m| lambda_record(m, queue)).collect();
    json!({ "Records": records })
}

/// One record of [`lambda_event`].
pub fn lambda_record(message: &Message, queue: &Queue) -> Value {
    let attributes: Map<String, Value> = message
        .attributes()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.as_str().to_owned(), Value::String(value.clone())))
        .collect();
    let message_attributes: Map<String, Value> = message
        .message_attributes()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), message_attribute(value)))
        .collect();
    let mut record = json!({
        "messageId": message.message_id().unwrap_or_default(),
        "receiptHandle": message.receipt_handle().unwrap_or_default(),
        "body": message.body().unwrap_or_default(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.md5_of_body().unwrap_or_default(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.arn,
        "awsRegion": queue.region,
    });
    if let Some(md5) = message.md5_of_message_attributes() {
        record["md5OfMessageAttributes"] = json!(md5);
    }
    record
}

fn message_attribute(value: &MessageAttributeValue) -> Value {
    let base64 = |b: &aws_sdk_sqs::primitives::Blob| aws_smithy_types::base64::encode(b.as_ref());
    let mut attribute = json!({
        "stringListValues": value.string_list_values(),
        "binaryListValues": value.binary_list_values().iter().map(base64).collect::<Vec<_>>(),
        "dataType": value.data_type(),
    });
    if let Some(s) = value.string_value() {
        attribute["stringValue"] = json!(s);
    }
    if let Some(b) = value.binary_value() {
        attribute["binaryValue"] = json!(base64(b));
    }
    attribute
}

/// A record's trace context as it arrived: its `AWSTraceHeader` system attribute and its
/// `traceparent` message attribute, either absent.
pub fn record_context(message: &Message) -> (Option<String>, Option<String>) {
    let header = message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::AwsTraceHeader))
        .cloned();
    let traceparent = message
        .message_attributes()
        .and_then(|a| a.get("traceparent"))
        .and_then(|v| v.string_value())
        .map(str::to_owned);
    (header, traceparent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::SqsEvent;
    use aws_sdk_sqs::primitives::Blob;

    fn queue() -> Queue {
        Queue {
            url: "http://127.0.0.1:5000/123456789012/orders".into(),
            arn: "arn:aws:sqs:eu-west-1:123456789012:orders".into(),
            region: "eu-west-1".into(),
        }
    }

    fn message() -> Message {
        let text = |s: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(s)
                .build()
                .unwrap()
        };
        let binary = MessageAttributeValue::builder()
            .data_type("Binary")
            .binary_value(Blob::new(b"hi".to_vec()))
            .build()
            .unwrap();
        Message::builder()
            .message_id("m-1")
            .receipt_handle("r-1")
            .body(r#"{"orderId":"o-1"}"#)
            .md5_of_body("md5")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1710411800000")
            .attributes(
                MessageSystemAttributeName::AwsTraceHeader,
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            )
            .message_attributes(
                "traceparent",
                text("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"),
            )
            .message_attributes("blob", binary)
            .build()
    }

    #[test]
    fn a_message_becomes_the_record_lambda_writes() {
        let event = lambda_event(&[message()], &queue());
        let record = &event["Records"][0];
        assert_eq!(record["messageId"], "m-1");
        assert_eq!(record["receiptHandle"], "r-1");
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(record["eventSourceARN"], queue().arn);
        assert_eq!(record["awsRegion"], "eu-west-1");
        assert_eq!(record["attributes"]["SentTimestamp"], "1710411800000");
        assert!(record.get("md5OfMessageAttributes").is_none());
        let traceparent = &record["messageAttributes"]["traceparent"];
        assert_eq!(traceparent["dataType"], "String");
        assert_eq!(traceparent["stringListValues"], json!([]));
        assert_eq!(record["messageAttributes"]["blob"]["binaryValue"], "aGk=");

        // The Lambda event type reads it, trace context and all.
        let parsed: SqsEvent = serde_json::from_value(event).unwrap();
        let record = &parsed.records[0];
        assert_eq!(record.body.as_deref(), Some(r#"{"orderId":"o-1"}"#));
        assert!(
            record.attributes["AWSTraceHeader"].starts_with("Root=1-5759e988"),
            "{:?}",
            record.attributes
        );
        assert_eq!(
            record.message_attributes["traceparent"]
                .string_value
                .as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
        );
        assert_eq!(
            record_context(&message()),
            (
                Some(
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                        .into()
                ),
                Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01".into())
            )
        );
    }
}
