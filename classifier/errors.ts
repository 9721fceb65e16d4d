/** Typed errors of the classifier library. Callers map them to HTTP codes or CLI exit codes. */
import { AppError } from '../core/app-error.js';

/** Base class so callers can tell classifier errors from everything else. */
export class ClassifierError extends AppError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The input text is longer than the configured maximum; it is rejected, never cut. */
export class InputTooLongError extends ClassifierError {
  constructor(readonly length: number, readonly maxLength: number) {
    super('INPUT_TOO_LONG', `text has ${length} characters; the maximum is ${maxLength} (文本过长：${length} 字，上限 ${maxLength} 字)`);
  }
}

/** The input is not a string (or otherwise cannot be classified at all). */
export class InvalidInputError extends ClassifierError {
  constructor(message: string) {
    super('INVALID_INPUT', message);
  }
}

/** A saved model is malformed: not JSON of the expected shape, truncated, corrupted arrays. */
export class ModelFormatError extends ClassifierError {
  constructor(message: string) {
    super('MODEL_FORMAT', message);
  }
}

/** A saved model is well-formed but was made for another format, engine or taxonomy version. */
export class ModelCompatibilityError extends ClassifierError {
  constructor(message: string) {
    super('MODEL_INCOMPATIBLE', message);
  }
}

/** Training cannot proceed: too few examples, unknown labels, a single class. */
export class TrainingError extends ClassifierError {
  constructor(message: string) {
    super('TRAINING_FAILED', message);
  }
}
