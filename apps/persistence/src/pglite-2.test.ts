/** The behavioural suite on PGlite, even tests (two files: PGlite starts slowly on a busy machine). */
import { persistenceSuite } from "./suite.js";

persistenceSuite("pglite", 2);
