/**
 * Runs Upstash REST commands against Redis: single commands, /pipeline (ordered, not atomic) and /multi-exec
 * (atomic, MULTI/EXEC). Script commands are rewritten through the {@link ScriptRegistry}.
 *
 * @module
 */
import { ErrorReply, MultiErrorReply } from "redis";
import type { RedisReply } from "./encoding";
import { ScriptRegistry, sha1Hex } from "./scripts";

/** A command as the REST client sends it: `["SET", "key", "value", "EX", 10]`. */
export type RestCommand = unknown[];

export type CommandOutcome = { ok: true; reply: RedisReply } | { ok: false; error: string };

/** The subset of a node-redis client the runner needs (typed loosely: replies are whatever Redis sent). */
export interface RedisConnection {
  sendCommand(args: string[]): Promise<unknown>;
  multi(): { addCommand(args: string[]): unknown; exec(): Promise<unknown[]> };
}

/**
 * Commands that would block or change the state of the one connection every HTTP request shares. Upstash's
 * REST API refuses the same family for the same reason.
 */
const CONNECTION_STATE_COMMANDS = new Set([
  "BLPOP",
  "BRPOP",
  "BRPOPLPUSH",
  "BLMOVE",
  "BLMPOP",
  "BZPOPMIN",
  "BZPOPMAX",
  "BZMPOP",
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
  "MONITOR",
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "UNWATCH",
  "SELECT",
  "QUIT",
  "RESET",
  "WAIT",
  "SHUTDOWN",
]);

/** Thrown for a request the bridge refuses before Redis sees it (answered as a command error). */
export class CommandRejected extends Error {}

interface PreparedCommand {
  args: string[];
  /** Adjusts Redis' reply to what the client expects (SCRIPT LOAD must answer the client's own hash). */
  mapReply?: (reply: RedisReply) => RedisReply;
}

function toArgument(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  // The client serialises objects before sending; anything else is a malformed request.
  throw new CommandRejected(`ERR unsupported argument type: ${value === null ? "null" : typeof value}`);
}

export class CommandRunner {
  readonly #redis: RedisConnection;
  readonly #scripts: ScriptRegistry;

  constructor(redis: RedisConnection, scripts = new ScriptRegistry()) {
    this.#redis = redis;
    this.#scripts = scripts;
  }

  /** Runs one command. Redis error replies come back as outcomes; connection failures throw. */
  async run(command: RestCommand): Promise<CommandOutcome> {
    let prepared: PreparedCommand;
    try {
      prepared = this.#prepare(command);
    } catch (error) {
      if (error instanceof CommandRejected) return { ok: false, error: error.message };
      throw error;
    }
    try {
      const reply = (await this.#redis.sendCommand(prepared.args)) as RedisReply;
      return { ok: true, reply: prepared.mapReply ? prepared.mapReply(reply) : reply };
    } catch (error) {
      if (error instanceof ErrorReply) return { ok: false, error: error.message };
      throw error;
    }
  }

  /** Runs commands in order on the shared connection (node-redis pipelines them); not atomic, like Upstash. */
  pipeline(commands: RestCommand[]): Promise<CommandOutcome[]> {
    return Promise.all(commands.map((command) => this.run(command)));
  }

  /**
   * Runs commands atomically in MULTI/EXEC. A command Redis refuses while queueing aborts the whole
   * transaction (thrown as CommandRejected); errors while executing are reported per command.
   */
  async multiExec(commands: RestCommand[]): Promise<CommandOutcome[]> {
    const prepared = commands.map((command) => this.#prepare(command));
    const transaction = this.#redis.multi();
    for (const { args } of prepared) transaction.addCommand(args);
    let replies: unknown[];
    try {
      replies = await transaction.exec();
    } catch (error) {
      if (error instanceof MultiErrorReply) {
        replies = error.replies;
      } else if (error instanceof ErrorReply) {
        throw new CommandRejected(error.message);
      } else {
        throw error;
      }
    }
    return replies.map((reply, i) => {
      if (reply instanceof ErrorReply) return { ok: false, error: reply.message };
      const mapReply = prepared[i].mapReply;
      return { ok: true, reply: mapReply ? mapReply(reply as RedisReply) : (reply as RedisReply) };
    });
  }

  #prepare(command: RestCommand): PreparedCommand {
    if (!Array.isArray(command) || command.length === 0) {
      throw new CommandRejected("ERR a command must be a non-empty JSON array");
    }
    const args = command.map(toArgument);
    const name = args[0].toUpperCase();
    if (CONNECTION_STATE_COMMANDS.has(name)) {
      throw new CommandRejected(`ERR ${name} is not supported over REST`);
    }
    if ((name === "EVAL" || name === "EVAL_RO") && args.length > 1) {
      args[1] = this.#scripts.register(args[1]);
    } else if ((name === "EVALSHA" || name === "EVALSHA_RO") && args.length > 1) {
      args[1] = this.#scripts.redisSha(args[1]);
    } else if (name === "SCRIPT" && args.length > 2) {
      const sub = args[1].toUpperCase();
      if (sub === "LOAD") {
        const clientSha = sha1Hex(args[2]);
        args[2] = this.#scripts.register(args[2]);
        return { args, mapReply: () => clientSha };
      }
      if (sub === "EXISTS") {
        for (let i = 2; i < args.length; i++) args[i] = this.#scripts.redisSha(args[i]);
      }
    }
    return { args };
  }
}
