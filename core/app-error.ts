/**
 * The base of every typed error in the product (classifier, store, trainer, desk). Pure: no I/O,
 * so `classifier/` may extend it. Callers tell errors apart by class (`instanceof`); the stable
 * `code` is for the JSON bodies and CLI output that people and scripts read, never for matching.
 */
export abstract class AppError extends Error {
  /** Stable identifier shown in API error bodies and CLI results (UPPER_SNAKE_CASE). */
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
