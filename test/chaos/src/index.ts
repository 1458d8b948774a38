/**
 * @fixmesh/chaos-suite — the chaos suite's harness, for runs outside the suite (the soak in `bench/`):
 * - `startRig`: the venue simulator, the chaos proxy in front of it and our side (`OurSide`) behind it;
 * - `sustain`: paced order flow; `assertConverged`: the four guarantees, checked once the system is quiet.
 * The suite itself is `src/chaos.test.ts`.
 */
export { assertConverged, type Converged } from "./convergence.js";
export { type LoadResult, percentile, sustain } from "./load.js";
export { OurSide, type OurSideOptions } from "./our-side.js";
export { type Rig, type RigOptions, startRig } from "./rig.js";
