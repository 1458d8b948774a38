-- Loads a session's state, creating it (1/1, epoch 0) when the session has none. Not fenced: it only ever
-- creates what is absent.
-- KEYS[1] meta
-- ARGV[1] cycle id for a new session · ARGV[2] its creation time (epoch ms)
-- Returns { nextSenderSeq, nextTargetSeq, cycle, creationTime, epoch, safe (nil unless SAFE) }.
local meta = KEYS[1]
if redis.call('EXISTS', meta) == 0 then
  redis.call('HSET', meta, 'nextSenderSeq', '1', 'nextTargetSeq', '1', 'cycle', ARGV[1],
    'creationTime', ARGV[2], 'epoch', '0')
end
return redis.call('HMGET', meta, 'nextSenderSeq', 'nextTargetSeq', 'cycle', 'creationTime', 'epoch',
  'safe')
