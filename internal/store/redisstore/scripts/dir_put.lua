-- dir_put.lua: writes a directory record if its stored version is still the one expected.
--
-- KEYS[1]: the record (hash v: version, b: sealed record)
-- KEYS[2]: the names of all directory records (sorted set, every score 0, read by lex range)
-- ARGV[1]: the record's name   ARGV[2]: expected version ('0': it must not exist)
-- ARGV[3]: the sealed record
-- Returns the new version, or -1 (nothing written) when the stored version is another.

local cur = redis.call('HGET', KEYS[1], 'v') or '0'
if cur ~= ARGV[2] then return -1 end
local v = tonumber(cur) + 1
redis.call('HSET', KEYS[1], 'v', v, 'b', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return v
