-- The SQL keel sends for POST /api/v1/vote (captured with log_statement=all), twice: dir 1
-- then dir 0 on the same (user, post) pair, so every statement succeeds on every pass. Each
-- pgbench transaction is TWO votes: bench/run.sh reports twice its tps as votes/s. Client c
-- votes as benchmark user c mod bench_users + 1 (no seeded votes) on a random one of its own
-- 20 published posts, so no two clients ever hold the same pair. pgbench -D sets bench_users;
-- the runner clears these users' votes first.
\set user :client_id % :bench_users + 1
\set index :client_id * 20 + random(1, 20)
\set post :index + (:index - 1) / 9
\set one 1
\set up 1
\set down -1
SELECT "users"."id", "users"."email", "users"."password_hash", "users"."created_at" FROM "users" WHERE "users"."id" = :user LIMIT :one;
SELECT "posts"."id", "posts"."title", "posts"."content", "posts"."published", "posts"."created_at", "posts"."updated_at", "posts"."owner_id", "posts"."votes_count" FROM "posts" WHERE "posts"."id" = :post LIMIT :one;
SELECT "votes"."user_id", "votes"."post_id", "votes"."created_at" FROM "votes" WHERE "votes"."user_id" = :user AND "votes"."post_id" = :post LIMIT :one;
BEGIN;
INSERT INTO "votes" ("user_id", "post_id", "created_at") VALUES (:user, :post, now());
UPDATE "posts" SET "votes_count" = "votes_count" + :up WHERE "posts"."id" = :post;
INSERT INTO "outbox_events" ("event_key", "topic", "payload", "status", "attempts", "created_at", "available_at") VALUES (gen_random_uuid(), 'vote.created', jsonb_build_object('post_id', :post::bigint, 'user_id', :user::bigint), 'pending', 0, now(), now());
COMMIT;
SELECT "users"."id", "users"."email", "users"."password_hash", "users"."created_at" FROM "users" WHERE "users"."id" = :user LIMIT :one;
SELECT "posts"."id", "posts"."title", "posts"."content", "posts"."published", "posts"."created_at", "posts"."updated_at", "posts"."owner_id", "posts"."votes_count" FROM "posts" WHERE "posts"."id" = :post LIMIT :one;
SELECT "votes"."user_id", "votes"."post_id", "votes"."created_at" FROM "votes" WHERE "votes"."user_id" = :user AND "votes"."post_id" = :post LIMIT :one;
BEGIN;
DELETE FROM "votes" WHERE "votes"."user_id" = :user AND "votes"."post_id" = :post;
UPDATE "posts" SET "votes_count" = "votes_count" + :down WHERE "posts"."id" = :post;
INSERT INTO "outbox_events" ("event_key", "topic", "payload", "status", "attempts", "created_at", "available_at") VALUES (gen_random_uuid(), 'vote.deleted', jsonb_build_object('post_id', :post::bigint, 'user_id', :user::bigint), 'pending', 0, now(), now());
COMMIT;
