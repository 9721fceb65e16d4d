/**
 * The live classifier of one process, swapped without a restart. The active version is read from
 * the database (the registry's pointer document, an `_id` lookup), so every bot process follows an
 * activation or a rollback within one poll interval. A version that is corrupt or incompatible is
 * refused with a typed error and the current model stays live.
 */
import { DemandClassifier, type Classification } from '../classifier/demand-classifier.js';
import { ClassifierError, ModelFormatError } from '../classifier/errors.js';
import type { PipelineDeps } from '../classifier/pipeline.js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import { ConflictError, NotFoundError } from '../store/errors.js';
import type { MongoModelRegistry } from '../store/model-registry.js';

/** Checks and loads a parsed artifact (throws ModelFormatError / ModelCompatibilityError). */
export type ArtifactLoader = (raw: unknown) => DemandClassifier;

/** The loader a server uses: its tokenizer, taxonomy and input limit. */
export function artifactLoader(deps: PipelineDeps, taxonomy: Taxonomy, maxLength: number): ArtifactLoader {
  return (raw) => DemandClassifier.load(raw, deps, taxonomy, { maxLength });
}

/** The subset of a pino logger the trainer uses. */
export interface TrainerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Who registered the shipped model (it was not trained through the registry). */
export const SHIPPED_TRAINER = 'shipped';

export interface ModelHolderOptions {
  /** The model of MODEL_PATH: served until a version is activated, and registered as one. */
  shipped: DemandClassifier;
  registry: MongoModelRegistry;
  load: ArtifactLoader;
  log: TrainerLog;
}

export class ModelHolder {
  private model: DemandClassifier;
  /** The active version that failed to load, so a bad pointer is logged once, not every poll. */
  private refused: string | null = null;
  private refreshing: Promise<boolean> | null = null;

  constructor(private readonly opts: ModelHolderOptions) {
    this.model = opts.shipped;
  }

  get version(): string {
    return this.model.version;
  }

  /** The model serving now (for its artifact, keywords and tokenizer). */
  get current(): DemandClassifier {
    return this.model;
  }

  get shippedVersion(): string {
    return this.opts.shipped.version;
  }

  classify(text: unknown): Classification {
    return this.model.classify(text);
  }

  /** Registers the shipped model and switches to the active version if one was activated. */
  async init(): Promise<void> {
    await this.registerShipped();
    await this.refresh();
  }

  /** Registers the shipped model as a version, once per database, so trainers can roll back to it. */
  async registerShipped(): Promise<void> {
    const shipped = this.opts.shipped;
    if (!(await this.opts.registry.get(shipped.version))) {
      const a = shipped.artifact;
      try {
        await this.opts.registry.add(
          {
            version: a.version,
            createdAt: new Date(a.createdAt),
            trainedBy: SHIPPED_TRAINER,
            metrics: { heads: Object.fromEntries(Object.entries(a.heads).map(([name, head]) => [name, head.metrics])) },
            trainingDataHash: a.trainingDataHash,
            taxonomyVersion: a.taxonomyVersion,
            seed: a.seed,
          },
          a,
        );
      } catch (err) {
        // Another process registered it at the same moment.
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }

  /**
   * Follows the database: loads and swaps in the active version when it changed. Returns whether
   * the model changed. A version that cannot be loaded is logged and the current model kept.
   */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.followPointer().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async followPointer(): Promise<boolean> {
    // No pointer yet: the shipped model is the active one.
    const target = (await this.opts.registry.activeVersion()) ?? this.opts.shipped.version;
    if (target === this.model.version || target === this.refused) return false;
    try {
      this.swap(await this.loadVersion(target));
      return true;
    } catch (err) {
      if (!(err instanceof ClassifierError) && !(err instanceof NotFoundError)) throw err;
      this.refused = target;
      this.opts.log.error({ version: target, serving: this.model.version, err: (err as Error).message }, 'the active model version cannot be loaded; keeping the current model');
      return false;
    }
  }

  /**
   * Loads a registered version and checks it: ModelFormatError for a damaged artifact,
   * ModelCompatibilityError for one made for another engine, taxonomy or tokenizer, NotFoundError
   * for an unknown version. Versions already in memory are not loaded again.
   */
  async loadVersion(version: string): Promise<DemandClassifier> {
    if (version === this.model.version) return this.model;
    if (version === this.opts.shipped.version) return this.opts.shipped;
    let raw: unknown;
    try {
      raw = await this.opts.registry.artifact(version);
    } catch (err) {
      // The stored bytes are not gzip-compressed JSON: a damaged artifact, not a database failure.
      if (err instanceof SyntaxError || (err as { code?: string }).code?.startsWith('Z_')) {
        throw new ModelFormatError(`the stored artifact of ${version} is damaged: ${(err as Error).message}`);
      }
      throw err;
    }
    const model = this.opts.load(raw);
    if (model.version !== version) throw new ModelFormatError(`the artifact stored as ${version} says it is ${model.version}`);
    return model;
  }

  /**
   * Activates a version for every process: checks that it loads first (so a corrupt or
   * incompatible version never becomes the pointer), moves the pointer, and switches this process
   * at once (the others follow within one poll).
   */
  async activate(version: string, by: string): Promise<{ version: string; previous: string }> {
    const model = await this.loadVersion(version);
    const previous = this.model.version;
    await this.opts.registry.activate(version, by);
    this.swap(model);
    return { version, previous };
  }

  /** Polls the database every `intervalMs`; returns a stop function. */
  start(intervalMs: number): () => void {
    const timer = setInterval(() => {
      this.refresh().catch((err: Error) => this.opts.log.warn({ err: err.message }, 'could not check the active model version; will retry'));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private swap(model: DemandClassifier): void {
    const previous = this.model.version;
    this.model = model;
    this.refused = null;
    this.opts.log.info({ version: model.version, previous }, 'model version switched');
  }
}
