-- The write calibration of bench/run.sh (CALIBRATION=insert): one row committed per
-- transaction into a table of nothing else (calibration_inserts, created and dropped by the
-- runner). Nothing of keel: what this machine's PostgreSQL commits allow, against which the
-- create and vote targets are judged as shares.
INSERT INTO calibration_inserts DEFAULT VALUES;
