-- Drops stored outbound messages with seq below ARGV[3] (retention).
-- KEYS[1] meta · KEYS[2] the outbound log of the writer's cycle
-- ARGV[1] writer's epoch · ARGV[2] writer's cycle · ARGV[3] belowSeq (a score: digits, '+inf' or '-inf')
local err = guard(KEYS[1], ARGV[1], ARGV[2])
if err then
  return err
end
return redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
