/**
 * One small database interface over PostgreSQL (`pg`) and PGlite (embedded, data in a folder): the same SQL,
 * the same migrations, the same queries. Numbers and times that the two drivers decode differently (int8,
 * timestamptz) are selected as float8 / epoch milliseconds by the queries, so callers see one shape.
 */
import { PGlite } from "@electric-sql/pglite";
import type { PgClientConfig } from "@fixmesh/security";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /**
   * PostgreSQL only: `COPY … FROM STDIN` fed with `data` (already in the format the statement names); resolves
   * with the rows copied. PGlite has no COPY from a client stream: callers fall back to INSERTs.
   */
  copyFrom?(sql: string, data: Buffer): Promise<number>;
  /** The physical connection behind a transaction (stable while it lives), for per-connection setup. */
  readonly connection?: object;
}

/** What node-pg-migrate needs of a client (`pg.ClientBase`'s `query`). */
export interface MigrationClient {
  query(
    q: string | { text: string; values?: unknown[] },
    values?: unknown[],
  ): Promise<{ rows: unknown[]; rowCount: number }>;
}

export interface Db extends Queryable {
  readonly engine: "postgres" | "pglite";
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** A dedicated connection for the migration runner (it takes an advisory lock on it). */
  withMigrationClient<T>(fn: (client: MigrationClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface PostgresOptions {
  /** `postgres://user@host:port/db` (used when `connection` is not given: tests, plain local setups). */
  url: string;
  /**
   * Host, port, database, user, password and verified TLS (`pgClientConfig` of @fixmesh/security's PostgreSQL link);
   * replaces `url`.
   */
  connection?: PgClientConfig;
  /** Pool size (default 4). */
  poolSize?: number;
  /** Give up opening a connection after this long (default 5 s): the ingest pauses and retries. */
  connectTimeoutMs?: number;
  /** Server-side statement timeout (default 60 s). */
  statementTimeoutMs?: number;
  onError?: (err: Error) => void;
}

/** PostgreSQL through a `pg` pool. */
export class PostgresDb implements Db {
  readonly engine = "postgres" as const;
  private readonly pool: pg.Pool;
  private readonly onError: ((err: Error) => void) | undefined;

  constructor(opts: PostgresOptions) {
    this.onError = opts.onError;
    this.pool = new pg.Pool({
      ...(opts.connection ?? { connectionString: opts.url }),
      max: opts.poolSize ?? 4,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      statement_timeout: opts.statementTimeoutMs ?? 60_000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client whose backend died (server restart, pg_terminate_backend) emits here; without a listener
    // that would crash the process. The pool drops it and the next query opens a new connection.
    this.pool.on("error", (err) => opts.onError?.(err));
  }

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const r = await this.pool.query(sql, params as unknown[]);
    return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // A backend that dies while the transaction holds its connection is reported to the statement in flight
    // and also emitted on the client, which the pool stops listening to while it is checked out: unheard, that
    // would crash the process.
    const onError = (err: Error) => {
      broken = true;
      this.onError?.(err);
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const tx: Queryable = {
        query: async <R>(sql: string, params: readonly unknown[] = []) => {
          const r = await client.query(sql, params as unknown[]);
          return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
        },
        copyFrom: (sql: string, data: Buffer) =>
          new Promise<number>((resolve, reject) => {
            const stream = client.query(copyFrom(sql));
            stream.on("error", reject);
            stream.on("finish", () => resolve(stream.rowCount));
            stream.end(data);
          }),
        connection: client,
      };
      const out = await fn(tx);
      await client.query("COMMIT");
      return out;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      client.off("error", onError);
      // A connection that failed its ROLLBACK is dead or confused: destroy it rather than reuse it.
      client.release(broken ? true : undefined);
    }
  }

  async withMigrationClient<T>(fn: (client: MigrationClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    const onError = (err: Error) => {
      broken = true;
      this.onError?.(err);
    };
    client.on("error", onError);
    try {
      return await fn(client as unknown as MigrationClient);
    } finally {
      client.off("error", onError);
      client.release(broken ? true : undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

type PgliteLike = Pick<PGlite, "query" | "exec">;

function pgliteQueryable(db: PgliteLike): Queryable {
  return {
    query: async <R>(sql: string, params: readonly unknown[] = []) => {
      if (params.length === 0) {
        // The simple protocol: several statements in one string, as pg does without parameters.
        const results = await db.exec(sql);
        const last = results[results.length - 1];
        return { rows: (last?.rows ?? []) as R[], rowCount: last?.affectedRows ?? last?.rows.length ?? 0 };
      }
      const r = await db.query(sql, params as unknown[]);
      return { rows: r.rows as R[], rowCount: r.affectedRows ?? r.rows.length };
    },
  };
}

/** PGlite: PostgreSQL compiled to WebAssembly, in this process, data in `dataDir` (or in memory). */
export class PgliteDb implements Db {
  readonly engine = "pglite" as const;
  private readonly q: Queryable;

  private constructor(private readonly db: PGlite) {
    this.q = pgliteQueryable(db);
  }

  static async open(dataDir?: string): Promise<PgliteDb> {
    const db = dataDir === undefined ? new PGlite() : new PGlite(dataDir);
    await db.waitReady;
    return new PgliteDb(db);
  }

  query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    return this.q.query<R>(sql, params);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(pgliteQueryable(tx)));
  }

  async withMigrationClient<T>(fn: (client: MigrationClient) => Promise<T>): Promise<T> {
    const client: MigrationClient = {
      query: (q, values) => {
        const text = typeof q === "string" ? q : q.text;
        const params = typeof q === "string" ? values : (q.values ?? values);
        return this.q.query(text, params ?? []);
      },
    };
    return fn(client);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

export type DbConfig =
  | ({ engine: "postgres" } & PostgresOptions)
  | {
      engine: "pglite";
      /** Data folder; absent: in memory. */
      dataDir?: string;
    };

export async function openDb(config: DbConfig): Promise<Db> {
  if (config.engine === "pglite") return PgliteDb.open(config.dataDir);
  return new PostgresDb(config);
}

/**
 * Whether a database error is about the data of the statement (bad value, constraint) rather than about the
 * database being unreachable or overloaded: SQLSTATE classes 22 (data exception) and 23 (integrity constraint
 * violation). Such a batch is split to find the poison event; any other error pauses the ingest and retries.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}
