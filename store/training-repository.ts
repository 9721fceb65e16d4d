/**
 * Labelled examples for retraining. A staff correction of a ticket's topic or type becomes (or
 * updates) one example per ticket, carrying the ticket's current labels, so the latest correction
 * wins and replays are idempotent.
 */
import type { Collection, Db } from 'mongodb';
import { ensureIndexes } from './indexes.js';
import type { Ticket } from './schemas.js';

export interface TrainingExample {
  ticketNumber: string;
  text: string;
  topic: string | null;
  type: string | null;
  source: 'correction';
  correctedBy: string;
  createdAt: Date;
  updatedAt: Date;
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

  /** Records the corrected labels of a ticket as a training example. */
  async recordCorrection(ticket: Ticket, by: string, at: Date): Promise<void> {
    await this.examples.updateOne(
      { _id: ticket.number },
      {
        $set: { ticketNumber: ticket.number, text: ticket.text.original, topic: ticket.topic, type: ticket.type, source: 'correction', correctedBy: by, updatedAt: at },
        $setOnInsert: { createdAt: at },
      },
      { upsert: true },
    );
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
