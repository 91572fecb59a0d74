-- The SQL keel sends for POST /api/v1/posts (captured with log_statement=all; sqlx prepares
-- every statement): the bearer token's user, then ONE statement (a CTE) inserting the post
-- and its post.created outbox event, with the post's id (drawn by the insert) written into the
-- event's payload — no explicit transaction, no NOTIFY inside. keel binds the instants, the
-- event key, the topic and the payload (the domain's, with a placeholder id) as parameters;
-- here they are written as SQL (the casts replace the types keel's driver sends). The api's
-- coalesced wake-ups are bench/pgbench/wake.sql, run beside this script by bench/run.sh.
-- Same distributions as bench/wrk/create.lua: a random benchmark user. pgbench -D sets
-- bench_users.
-- The bearer token's user is looked up with its session's liveness check, which names the
-- token's session family: bench/run.sh keeps each benchmark user's family in bench_sessions,
-- read with \gset (one primary-key lookup per transaction that keel does not send).
\set user random(1, :bench_users)
\set published true
SELECT family FROM bench_sessions WHERE n = :user \gset
SELECT id, email, password_hash, email_verified, created_at FROM users WHERE id = :user AND EXISTS (SELECT 1 FROM session_families AS f WHERE f.id = :family AND f.user_id = users.id AND f.revoked_at IS NULL AND f.current_expires_at > now());
WITH changed AS (INSERT INTO posts (title, content, published, created_at, updated_at, owner_id) VALUES ('Load test', 'Created by the pgbench ceiling.', :published::boolean, now(), now(), :user::bigint) RETURNING id), recorded AS (INSERT INTO outbox_events (event_key, topic, payload, status, attempts, created_at, available_at) SELECT e.event_key, e.topic, jsonb_set(e.payload, '{post_id}', to_jsonb(changed.id)), 'pending', 0, now(), now() FROM changed CROSS JOIN (VALUES (gen_random_uuid(), 'post.created'::text, jsonb_build_object('post_id', 0, 'owner_id', :user::bigint))) AS e (event_key, topic, payload)) SELECT id FROM changed;
