-- Starts a new cycle: the old cycle's log is deleted, the new one starts empty, both sequence numbers are set.
-- The caller made ARGV[3] sort after ARGV[2] (cycle.ts); guard() proved ARGV[2] is the session's cycle.
-- KEYS[1] meta · KEYS[2] the old cycle's log · KEYS[3] the new cycle's log
-- ARGV[1] writer's epoch · ARGV[2] writer's (current) cycle · ARGV[3] new cycle · ARGV[4] creation time (ms)
-- ARGV[5] nextSenderSeq · ARGV[6] nextTargetSeq
-- Returns { nextSenderSeq, nextTargetSeq, cycle, creationTime, epoch, safe (nil unless SAFE) }.
local err = guard(KEYS[1], ARGV[1], ARGV[2])
if err then
  return err
end
-- UNLINK frees a large log in a background thread instead of blocking Redis for the whole deletion.
redis.call('UNLINK', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'cycle', ARGV[3], 'creationTime', ARGV[4],
  'nextSenderSeq', ARGV[5], 'nextTargetSeq', ARGV[6])
return redis.call('HMGET', KEYS[1], 'nextSenderSeq', 'nextTargetSeq', 'cycle', 'creationTime', 'epoch',
  'safe')
