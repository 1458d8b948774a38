import { MemoryBacking, MemoryStore } from "./memory.js";
import { storeSuite } from "./store-suite.js";

storeSuite("memory", () => {
  const backing = new MemoryBacking();
  return {
    create: () => new MemoryStore({ session: "FIX.4.4-ISLD-TW44", backing }),
    dispose: async () => {},
  };
});
