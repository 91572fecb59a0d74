-- The SQL keel sends for POST /api/v1/posts (captured with log_statement=all; sqlx prepares
-- every statement, BEGIN and COMMIT are simple queries): the bearer token's user, then one
-- transaction inserting the post and its post.created outbox event. Same distributions as
-- bench/wrk/create.lua: a random benchmark user. pgbench -D sets bench_users.
\set user random(1, :bench_users)
\set one 1
\set published true
\set attempts 0
SELECT "users"."id", "users"."email", "users"."password_hash", "users"."created_at" FROM "users" WHERE "users"."id" = :user LIMIT :one;
BEGIN;
INSERT INTO "posts" ("title", "content", "published", "created_at", "updated_at", "owner_id") VALUES ('Load test', 'Created by the pgbench ceiling.', :published, now(), now(), :user) RETURNING "id";
INSERT INTO "outbox_events" ("event_key", "topic", "payload", "status", "attempts", "created_at", "available_at") VALUES (gen_random_uuid(), 'post.created', jsonb_build_object('post_id', currval('posts_id_seq'), 'owner_id', :user::bigint), 'pending', :attempts, now(), now());
COMMIT;
