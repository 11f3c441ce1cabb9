-- The durable queue of webhook deliveries. A batch of events is written
-- here before the first attempt, and a row is deleted once the receiver
-- answered 2xx or the delivery was given up, so a restart loses none.
CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id          TEXT   NOT NULL,
    url             TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);
