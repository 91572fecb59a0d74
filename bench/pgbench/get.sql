-- The SQL keel sends for GET /api/v1/posts/{id} (captured with log_statement=all; sqlx
-- prepares every statement, hence pgbench -M prepared): the bearer token's user, then the post
-- with its owner. Same distributions as bench/wrk/get.lua: a random benchmark user, a random
-- published seeded post (every tenth id is a draft). pgbench -D sets bench_users and posts.
\set user random(1, :bench_users)
\set index random(1, :posts * 9 / 10)
\set id :index + (:index - 1) / 9
\set one 1
SELECT "users"."id", "users"."email", "users"."password_hash", "users"."created_at" FROM "users" WHERE "users"."id" = :user LIMIT :one;
SELECT "posts"."id", "posts"."title", "posts"."content", "posts"."published", "posts"."created_at", "posts"."updated_at", "posts"."owner_id", "posts"."votes_count", "users"."email" AS "owner_email", "users"."created_at" AS "owner_created_at" FROM "posts" INNER JOIN "users" ON "posts"."owner_id" = "users"."id" WHERE "posts"."id" = :id LIMIT :one;
