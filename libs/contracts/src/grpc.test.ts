import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { RpcError, STATUS_DETAILS_KEY } from "./errors.js";
import { ErrorReason } from "./gen/fixmesh/v1/errors_pb.js";
import {
  type SendStreamRequest,
  type SendStreamResponse,
  SessionSchema,
  SessionService,
  type StreamMessagesResponse,
} from "./gen/fixmesh/v1/session_pb.js";
import { StatusSchema } from "./gen/google/rpc/status_pb.js";
import { addGrpcService, type GrpcClientOf, type GrpcServiceImplOf, grpcClientConstructor } from "./grpc.js";

/** Just enough of a SessionService to exercise the adapter: one of each method kind. */
const impl: GrpcServiceImplOf<typeof SessionService> = {
  listSessions: () => ({ sessions: [{ id: "S1" }, { id: "S2" }] }),
  getSession: async (req) => {
    if (req.sessionId !== "S1") {
      throw new RpcError(grpc.status.NOT_FOUND, ErrorReason.SESSION_NOT_FOUND, "no such session", {
        metadata: { session_id: req.sessionId },
      });
    }
    return { session: create(SessionSchema, { id: "S1", nextSenderSeqNum: 42 }) };
  },
  send: () => {
    throw new Error("boom");
  },
  sendStream: (call) => {
    call.on("data", (f: SendStreamRequest) =>
      call.write({ results: f.sends.map((s) => ({ correlationId: s.correlationId })) }),
    );
    call.on("end", () => call.end());
  },
  streamMessages: (call) => {
    call.write({ messages: [{ msgSeqNum: 1 }] });
    call.write({ messages: [{ msgSeqNum: 2 }, { msgSeqNum: 3 }] });
    call.emit("error", RpcError.invalidField("msg_types[0]", "bad").toServiceError());
  },
  logout: () => ({}),
  logon: () => ({}),
  resetSequence: () => ({}),
};

describe("grpc-js adapter for protobuf-es services", () => {
  const server = new grpc.Server();
  let client: grpc.Client & GrpcClientOf<typeof SessionService>;
  const internal: string[] = [];

  before(async () => {
    addGrpcService(server, SessionService, impl, { onInternalError: (_err, method) => internal.push(method) });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const Client = grpcClientConstructor(SessionService);
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  after(() => {
    client.close();
    server.forceShutdown();
  });

  it("serves and calls a unary method with protobuf-es messages", async () => {
    const res = await client.getSession({ sessionId: "S1" });
    assert.equal(res.$typeName, "fixmesh.v1.GetSessionResponse");
    assert.equal(res.session?.nextSenderSeqNum, 42);
    assert.deepEqual(
      (await client.listSessions({})).sessions.map((s) => s.id),
      ["S1", "S2"],
    );
  });

  it("carries an RpcError's reason in grpc-status-details-bin, decoded on the client", async () => {
    const err = await client.getSession({ sessionId: "nope" }).then(
      () => assert.fail("succeeded"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(err.reason, "SESSION_NOT_FOUND");
    assert.equal(err.metadata.session_id, "nope");
    assert.equal(err.message, "no such session");
    // The trailer is a plain google.rpc.Status any gRPC client can read.
    const raw = (err.cause as grpc.ServiceError).metadata.get(STATUS_DETAILS_KEY)[0] as Buffer;
    const st = fromBinary(StatusSchema, raw);
    assert.equal(st.code, grpc.status.NOT_FOUND);
    assert.equal(st.details[0].typeUrl, "type.googleapis.com/google.rpc.ErrorInfo");
  });

  it("answers an unexpected failure INTERNAL and reports it", async () => {
    const err = await client.send({}).then(
      () => assert.fail("succeeded"),
      (e: RpcError) => e,
    );
    assert.equal(err.code, grpc.status.INTERNAL);
    assert.equal(err.reason, "INTERNAL");
    assert.deepEqual(internal, ["Send"]);
  });

  it("streams both ways and server-side, with the error and its field at the end", async () => {
    const bidi = client.sendStream();
    const got: bigint[] = [];
    bidi.on("data", (f: SendStreamResponse) => got.push(...f.results.map((r) => r.correlationId)));
    const ended = new Promise((r) => bidi.on("end", r));
    bidi.write({ sends: [{ correlationId: 1n }, { correlationId: 2n }] });
    bidi.write({ sends: [{ correlationId: 3n }] });
    bidi.end();
    await ended;
    assert.deepEqual(got, [1n, 2n, 3n]);

    const stream = client.streamMessages({ sessionId: "S1" });
    const seqs: number[] = [];
    stream.on("data", (f: StreamMessagesResponse) => seqs.push(...f.messages.map((m) => m.msgSeqNum)));
    const err = await new Promise<RpcError>((r) => stream.on("error", (e) => r(RpcError.from(e))));
    assert.deepEqual(seqs, [1, 2, 3]);
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(err.fieldViolations, [{ field: "msg_types[0]", description: "bad" }]);
  });

  it("round-trips an RpcError through google.rpc.Status (as stream results carry it)", () => {
    const e = RpcError.invalidField("fields[2].tag", "0 is not a FIX tag", { session_id: "S1" });
    const back = RpcError.fromStatus(e.toStatus());
    assert.equal(back.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(back.reason, "INVALID_FIELD");
    assert.deepEqual(back.metadata, { session_id: "S1", field: "fields[2].tag" });
    assert.deepEqual(back.fieldViolations, [{ field: "fields[2].tag", description: "0 is not a FIX tag" }]);
  });
});
