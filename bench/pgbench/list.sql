-- The SQL keel sends for GET /api/v1/posts?limit=10&skip=S (captured with log_statement=all;
-- sqlx prepares every statement, hence pgbench -M prepared): the bearer token's user, then the
-- page (its ids from the covering feed index, then those posts with their owners). Same
-- distributions as bench/wrk/list.lua: a random benchmark user, skip = 10 * uniform(0, pages
-- - 1). pgbench -D sets bench_users and pages.
\set user random(1, :bench_users)
\set skip 10 * random(0, :pages - 1)
\set one 1
\set limit 10
\set published true
SELECT "users"."id", "users"."email", "users"."password_hash", "users"."created_at" FROM "users" WHERE "users"."id" = :user LIMIT :one;
SELECT "posts"."id", "posts"."title", "posts"."content", "posts"."published", "posts"."created_at", "posts"."updated_at", "posts"."owner_id", "posts"."votes_count", "users"."email" AS "owner_email", "users"."created_at" AS "owner_created_at" FROM "posts" INNER JOIN "users" ON "posts"."owner_id" = "users"."id" WHERE "posts"."id" IN (SELECT "posts"."id" FROM "posts" WHERE "posts"."published" = :published OR "posts"."owner_id" = :user ORDER BY "posts"."created_at" DESC, "posts"."id" DESC LIMIT :limit OFFSET :skip) ORDER BY "posts"."created_at" DESC, "posts"."id" DESC;
