import { z } from "zod";
import { ADMIN_ACTIONS } from "../grants.js";

// The policy file: who may do what. See docs/security.md, "Policy file reference".

const pattern = z
  .string({ error: "must be text" })
  .min(1, { error: "must not be empty" })
  .max(512, { error: "is longer than 512 characters" });
const patterns = z.array(pattern, { error: "must be a list" }).min(1, { error: "must not be empty" });

const limitsSchema = z.strictObject({
  /** Calls (unary calls and stream openings) per second, refilled continuously. */
  requestsPerSecond: z.number({ error: "must be a number" }).positive({ error: "must be more than 0" }).optional(),
  /** Calls allowed in one burst. Default: twice requestsPerSecond. */
  burst: z.number({ error: "must be a number" }).int().positive({ error: "must be 1 or more" }).optional(),
  /** Streams open at once. */
  maxStreams: z.number({ error: "must be a number" }).int().positive({ error: "must be 1 or more" }).optional(),
});

const adminAction = z.union([z.enum(ADMIN_ACTIONS), z.literal("*")], {
  error: (iss) => `must be one of ${ADMIN_ACTIONS.join(", ")} or "*", got ${JSON.stringify(iss.input)}`,
});

const grantsShape = {
  /** Trade `accounts` on `sessions` (Send, order entry). */
  trade: z.array(z.strictObject({ sessions: patterns, accounts: patterns }), { error: "must be a list" }).optional(),
  /** Stream the messages of these sessions. */
  stream: patterns.optional(),
  /** Read the status (sessions) and orders of these sessions. */
  read: patterns.optional(),
  /** Query the audit trail and transcripts. */
  audit: z.boolean({ error: "must be true or false" }).optional(),
  /** Run these admin actions on these resources (session ids, accounts, kill-switch scopes). */
  admin: z
    .array(z.strictObject({ actions: z.array(adminAction).min(1), resources: patterns }), { error: "must be a list" })
    .optional(),
};

const roleSchema = z.strictObject(grantsShape);

const principalSchema = z.strictObject({
  /**
   * The principal id, `*` matching any run of characters: `spiffe://fixmesh.prod/ns/trading/sa/order-entry`,
   * `cn:ops-console`, `jwt:alice@example.com`, `spiffe://fixmesh.prod/ns/trading/*`.
   */
  match: pattern,
  roles: z.array(pattern).optional(),
  limits: limitsSchema.optional(),
  ...grantsShape,
});

export const policySchema = z
  .strictObject({
    version: z.literal(1, { error: "must be 1" }),
    roles: z.record(z.string(), roleSchema).default({}),
    principals: z.array(principalSchema, { error: "must be a list" }),
  })
  .superRefine((p, ctx) => {
    p.principals.forEach((e, i) => {
      e.roles?.forEach((r, j) => {
        if (!(r in p.roles)) {
          ctx.addIssue({ code: "custom", path: ["principals", i, "roles", j], message: `no role "${r}" in roles` });
        }
      });
    });
  });

export type PolicyDocument = z.output<typeof policySchema>;
export type RoleGrants = z.output<typeof roleSchema>;
export type PrincipalEntry = z.output<typeof principalSchema>;
export type PrincipalLimits = z.output<typeof limitsSchema>;
