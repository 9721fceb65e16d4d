/**
 * Read-model generations: how `stats:rebuild` replaces the read models while servers keep writing.
 *
 * A read-model document (statistics month, customer document, search shard, …) is a sum over the
 * tickets in its scope, kept up to date by a delta per ticket change (before → after, `after` being
 * ticket version v). A rebuild reads every ticket once (ticket T at version `counted[T]`) and
 * writes each document as the recount of that snapshot. Whether a delta is already in a rebuilt
 * document is then a fact about versions, not about time: it is iff `v ≤ counted[T]`. So:
 *
 * 1. The rebuild takes generation G (a lease: one unique insert, so one rebuild at a time), scans,
 *    stores `counted` under G (`readModelCounted`), and only then writes each document, stamped
 *    with `gen: G` (a document no ticket contributes to any more becomes a tombstone of G).
 * 2. Every delta applied to a document of generation g skips the tickets whose version g counted
 *    (JsonDocs.apply). A document of generation g therefore always holds the recount of g's
 *    snapshot plus exactly the later deltas, however the two interleave.
 * 3. A delta written into a document of generation g can still be wiped when a rebuild G ≠ g
 *    replaces that document afterwards. Such a rebuild took its lease before the delta's ticket
 *    change could be missing from its scan, hence before the write; so the writer reads the lease
 *    once more after its write ({@link ReadModelGenerations.state}, a read that starts after the
 *    call), and when the latest generation is not g it keeps the delta until a lease read begun
 *    after that says no rebuild runs. Then it applies it again, only where the document's
 *    generation is no longer g, and filtered by the new generation (rule 2): once, whatever the
 *    rebuild saw.
 * A new document is stamped with the last generation that finished (whose rebuild wrote or
 * tombstoned every document it found), so rule 2 holds for it too. Nothing depends on timing except
 * how a dead rebuild is recognised: its lease is renewed every {@link LEASE_RENEW_MS} and counts as
 * ended {@link LEASE_STALE_MS} after the last renewal (clocks of the processes must agree within
 * that much).
 */
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from './claims.js';
import { ConflictError } from './errors.js';
import type { Ticket } from './schemas.js';

/** A ticket change's identity: its number and the version it produced. */
export interface TicketVersion {
  number: string;
  version: number;
  /**
   * Set on a change that may be applied again after a crash (an outbox replay resumed:
   * store/ticket-repository.ts `replayRecord`): a document that already holds this key skips it,
   * so it counts once whichever of its documents the crashed attempt had written (json-docs.ts).
   */
  once?: string;
}

/** What the lease says: the latest generation begun, whether its rebuild still runs, and the last one finished. */
export interface GenerationState {
  latest: number;
  running: boolean;
  finished: number;
}

interface LeaseDoc {
  _id: string;
  latest?: number;
  running?: boolean;
  finished?: number;
  at?: Date;
}

interface CountedDoc {
  _id: string;
  data: string;
}

/** How often a running rebuild renews its lease. */
export const LEASE_RENEW_MS = 5_000;
/** How long the first writer waits for others to share its read of the lease (ms). */
export const SHARE_MS = 20;
/** A lease not renewed for this long belongs to a rebuild that died (its documents stay consistent). */
export const LEASE_STALE_MS = 120_000;

/** `T20261125-0042` → [`T20261125`, `0042`]: counted versions are stored per creation day. */
function splitNumber(number: string): [string, string] {
  const i = number.indexOf('-');
  return i < 0 ? ['', number] : [number.slice(0, i), number.slice(i + 1)];
}

/** The generations of one database's rebuilt read models (one per store; shared by its JsonDocs). */
export class ReadModelGenerations {
  private readonly lease: Collection<LeaseDoc>;
  private readonly countedDocs: Collection<CountedDoc>;
  /** The read that calls made until now will share (it starts {@link SHARE_MS} after the first). */
  private next: Promise<GenerationState> | null = null;
  /** Counted versions per `gen:day`: immutable once written, so kept. */
  private readonly countedCache = new Map<string, Promise<Map<string, number>>>();

  constructor(db: Db) {
    this.lease = db.collection<LeaseDoc>('readModelGens');
    this.countedDocs = db.collection<CountedDoc>('readModelCounted');
  }

  /**
   * The lease as read by a query that starts after this call: what a writer needs after its write
   * (rule 3 above). Calls within {@link SHARE_MS} share one read (the writes of one batch end together).
   */
  state(): Promise<GenerationState> {
    this.next ??= new Promise((r) => setTimeout(r, SHARE_MS)).then(() => {
      this.next = null;
      return this.read();
    });
    return this.next;
  }

  private async read(): Promise<GenerationState> {
    const doc = await this.lease.findOne({ _id: 'lease' });
    const running = doc?.running === true && doc.at !== undefined && Date.now() - doc.at.getTime() < LEASE_STALE_MS;
    return { latest: doc?.latest ?? 0, running, finished: doc?.finished ?? 0 };
  }

  /** The versions generation `gen` counted of these tickets (absent: not counted; generation 0 counted nothing). */
  async counted(gen: number, numbers: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (gen === 0) return out;
    for (const number of new Set(numbers)) {
      const [day, rest] = splitNumber(number);
      const key = `${gen}:${day}`;
      let shard = this.countedCache.get(key);
      if (!shard) {
        shard = this.countedDocs.findOne({ _id: key }).then((d) => new Map(Object.entries(d ? (JSON.parse(d.data) as Record<string, number>) : {})));
        this.countedCache.set(key, shard);
        void shard.catch(() => this.countedCache.delete(key));
        if (this.countedCache.size > 5_000) this.countedCache.delete(this.countedCache.keys().next().value as string);
      }
      const v = (await shard).get(rest);
      if (v !== undefined) out.set(number, v);
    }
    return out;
  }

  /**
   * Begins a rebuild: takes the next generation (refused while another rebuild's lease is live) and
   * renews the lease until {@link Rebuild.finish} or {@link Rebuild.abandon}.
   */
  async begin(): Promise<Rebuild> {
    const s = await this.read();
    if (s.running) throw new ConflictError(`another stats:rebuild (generation ${s.latest}) is running; try again when it has finished`);
    const gen = s.latest + 1;
    try {
      await this.lease.insertOne({ _id: `gen:${gen}`, at: new Date() });
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConflictError('another stats:rebuild has just begun; try again when it has finished');
      throw err;
    }
    await this.lease.updateOne({ _id: 'lease' }, { $set: { latest: gen, running: true, at: new Date() } }, { upsert: true });
    let renewed = Date.now();
    const renew = setInterval(() => {
      const at = new Date();
      this.lease.updateOne({ _id: 'lease', latest: gen }, { $set: { at } }).then(() => (renewed = at.getTime()), () => undefined);
    }, LEASE_RENEW_MS);
    renew.unref();
    const end = async (finished: boolean): Promise<void> => {
      clearInterval(renew);
      await this.lease.updateOne({ _id: 'lease', latest: gen }, { $set: { running: false, ...(finished ? { finished: gen } : {}) } });
    };
    return {
      gen,
      storeCounted: (counted) => this.storeCounted(gen, counted),
      assertLive: () => {
        // Writers take a lease this old for a dead rebuild's: writing on would break rule 3.
        if (Date.now() - renewed > LEASE_STALE_MS / 2) throw new ConflictError(`stats:rebuild could not renew its lease for ${Math.round((Date.now() - renewed) / 1000)} s; run it again`);
      },
      finish: () => end(true),
      abandon: () => end(false),
    };
  }

  private async storeCounted(gen: number, counted: ReadonlyMap<string, number>): Promise<void> {
    const days = new Map<string, Record<string, number>>();
    for (const [number, version] of counted) {
      const [day, rest] = splitNumber(number);
      const d = days.get(day) ?? {};
      days.set(day, d);
      d[rest] = version;
    }
    const docs = [...days].map(([day, d]) => ({ _id: `${gen}:${day}`, data: JSON.stringify(d) }));
    for (let i = 0; i < docs.length; i += 200) await this.countedDocs.insertMany(docs.slice(i, i + 200));
  }
}

/** One read model's recount: every ticket is given to `add`, then `install` writes generation `gen`. */
export interface ReadModelRebuild<R, In = Ticket> {
  add(ticket: In): void;
  install(gen: number): Promise<R>;
}

/** A rebuild's hold on its generation. */
export interface Rebuild {
  gen: number;
  /** Stores the ticket versions the scan read: before any document of this generation is written. */
  storeCounted(counted: ReadonlyMap<string, number>): Promise<void>;
  /** Throws when the lease may look dead to writers (not renewed for half its life): write nothing more. */
  assertLive(): void;
  /** Every document is written: new documents are stamped with this generation from now on. */
  finish(): Promise<void>;
  /** Gives the lease up unfinished (what was written stays consistent, rule 2). */
  abandon(): Promise<void>;
}
