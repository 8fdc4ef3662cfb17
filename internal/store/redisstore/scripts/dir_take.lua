-- dir_take.lua: reads and deletes a directory record in one step (single-use invites).
--
-- KEYS[1]: the record (hash v, b)   KEYS[2]: the names of all directory records (sorted set)
-- ARGV[1]: the record's name
-- Returns the sealed record, or false (nil in Go) when there is none.

local b = redis.call('HGET', KEYS[1], 'b')
if not b then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return b
