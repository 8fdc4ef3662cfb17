-- restore.lua: writes records of a dump (intake.Dumper.Restore), replacing stored records with
-- the same identity, and rebuilds the indexes they belong to. Every part of the plan is optional.
--
-- KEYS: every key the records touch, all in the ledger slot; the plan names them by position.
-- ARGV[1]: the plan, JSON:
--   keys:     {h, items: [{name, data}]}       key records; name and data are ARGV indexes
--   dirs:     {idx, items: [{k, name, v, data}]}   directory records at version v (hash k, its
--                                              name in index idx; data: ARGV index)
--   cases:    [case plan]                      as in apply.lua (case_check, case_put in lib.lua);
--                                              expect is the version read ("0": none was stored)
--   sessions: [{k, v, data, at}]               session hash, version, ARGV index of the sealed
--                                              session, expiry in Unix ms ("0": none)
--   updates:  {chats, items: [{q, b, chat, id, doc}]}   pending updates (doc: ARGV index)
--   seen:     [{k, at}]                        dedupe markers, expiry in Unix ms ("0": none)
--   out:      {msg, seq, due, head, max, items: [{id, chat, q, seq, doc, was?, wasq?}]}
--                                              outbox messages at their Seq; was/wasq: the chat
--                                              (and its queue) the caller read for the id, absent
--                                              when the id was not stored; max: the highest Seq
--   audit:    {head, log, items: [{seq, doc, hash, h64, prev}]}   entries in Seq order; doc,
--                                              hash and prev are ARGV indexes, h64 the hash in
--                                              base64 as the stored JSON has it
--   offset:   {k, v}                           getUpdates offset, raised, never lowered
-- ARGV[2..]: the binary values the plan names by position.
-- Returns, with nothing written unless it is {'ok'}:
--   {'ok'}
--   a case_check reply        ({'exists'}, {'notfound'}, {'stale'}): a case moved since the
--                             caller read it, read again
--   {'stale'}                 an outbox id moved to another chat since the caller read it
--   {'seqtaken', id}          message id's Seq in its chat is held by a message not restored here
--   {'missing', seq}          the stored chain lacks entry seq below its head
--   {'chain', seq}            entry seq has another hash than the stored one, or does not link
--                             to the chain's end
--   {'gap', seq}              entry seq does not follow the chain's end

local p = cjson.decode(ARGV[1])

-- Checks, before any write.
for _, c in ipairs(p.cases or {}) do
  local r = case_check(c)
  if r then return r end
end
if p.out then
  local o = p.out
  local restored, slots = {}, {}
  for _, m in ipairs(o.items) do restored[m.id] = true end
  for _, m in ipairs(o.items) do
    local raw = redis.call('HGET', K(o.msg), m.id)
    local was = nil
    if raw then was = cjson.decode(raw).c end
    if was ~= m.was then return {'stale'} end
    local slot = m.chat .. '\n' .. m.seq
    if slots[slot] then return {'seqtaken', m.id} end
    slots[slot] = true
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', K(m.q), m.seq, m.seq)) do
      if id ~= m.id and not restored[id] then return {'seqtaken', m.id} end
    end
  end
end
local last
if p.audit then
  local a = p.audit
  local h = tonumber(redis.call('HGET', K(a.head), 'seq') or '0')
  local hh = redis.call('HGET', K(a.head), 'hash')
  if h == 0 then hh = string.rep('\0', 32) end
  for _, e in ipairs(a.items) do
    local seq = tonumber(e.seq)
    if seq <= h then
      local raw = redis.call('HGET', K(a.log), e.seq)
      if not raw then return {'missing', e.seq} end
      if cjson.decode(raw).hash ~= e.h64 then return {'chain', e.seq} end
    elseif seq == h + 1 then
      if A(e.prev) ~= hh then return {'chain', e.seq} end
      e.append = true
      h, hh, last = seq, A(e.hash), e
    else
      return {'gap', e.seq}
    end
  end
end

-- Writes.
if p.keys then
  for _, x in ipairs(p.keys.items) do redis.call('HSET', K(p.keys.h), A(x.name), A(x.data)) end
end
if p.dirs then
  for _, x in ipairs(p.dirs.items) do
    redis.call('DEL', K(x.k))
    redis.call('HSET', K(x.k), 'v', x.v, 'b', A(x.data))
    redis.call('ZADD', K(p.dirs.idx), 0, x.name)
  end
end
for _, c in ipairs(p.cases or {}) do case_put(c) end
for _, x in ipairs(p.sessions or {}) do
  local k = K(x.k)
  redis.call('DEL', k)
  redis.call('HSET', k, 'v', x.v, 'b', A(x.data))
  if x.at ~= '0' then redis.call('PEXPIREAT', k, x.at) end -- a time past deletes it
end
if p.updates then
  for _, u in ipairs(p.updates.items) do
    redis.call('HSET', K(u.b), u.id, A(u.doc))
    redis.call('ZADD', K(u.q), u.id, u.id)
    inbox_head(K(u.q), K(p.updates.chats), u.chat)
  end
end
for _, x in ipairs(p.seen or {}) do
  redis.call('SET', K(x.k), '1')
  if x.at ~= '0' then redis.call('PEXPIREAT', K(x.k), x.at) end
end
if p.out then
  local o = p.out
  local heads = {}
  for _, m in ipairs(o.items) do
    if m.was then
      redis.call('ZREM', K(m.wasq), m.id)
      heads[m.was] = m.wasq
    end
  end
  for _, m in ipairs(o.items) do
    redis.call('HSET', K(o.msg), m.id, A(m.doc))
    redis.call('ZADD', K(m.q), m.seq, m.id)
    heads[m.chat] = m.q
  end
  for chat, q in pairs(heads) do outbox_head(K(o.msg), K(q), K(o.due), K(o.head), chat) end
  if tonumber(o.max) > tonumber(redis.call('GET', K(o.seq)) or '0') then
    redis.call('SET', K(o.seq), o.max)
  end
end
if p.audit then
  for _, e in ipairs(p.audit.items) do
    if e.append then redis.call('HSET', K(p.audit.log), e.seq, A(e.doc)) end
  end
  if last then redis.call('HSET', K(p.audit.head), 'seq', last.seq, 'hash', A(last.hash)) end
end
if p.offset then
  local cur = redis.call('GET', K(p.offset.k))
  if not cur or tonumber(cur) < tonumber(p.offset.v) then
    redis.call('SET', K(p.offset.k), p.offset.v)
  end
end
return {'ok'}
