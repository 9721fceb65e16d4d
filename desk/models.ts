/**
 * Model versions and keywords, as business operations: train, follow a run, compare, activate (also
 * how to roll back), the keyword view of a topic and trainers' edits, keyword suggestions. Each
 * change is audited here, once, whoever calls it (console, `npm run models`, `npm run train`).
 */
import type { Keyword } from '../classifier/models/keyword.js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import type { CorpusRow } from '../classifier/demand-classifier.js';
import type { KeywordEdits } from '../classifier/models/keyword.js';
import { NotFoundError } from '../store/errors.js';
import { normalizeKeywordEdits, type KeywordEditsInput, type KeywordEditRevision, type StoredKeywordEdits } from '../store/keyword-edits.js';
import type { ModelRecord } from '../store/model-registry.js';
import type { Ticket, TicketQuery } from '../store/schemas.js';
import type { PageOf } from '../store/ticket-repository.js';
import type { TrainingExample } from '../store/training-repository.js';
import { compareEvaluations, evaluateModel, evaluationRows, RECENT_CORRECTIONS } from '../trainer/evaluation.js';
import { suggestKeywords, type SuggestionSource } from '../trainer/keyword-suggestions.js';
import type { ModelHolder } from '../trainer/model-holder.js';
import { modelSummary } from '../trainer/model-summary.js';
import type { StartedTraining, TrainingService, TrainingStatus } from '../trainer/training-service.js';
import type { TicketService } from './tickets.js';

/** Storage the model operations use (narrow views of the store's repositories). */
export interface ModelStores {
  models: { list(): Promise<ModelRecord[]>; get(version: string): Promise<ModelRecord | null>; activeVersion(): Promise<string | null> };
  keywordEdits: {
    latest(topic: string): Promise<KeywordEditRevision | null>;
    latestAll(): Promise<Record<string, KeywordEditRevision>>;
    save(topic: string, edits: KeywordEditsInput, by: string, opts?: { expectedRevision?: number }): Promise<KeywordEditRevision>;
  };
  training: { recent(limit: number): Promise<TrainingExample[]> };
  tickets: { list(query?: TicketQuery): Promise<PageOf<Ticket>> };
}

export interface ModelServiceDeps {
  stores: ModelStores;
  /**
   * The audit trail of a change already stored (desk/tickets.ts `auditAfterChange`): a training
   * started, a version activated or keywords saved are not reported as failed when only their
   * audit entry could not be written (it is kept and written when the database is back).
   */
  audit: Pick<TicketService, 'auditAfterChange'>;
  holder: ModelHolder;
  training: TrainingService;
  taxonomy: Taxonomy;
  /** Frozen data read once at start: the held-out rows and data/keywords.json's topic edits. */
  holdout: readonly CorpusRow[];
  fileTopicEdits: Readonly<Record<string, KeywordEdits>>;
  /** Content terms of a text (for keyword suggestions). */
  terms: (text: string) => string[];
}

/** Messages mined for suggestions: the newest this many review tickets and corrections each. */
const SUGGESTION_SCAN = 1000;

export class ModelService {
  constructor(private readonly deps: ModelServiceDeps) {}

  /** The version the registry says is active (the shipped one until someone activates another). */
  async activeVersion(): Promise<string> {
    return (await this.deps.stores.models.activeVersion()) ?? this.deps.holder.shippedVersion;
  }

  /** Versions, newest first, the active one marked, with headline figures. */
  async list() {
    const [records, active] = await Promise.all([this.deps.stores.models.list(), this.activeVersion()]);
    return { active, serving: this.deps.holder.version, items: records.map((r) => modelSummary(r, active)) };
  }

  /** One version's record, or NotFoundError. */
  async get(version: string): Promise<ModelRecord & { active: boolean }> {
    const [record, active] = await Promise.all([this.deps.stores.models.get(version), this.activeVersion()]);
    if (!record) throw new NotFoundError(`model version ${version} not found`);
    return { ...record, active: record.version === active };
  }

  /** Starts a training run (TrainingInProgressError while another runs); audited. */
  async train(request: { by: string; seed?: number; searchC?: boolean; via?: string }): Promise<StartedTraining> {
    const started = await this.deps.training.start({ by: request.by, seed: request.seed, searchC: request.searchC });
    await this.deps.audit.auditAfterChange(request.by, 'model.train', started.jobId, { seed: request.seed ?? 1, searchC: request.searchC ?? false, ...(request.via ? { via: request.via } : {}) });
    return started;
  }

  trainingStatus(): Promise<TrainingStatus> {
    return this.deps.training.status();
  }

  /** Two versions evaluated now on the same rows (held-out set plus the newest corrections). */
  async compare(a: string, b: string) {
    const [ma, mb] = await Promise.all([this.deps.holder.loadVersion(a), this.deps.holder.loadVersion(b)]);
    const rows = evaluationRows(this.deps.holdout, await this.deps.stores.training.recent(RECENT_CORRECTIONS), this.deps.taxonomy);
    const evalA = await evaluateModel(ma, rows, this.deps.taxonomy);
    const evalB = await evaluateModel(mb, rows, this.deps.taxonomy);
    return compareEvaluations(evalA, evalB);
  }

  /**
   * Makes a version the active one in every process (also how to roll back). The artifact is
   * checked first: ModelFormatError / ModelCompatibilityError leave the active version unchanged.
   */
  async activate(version: string, by: string, via?: string): Promise<{ active: string; previous: string }> {
    const r = await this.deps.holder.activate(version, by);
    await this.deps.audit.auditAfterChange(by, 'model.activate', r.version, { previous: r.previous, ...(via ? { via } : {}) });
    return { active: r.version, previous: r.previous };
  }

  /** A topic's keywords in the serving model, and the edits the next training run applies. */
  async keywordView(topic: string) {
    const t = this.topic(topic);
    const model = this.deps.holder.current;
    const [latest, record] = await Promise.all([this.deps.stores.keywordEdits.latest(topic), this.deps.stores.models.get(model.version)]);
    const file = this.deps.fileTopicEdits[topic];
    const edits: StoredKeywordEdits = latest?.edits ?? normalizeKeywordEdits(file ?? {});
    const revision = latest?.revision ?? 0;
    return {
      topic,
      name: t.name,
      modelVersion: model.version,
      keywords: [...this.servingKeywords(topic)].sort((a, b) => b.weight - a.weight).map((k) => ({ term: k.term, weight: Math.round(k.weight * 10000) / 10000, source: k.source })),
      edits,
      /** Where the edits come from: saved by trainers, data/keywords.json, or nowhere yet. */
      editsSource: latest ? 'database' : file ? 'file' : 'none',
      revision,
      updatedBy: latest?.by ?? null,
      updatedAt: latest?.at ?? null,
      /** Whether the serving model was trained with this revision (else retrain to apply it). */
      inModel: (record?.provenance?.keywordEdits.revisions[topic] ?? 0) === revision,
    };
  }

  /** Saves a topic's keyword edits as a new revision (ConflictError on a stale `expectedRevision`); audited. */
  async saveKeywords(topic: string, edits: KeywordEditsInput, by: string, expectedRevision?: number) {
    this.topic(topic);
    const saved = await this.deps.stores.keywordEdits.save(topic, edits, by, { expectedRevision });
    await this.deps.audit.auditAfterChange(by, 'keywords.update', topic, { revision: saved.revision, set: Object.keys(saved.edits.set).length, pin: saved.edits.pin.length, remove: saved.edits.remove.length });
    return this.keywordView(topic);
  }

  /** Frequent terms in messages sent to review or corrected that no topic has as a keyword yet. */
  async keywordSuggestions(opts: { limit: number; minCount: number }) {
    const { stores, holder, fileTopicEdits } = this.deps;
    const sources = new Map<string, SuggestionSource>();
    for (let page = 1; page <= SUGGESTION_SCAN / 200; page++) {
      const r = await stores.tickets.list({ needsReview: true, spam: false, sort: '-createdAt', page, pageSize: 200 });
      for (const t of r.items) sources.set(t.number, { number: t.number, text: t.text.original, topic: t.topic });
      if (page * 200 >= r.total) break;
    }
    const review = sources.size;
    for (const c of await stores.training.recent(SUGGESTION_SCAN)) if (c.spam !== true) sources.set(c.ticketNumber, { number: c.ticketNumber, text: c.text, topic: c.topic });
    const known = new Set<string>();
    const head = holder.current.pipeline.head('topic');
    for (const list of head?.data.keyword.keywords ?? []) for (const k of list) known.add(k.term);
    // Terms trainers already decided about (added, pinned or removed) are not suggested again.
    const decided = [...Object.values(fileTopicEdits), ...Object.values(await stores.keywordEdits.latestAll()).map((r) => r.edits)];
    for (const e of decided) for (const term of [...Object.keys(e.set ?? {}), ...(e.pin ?? []), ...(e.remove ?? [])]) known.add(term);
    const items = suggestKeywords([...sources.values()], this.deps.terms, known, opts);
    return { modelVersion: holder.version, scanned: { review, corrected: sources.size - review }, items };
  }

  /** The serving model's keywords of one topic (the keyword model inside the topic head). */
  private servingKeywords(topic: string): readonly Keyword[] {
    const head = this.deps.holder.current.pipeline.head('topic');
    const index = head ? head.labels.indexOf(topic) : -1;
    return index >= 0 ? head!.data.keyword.keywords[index] : [];
  }

  private topic(id: string) {
    const t = this.deps.taxonomy.topics.find((x) => x.id === id);
    if (!t) throw new NotFoundError(`topic ${id} is not in taxonomy ${this.deps.taxonomy.version}`);
    return t;
  }
}
