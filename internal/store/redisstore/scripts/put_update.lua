-- put_update.lua: stores an inbox update unless its id was seen.
--
-- KEYS[1]: seen marker of the update id   KEYS[2]: the chat's pending ids (sorted set)
-- KEYS[3]: the chat's pending updates (hash)   KEYS[4]: chats with pending updates
-- ARGV[1]: update id   ARGV[2]: chat   ARGV[3]: encoded update
-- ARGV[4]: how long the id is remembered, in ms (server clock: SET PX)
-- Returns 1 when the id was seen or is still pending (nothing written), 0 when stored.

if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
  return 1
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
inbox_head(KEYS[2], KEYS[4], ARGV[2])
return 0
