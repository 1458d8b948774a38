/**
 * `fixmesh hash-password`: a salted scrypt hash of a password read on stdin, for an acceptor session's
 * `auth.passwordHash`. `fixmesh cert-pin FILE`: the public-key pin of a PEM certificate, for `tls.pinSha256`.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_SCRYPT, hashPassword, publicKeyPin } from "@fixmesh/security";

export const SECURITY_USAGE = `  hash-password [--cost LN]   read a password on stdin (one line; not echoed on a terminal), print its salted
            scrypt hash for a session's auth.passwordHash (LN: log2 of scrypt's N, default ${DEFAULT_SCRYPT.ln})
  cert-pin FILE   print the SHA-256 public-key pin of a PEM certificate, for a tls.pinSha256 list`;

export async function runHashPassword(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { cost: { type: "string" } } });
  const ln = values.cost === undefined ? DEFAULT_SCRYPT.ln : Number(values.cost);
  if (!Number.isInteger(ln) || ln < 10 || ln > 22) {
    console.error("--cost: must be a whole number from 10 to 22");
    return 2;
  }
  const password = await readPassword();
  if (password === "") {
    console.error("hash-password: no password on stdin");
    return 2;
  }
  console.log(await hashPassword(password, { ...DEFAULT_SCRYPT, ln }));
  return 0;
}

export function runCertPin(args: string[]): number {
  const [file] = args;
  if (file === undefined) {
    console.error("cert-pin: give the PEM certificate file");
    return 2;
  }
  console.log(publicKeyPin(readFileSync(file, "utf8")));
  return 0;
}

/** The first line of stdin; on a terminal, asked for without echo. */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write("Password: ");
    stdin.setRawMode(true);
    return new Promise((resolve) => {
      let text = "";
      const onData = (b: Buffer) => {
        for (const ch of b.toString("utf8")) {
          if (ch === "\r" || ch === "\n" || ch === "\u0004") {
            stdin.setRawMode(false);
            stdin.off("data", onData);
            stdin.pause();
            process.stderr.write("\n");
            resolve(text);
            return;
          }
          if (ch === "\u0003") process.exit(130);
          if (ch === "\u007f") text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on("data", onData);
    });
  }
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0] ?? "";
}
