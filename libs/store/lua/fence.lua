-- Raises the session's epoch to ARGV[1]; an epoch below the current one is refused (the caller was deposed).
-- The same epoch again is accepted (a leader re-fencing after a reopen).
-- KEYS[1] meta
-- ARGV[1] epoch
-- Returns { nextSenderSeq, nextTargetSeq, cycle, creationTime, epoch, safe (nil unless SAFE) }: the state the new leader takes over.
local meta = KEYS[1]
local cur = redis.call('HGET', meta, 'epoch')
if not cur then
  return redis.error_reply('FIXMESH_GONE')
end
if tonumber(ARGV[1]) < tonumber(cur) then
  return redis.error_reply('FIXMESH_STALE ' .. cur)
end
if ARGV[1] ~= cur then
  redis.call('HSET', meta, 'epoch', ARGV[1])
end
return redis.call('HMGET', meta, 'nextSenderSeq', 'nextTargetSeq', 'cycle', 'creationTime', 'epoch',
  'safe')
