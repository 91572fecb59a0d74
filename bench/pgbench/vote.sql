-- The SQL keel sends for POST /api/v1/vote (captured with log_statement=all), twice: dir 1
-- then dir 0 on the same (user, post) pair, so every vote succeeds on every pass. A vote is the
-- bearer token's user lookup and ONE statement (a CTE: the visible post, the vote inserted
-- ON CONFLICT DO NOTHING or deleted, the counter, the outbox row, then what it found); no
-- explicit transaction. keel binds now(), the event key, the topic and the payload as
-- parameters; here they are written as SQL (the casts replace the types keel's driver sends).
-- The api's coalesced wake-ups (at most one NOTIFY per 10 ms, on a connection of its own) are
-- bench/pgbench/wake.sql, run beside this script by bench/run.sh.
-- Each pgbench transaction is TWO votes: bench/run.sh reports twice its tps as votes/s. Client c
-- votes as benchmark user c mod bench_users + 1 (no seeded votes) on a random one of its own
-- 20 published posts, so no two clients ever hold the same pair. pgbench -D sets bench_users;
-- the runner clears these users' votes first.
-- The bearer token's user is looked up with its session's liveness check, which names the
-- token's session family: bench/run.sh keeps each benchmark user's family in bench_sessions,
-- read with \gset (one primary-key lookup per transaction that keel does not send).
\set user :client_id % :bench_users + 1
\set index :client_id * 20 + random(1, 20)
\set post :index + (:index - 1) / 9
SELECT family FROM bench_sessions WHERE n = :user \gset
SELECT id, email, password_hash, email_verified, created_at FROM users WHERE id = :user AND EXISTS (SELECT 1 FROM session_families AS f WHERE f.id = :family AND f.user_id = users.id AND f.revoked_at IS NULL AND f.current_expires_at > now());
WITH target AS (SELECT id FROM posts WHERE id = :post::bigint AND (published OR owner_id = :user::bigint)), changed AS (INSERT INTO votes (user_id, post_id, created_at) SELECT :user::bigint, id, now() FROM target ON CONFLICT (user_id, post_id) DO NOTHING RETURNING post_id), counted AS (UPDATE posts SET votes_count = votes_count + 1 WHERE id IN (SELECT post_id FROM changed) RETURNING id), recorded AS (INSERT INTO outbox_events (event_key, topic, payload, status, attempts, created_at, available_at) SELECT e.event_key, e.topic, e.payload, 'pending', 0, now(), now() FROM counted CROSS JOIN (VALUES (gen_random_uuid(), 'vote.created'::text, jsonb_build_object('post_id', :post::bigint, 'user_id', :user::bigint))) AS e (event_key, topic, payload)) SELECT EXISTS (SELECT 1 FROM target) AS visible, EXISTS (SELECT 1 FROM changed) AS changed;
SELECT id, email, password_hash, email_verified, created_at FROM users WHERE id = :user AND EXISTS (SELECT 1 FROM session_families AS f WHERE f.id = :family AND f.user_id = users.id AND f.revoked_at IS NULL AND f.current_expires_at > now());
WITH target AS (SELECT id FROM posts WHERE id = :post::bigint AND (published OR owner_id = :user::bigint)), changed AS (DELETE FROM votes WHERE user_id = :user::bigint AND post_id IN (SELECT id FROM target) RETURNING post_id), counted AS (UPDATE posts SET votes_count = votes_count - 1 WHERE id IN (SELECT post_id FROM changed) RETURNING id), recorded AS (INSERT INTO outbox_events (event_key, topic, payload, status, attempts, created_at, available_at) SELECT e.event_key, e.topic, e.payload, 'pending', 0, now(), now() FROM counted CROSS JOIN (VALUES (gen_random_uuid(), 'vote.deleted'::text, jsonb_build_object('post_id', :post::bigint, 'user_id', :user::bigint))) AS e (event_key, topic, payload)) SELECT EXISTS (SELECT 1 FROM target) AS visible, EXISTS (SELECT 1 FROM changed) AS changed;
