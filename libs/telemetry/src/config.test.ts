import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readTelemetryConfig, TelemetryConfigError } from "./config.js";

const read = (env: Record<string, string>) => readTelemetryConfig("order-entry", env);

function rejects(env: Record<string, string>, field: string, reason: RegExp) {
  assert.throws(
    () => read(env),
    (e: unknown) => e instanceof TelemetryConfigError && e.field === field && reason.test(e.message),
  );
}

describe("telemetry config from OTEL_* variables", () => {
  it("no endpoint and no exporter configured: tracing off (no spans built, nothing posted to a collector nobody runs)", () => {
    assert.equal(read({}).enabled, false);
    assert.equal(read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }).enabled, true);
    assert.equal(read({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" }).enabled, true);
  });

  it("defaults with OTEL_TRACES_EXPORTER=otlp: enabled, the service's own name, localhost:4318/v1/traces, parentbased_always_on", () => {
    const c = read({ OTEL_TRACES_EXPORTER: "otlp" });
    assert.equal(c.enabled, true);
    assert.equal(c.serviceName, "order-entry");
    assert.equal(c.tracesEndpoint, "http://localhost:4318/v1/traces");
    assert.equal(c.sampler, "parentbased_always_on");
    assert.equal(c.batch.scheduledDelayMillis, 5000);
  });

  it("OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none disable tracing", () => {
    assert.equal(read({ OTEL_SDK_DISABLED: "true" }).enabled, false);
    assert.equal(read({ OTEL_SDK_DISABLED: "TRUE" }).enabled, false);
    assert.equal(read({ OTEL_TRACES_EXPORTER: "none" }).enabled, false);
    assert.equal(read({ OTEL_SDK_DISABLED: "false", OTEL_TRACES_EXPORTER: "otlp" }).enabled, true);
  });

  it("OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES, which wins over the default", () => {
    assert.equal(read({ OTEL_RESOURCE_ATTRIBUTES: "service.name=a" }).serviceName, "a");
    assert.equal(read({ OTEL_RESOURCE_ATTRIBUTES: "service.name=a", OTEL_SERVICE_NAME: "b" }).serviceName, "b");
  });

  it("OTEL_EXPORTER_OTLP_ENDPOINT gets /v1/traces appended; the TRACES endpoint is used as is and wins", () => {
    assert.equal(read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }).tracesEndpoint, "http://c:4318/v1/traces");
    assert.equal(read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/p/" }).tracesEndpoint, "http://c:4318/p/v1/traces");
    assert.equal(
      read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://d:1/x" })
        .tracesEndpoint,
      "http://d:1/x",
    );
  });

  it("parses percent-encoded OTEL_RESOURCE_ATTRIBUTES", () => {
    const c = read({ OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod, team=fix%2Cdesk ,k8s.pod.name=p%3D1" });
    assert.deepEqual(c.resourceAttributes, {
      "deployment.environment": "prod",
      team: "fix,desk",
      "k8s.pod.name": "p=1",
    });
  });

  it("reads the sampler and its ratio", () => {
    const c = read({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" });
    assert.equal(c.sampler, "parentbased_traceidratio");
    assert.equal(c.samplerRatio, 0.25);
  });

  it("a bad value fails naming the variable and the reason", () => {
    rejects({ OTEL_TRACES_SAMPLER: "sometimes" }, "OTEL_TRACES_SAMPLER", /unknown sampler "sometimes"/);
    rejects(
      { OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "1.5" },
      "OTEL_TRACES_SAMPLER_ARG",
      /\[0, 1\]/,
    );
    rejects({ OTEL_SDK_DISABLED: "yes" }, "OTEL_SDK_DISABLED", /"true" or "false"/);
    rejects({ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" }, "OTEL_EXPORTER_OTLP_ENDPOINT", /http\(s\) URL/);
    rejects(
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "grpc://x:1" },
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
      /http\(s\) URL/,
    );
    rejects({ OTEL_RESOURCE_ATTRIBUTES: "a=1,broken" }, "OTEL_RESOURCE_ATTRIBUTES", /"broken" is not key=value/);
    rejects({ OTEL_BSP_SCHEDULE_DELAY: "soon" }, "OTEL_BSP_SCHEDULE_DELAY", /integer/);
    rejects({ OTEL_TRACES_EXPORTER: "zipkin" }, "OTEL_TRACES_EXPORTER", /"otlp" and "none"/);
    rejects({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL", /http\/json/);
  });
});
