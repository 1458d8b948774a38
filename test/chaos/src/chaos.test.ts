/**
 * The chaos suite: one test per failure we can produce, each asserting that the system converges (ARCHITECTURE.md:
 * liveness, ordering, recoverability, convergence). It ends with a table of what each scenario did, printed as TAP
 * diagnostics (`# ` lines). README.md says what each scenario does and asserts.
 */
import { after, type TestContext } from "node:test";
import { crashScenarios } from "./scenarios/crash.js";
import { duplicateScenarios } from "./scenarios/duplicates.js";
import { gapScenarios } from "./scenarios/gaps.js";
import { livenessScenarios } from "./scenarios/liveness.js";
import { resetScenarios } from "./scenarios/reset.js";
import { seedScenarios } from "./scenarios/seed.js";
import { volumeScenarios } from "./scenarios/volume.js";
import { Scoreboard } from "./scoreboard.js";

const board = new Scoreboard();

seedScenarios(board);
livenessScenarios(board);
gapScenarios(board);
crashScenarios(board);
duplicateScenarios(board);
resetScenarios(board);
volumeScenarios(board);

after((t) => {
  // A root hook gets the root test's context (a TestContext); its diagnostics print after the results.
  for (const line of board.lines()) (t as TestContext).diagnostic(line);
});
