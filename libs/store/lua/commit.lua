-- One group commit: the outbound messages of one event-loop turn, both sequence numbers and the events that describe
-- them, atomically, in one round trip (persist before send, ARCHITECTURE.md "Events": the outbox).
-- KEYS[1] meta · KEYS[2] the outbound log of the writer's cycle (sorted set: score seq, member see record.ts)
-- KEYS[3] the outbox (sorted set: score position, member see outbox.ts)
-- ARGV[1] writer's epoch · ARGV[2] writer's cycle · ARGV[3] nextSenderSeq · ARGV[4] nextTargetSeq
-- ARGV[5] retention as a ZREMRANGEBYRANK stop index ('-1001' keeps the newest 1000), '' for none
-- ARGV[6] k, the number of events · ARGV[7] .. ARGV[6 + k] their bodies (outbox.ts), in order
-- ARGV[7 + k] j, the number of idempotency keys; when j > 0: now (ms), ttl (ms), most keys kept, then j key, value
--   pairs (KEYS[4] the key → value hash, KEYS[5] the keys scored by when they were recorded)
-- then seq, member pairs, seqs ascending
local err = guard(KEYS[1], ARGV[1], ARGV[2])
if err then
  return err
end
local out = KEYS[2]
local n = #ARGV
local k = tonumber(ARGV[6])
local j = tonumber(ARGV[7 + k])
local m = 8 + k
if j > 0 then
  m = m + 3 + 2 * j
end
if n >= m then
  -- A seq stored again (after a SequenceReset to a lower seq) must replace its old message, whose member
  -- differs by its bytes: remove by score first, one ZREMRANGEBYSCORE per run of consecutive seqs (one per
  -- commit in practice; O(log N) when there is nothing to remove, the usual append).
  local first, last = ARGV[m], ARGV[m]
  local lastNum = tonumber(last)
  for i = m + 2, n, 2 do
    local s = tonumber(ARGV[i])
    if s ~= lastNum + 1 then
      redis.call('ZREMRANGEBYSCORE', out, first, last)
      first = ARGV[i]
    end
    last, lastNum = ARGV[i], s
  end
  redis.call('ZREMRANGEBYSCORE', out, first, last)
  -- ZADD in slices of 2,000 messages: unpack() is bounded by Lua's C stack (LUAI_MAXCSTACK, 8,000 values).
  local i = m
  while i <= n do
    local j = math.min(i + 3999, n)
    redis.call('ZADD', out, unpack(ARGV, i, j))
    i = j + 1
  end
  if ARGV[5] ~= '' then
    redis.call('ZREMRANGEBYRANK', out, '0', ARGV[5])
  end
end
if k > 0 then
  -- Positions come from a counter in meta that only grows (a reset leaves it, and the outbox, alone). They stay
  -- far below 2^48, so the u48 in the member and the score (a double) hold them exactly.
  local pos = redis.call('HINCRBY', KEYS[1], 'outboxPos', k) - k
  local args = {}
  for i = 7, 6 + k do
    pos = pos + 1
    args[#args + 1] = pos
    args[#args + 1] = '\1' .. struct.pack('>I6', pos) .. ARGV[i]
    if #args == 4000 then
      redis.call('ZADD', KEYS[3], unpack(args))
      args = {}
    end
  end
  if #args > 0 then
    redis.call('ZADD', KEYS[3], unpack(args))
  end
end
if j > 0 then
  -- Recorded with the messages they sent: a retry finds its key exactly when its message was persisted.
  local now, ttl, max = tonumber(ARGV[8 + k]), tonumber(ARGV[9 + k]), tonumber(ARGV[10 + k])
  local b = 11 + k
  for i = b, b + 2 * j - 1, 2 do
    redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
    redis.call('ZADD', KEYS[5], ARGV[8 + k], ARGV[i])
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
  redis.call('PEXPIRE', KEYS[4], ARGV[9 + k])
  redis.call('PEXPIRE', KEYS[5], ARGV[9 + k])
end
redis.call('HSET', KEYS[1], 'nextSenderSeq', ARGV[3], 'nextTargetSeq', ARGV[4])
return 1
