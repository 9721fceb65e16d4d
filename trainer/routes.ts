/**
 * The trainer's API: model versions (list, train, progress, metrics and report, compare, activate
 * and roll back) and keywords (per-topic view and edits, suggestions). Every route needs the
 * trainer role; every change is audited.
 */
import { z } from 'zod';
import { ClassifierError } from '../classifier/errors.js';
import type { Keyword } from '../classifier/models/keyword.js';
import { loadHoldout, loadKeywordOverrides } from '../runtime/project-data.js';
import type { StaffDeps } from '../staff/deps.js';
import { HttpError, type ApiRouter } from '../staff/http.js';
import { KeywordEditsSchema, normalizeKeywordEdits, type StoredKeywordEdits } from '../store/keyword-edits.js';
import { compareEvaluations, evaluateModel, evaluationRows, RECENT_CORRECTIONS } from './evaluation.js';
import { suggestKeywords, type SuggestionSource } from './keyword-suggestions.js';
import type { ModelHolder } from './model-holder.js';
import { modelSummary } from './model-summary.js';
import type { TrainingService } from './training-service.js';

export type TrainerDeps = StaffDeps & { holder: ModelHolder; training: TrainingService };

const Version = z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'a model version: letters, digits, ".", "_" and "-"');
const VersionParams = z.object({ version: Version }).strict();
const TopicParams = z.object({ topic: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'a topic id such as "delivery"') }).strict();
const TrainBody = z
  .object({
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
    /** Search each head's SVM C again (several times slower) instead of reusing the active version's. */
    searchC: z.boolean().optional(),
  })
  .strict();
const CompareQuery = z.object({ a: Version, b: Version }).strict();
const KeywordsBody = KeywordEditsSchema.extend({
  /** The revision the trainer edited (0 = none yet): a newer stored revision → 409. */
  revision: z.number().int().min(0).optional(),
});
const SuggestionsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    minCount: z.coerce.number().int().min(1).max(10_000).default(2),
  })
  .strict();

/** Messages mined for suggestions: the newest this many review tickets and corrections each. */
const SUGGESTION_SCAN = 1000;

/** The classifier's model errors are refusals of the artifact (422), whatever their code. */
function refusal(err: unknown): unknown {
  if (err instanceof ClassifierError && (err.code === 'MODEL_FORMAT' || err.code === 'MODEL_INCOMPATIBLE')) {
    return new HttpError(422, err.code, err.message);
  }
  return err;
}

export function registerTrainerRoutes(router: ApiRouter, deps: TrainerDeps): void {
  const { store, taxonomy, holder, training, config } = deps;
  // Frozen data, read once: the held-out rows and the file's keyword edits.
  const holdout = loadHoldout(config.DATA_DIR, taxonomy);
  const fileTopicEdits = loadKeywordOverrides(config.DATA_DIR).topic ?? {};
  const activeVersion = async () => (await store.models.activeVersion()) ?? holder.shippedVersion;
  const topicOr404 = (id: string) => {
    const t = taxonomy.topics.find((x) => x.id === id);
    if (!t) throw new HttpError(404, 'NOT_FOUND', `topic ${id} is not in taxonomy ${taxonomy.version}`);
    return t;
  };

  router.add({
    method: 'get',
    path: '/api/models',
    summary: 'Model versions, newest first, with the active one marked and their headline evaluation',
    tag: 'models',
    role: 'trainer',
    handler: async () => {
      const [records, active] = await Promise.all([store.models.list(), activeVersion()]);
      return { body: { active, serving: holder.version, items: records.map((r) => modelSummary(r, active)) } };
    },
  });

  router.add({
    method: 'post',
    path: '/api/models',
    summary: 'Start training a new version from the corpus plus every staff correction (one run at a time)',
    tag: 'models',
    role: 'trainer',
    body: TrainBody,
    responses: { 202: 'training started; follow GET /api/models/training', 409: 'a training run is already in progress' },
    handler: async ({ principal, body }) => {
      const { jobId } = await training.start({ by: principal!.username, seed: body.seed, searchC: body.searchC });
      await store.audit.record({ actor: principal!.username, action: 'model.train', target: jobId, details: { seed: body.seed ?? 1, searchC: body.searchC ?? false } });
      return { status: 202, body: { jobId, status: await training.status() } };
    },
  });

  router.add({
    method: 'get',
    path: '/api/models/training',
    summary: 'The current training run (state, stage, progress 0..1), or the outcome of the last one',
    tag: 'models',
    role: 'trainer',
    handler: async () => ({ body: await training.status() }),
  });

  router.add({
    method: 'get',
    path: '/api/models/compare',
    summary: 'Two versions evaluated now on the same rows (held-out set plus the newest corrections), side by side',
    tag: 'models',
    role: 'trainer',
    query: CompareQuery,
    responses: { 200: 'OK', 404: 'unknown version', 422: 'a version cannot be loaded' },
    handler: async ({ query }) => {
      const [a, b] = await Promise.all([holder.loadVersion(query.a), holder.loadVersion(query.b)]).catch((err: unknown) => {
        throw refusal(err);
      });
      const recent = await store.training.recent(RECENT_CORRECTIONS);
      const rows = evaluationRows(holdout, recent, taxonomy);
      const evalA = await evaluateModel(a, rows, taxonomy);
      const evalB = await evaluateModel(b, rows, taxonomy);
      return { body: compareEvaluations(evalA, evalB) };
    },
  });

  router.add({
    method: 'get',
    path: '/api/models/{version}',
    summary: 'One version: identity, provenance (data, corrections, keyword edits), training metrics and its evaluation beside the version active when it was trained',
    tag: 'models',
    role: 'trainer',
    params: VersionParams,
    responses: { 200: 'OK', 404: 'unknown version' },
    handler: async ({ params }) => {
      const [record, active] = await Promise.all([store.models.get(params.version), activeVersion()]);
      if (!record) throw new HttpError(404, 'NOT_FOUND', `model version ${params.version} not found`);
      return { body: { ...record, active: record.version === active } };
    },
  });

  router.add({
    method: 'post',
    path: '/api/models/{version}/activate',
    summary: 'Make a version the active one in every bot process (also how to roll back); it is checked before the switch',
    tag: 'models',
    role: 'trainer',
    params: VersionParams,
    responses: { 200: 'activated', 404: 'unknown version', 422: 'the artifact is corrupt or incompatible; the active version is unchanged' },
    handler: async ({ principal, params }) => {
      const r = await holder.activate(params.version, principal!.username).catch((err: unknown) => {
        throw refusal(err);
      });
      await store.audit.record({ actor: principal!.username, action: 'model.activate', target: r.version, details: { previous: r.previous } });
      return { body: { active: r.version, previous: r.previous } };
    },
  });

  /** A topic's keywords in the serving model, and the edits the next training run applies. */
  const keywordView = async (topic: string) => {
    const t = topicOr404(topic);
    const model = holder.current;
    const head = model.pipeline.head('topic');
    const index = head ? head.labels.indexOf(topic) : -1;
    const keywords: Keyword[] = index >= 0 ? head!.data.keyword.keywords[index] : [];
    const [latest, record] = await Promise.all([store.keywordEdits.latest(topic), store.models.get(model.version)]);
    const file = fileTopicEdits[topic];
    const edits: StoredKeywordEdits = latest?.edits ?? normalizeKeywordEdits(file ?? {});
    const revision = latest?.revision ?? 0;
    return {
      topic,
      name: t.name,
      modelVersion: model.version,
      keywords: [...keywords].sort((a, b) => b.weight - a.weight).map((k) => ({ term: k.term, weight: Math.round(k.weight * 10000) / 10000, source: k.source })),
      edits,
      /** Where the edits come from: saved by trainers, data/keywords.json, or nowhere yet. */
      editsSource: latest ? 'database' : file ? 'file' : 'none',
      revision,
      updatedBy: latest?.by ?? null,
      updatedAt: latest?.at ?? null,
      /** Whether the serving model was trained with this revision (else retrain to apply it). */
      inModel: (record?.provenance?.keywordEdits.revisions[topic] ?? 0) === revision,
    };
  };

  router.add({
    method: 'get',
    path: '/api/keywords/suggestions',
    summary: 'Frequent terms in messages sent to review or corrected by staff that no topic has as a keyword yet',
    tag: 'keywords',
    role: 'trainer',
    query: SuggestionsQuery,
    handler: async ({ query }) => {
      const sources = new Map<string, SuggestionSource>();
      for (let page = 1; page <= SUGGESTION_SCAN / 200; page++) {
        const r = await store.tickets.list({ needsReview: true, spam: false, sort: '-createdAt', page, pageSize: 200 });
        for (const t of r.items) sources.set(t.number, { number: t.number, text: t.text.original, topic: t.topic });
        if (page * 200 >= r.total) break;
      }
      const review = sources.size;
      for (const c of await store.training.recent(SUGGESTION_SCAN)) sources.set(c.ticketNumber, { number: c.ticketNumber, text: c.text, topic: c.topic });
      const known = new Set<string>();
      const head = holder.current.pipeline.head('topic');
      for (const list of head?.data.keyword.keywords ?? []) for (const k of list) known.add(k.term);
      // Terms trainers already decided about (added, pinned or removed) are not suggested again.
      const decided = [...Object.values(fileTopicEdits), ...Object.values(await store.keywordEdits.latestAll()).map((r) => r.edits)];
      for (const e of decided) for (const term of [...Object.keys(e.set ?? {}), ...(e.pin ?? []), ...(e.remove ?? [])]) known.add(term);
      const items = suggestKeywords([...sources.values()], deps.terms, known, { minCount: query.minCount, limit: query.limit });
      return { body: { modelVersion: holder.version, scanned: { review, corrected: sources.size - review }, items } };
    },
  });

  router.add({
    method: 'get',
    path: '/api/keywords/{topic}',
    summary: "A topic's keywords with their weights and sources in the serving model, and the trainers' edits",
    tag: 'keywords',
    role: 'trainer',
    params: TopicParams,
    responses: { 200: 'OK', 404: 'unknown topic' },
    handler: async ({ params }) => ({ body: await keywordView(params.topic) }),
  });

  router.add({
    method: 'put',
    path: '/api/keywords/{topic}',
    summary: "Replace a topic's keyword edits (set weights, pin, remove) as a new revision; applied by the next training run",
    tag: 'keywords',
    role: 'trainer',
    params: TopicParams,
    body: KeywordsBody,
    responses: { 200: 'saved', 404: 'unknown topic', 409: 'someone else saved a newer revision' },
    handler: async ({ principal, params, body }) => {
      topicOr404(params.topic);
      const { revision, ...edits } = body;
      const saved = await store.keywordEdits.save(params.topic, edits, principal!.username, { expectedRevision: revision });
      await store.audit.record({
        actor: principal!.username,
        action: 'keywords.update',
        target: params.topic,
        details: { revision: saved.revision, set: Object.keys(saved.edits.set).length, pin: saved.edits.pin.length, remove: saved.edits.remove.length },
      });
      return { body: await keywordView(params.topic) };
    },
  });
}
