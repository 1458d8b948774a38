/** The behavioural suite on PGlite (embedded PostgreSQL, a data folder of its own per test), odd tests. */
import { persistenceSuite } from "./suite.js";

persistenceSuite("pglite", 1);
