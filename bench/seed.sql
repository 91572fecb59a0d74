-- The benchmark data set, in SQL (seconds, not minutes of HTTP calls). psql variables:
--   users, posts, votes   sizes (defaults of bench/run.sh: 1,000, 20,000, 100,000)
--   bench_users           users 1..bench_users carry the load generator's tokens and have no
--                         seeded votes (the vote scenario toggles their votes)
--   hash                  the Argon2id PHC string every seeded user gets (computed once by
--                         the api's register route for user 1, so logins verify for real)
-- User 1 exists already (registered through the api); its password is the one of every user.
-- Post ids are 1..posts; every tenth post (id % 10 = 0) is a draft, visible only to its owner,
-- so the list filter has something to filter. Newest post = highest id.
\set ON_ERROR_STOP on
BEGIN;

INSERT INTO users (email, password_hash, created_at)
SELECT format('bench-%s@example.com', lpad(g::text, 5, '0')), :'hash',
       now() - interval '400 days' + g * interval '5 minutes'
FROM generate_series(2, :users) AS g;
UPDATE users SET password_hash = :'hash' WHERE id = 1;

INSERT INTO posts (title, content, published, created_at, updated_at, owner_id)
SELECT initcap(w.words[1 + g % 20]) || ' notes #' || g,
       'Benchmark post ' || g || ': ' ||
         repeat('keel serves this paragraph from PostgreSQL through SeaORM and actix-web. ', 1 + g % 6),
       g % 10 <> 0,
       now() - (:posts - g) * interval '13 minutes',
       now() - (:posts - g) * interval '13 minutes',
       1 + g % :users
FROM generate_series(1, :posts) AS g,
     (SELECT ARRAY['rust', 'tokio', 'actix', 'postgres', 'redis', 'async', 'trait', 'borrow',
                   'lifetime', 'macro', 'cargo', 'crate', 'closure', 'iterator', 'vector',
                   'string', 'thread', 'mutex', 'channel', 'future'] AS words) AS w;

-- Distinct (user, post) pairs without a random retry loop: vote g is cast by user
-- bench_users + 1 + g % (voters) on post 1 + (k * 9973 + u * 211) % posts with k = g / voters;
-- for one user, different k give different posts (9973 is prime to the post count's factors
-- 2 and 5, and k stays far below the post count).
INSERT INTO votes (user_id, post_id, created_at)
SELECT u + :bench_users + 1,
       1 + ((g / (:users - :bench_users)) * 9973 + u * 211) % :posts,
       now() - (g % 1000) * interval '1 minute'
FROM generate_series(0, :votes - 1) AS g,
     LATERAL (SELECT g % (:users - :bench_users) AS u) AS voter
ON CONFLICT DO NOTHING;

UPDATE posts SET votes_count = c.n
FROM (SELECT post_id, count(*) AS n FROM votes GROUP BY post_id) AS c
WHERE posts.id = c.post_id;

COMMIT;
ANALYZE;
