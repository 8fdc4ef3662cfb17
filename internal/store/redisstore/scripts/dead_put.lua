-- dead_put.lua: stores a dead letter unless its id is in use, after taking out of the indexes
-- the oldest members whose dead letters expired.
--
-- KEYS[1]: the dead letter (hash m, doc, b)   KEYS[2]: index by received time, then id
-- KEYS[3]: index by the order stored in (= the order they expire in)   KEYS[4]: that order's counter
-- KEYS[5], KEYS[6], ...: the dead letters of the oldest members of KEYS[3]
-- ARGV[1]: member   ARGV[2]: doc   ARGV[3]: sealed body   ARGV[4]: lifetime, ms (server clock: PX)
-- ARGV[5], ARGV[6], ...: the oldest members of KEYS[3], in order, matching KEYS[5], KEYS[6], ...
-- Returns 1 when stored, 0 when the id is in use (nothing written).

if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 5, #KEYS do
  -- A member is live while its dead letter exists and still names it (an id used again after
  -- its dead letter expired names its new member).
  if redis.call('HGET', KEYS[i], 'm') == ARGV[i] then break end
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('ZREM', KEYS[3], ARGV[i])
end
local seq = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'm', ARGV[1], 'doc', ARGV[2], 'b', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
return 1
