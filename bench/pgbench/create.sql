-- The SQL keel sends for POST /api/v1/posts (captured with log_statement=all; sqlx prepares
-- every statement): the bearer token's user, then ONE statement (a CTE) writing the creations
-- that arrived together — here a batch of one, what keel sends for a creation alone. Under load
-- keel's statement carries every creation waiting at that moment (up to 64), so the api can
-- pass this per-creation ceiling; docs/performance.md gives the batch sizes seen. The statement
-- takes the batch as one JSON parameter ($1: each post with its events, whose payloads carry
-- a placeholder post_id) and now ($2); it draws each post's id from the posts' sequence and
-- writes it into the post and its events' payloads — no explicit transaction, no NOTIFY
-- inside. Here the parameters are written as SQL (the casts replace the types keel's driver
-- sends). The api's coalesced wake-ups are bench/pgbench/wake.sql, run beside this script by
-- bench/run.sh.
-- Same distributions as bench/wrk/create.lua: a random benchmark user. pgbench -D sets
-- bench_users.
-- The bearer token's user is looked up with its session's liveness check, which names the
-- token's session family: bench/run.sh keeps each benchmark user's family in bench_sessions,
-- read with \gset (one primary-key lookup per transaction that keel does not send).
\set user random(1, :bench_users)
SELECT family FROM bench_sessions WHERE n = :user \gset
SELECT id, email, password_hash, email_verified, created_at FROM users WHERE id = :user AND EXISTS (SELECT 1 FROM session_families AS f WHERE f.id = :family AND f.user_id = users.id AND f.revoked_at IS NULL AND f.current_expires_at > now());
WITH input AS (SELECT i.*, nextval('posts_id_seq'::regclass) AS id FROM jsonb_to_recordset(jsonb_build_array(jsonb_build_object('ord', 0, 'title', 'Load test', 'content', 'Created by the pgbench ceiling.', 'published', true, 'created_at', now(), 'owner_id', :user::bigint, 'events', jsonb_build_array(jsonb_build_object('key', gen_random_uuid(), 'topic', 'post.created', 'payload', jsonb_build_object('post_id', 0, 'owner_id', :user::bigint)))))) AS i (ord bigint, title text, content text, published boolean, created_at timestamptz, owner_id bigint, events jsonb)), created AS (INSERT INTO posts (id, title, content, published, created_at, updated_at, owner_id) SELECT id, title, content, published, created_at, created_at, owner_id FROM input), recorded AS (INSERT INTO outbox_events (event_key, topic, payload, status, attempts, created_at, available_at) SELECT (e.event ->> 'key')::uuid, e.event ->> 'topic', jsonb_set(e.event -> 'payload', '{post_id}', to_jsonb(input.id)), 'pending', 0, now(), now() FROM input CROSS JOIN LATERAL jsonb_array_elements(input.events) AS e (event)) SELECT ord, id FROM input;
