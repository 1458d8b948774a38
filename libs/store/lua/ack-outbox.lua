-- Drops the outbox events the bus has accepted: those with position ≤ ARGV[3]. Fenced like every write, so a
-- deposed leader's publisher cannot drop events the new leader has not published yet.
-- KEYS[1] meta · KEYS[2] the outbox
-- ARGV[1] writer's epoch · ARGV[2] writer's cycle · ARGV[3] upToPos
local err = guard(KEYS[1], ARGV[1], ARGV[2])
if err then
  return err
end
return redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
