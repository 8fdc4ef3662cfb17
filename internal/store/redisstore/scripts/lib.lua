-- lib.lua: helpers shared by the scripts that write the ledger. scripts.go puts this text in
-- front of each of them, so they run as one script; it declares no KEYS or ARGV of its own.
--
-- Conventions: a plan (cjson-decoded ARGV[1]) names keys by their position in KEYS and binary
-- values (sealed bytes, JSON documents, hashes) by their position in ARGV, so every key a script
-- touches is declared and binary data never passes through cjson. Every script checks all its
-- conditions before its first write: Redis does not roll a script back, so a failed check must
-- come before any change.

local function K(i) return KEYS[tonumber(i)] end
local function A(i) return ARGV[tonumber(i)] end

-- inbox_head re-indexes a chat in the set of chats with pending updates, by its lowest update id.
local function inbox_head(kq, kchats, chat)
  local head = redis.call('ZRANGE', kq, 0, 0, 'WITHSCORES')
  if head[1] then
    redis.call('ZADD', kchats, head[2], chat)
  else
    redis.call('ZREM', kchats, chat)
  end
end

-- inbox_done removes update id of chat from the inbox; it returns 1 when it was pending.
local function inbox_done(kq, kb, kchats, chat, id)
  local n = redis.call('ZREM', kq, id)
  if n == 0 then return 0 end
  redis.call('HDEL', kb, id)
  inbox_head(kq, kchats, chat)
  return 1
end

-- outbox_head re-indexes a chat by its first message: the due set (scored by that message's due
-- time) and the head hash (chat -> message id).
local function outbox_head(kmsg, kq, kdue, khead, chat)
  local head = redis.call('ZRANGE', kq, 0, 0)
  if head[1] then
    local m = cjson.decode(redis.call('HGET', kmsg, head[1]))
    redis.call('ZADD', kdue, m.s, chat)
    redis.call('HSET', khead, chat, head[1])
  else
    redis.call('ZREM', kdue, chat)
    redis.call('HDEL', khead, chat)
  end
end

-- outbox_check returns nil when none of the plan's message ids is in use.
local function outbox_check(o)
  for _, m in ipairs(o.items) do
    if redis.call('HEXISTS', K(o.msg), m.id) == 1 then return {'dupid'} end
  end
  return nil
end

-- outbox_put enqueues the plan's messages, numbering them from the outbox counter.
local function outbox_put(o)
  for _, m in ipairs(o.items) do
    local seq = redis.call('INCR', K(o.seq))
    local doc = cjson.decode(A(m.doc))
    doc.q = string.format('%d', seq)
    redis.call('HSET', K(o.msg), m.id, cjson.encode(doc))
    redis.call('ZADD', K(m.q), seq, m.id)
    outbox_head(K(o.msg), K(m.q), K(o.due), K(o.head), m.chat)
  end
end

-- audit_check returns nil when the chain still ends at the entry the plan was linked to.
local function audit_check(a)
  local seq = redis.call('HGET', K(a.head), 'seq') or '0'
  if seq ~= a.after then return {'stale'} end
  return nil
end

-- audit_put appends the plan's entries (already linked and hashed) and moves the head.
local function audit_put(a)
  local last
  for _, e in ipairs(a.items) do
    redis.call('HSET', K(a.log), e.seq, A(e.doc))
    last = e
  end
  redis.call('HSET', K(a.head), 'seq', last.seq, 'hash', A(last.hash))
end

local function unclaimed(st) return st == 'queued' or st == 'escalated' end

-- case_check returns nil when the case write may go ahead, else the reply for the caller:
--   {'exists'}               a new case's reference is taken
--   {'notfound'}             the case to change does not exist
--   {'claimed', by, status}  guard "unclaimed" failed: who holds it (or its status)
--   {'notclaimant', by, st}  guard "claimant" failed
--   {'noop'}                 guard "raise" failed: the level is already there
--   {'stale'}                the case changed since the caller read it
local function case_check(c)
  local cur = redis.call('HMGET', K(c.k), 'v', 'st', 'by', 'esc')
  if c.expect == '0' then
    if cur[1] then return {'exists'} end
    return nil
  end
  if not cur[1] then return {'notfound'} end
  if c.guard == 'unclaimed' and not unclaimed(cur[2]) then
    return {'claimed', cur[3] or '', cur[2] or ''}
  end
  if c.guard == 'claimant' and (cur[2] ~= 'claimed' or cur[3] ~= c.by_was) then
    return {'notclaimant', cur[3] or '', cur[2] or ''}
  end
  if c.guard == 'raise' and tonumber(cur[4] or '0') >= tonumber(c.esc) then
    return {'noop'}
  end
  if cur[1] ~= c.expect then return {'stale'} end
  return nil
end

local function zrem(key, member)
  if member and member ~= '' then redis.call('ZREM', key, member) end
end

-- case_put writes a case and moves it between indexes: the members it was indexed under are
-- read from its record, the keys of its old team and status come from the plan (the caller read
-- them at the version case_check confirmed).
local function case_put(c)
  local k = K(c.k)
  local old = redis.call('HMGET', k, 'cm', 'qm', 'om')
  zrem(K(c.all), old[1])
  if c.told then zrem(K(c.told), old[1]) end
  if c.sold then zrem(K(c.sold), old[1]) end
  if c.qold then zrem(K(c.qold), old[2]) end
  zrem(K(c.ov), old[3])
  redis.call('ZADD', K(c.all), 0, c.cm)
  redis.call('ZADD', K(c.tnew), 0, c.cm)
  redis.call('ZADD', K(c.snew), 0, c.cm)
  if c.qm then redis.call('ZADD', K(c.qnew), 0, c.qm) end
  if c.om then redis.call('ZADD', K(c.ov), 0, c.om) end
  redis.call('HSET', k, 'doc', A(c.doc), 'v', c.v, 'st', c.st, 'team', c.team, 'by', c.by or '',
    'esc', c.esc, 'cm', c.cm, 'qm', c.qm or '', 'om', c.om or '', 'owner', c.owner or '')
  if c.link then redis.call('SADD', K(c.link), c.ref) end
  if c.unlink then redis.call('SREM', K(c.unlink), c.ref) end
end
