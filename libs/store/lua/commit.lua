-- One group commit: the outbound messages of one event-loop turn and both sequence numbers, atomically, in one
-- round trip (persist before send, ARCHITECTURE.md).
-- KEYS[1] meta · KEYS[2] the outbound log of the writer's cycle (sorted set: score seq, member see record.ts)
-- ARGV[1] writer's epoch · ARGV[2] writer's cycle · ARGV[3] nextSenderSeq · ARGV[4] nextTargetSeq
-- ARGV[5] retention as a ZREMRANGEBYRANK stop index ('-1001' keeps the newest 1000), '' for none
-- ARGV[6], ARGV[7], ... seq, member pairs, seqs ascending
local err = guard(KEYS[1], ARGV[1], ARGV[2])
if err then
  return err
end
local out = KEYS[2]
local n = #ARGV
if n > 5 then
  -- A seq stored again (after a SequenceReset to a lower seq) must replace its old message, whose member
  -- differs by its bytes: remove by score first, one ZREMRANGEBYSCORE per run of consecutive seqs (one per
  -- commit in practice; O(log N) when there is nothing to remove, the usual append).
  local first, last = ARGV[6], ARGV[6]
  local lastNum = tonumber(last)
  for i = 8, n, 2 do
    local s = tonumber(ARGV[i])
    if s ~= lastNum + 1 then
      redis.call('ZREMRANGEBYSCORE', out, first, last)
      first = ARGV[i]
    end
    last, lastNum = ARGV[i], s
  end
  redis.call('ZREMRANGEBYSCORE', out, first, last)
  -- ZADD in slices of 2,000 messages: unpack() is bounded by Lua's C stack (LUAI_MAXCSTACK, 8,000 values).
  local i = 6
  while i <= n do
    local j = math.min(i + 3999, n)
    redis.call('ZADD', out, unpack(ARGV, i, j))
    i = j + 1
  end
  if ARGV[5] ~= '' then
    redis.call('ZREMRANGEBYRANK', out, '0', ARGV[5])
  end
end
redis.call('HSET', KEYS[1], 'nextSenderSeq', ARGV[3], 'nextTargetSeq', ARGV[4])
return 1
