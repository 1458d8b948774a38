-- One group commit: the outbound messages of one event-loop turn, both sequence numbers and the events that describe
-- them, atomically, in one round trip (persist before send, ARCHITECTURE.md "Events": the outbox).
-- The events and the messages come packed, each kind in one argument: a commit carries a few hundred of each at
-- high rates, and an argument apiece cost the client a RESP bulk string each to build and Redis an object each.
-- KEYS[1] meta · KEYS[2] the outbound log of the writer's cycle (sorted set: score seq, member see record.ts)
-- KEYS[3] the outbox (sorted set: score position, member see outbox.ts)
-- KEYS[4] the idempotency key → value hash · KEYS[5] the idempotency keys scored by when they were recorded
-- ARGV[1] writer's epoch · ARGV[2] writer's cycle · ARGV[3] nextSenderSeq · ARGV[4] nextTargetSeq
-- ARGV[5] retention as a ZREMRANGEBYRANK stop index ('-1001' keeps the newest 1000), '' for none
-- ARGV[6] k, the number of events · ARGV[7] the events, in order: k × (u32 length · body (outbox.ts))
-- ARGV[8] the messages, seqs ascending: each u32 length · member (record.ts, whose bytes 2..7 are its u48 seq)
-- ARGV[9] j, the number of idempotency keys; when j > 0: ARGV[10] now (ms), ARGV[11] ttl (ms), ARGV[12] most keys
--   kept, then j key, value pairs
-- Returns the position of the first event (0 when k = 0); the others follow it one by one.
local err = guard(KEYS[1], ARGV[1], ARGV[2])
if err then
  return err
end
local out = KEYS[2]
local msgs = ARGV[8]
local size = #msgs
if size > 0 then
  -- A seq stored again (after a SequenceReset to a lower seq) must replace its old message, whose member
  -- differs by its bytes: remove by score first, one ZREMRANGEBYSCORE per run of consecutive seqs (one per
  -- commit in practice; O(log N) when there is nothing to remove, the usual append).
  local args = {}
  local p = 1
  local first, last
  while p <= size do
    local len
    len, p = struct.unpack('>I4', msgs, p)
    local member = string.sub(msgs, p, p + len - 1)
    p = p + len
    local seq = struct.unpack('>I6', member, 2)
    if last == nil then
      first = seq
    elseif seq ~= last + 1 then
      redis.call('ZREMRANGEBYSCORE', out, first, last)
      first = seq
    end
    last = seq
    args[#args + 1] = seq
    args[#args + 1] = member
  end
  redis.call('ZREMRANGEBYSCORE', out, first, last)
  -- ZADD in slices of 2,000 messages: unpack() is bounded by Lua's C stack (LUAI_MAXCSTACK, 8,000 values).
  for i = 1, #args, 4000 do
    redis.call('ZADD', out, unpack(args, i, math.min(i + 3999, #args)))
  end
  if ARGV[5] ~= '' then
    redis.call('ZREMRANGEBYRANK', out, '0', ARGV[5])
  end
end
local k = tonumber(ARGV[6])
-- The position of the batch's first event (0: no events), returned: the caller's events are then known to sit at
-- first, first + 1, … without reading them back.
local first_pos = 0
if k > 0 then
  -- Positions come from a counter in meta that only grows (a reset leaves it, and the outbox, alone). They stay
  -- far below 2^48, so the u48 in the member and the score (a double) hold them exactly.
  local pos = redis.call('HINCRBY', KEYS[1], 'outboxPos', k) - k
  first_pos = pos + 1
  local events = ARGV[7]
  local p = 1
  local args = {}
  for _ = 1, k do
    local len
    len, p = struct.unpack('>I4', events, p)
    pos = pos + 1
    args[#args + 1] = pos
    args[#args + 1] = '\1' .. struct.pack('>I6', pos) .. string.sub(events, p, p + len - 1)
    p = p + len
    if #args == 4000 then
      redis.call('ZADD', KEYS[3], unpack(args))
      args = {}
    end
  end
  if #args > 0 then
    redis.call('ZADD', KEYS[3], unpack(args))
  end
end
local j = tonumber(ARGV[9])
if j > 0 then
  -- Recorded with the messages they sent: a retry finds its key exactly when its message was persisted.
  local now, ttl, max = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
  for i = 13, 12 + 2 * j, 2 do
    redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
    redis.call('ZADD', KEYS[5], ARGV[10], ARGV[i])
  end
  -- Bounded in age and number: the oldest go first.
  local old = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', '(' .. (now - ttl))
  local over = redis.call('ZCARD', KEYS[5]) - #old - max
  if over > 0 then
    local more = redis.call('ZRANGE', KEYS[5], #old, #old + over - 1)
    for _, key in ipairs(more) do
      old[#old + 1] = key
    end
  end
  for i = 1, #old, 1000 do
    local slice = { unpack(old, i, math.min(i + 999, #old)) }
    redis.call('HDEL', KEYS[4], unpack(slice))
    redis.call('ZREM', KEYS[5], unpack(slice))
  end
  redis.call('PEXPIRE', KEYS[4], ARGV[11])
  redis.call('PEXPIRE', KEYS[5], ARGV[11])
end
redis.call('HSET', KEYS[1], 'nextSenderSeq', ARGV[3], 'nextTargetSeq', ARGV[4])
return first_pos
