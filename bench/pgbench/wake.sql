-- The api's outbox wake-up (keel_persistence::PgNotifyWaker): one NOTIFY in its own
-- transaction, on a connection of its own whose session has synchronous_commit = off. bench/run.sh
-- runs it beside the create and vote ceilings with one client at -R 100 (the waker's ceiling of
-- one wake-up per 10 ms) and PGOPTIONS='-c synchronous_commit=off'.
NOTIFY outbox_events;
