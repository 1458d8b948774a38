import { MemoryOrderStore } from "./memory.js";
import { runStoreSuite } from "./store-suite.js";

runStoreSuite("memory", {
  async open() {
    const s = new MemoryOrderStore();
    return { a: s, b: s, close: () => s.close() };
  },
});
