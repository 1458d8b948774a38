-- Sets both sequence numbers without changing the cycle (SequenceReset, operator InSeqNum/OutSeqNum).
-- KEYS[1] meta
-- ARGV[1] writer's epoch · ARGV[2] writer's cycle · ARGV[3] nextSenderSeq · ARGV[4] nextTargetSeq
local err = guard(KEYS[1], ARGV[1], ARGV[2])
if err then
  return err
end
redis.call('HSET', KEYS[1], 'nextSenderSeq', ARGV[3], 'nextTargetSeq', ARGV[4])
return 1
