-- dir_delete.lua: deletes a directory record if its stored version is the one expected.
--
-- KEYS[1]: the record (hash v, b)   KEYS[2]: the names of all directory records (sorted set)
-- ARGV[1]: the record's name   ARGV[2]: expected version ('0': it must not exist, a no-op)
-- Returns 1 when deleted or absent as expected, -1 (nothing written) when the stored version is
-- another.

local cur = redis.call('HGET', KEYS[1], 'v') or '0'
if cur ~= ARGV[2] then return -1 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
