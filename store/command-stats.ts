/**
 * Database round trips counted by collection and command, from the driver's command monitoring
 * (`monitorCommands: true`). A profiling aid for benchmarks (`DB_COMMAND_STATS=true`, set by
 * `bench:bot --db-stats`): it shows which per-turn work reaches the database and what it costs.
 * Bucket collections (`<base>_<n>`) are counted under their base name.
 */
import { BSON, type CommandFailedEvent, type CommandStartedEvent, type CommandSucceededEvent, type MongoClient } from 'mongodb';

/** One row of the tally: calls and the time they took, per `<collection> <command>`. */
export interface CommandStat {
  key: string;
  calls: number;
  ms: number;
  /** Bytes sent (the command) and received (the reply), summed over the calls. */
  sentBytes: number;
  receivedBytes: number;
}

const COMMANDS_WITH_COLLECTION = new Set(['find', 'insert', 'update', 'delete', 'aggregate', 'count', 'findAndModify', 'getMore', 'distinct', 'drop', 'create', 'createIndexes']);

/** Counts every command a client sends (the client must be created with `monitorCommands: true`). */
export class CommandTally {
  private readonly started = new Map<number, { key: string; at: number; sent: number }>();
  private readonly stats = new Map<string, CommandStat>();

  constructor(client: MongoClient) {
    client.on('commandStarted', (e: CommandStartedEvent) => this.start(e));
    client.on('commandSucceeded', (e: CommandSucceededEvent) => this.end(e.requestId, BSON.calculateObjectSize(e.reply as BSON.Document)));
    client.on('commandFailed', (e: CommandFailedEvent) => this.end(e.requestId, 0));
  }

  private start(e: CommandStartedEvent): void {
    let target = '';
    if (COMMANDS_WITH_COLLECTION.has(e.commandName)) {
      const value = e.commandName === 'getMore' ? e.command.collection : e.command[e.commandName];
      if (typeof value === 'string') target = value.replace(/_\d+$/, '_*');
    }
    this.started.set(e.requestId, { key: `${target || '-'} ${e.commandName}`, at: performance.now(), sent: BSON.calculateObjectSize(e.command) });
  }

  private end(requestId: number, received: number): void {
    const s = this.started.get(requestId);
    if (!s) return;
    this.started.delete(requestId);
    const row = this.stats.get(s.key) ?? { key: s.key, calls: 0, ms: 0, sentBytes: 0, receivedBytes: 0 };
    row.calls++;
    row.ms += performance.now() - s.at;
    row.sentBytes += s.sent;
    row.receivedBytes += received;
    this.stats.set(s.key, row);
  }

  /** The rows, most calls first (time rounded to ms). */
  snapshot(): CommandStat[] {
    return [...this.stats.values()].map((r) => ({ ...r, ms: Math.round(r.ms) })).sort((a, b) => b.calls - a.calls);
  }
}
