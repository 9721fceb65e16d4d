/**
 * Labelled examples for retraining, one per ticket: staff corrections of topic or type, review
 * confirmations (the classifier was right) and spam / not-spam decisions. The latest staff
 * decision about a label wins; writes are idempotent upserts keyed by the ticket number, so a
 * retried operation never duplicates an example.
 */
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from './claims.js';
import { ensureIndexes } from './indexes.js';

/** Where an example comes from. */
export const EXAMPLE_SOURCES = ['correction', 'review', 'spam-decision'] as const;
export type ExampleSource = (typeof EXAMPLE_SOURCES)[number];

export interface TrainingExample {
  ticketNumber: string;
  text: string;
  topic: string | null;
  type: string | null;
  /** Staff said spam (true) or not spam (false); absent on examples older than spam decisions (not spam). */
  spam?: boolean;
  source: ExampleSource;
  correctedBy: string;
  createdAt: Date;
  updatedAt: Date;
}

/** The labels of an example. */
export interface ExampleLabels {
  topic: string | null;
  type: string | null;
  spam: boolean;
}

type ExampleDoc = TrainingExample & { _id: string };

export class MongoTrainingRepository {
  private readonly examples: Collection<ExampleDoc>;

  constructor(db: Db) {
    this.examples = db.collection<ExampleDoc>('trainingExamples');
  }

  async ensureIndexes(): Promise<void> {
    await ensureIndexes(this.examples, [{ key: { updatedAt: -1 }, name: 'updatedAt' }]);
  }

  /**
   * Records a staff decision about a ticket's text. `decided` holds the labels the person set now
   * (they overwrite); `current` gives the ticket's other labels, used only when the example is new,
   * so two people deciding different labels of one ticket do not undo each other. Idempotent.
   */
  async record(
    example: { ticketNumber: string; text: string; source: ExampleSource; by: string; at: Date },
    decided: Partial<ExampleLabels>,
    current: ExampleLabels,
  ): Promise<void> {
    const onInsert: Record<string, unknown> = { createdAt: example.at };
    for (const k of ['topic', 'type', 'spam'] as const) if (!(k in decided)) onInsert[k] = current[k];
    const upsert = () =>
      this.examples.updateOne(
        { _id: example.ticketNumber },
        {
          $set: { ...decided, ticketNumber: example.ticketNumber, text: example.text, source: example.source, correctedBy: example.by, updatedAt: example.at },
          $setOnInsert: onInsert,
        },
        { upsert: true },
      );
    try {
      await upsert();
    } catch (err) {
      // Two first decisions about one ticket at once: both tried the insert and one lost the race
      // on the unique _id (FerretDB does not retry that itself). Now it exists: this is an update.
      if (!isDuplicateKey(err)) throw err;
      await upsert();
    }
  }

  /** The example of one ticket, or null. */
  async get(ticketNumber: string): Promise<TrainingExample | null> {
    const doc = await this.examples.findOne({ _id: ticketNumber });
    if (!doc) return null;
    const { _id: _ignored, ...e } = doc;
    return e;
  }

  /** All examples, newest first (the trainer merges them over the shipped corpus). */
  async all(): Promise<TrainingExample[]> {
    const docs = await this.examples.find({}).sort({ updatedAt: -1 }).toArray();
    return docs.map(({ _id: _ignored, ...e }) => e);
  }

  /** The `limit` most recently corrected examples, newest first (evaluation, keyword suggestions). */
  async recent(limit: number): Promise<TrainingExample[]> {
    const docs = await this.examples.find({}).sort({ updatedAt: -1 }).limit(limit).toArray();
    return docs.map(({ _id: _ignored, ...e }) => e);
  }

  async count(): Promise<number> {
    return this.examples.countDocuments({});
  }
}
