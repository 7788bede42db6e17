"""The inbound path: SNS deliveries (envelope, signature, topic, MessageId), CloudWatch
alarms, the Inbound Log, and what arrives over real HTTP (gunicorn, a worker)."""
