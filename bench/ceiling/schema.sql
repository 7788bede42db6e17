-- The ceiling's one table (bench/compare.py creates it; the view only INSERTs).
CREATE TABLE ceiling_alarm (
    id bigserial PRIMARY KEY,
    message_id text NOT NULL,
    alarm_name text NOT NULL,
    state text NOT NULL,
    body text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
