-- The SQL keel sends for GET /api/v1/posts?limit=10&skip=S (captured with log_statement=all;
-- sqlx prepares every statement, hence pgbench -M prepared): the bearer token's user, then the
-- page (its ids from the covering feed index, then those posts with their owners). Same
-- distributions as bench/wrk/list.lua: a random benchmark user, skip = 10 * uniform(0, pages
-- - 1). pgbench -D sets bench_users and pages.
-- The bearer token's user is looked up with its session's liveness check, which names the
-- token's session family: bench/run.sh keeps each benchmark user's family in bench_sessions,
-- read with \gset (one primary-key lookup per transaction that keel does not send).
\set user random(1, :bench_users)
\set skip 10 * random(0, :pages - 1)
\set limit 10
\set published true
SELECT family FROM bench_sessions WHERE n = :user \gset
SELECT id, email, password_hash, email_verified, created_at FROM users WHERE id = :user AND EXISTS (SELECT 1 FROM session_families AS f WHERE f.id = :family AND f.user_id = users.id AND f.revoked_at IS NULL AND f.current_expires_at > now());
SELECT "posts"."id", "posts"."title", "posts"."content", "posts"."published", "posts"."created_at", "posts"."updated_at", "posts"."owner_id", "posts"."votes_count", "users"."email" AS "owner_email", "users"."created_at" AS "owner_created_at" FROM "posts" INNER JOIN "users" ON "posts"."owner_id" = "users"."id" WHERE "posts"."id" IN (SELECT "posts"."id" FROM "posts" WHERE "posts"."published" = :published OR "posts"."owner_id" = :user ORDER BY "posts"."created_at" DESC, "posts"."id" DESC LIMIT :limit OFFSET :skip) ORDER BY "posts"."created_at" DESC, "posts"."id" DESC;
