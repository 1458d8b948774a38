import { RedisOrderStore } from "./redis.js";
import { runStoreSuite } from "./store-suite.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

runStoreSuite("redis", {
  async open() {
    const prefix = `fixmesh-test-oe-${Math.random().toString(36).slice(2, 10)}`;
    const a = await RedisOrderStore.connect({ url: REDIS_URL, prefix });
    const b = await RedisOrderStore.connect({ url: REDIS_URL, prefix });
    return {
      a,
      b,
      async close() {
        await a.destroy();
        await Promise.all([a.close(), b.close()]);
      },
    };
  },
});
