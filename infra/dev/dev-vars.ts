/**
 * The local stack's configuration: `.dev.vars` (KEY=VALUE, git-ignored) overridden by the process
 * environment. A missing `.dev.vars` is created from `.dev.vars.example` with freshly generated secrets.
 * The edge gets its values through a private env file passed to `wrangler dev --env-file`, so wrangler
 * treats them as secrets and never prints them.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Keys of .dev.vars.example whose values are secrets: generated, never printed. */
export const SECRET_KEYS = [
  "GPU_HMAC_SECRET",
  "CACHE_KEY_SECRET",
  "ADMIN_TOKEN",
  "UPSTASH_REDIS_REST_TOKEN",
] as const;

export type Vars = Record<string, string>;

/** Parses KEY=VALUE lines as dotenv does for the simple cases: comments, blank lines, one level of quotes. */
export function parseVars(text: string): Vars {
  const vars: Vars = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
    } else {
      // As dotenv: an unquoted value ends at a ` #` comment.
      value = value.replace(/\s+#.*$/, "");
    }
    vars[key] = value;
  }
  return vars;
}

/** Quotes the way dotenv (and so wrangler) reads back literally: single quotes, else double quotes. */
function quote(key: string, value: string): string {
  if (/^[\w.:/@+,=-]*$/.test(value)) return value;
  if (/[\r\n]/.test(value)) throw new Error(`${key}: multi-line values are not supported`);
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new Error(`${key}: a value with both ' and " cannot be written to an env file`);
}

export function formatVars(vars: Vars): string {
  return Object.entries(vars)
    .map(([key, value]) => `${key}=${quote(key, value)}\n`)
    .join("");
}

/** Random URL-safe secret for local use only. */
export function generateSecret(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * Creates `devVarsPath` from `examplePath` if it does not exist, replacing every secret with a generated one.
 * An existing file that lacks a secret added since it was written (e.g. CACHE_KEY_SECRET) gets a generated
 * value appended; nothing else in it changes. Returns true when it wrote the file.
 */
export function ensureDevVars(devVarsPath: string, examplePath: string): boolean {
  if (existsSync(devVarsPath)) {
    const present = parseVars(readFileSync(devVarsPath, "utf8"));
    const missing = SECRET_KEYS.filter((key) => !present[key]);
    if (missing.length === 0) return false;
    const added: Vars = Object.fromEntries(missing.map((key) => [key, generateSecret()]));
    const text = readFileSync(devVarsPath, "utf8");
    writeFileSync(
      devVarsPath,
      `${text.endsWith("\n") || text === "" ? text : `${text}\n`}${formatVars(added)}`,
      {
        mode: 0o600,
      },
    );
    return true;
  }
  const example = parseVars(readFileSync(examplePath, "utf8"));
  for (const key of SECRET_KEYS) example[key] = generateSecret();
  writeFileSync(
    devVarsPath,
    "# Local secrets for `npm start` / `wrangler dev`, generated from .dev.vars.example. Git-ignored.\n" +
      formatVars(example),
    { mode: 0o600 },
  );
  return true;
}

/** Reads `.dev.vars`; the process environment wins for every key the file names. */
export function readDevVars(devVarsPath: string, env: NodeJS.ProcessEnv = process.env): Vars {
  const vars = existsSync(devVarsPath) ? parseVars(readFileSync(devVarsPath, "utf8")) : {};
  for (const key of Object.keys(vars)) {
    const fromEnv = env[key];
    if (fromEnv !== undefined && fromEnv !== "") vars[key] = fromEnv;
  }
  return vars;
}

/** Writes vars to a file only the current user can read. */
export function writePrivateEnvFile(path: string, vars: Vars): void {
  writeFileSync(path, formatVars(vars), { mode: 0o600 });
}
