//! The SNS adapter: publishes a fully formed [`Alert`] to the alert topic, one message
//! with a rendering per protocol ([`crate::render`]).

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::decide::Alert;
use crate::error::Error;
use crate::ports::AlertPublisher;

#[derive(Clone, Debug)]
pub struct SnsPublisher {
    client: Client,
    topic_arn: Option<String>,
}

impl SnsPublisher {
    pub fn new(client: Client, settings: &crate::config::Settings) -> Self {
        SnsPublisher {
            client,
            topic_arn: settings.alert_topic_arn.clone(),
        }
    }
}

impl SnsPublisher {
    /// Opens the connection during init (see [`crate::dynamo::DynamoStore::warm_up`]).
    pub async fn warm_up(&self) -> Result<(), Error> {
        if let Some(topic) = &self.topic_arn {
            self.client
                .get_topic_attributes()
                .topic_arn(topic)
                .send()
                .await
                .map_err(|e| Error::aws("SNS", e))?;
        }
        Ok(())
    }
}

impl AlertPublisher for SnsPublisher {
    async fn publish(&self, alert: &Alert) -> Result<(), Error> {
        let topic = self
            .topic_arn
            .as_deref()
            .ok_or_else(|| Error::Config("ALERT_TOPIC_ARN is not set".into()))?;
        let mut request = self
            .client
            .publish()
            .topic_arn(topic)
            .subject(&alert.subject)
            .message_structure("json")
            .message(crate::render::message_structure(alert))
            .message_attributes("alert_kind", string_attribute(alert.kind.as_str())?);
        // SNS refuses an empty attribute value (Kombo may send an empty category): such an
        // attribute is left out and the alert still goes.
        for (name, value) in alert
            .attributes
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
        {
            request = request.message_attributes(*name, string_attribute(value)?);
        }
        request.send().await.map_err(|e| Error::aws("SNS", e))?;
        Ok(())
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, Error> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| Error::Internal(format!("building a message attribute: {e}")))
}
