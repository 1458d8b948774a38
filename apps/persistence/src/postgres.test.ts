/** The behavioural suite on a real PostgreSQL (127.0.0.1:5432, a database of its own per test). */
import { persistenceSuite } from "./suite.js";

persistenceSuite("postgres");
