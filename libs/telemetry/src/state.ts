/** Process-wide telemetry state shared by the modules of this package (one SDK per process). */
import type { Tracer } from "@opentelemetry/api";

export const DEFAULT_SCOPE = "fixmesh";

export const state: { enabled: boolean; defaultTracer: Tracer | undefined } = {
  enabled: false,
  defaultTracer: undefined,
};
