/**
 * The trainer's API: model versions (list, train, progress, metrics and report, compare, activate
 * and roll back) and keywords (per-topic view and edits, suggestions). Every route needs the
 * trainer role; each is a schema plus one call into the desk (desk/models.ts), which audits changes.
 */
import { z } from 'zod';
import type { StaffDeps } from '../staff/deps.js';
import type { ApiRouter } from '../staff/http.js';
import { KeywordEditsSchema } from '../store/keyword-edits.js';

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

export function registerTrainerRoutes(router: ApiRouter, deps: StaffDeps): void {
  const models = deps.services.models;

  router.add({
    method: 'get',
    path: '/api/models',
    summary: 'Model versions, newest first, with the active one marked and their headline evaluation',
    tag: 'models',
    role: 'trainer',
    handler: async () => ({ body: await models.list() }),
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
      const { jobId } = await models.train({ by: principal!.username, seed: body.seed, searchC: body.searchC });
      return { status: 202, body: { jobId, status: await models.trainingStatus() } };
    },
  });

  router.add({
    method: 'get',
    path: '/api/models/training',
    summary: 'The current training run (state, stage, progress 0..1), or the outcome of the last one',
    tag: 'models',
    role: 'trainer',
    handler: async () => ({ body: await models.trainingStatus() }),
  });

  router.add({
    method: 'get',
    path: '/api/models/compare',
    summary: 'Two versions evaluated now on the same rows (held-out set plus the newest corrections), side by side',
    tag: 'models',
    role: 'trainer',
    query: CompareQuery,
    responses: { 200: 'OK', 404: 'unknown version', 422: 'a version cannot be loaded' },
    handler: async ({ query }) => ({ body: await models.compare(query.a, query.b) }),
  });

  router.add({
    method: 'get',
    path: '/api/models/{version}',
    summary: 'One version: identity, provenance (data, corrections, keyword edits), training metrics and its evaluation beside the version active when it was trained',
    tag: 'models',
    role: 'trainer',
    params: VersionParams,
    responses: { 200: 'OK', 404: 'unknown version' },
    handler: async ({ params }) => ({ body: await models.get(params.version) }),
  });

  router.add({
    method: 'post',
    path: '/api/models/{version}/activate',
    summary: 'Make a version the active one in every bot process (also how to roll back); it is checked before the switch',
    tag: 'models',
    role: 'trainer',
    params: VersionParams,
    responses: { 200: 'activated', 404: 'unknown version', 422: 'the artifact is corrupt or incompatible; the active version is unchanged' },
    handler: async ({ principal, params }) => ({ body: await models.activate(params.version, principal!.username) }),
  });

  router.add({
    method: 'get',
    path: '/api/keywords/suggestions',
    summary: 'Frequent terms in messages sent to review or corrected by staff that no topic has as a keyword yet',
    tag: 'keywords',
    role: 'trainer',
    query: SuggestionsQuery,
    handler: async ({ query }) => ({ body: await models.keywordSuggestions(query) }),
  });

  router.add({
    method: 'get',
    path: '/api/keywords/{topic}',
    summary: "A topic's keywords with their weights and sources in the serving model, and the trainers' edits",
    tag: 'keywords',
    role: 'trainer',
    params: TopicParams,
    responses: { 200: 'OK', 404: 'unknown topic' },
    handler: async ({ params }) => ({ body: await models.keywordView(params.topic) }),
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
      const { revision, ...edits } = body;
      return { body: await models.saveKeywords(params.topic, edits, principal!.username, revision) };
    },
  });
}
