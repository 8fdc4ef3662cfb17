-- done_update.lua: marks an inbox update processed.
--
-- KEYS[1]: the chat's pending ids   KEYS[2]: the chat's pending updates
-- KEYS[3]: chats with pending updates
-- ARGV[1]: chat   ARGV[2]: update id
-- Returns 1 when the update was pending, 0 when it was not (nothing written).

return inbox_done(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
